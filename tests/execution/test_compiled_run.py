"""How a run reaches the warehouse: statements per table, no GX unless needed, safe in parallel."""

from __future__ import annotations

import difflib
import json
import logging
import re
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta

import duckdb
import pytest

from eventqa.results import Status
from eventqa.service import Project, Selection
from eventqa.warehouse import open_warehouse
from eventqa.warehouse.duckdb import DuckDBSQL

pytestmark = pytest.mark.duckdb


@pytest.fixture
def demo(example_project):
    project = Project(example_project / "checks.yaml")
    summary = project.demo(rows=4000)
    return project, summary.until


def test_statements_per_run_do_not_grow_with_the_number_of_events(demo, statements):
    project, until = demo
    since = until - timedelta(days=7)
    one = project.run(Selection(events=("user_followed_user",)), since, until, alert=False)
    sent_for_one = list(statements)
    statements.clear()
    backend = project.run(Selection(table="backend__events"), since, until, alert=False)
    sent_for_table = list(statements)
    assert len(backend.events) == 7 and one.events[0].status == Status.FAILED
    # One scan of the window for every check (on DuckDB it carries the samples of what failed),
    # and (first run only) one grouped count backfilling the table's volume history.
    assert len(sent_for_one) == 2
    assert sum("GROUP BY event_name" in s and "payload" not in s for s in sent_for_one) == 1
    # The whole table: one statement for its 7 events' checks, plus one for the undeclared
    # event names it found.
    assert len([s for s in sent_for_table if "AS relation_index" in s]) == 1, sent_for_table
    assert len(sent_for_table) <= 2, sent_for_table


def _outcomes(run):
    return {
        (event.event, check.check_id): (check.status, check.unexpected_count, check.samples)
        for event in run.events
        for check in event.checks
    }


def _answers(run):
    """Everything a check reports, but its reproduction SQL (which is the same either way)."""
    return {
        (event.event, check.check_id): check.model_dump(mode="json", exclude={"duration_seconds"})
        for event in run.events
        for check in event.checks
    } | {(table.table, check.check_id): check.model_dump(mode="json")
         for table in run.tables for check in table.checks}  # fmt: skip


@pytest.mark.parametrize("hashing", ["hash", "colliding"])
@pytest.mark.parametrize("table", ["backend__events", "frontend__events"])
def test_the_fused_pipeline_answers_as_one_branch_per_event_does(
    demo, statements, monkeypatch, table, hashing
):
    """DuckDB's one pipeline per table and the compiler's own per-event statement agree.

    Every field of every check (counts, observed values, samples) over the demo's tables, which
    hold repeated fields, row rules, uniqueness rules and planted defects of each kind. The
    pipeline groups keys by hash; with a hash of three values (`colliding`), nearly every key
    shares its hash with others, and every uniqueness check is settled over its relation.
    """
    project, until = demo
    since = until - timedelta(days=7)
    if hashing == "colliding":
        weak = DuckDBSQL.key_hash
        monkeypatch.setattr(DuckDBSQL, "key_hash", lambda self, c: f"({weak(self, c)} % 3)")
    fused = project.run(Selection(table=table), since, until, alert=False)
    if hashing == "colliding":
        assert [s for s in statements if "% 3)" in s]
    assert [s for s in statements if "s AS MATERIALIZED" in s]
    statements.clear()
    monkeypatch.setattr(DuckDBSQL, "fused", False)
    branches = project.run(Selection(table=table), since, until, alert=False)
    assert not [s for s in statements if "s AS MATERIALIZED" in s]
    assert any(c.status == Status.FAILED for e in fused.events for c in e.checks)
    assert _answers(fused) == _answers(branches)


def test_a_batch_out_of_memory_is_split_under_the_same_limit(demo, monkeypatch, caplog):
    """DuckDB out of memory: a statement of many events is halved; one event alone gets more."""
    project, until = demo
    since = until - timedelta(days=7)
    whole = project.run(Selection(table="backend__events"), since, until, alert=False)
    config = project.config_path.read_text()
    path = re.search(r"(?m)^( +)path: .*$", config)
    assert path is not None
    # Far below what the table's 7 events need at once (real "failed to pin block" errors);
    # two threads, as per-thread buffers would otherwise make the test depend on the machine.
    small = f"{path.group(0)}\n{path.group(1)}memory_limit: 8MB\n{path.group(1)}threads: 2"
    project.config_path.write_text(config.replace(path.group(0), small, 1))
    capped = Project(project.config_path)
    caplog.set_level(logging.DEBUG, logger="eventqa.sql")
    batched = capped.run(Selection(table="backend__events"), since, until, alert=False)
    assert _outcomes(batched) == _outcomes(whole)
    log = [r.getMessage() for r in caplog.records if r.name == "eventqa.sql"]
    assert any("7 events out of memory, split in two" in m for m in log)
    # The limit grows only for a statement of one event (nothing left to split).
    statement = ""
    for message in log:
        if "AS relation_index" in message:
            statement = message
        elif message.startswith("DuckDB out of memory: retried"):
            events = re.search(r"FROM w_all WHERE event_name IN \(([^)]*)\)", statement)
            assert events is not None and events.group(1).count(",") == 0, statement[:400]


def test_a_rule_out_of_memory_is_an_error_for_that_rule_alone(demo):
    """Past 16 times the limit, the rule whose SQL needs the memory fails; the rest still run."""
    project, until = demo
    since = until - timedelta(days=7)
    config = project.config_path.read_text()
    path = re.search(r"(?m)^( +)path: .*$", config)
    assert path is not None
    capped = f"{path.group(0)}\n{path.group(1)}memory_limit: 8MB\n{path.group(1)}threads: 2"
    # A list of every event_id repeated 20,000 times: far more than 16 x 8MB, and unspillable.
    greedy = (
        "      - sql:\n"
        "          query: >\n"
        "            SELECT * FROM {batch} WHERE (SELECT len(list(b.event_id)) FROM\n"
        "            (SELECT event_id, unnest(range(0, 20000)) AS k FROM {batch}) AS b) < 0\n"
        "        description: a rule that needs too much memory\n"
    )
    anchor = "  user_followed_user:\n    rules:\n"
    assert anchor in config
    config = config.replace(path.group(0), capped, 1).replace(anchor, anchor + greedy, 1)
    project.config_path.write_text(config)
    project = Project(project.config_path)
    project.generate()
    run = project.run(Selection(events=("user_followed_user",)), since, until, alert=False)
    (event,) = run.events
    broken = [c for c in event.checks if c.status == Status.ERROR]
    assert [c.description for c in broken] == ["a rule that needs too much memory"]
    assert "out of memory" in (broken[0].error or "").lower()
    others = [c for c in event.checks if c is not broken[0]]
    assert others and all(c.status != Status.ERROR for c in others)
    assert any(c.status == Status.FAILED for c in others)  # the demo's planted defects


# A string field between two numbers: the warehouse refuses to compare them.
MISMATCH = (
    "      - expectation:\n"
    "          type: expect_column_values_to_be_between\n"
    "          kwargs: {column: reason, min_value: 1, max_value: 2}\n"
)


def with_rule(checks, event: str, rule: str) -> None:
    """checks.yaml with `rule` first among `event`'s rules."""
    anchor = f"  {event}:\n"
    text = checks.read_text()
    head, tail = text.split(anchor, 1)
    body, rest = tail.split("    rules:\n", 1)
    assert "\n  " not in body.rstrip("\n").replace("\n    ", ""), "rules: must be the event's"
    checks.write_text(head + anchor + body + "    rules:\n" + rule + rest)


def test_a_check_of_any_kind_the_warehouse_rejects_is_an_error_for_that_check_alone(
    demo, statements
):
    """Not only `sql` rules: an expectation whose SQL the warehouse refuses fails alone."""
    project, until = demo
    with_rule(project.config_path, "payment_failed", MISMATCH)
    project = Project(project.config_path)
    project.generate()
    since = until - timedelta(days=7)
    statements.clear()
    run = project.run(Selection(table="backend__events"), since, until, alert=False)
    sent = len(statements)
    assert len(run.events) == 7 and run.exit_code == 3  # a check could not run
    errors = [(e.event, c) for e in run.events for c in e.checks if c.status == Status.ERROR]
    assert [(event, c.expectation_type) for event, c in errors] == [
        ("payment_failed", "expect_column_values_to_be_between")
    ]
    assert "VARCHAR" in (errors[0][1].error or "")  # the warehouse's own words
    payment = next(e for e in run.events if e.event == "payment_failed")
    assert payment.status == Status.ERROR and payment.row_count > 0
    rule = next(
        c for c in payment.checks if c.description == "processor errors carry the processor's code"
    )
    assert rule.status == Status.FAILED and rule.unexpected_count  # its planted defect, still found
    assert any(e.status == Status.FAILED for e in run.events if e.event != "payment_failed")
    # Found by halving the events, then the checks: fewer statements than the event has checks
    # (each event alone, then each check alone, took more than 7 + 32).
    assert sent < len(payment.checks), sent
    # Alone, the event reports the same.
    alone = project.run(Selection(events=("payment_failed",)), since, until, alert=False)
    assert _outcomes(alone) == {k: v for k, v in _outcomes(run).items() if k[0] == "payment_failed"}


def _analyzed(project, statement: str) -> tuple[list[dict], list[dict]]:
    """The real plan's table scans and materialised CTEs, from DuckDB's EXPLAIN ANALYZE."""
    connection = duckdb.connect(str(open_warehouse(project.config).path), read_only=True)
    try:
        connection.execute("SET TimeZone = 'UTC'")
        (plan,) = connection.execute(f"EXPLAIN (ANALYZE, FORMAT json) {statement}").fetchall()[0][
            1:
        ]
    finally:
        connection.close()
    scans: list[dict] = []
    ctes: list[dict] = []

    def walk(node: dict) -> None:
        info = node.get("extra_info", {})
        if "Table" in info:  # SEQ_SCAN of a table
            scans.append(info)
        if node.get("name") == "CTE":
            ctes.append(info)
        for child in node.get("children", []):
            walk(child)

    for node in json.loads(plan)["operator"]:
        walk(node)
    return scans, ctes


@pytest.mark.parametrize(
    "selection",
    [
        Selection(table="backend__events"),
        Selection(table="frontend__events"),
        Selection(events=("user_followed_user",)),
    ],
    ids=["backend", "frontend", "one event"],
)
def test_a_statement_reads_each_payload_of_its_window_once(demo, statements, selection):
    """One scan reads the payloads, and its parsed rows stream to every consumer unstored.

    Whatever the events (elements of repeated fields, row rules, uniqueness keys): DuckDB runs
    the stream `s` as a streaming fan-out to consumers fed directly, none buffered or stored.
    """
    project, until = demo
    since = until - timedelta(days=7)
    project.run(selection, since, until, alert=False)
    (statement,) = [s for s in statements if "AS relation_index" in s]
    scans, ctes = _analyzed(project, statement)
    assert len([s for s in scans if "payload" in json.dumps(s)]) == 1, scans
    (stream,) = [c for c in ctes if c["CTE Name"] == "s"]
    assert stream["Execution Mode"] == "STREAMING_FANOUT", stream
    assert stream["Chunk Storage"] == "NONE", stream
    assert stream["Consumers"] == stream["Direct Consumers"], stream
    assert int(stream["Consumers"]) >= 3  # checks, event_id duplicates, and more
    # The stream is the only materialised CTE (the window and the views are inlined).
    assert [c["CTE Name"] for c in ctes] == ["s"]


def test_the_samples_statement_defines_only_the_events_it_samples(demo, statements, monkeypatch):
    """With 100 events in a table, defining every event's relations made a statement of 1MB."""
    project, until = demo
    monkeypatch.setattr(DuckDBSQL, "smallest", lambda self, value, count: None)  # no inline
    run = project.run(Selection(table="backend__events"), until - timedelta(days=7), until,
                      alert=False)  # fmt: skip
    (samples,) = [s for s in statements if "AS sample_value" in s]
    sampled = {event.event for event in run.events if any(c.samples for c in event.checks)}
    assert 0 < len(sampled) < len(run.events)
    (names,) = re.findall(r"event_name IN \(([^)]*)\)", samples)
    assert {name.strip(" '") for name in names.split(",")} == sampled
    assert len(set(re.findall(r"\b(e\d+)_r\d+ AS", samples))) == len(sampled)


def test_in_process_the_store_opens_once_the_table_statement_has_left(demo, monkeypatch):
    """DuckDB runs in our interpreter: the store's Python must not hold up the statement's."""
    import eventqa.service

    project, until = demo
    order: list[tuple[str, str]] = []

    class Recorded:
        def __init__(self, sent: threading.Event) -> None:
            self.sent = sent

        def set(self) -> None:
            order.append(("sent", threading.current_thread().name))
            self.sent.set()

    check_table, opened = eventqa.service._check_table, Project.result_store
    monkeypatch.setattr(
        eventqa.service, "_check_table", lambda *a: check_table(*a[:-1], Recorded(a[-1]))
    )
    monkeypatch.setattr(
        Project,
        "result_store",
        lambda self: order.append(("store", threading.current_thread().name)) or opened(self),
    )
    project.run(Selection(table="backend__events"), until - timedelta(days=7), until,
                alert=False)  # fmt: skip
    assert [what for what, _ in order][:2] == ["sent", "store"], order
    assert order[0][1] != order[1][1]  # the scan's thread, then the caller's


def test_a_run_without_fallback_never_imports_great_expectations(demo):
    """Nor protobuf or suite derivation: a run reads committed suites, it compiles no contract."""
    project, until = demo
    script = textwrap.dedent(
        f"""
        import sys
        from datetime import datetime
        from eventqa.service import Project, Selection
        from pathlib import Path
        project = Project(Path({str(project.config_path)!r}))
        until = datetime.fromisoformat({until.isoformat()!r})
        run = project.run(Selection(all=True), None, until, alert=False)
        heavy = ("great_expectations", "google.protobuf", "eventqa.suites.derive")
        print(len(run.events), *(name in sys.modules for name in heavy))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.split() == ["13", "False", "False", "False"], done.stderr[-2000:]


FALLBACK = """\
      - expectation:
          type: expect_column_value_lengths_to_be_between
          kwargs: {column: event_id, min_value: 1}
"""


def test_unknown_expectation_types_run_through_gx_even_in_parallel(demo):
    """GX's engine is not thread-safe: many runs of the pool, always the same answer."""
    project, until = demo
    checks = project.config_path
    text = checks.read_text()
    for event in ("user_followed_user", "user_searched_catalog"):  # one in each table
        anchor = f"  {event}:\n"
        head, tail = text.split(anchor, 1)
        rules_at = tail.index("    rules:\n") + len("    rules:\n")
        text = head + anchor + tail[:rules_at] + FALLBACK + tail[rules_at:]
    checks.write_text(text)
    project = Project(checks)
    project.generate()
    since = until - timedelta(days=7)
    answers = set()
    for _ in range(12):
        run = project.run(Selection(all=True), since, until, alert=False)
        document = run.model_dump(mode="json", exclude={"run_id"})
        for event in document["events"]:
            event.pop("duration_seconds")
        answers.add(repr(document))
        fallback = [
            c
            for e in run.events
            for c in e.checks
            if c.expectation_type == "expect_column_value_lengths_to_be_between"
        ]
        assert len(fallback) == 2 and all(c.status == Status.PASSED for c in fallback)
    first, *others = sorted(answers)
    for other in others:
        difference = difflib.unified_diff(first.split(", "), other.split(", "), lineterm="")
        pytest.fail("runs differ:\n" + "\n".join(list(difference)[:40]))


def test_sql_the_warehouse_rejects_is_an_error_for_that_check_alone(demo):
    project, until = demo
    checks = project.config_path
    broken = '      - sql: {query: "SELECT * FROM {batch} WHERE no_such_column > 1"}\n'
    text = checks.read_text()
    head, tail = text.split("  user_followed_user:\n    rules:\n", 1)
    checks.write_text(head + "  user_followed_user:\n    rules:\n" + broken + tail)
    project = Project(checks)
    project.generate()
    since = until - timedelta(days=7)
    run = project.run(Selection(table="backend__events"), since, until, alert=False)
    assert len(run.events) == 7
    by_event = {e.event: e for e in run.events}
    errors = [c for c in by_event["user_followed_user"].checks if c.status == Status.ERROR]
    assert len(errors) == 1 and "no_such_column" in (errors[0].error or "")
    others = [c for c in by_event["user_followed_user"].checks if c is not errors[0]]
    assert any(c.status == Status.FAILED for c in others)  # the planted defects are still found
    assert all(c.status != Status.ERROR for e in run.events for c in e.checks if c is not errors[0])
