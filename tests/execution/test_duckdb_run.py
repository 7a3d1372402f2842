"""Suites run against real DuckDB files: each promise of a contract, caught with the right count."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from eventqa.errors import UsageError
from eventqa.results import RunResult, Status
from eventqa.service import Project, Selection
from eventqa.warehouse import TerminalWarehouseError
from tests.conftest import events_proto

pytestmark = pytest.mark.duckdb

UNTIL = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=1)

PROTO = """
    enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; }
    message Part { string name = 1; }
    message Thing {
      int32 small = 1;
      google.protobuf.Int64Value maybe = 2;
      Color color = 3;
      google.protobuf.Timestamp at = 4;
      bytes blob = 5;
      Part part = 6;
      repeated int32 counts = 7;
      string select = 8;
    }
"""
CHECKS = """\
version: 1
tables: {BackendEvent: backend__events}
warehouse: {type: duckdb, path: wh.duckdb}
events:
  thing_happened:
    rules:
      - compare: {left: small, op: "!=", right: maybe}
      - in_set: {field: select, values: ["it's", 'say "hi"']}
"""


def good(**changes) -> dict:
    payload = {
        "small": 1,
        "maybe": 2,
        "color": "COLOR_RED",
        "at": "2026-03-01T10:00:00Z",
        "blob": "aGVsbG8=",
        "part": {"name": "p"},
        "counts": [1, 2],
        "select": "it's",
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not ...}


def build(make_project, rows: list[tuple[str, datetime, object]], checks: str = CHECKS) -> Project:
    root = make_project({"events.proto": events_proto(PROTO, {"thing_happened": "Thing"})}, checks)
    connection = duckdb.connect(str(root / "wh.duckdb"))
    connection.execute(
        "CREATE TABLE backend__events (event_id VARCHAR, event_name VARCHAR, "
        "event_timestamp TIMESTAMPTZ, payload JSON)"
    )
    for number, (name, at, payload) in enumerate(rows):
        text = payload if isinstance(payload, str) else json.dumps(payload)
        connection.execute(
            "INSERT INTO backend__events VALUES (?, ?, ?, ?)", [f"e{number}", name, at, text]
        )
    connection.close()
    project = Project(root / "checks.yaml")
    project.generate()
    return project


def run(project: Project):
    result = project.run(Selection(events=("thing_happened",)), SINCE, UNTIL)
    (event,) = result.events
    return result, {(c.check, c.column): c for c in event.checks}


AT = UNTIL - timedelta(hours=1)


def test_conforming_events_pass(make_project):
    project = build(
        make_project, [("thing_happened", AT, good()), ("thing_happened", AT, good(small=5))]
    )
    result, checks = run(project)
    failing = [c for c in checks.values() if c.status != Status.PASSED]
    assert failing == []
    assert result.exit_code == 0
    assert result.events[0].row_count == 2


@pytest.mark.parametrize(
    ("payload", "key", "samples"),
    [
        (good(small=3_000_000_000), ("type", "small"), ["3000000000"]),
        (good(small="7"), ("type", "small"), ['"7"']),
        (good(small=1.5), ("type", "small"), ["1.5"]),
        (good(maybe="12"), ("type", "maybe"), ['"12"']),
        (good(color="COLOR_BLUE"), ("enum", "color"), ["COLOR_BLUE"]),
        (good(color=1), ("type", "color"), ["1"]),
        (good(at="2026-03-01 10:00"), ("type", "at"), ['"2026-03-01 10:00"']),
        (good(blob="not base64!"), ("type", "blob"), ['"not base64!"']),
        (good(small=...), ("present", "json_type(small)"), []),
        (good(small=None), ("not_null", "json_type(small)"), ["null"]),
        (good(part={"name": None}), ("not_null", "json_type(part.name)"), ["null"]),
        (good(part={}), ("present", "json_type(part.name)"), []),
        (good(part=[1]), ("type", "json_type(part)"), ["array"]),
        (good(counts=[1, "x"]), ("type", "counts[]"), []),
        (good(counts=None), ("not_null", "json_type(counts)"), ["null"]),
        (good(extra=1), ("undeclared_keys", "keys(payload)"), ["extra"]),
        (json.dumps(json.dumps(good())), ("payload", "json_type(payload)"), ["string"]),
        (
            good(small=2, maybe=2),
            ("rule:compare", None),
            [{"event_id": "e1", "maybe": 2, "small": 2}],
        ),
        (good(select="nope"), ("rule:in_set", "select"), ["nope"]),
    ],
)
def test_each_broken_promise_fails_its_own_check(make_project, payload, key, samples):
    rows = [("thing_happened", AT, good()), ("thing_happened", AT, payload)]
    result, checks = run(build(make_project, rows))
    failing = {k: c for k, c in checks.items() if c.status != Status.PASSED}
    assert key in failing, sorted(failing)
    assert failing[key].status == Status.FAILED
    assert failing[key].unexpected_count == 1
    assert failing[key].samples == samples
    assert result.exit_code == 1


def run_payload_texts(make_project, rows: list[tuple[str, str]], selection) -> RunResult:
    """Payloads stored as these exact texts, checked for one event alone or the whole table.

    With another event, the table's statement is the fused pipeline; alone, the event's own.
    """
    checks = CHECKS + "  part_named: {}\n"
    root = make_project(
        {"events.proto": events_proto(PROTO, {"thing_happened": "Thing", "part_named": "Part"})},
        checks,
    )
    connection = duckdb.connect(str(root / "wh.duckdb"))
    connection.execute(
        "CREATE TABLE backend__events (event_id VARCHAR, event_name VARCHAR, "
        "event_timestamp TIMESTAMPTZ, payload JSON)"
    )
    for number, (name, text) in enumerate(rows):
        connection.execute(
            "INSERT INTO backend__events VALUES (?, ?, ?, ?)", [f"e{number}", name, AT, text]
        )
    connection.close()
    project = Project(root / "checks.yaml")
    project.generate()
    chosen = Selection(events=selection) if selection else Selection(table="backend__events")
    return project.run(chosen, SINCE, UNTIL, alert=False)


@pytest.mark.parametrize("selection", [("thing_happened",), None], ids=["alone", "table"])
def test_white_space_around_a_payload_is_not_a_change_of_kind(make_project, selection):
    """DuckDB's JSON keeps the text as written; its kind is the value's, spaces or not."""
    rows = [
        ("thing_happened", " " + json.dumps(good())),
        ("thing_happened", "\n\t" + json.dumps(good(small="x", extra=1)) + " \r\n"),
        ("thing_happened", json.dumps(good())),
        ("part_named", "  " + json.dumps({"name": "p"}) + "\n"),
    ]
    result = run_payload_texts(make_project, rows, selection)
    failing = {
        (event.event, c.check, c.column): (c.unexpected_count, c.samples)
        for event in result.events
        for c in event.checks
        if c.status != Status.PASSED
    }
    assert failing == {
        ("thing_happened", "type", "small"): (1, ['"x"']),
        ("thing_happened", "undeclared_keys", "keys(payload)"): (1, ["extra"]),
    }


@pytest.mark.parametrize("selection", [("thing_happened",), None], ids=["alone", "table"])
def test_white_space_after_a_scalar_payload_is_not_a_change_of_kind(make_project, selection):
    """`null `, `true` and `false` followed by white space are those kinds, not integers."""
    rows = [
        ("thing_happened", "null "),
        ("thing_happened", "true\n"),
        ("thing_happened", "false\t"),
        ("thing_happened", "12 "),
        ("thing_happened", "1.5\r\n"),
        ("thing_happened", json.dumps(good()) + " "),
        ("part_named", json.dumps({"name": "p"})),
    ]
    result = run_payload_texts(make_project, rows, selection)
    kinds = {
        (event.event, c.column): (c.unexpected_count, sorted(c.samples))
        for event in result.events
        for c in event.checks
        if c.check == "payload" and event.event == "thing_happened"
    }
    assert kinds == {
        ("thing_happened", "json_type(payload)"): (5, ["boolean", "integer", "null", "number"]),
    }


def test_absent_optional_message_is_not_a_missing_nested_field(make_project):
    rows = [("thing_happened", AT, good(part=...)), ("thing_happened", AT, good(part=None))]
    _, checks = run(build(make_project, rows))
    assert all(c.status == Status.PASSED for c in checks.values()), [
        (k, c.unexpected_count) for k, c in checks.items() if c.status != Status.PASSED
    ]


def test_only_the_window_is_checked(make_project):
    rows = [
        ("thing_happened", AT, good()),
        ("thing_happened", SINCE - timedelta(seconds=1), good(small="bad")),
        ("thing_happened", UNTIL, good(small="bad")),
        ("other_event", AT, good(small="bad")),
    ]
    result, checks = run(build(make_project, rows))
    assert result.events[0].row_count == 1
    assert checks[("type", "small")].status == Status.PASSED


def test_quotes_in_values_and_sql_keywords_as_field_names_are_safe(make_project):
    rows = [
        ("thing_happened", AT, good(select='say "hi"')),
        ("thing_happened", AT, good(select="x'; DROP TABLE backend__events; --")),
    ]
    project = build(make_project, rows)
    _, checks = run(project)
    assert checks[("rule:in_set", "select")].samples == ["x'; DROP TABLE backend__events; --"]
    with duckdb.connect(str(project.directory / "wh.duckdb")) as connection:
        assert connection.execute("SELECT count(*) FROM backend__events").fetchone() == (2,)


def test_unknown_event_is_a_usage_error_with_suggestions(make_project):
    project = build(make_project, [("thing_happened", AT, good())])
    with pytest.raises(UsageError, match="did you mean 'thing_happened'"):
        project.run(Selection(events=("thing_hapened",)), SINCE, UNTIL)


def test_missing_warehouse_file_and_missing_table_are_terminal(make_project):
    project = build(make_project, [("thing_happened", AT, good())])
    (project.directory / "wh.duckdb").rename(project.directory / "moved.duckdb")
    with pytest.raises(TerminalWarehouseError, match="does not exist") as error:
        project.run(Selection(events=("thing_happened",)), SINCE, UNTIL)
    assert error.value.exit_code == 3
    with duckdb.connect(str(project.directory / "wh.duckdb")) as connection:
        connection.execute("CREATE TABLE unrelated (x INT)")
    with pytest.raises(TerminalWarehouseError, match="table backend__events does not exist"):
        project.run(Selection(events=("thing_happened",)), SINCE, UNTIL)


def test_not_a_duckdb_file_is_terminal(make_project):
    project = build(make_project, [("thing_happened", AT, good())])
    (project.directory / "wh.duckdb").write_text("not a database")
    with pytest.raises(TerminalWarehouseError):
        project.run(Selection(events=("thing_happened",)), SINCE, UNTIL)


def test_sensitive_fields_are_counted_but_never_sampled(make_project):
    checks = CHECKS.replace(
        "  thing_happened:\n", "  thing_happened:\n    sensitive_fields: [blob, select]\n"
    )
    rows = [("thing_happened", AT, good(blob="secret token!", select="private"))]
    _, found = run(build(make_project, rows, checks))
    assert found[("type", "blob")].unexpected_count == 1
    assert found[("type", "blob")].samples == []
    assert found[("rule:in_set", "select")].unexpected_count == 1
    assert found[("rule:in_set", "select")].samples == []


def test_live_runs_catch_events_dated_in_the_future_beyond_the_skew(make_project):
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        ("thing_happened", now - timedelta(hours=1), good()),
        ("thing_happened", now + timedelta(minutes=2), good()),  # within the 5m skew
        ("thing_happened", now + timedelta(hours=3), good()),  # a phone clock in the future
    ]
    project = build(make_project, rows)
    result = project.run(Selection(events=("thing_happened",)), now - timedelta(days=1), now)
    future = next(
        c
        for c in result.events[0].checks
        if c.check == "event_timestamp" and c.expectation_type.endswith("between")
    )
    assert future.status == Status.FAILED
    assert future.unexpected_count == 1
    assert future.samples == [(now + timedelta(hours=3)).isoformat()]


def test_rerunning_an_old_window_does_not_call_later_events_future(make_project):
    rows = [("thing_happened", AT, good()), ("thing_happened", UNTIL + timedelta(hours=3), good())]
    result, _ = run(build(make_project, rows))
    assert result.events[0].row_count == 1
    assert result.exit_code == 0


def test_table_runs_report_event_names_no_contract_declares(make_project):
    rows = [
        ("thing_happened", AT, good()),
        ("thing_hapened", AT, good()),
        ("thing_hapened", AT, good()),
        ("legacy_click", AT, {}),
    ]
    project = build(make_project, rows)
    result = project.run(Selection(table="backend__events"), SINCE, UNTIL)
    (table,) = result.tables
    (check,) = table.checks
    assert (table.table, check.status, check.unexpected_count, check.element_count) == (
        "backend__events",
        Status.FAILED,
        3,
        4,
    )
    assert sorted(check.samples) == ["legacy_click", "thing_hapened"]
    assert check.origin == "contracts/events.proto#BackendEvent"
    assert result.exit_code == 1
    by_event = project.run(Selection(events=("thing_happened",)), SINCE, UNTIL)
    assert by_event.tables == [] and by_event.exit_code == 0


def test_concurrent_events_give_the_same_results_as_one_at_a_time(example_project):
    project = Project(example_project / "checks.yaml")
    project.demo(rows=4000)
    until = datetime.now(UTC).replace(microsecond=0)

    def snapshot(concurrency: int) -> dict:
        checks = example_project / "checks.yaml"
        text = checks.read_text()
        checks.write_text(
            text.replace("defaults:\n", f"defaults:\n  concurrency: {concurrency}\n", 1)
        )
        try:
            result = Project(checks).run(Selection(all=True), None, until)
        finally:
            checks.write_text(text)
        # What alerting did differs by design: the second run's failures were said by the first.
        document = result.model_dump(mode="json", exclude={"run_id", "alerts"})
        for event in document["events"]:
            event.pop("duration_seconds")
        return document

    sequential, concurrent = snapshot(1), snapshot(4)
    assert [e["event"] for e in concurrent["events"]] == [e["event"] for e in sequential["events"]]
    assert concurrent == sequential
    assert len(sequential["events"]) == 13


def test_reproduction_sql_lists_exactly_the_failing_rows(make_project):
    rows = [
        ("thing_happened", AT, good()),
        ("thing_happened", AT, good(small="7")),  # type
        ("thing_happened", AT, good(extra=1)),  # drift
        ("thing_happened", AT, good(small=2, maybe=2)),  # compare rule
    ]
    project = build(make_project, rows)
    _, checks = run(project)

    def failing(check: str, column: str | None) -> list:
        sql = checks[(check, column)].reproduction_sql
        assert sql is not None, (check, column)
        with duckdb.connect(str(project.directory / "wh.duckdb"), read_only=True) as connection:
            return connection.execute(sql).fetchall()

    assert [row[0] for row in failing("type", "small")] == ["e1"]
    assert failing("undeclared_keys", "keys(payload)") == [("extra",)]
    assert [row[0] for row in failing("rule:compare", None)] == ["e3"]
    # Passing checks carry no reproduction SQL: there is nothing to list.
    assert all(c.reproduction_sql is None for c in checks.values() if c.status == Status.PASSED)
