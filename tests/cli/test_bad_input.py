"""Bad input, as users meet it: one clear line naming file, line and field, the documented exit
code, and never a traceback. Hostile text from any source is printed literally."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.cli.test_cli import eventqa
from tests.conftest import events_proto

pytestmark = pytest.mark.cli

UNTIL = datetime(2026, 3, 1, 12, tzinfo=UTC)
PROTO = events_proto("message Thing { string code = 1; int64 size = 2; }", {"thing_done": "Thing"})
HEAD = """\
version: 1
tables: {BackendEvent: backend__events}
warehouse: {type: duckdb, path: wh.duckdb}
"""
# Hostile to a terminal that reads rich markup (a stray closing tag, a link) or emoji codes.
HOSTILE = "[/bold] [link=https://evil.example]click[/link] :100:"


def one_clean_line(done: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    """Assert the documented exit code, no traceback, and return the single `error:` line."""
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    assert "Traceback" not in output and "internal error" not in output, output
    errors = [line for line in done.stderr.splitlines() if line.startswith(("error:", "Error:"))]
    assert len(errors) == 1, done.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def warehouse(root: Path, payloads: list[dict]) -> None:
    """A DuckDB warehouse with one `thing_done` event per payload, an hour apart before UNTIL."""
    connection = duckdb.connect(str(root / "wh.duckdb"))
    connection.execute(
        "CREATE TABLE backend__events (event_id VARCHAR, event_name VARCHAR, "
        "event_timestamp TIMESTAMPTZ, payload JSON)"
    )
    for number, payload in enumerate(payloads):
        at = UNTIL - timedelta(hours=number + 1)
        connection.execute(
            "INSERT INTO backend__events VALUES (?, 'thing_done', ?, ?)",
            [f"e{number}", at, json.dumps(payload)],
        )
    connection.close()


def tables(root: Path) -> set[str]:
    connection = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    try:
        rows = connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        return {row[0] for row in rows}
    finally:
        connection.close()


def stored_runs(root: Path) -> int:
    import sqlite3

    path = root / ".eventqa" / "results.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM runs").fetchone()[0])


@pytest.fixture
def project(make_project):
    """A project whose checks.yaml body is given; `generate` is left to the test."""

    def make(body: str = "", payloads: list[dict] | None = None) -> Path:
        root = make_project({"events.proto": PROTO}, HEAD + textwrap.dedent(body))
        if payloads is not None:
            warehouse(root, payloads)
        return root

    return make


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return eventqa(root, "run", "--event", "thing_done", "--until", UNTIL.isoformat(), *args)


# -- 1. terminal text is never markup ---------------------------------------------------------


def test_an_event_name_argument_prints_literally(project):
    root = project()
    assert eventqa(root, "generate").returncode == 0
    done = eventqa(root, "run", "--event", HOSTILE)
    one_clean_line(done, 2, f"unknown event {HOSTILE!r}")
    assert "💯" not in done.stderr


def test_checks_yaml_keys_print_literally(project):
    done = eventqa(project(f'defaults:\n  "{HOSTILE}": 1\n'), "generate")
    one_clean_line(done, 2, f"checks.yaml:5: defaults.{HOSTILE}: unknown key {HOSTILE!r}")
    done = eventqa(project(f'events:\n  "{HOSTILE}": {{rules: []}}\n'), "generate")
    one_clean_line(done, 2, f"checks.yaml:5: events.{HOSTILE}: unknown event {HOSTILE!r}")
    assert "💯" not in done.stderr


def test_a_contract_error_prints_literally_with_its_line_and_column(make_project):
    text = "\n" * 99 + 'message A { string a = 1 [(x) = "[/red] :100:"] }\n'
    root = make_project({"events.proto": 'syntax = "proto3";' + text})
    done = eventqa(root, "generate")
    line = one_clean_line(done, 2, "contracts/events.proto:100:")
    assert "💯" not in done.stderr and line.startswith("error: contracts/events.proto:100:")


@pytest.mark.duckdb
def test_warehouse_values_and_rule_descriptions_print_literally(project):
    description = "codes are tidy [/red] :100:"
    root = project(
        f"""\
        events:
          thing_done:
            rules:
              - matches: {{field: code, pattern: "^[a-z]+$"}}
                description: "{description}"
        """,
        payloads=[{"code": HOSTILE, "size": 1}],
    )
    assert eventqa(root, "generate").returncode == 0
    done = run(root)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert description in done.stdout
    assert HOSTILE in done.stdout, done.stdout  # the sample, as the warehouse holds it
    assert "💯" not in done.stdout


# -- 2. custom SQL rules are one read-only SELECT ------------------------------------------------

SQL_RULE = """\
events:
  thing_done:
    rules:
      - sql:
          query: {query}
"""


@pytest.mark.duckdb
def test_a_second_statement_never_reaches_the_warehouse(project):
    attack = "SELECT * FROM {batch} WHERE 1=0; CREATE TABLE pwned AS SELECT 42"
    root = project(SQL_RULE.format(query=json.dumps(attack)), payloads=[{"code": "a", "size": 1}])
    for done in (eventqa(root, "generate"), run(root)):
        one_clean_line(
            done, 2, "checks.yaml:8: events.thing_done.rules[0].sql.query: must be one SELECT"
        )
    assert "pwned" not in tables(root)


@pytest.mark.duckdb
def test_a_query_ending_in_a_comment_runs_and_finds_its_rows(project):
    query = "SELECT * FROM {batch} WHERE code = 'bad'; -- the producer's known bug"
    root = project(
        SQL_RULE.format(query=json.dumps(query)),
        payloads=[{"code": "bad", "size": 1}, {"code": "ok", "size": 2}],
    )
    assert eventqa(root, "generate").returncode == 0
    done = eventqa(
        root, "run", "--event", "thing_done", "--until", UNTIL.isoformat(), "--format", "json"
    )
    assert done.returncode == 1, done.stderr
    (event,) = json.loads(done.stdout)["events"]
    (custom,) = [
        c for c in event["checks"] if c["expectation_type"] == "unexpected_rows_expectation"
    ]
    assert custom["status"] == "failed" and custom["error"] is None
    assert custom["samples"][0]["code"] == "bad"


# Every kind of bad setting in one checks.yaml: the loader reports each on its own line.
BAD_SETTINGS = """\
defaults:
  window: 0s
  future_skew: 99999999999999w
  stop_timeout: 100000000000000000000000000000
alerts: {remind_after: -5}
results: {url: "mysql+mysqldb://db/results"}
events:
  thing_done:
    rules:
      - between: {field: size, min: .nan}
      - between: {field: size, max: .inf}
      - matches: {field: code, pattern: "(?<=X)[A-Z]"}
      - sql: {query: "SELECT * FROM {batch}; SELECT 1"}
      - sql: {query: "DELETE FROM {batch} WHERE true"}
      - sql: {query: "SELECT * INTO copy FROM {batch}"}
      - sql: {query: "SELECT 1"}
      - sql: {query: "SELECT * FROM {batch} JOIN backend__events USING (event_id)"}
      - sql: {query: "SELECT * FROM {batch} WHERE"}
"""
EXPECTED = [
    "checks.yaml:5: defaults.window: must be longer than 0s",
    "checks.yaml:6: defaults.future_skew: must be at most 5200w (about 100 years)",
    "checks.yaml:7: defaults.stop_timeout: must be at most 5200w (about 100 years)",
    "checks.yaml:8: alerts.remind_after: must be longer than 0s",
    "checks.yaml:9: results.url: needs a database driver that is not installed",
    "checks.yaml:13: events.thing_done.rules[0].between.min: must be a finite number",
    "checks.yaml:14: events.thing_done.rules[1].between.max: must be a finite number",
    "checks.yaml:15: events.thing_done.rules[2].matches.pattern: is not a valid regular "
    "expression in the warehouse (RE2 syntax): invalid perl operator: (?<=",
    "checks.yaml:16: events.thing_done.rules[3].sql.query: must be one SELECT statement",
    "checks.yaml:17: events.thing_done.rules[4].sql.query: must be a SELECT query (found DELETE)",
    "checks.yaml:18: events.thing_done.rules[5].sql.query: must only read: INTO",
    "checks.yaml:19: events.thing_done.rules[6].sql.query: must select from {batch}",
    "checks.yaml:20: events.thing_done.rules[7].sql.query: reads backend__events; a rule reads "
    "only {batch}",
    "checks.yaml:21: events.thing_done.rules[8].sql.query: is not valid DuckDB SQL: incomplete",
]


def test_every_bad_setting_is_one_line_naming_its_line_and_field(project):
    done = eventqa(project(BAD_SETTINGS), "generate")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == len(EXPECTED), done.stderr
    for line, expected in zip(lines, EXPECTED, strict=True):
        assert line.startswith(f"error: {expected}"), (line, expected)


def test_deeply_nested_yaml_is_one_line(project):
    root = project("events:\n  thing_done: " + "[" * 5000 + "]" * 5000 + "\n")
    one_clean_line(eventqa(root, "generate"), 2, "checks.yaml: nests more than 64 levels deep")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--since", "yesterday", "Invalid value for '--since': 'yesterday' is not an ISO 8601"),
        ("--until", "9999-12-31", "Invalid value for '--until': '9999-12-31' is outside the years"),
        (
            "--output",
            "nodir/x.json",
            "Invalid value for '--output': nodir/x.json cannot be created",
        ),
    ],
)
def test_bad_run_options_name_the_option_and_exit_2(project, option, value, fragment):
    root = project()
    # Nothing was generated and no warehouse exists: only checking options first gives exit 2.
    one_clean_line(eventqa(root, "run", "--event", "thing_done", option, value), 2, fragment)


@pytest.mark.duckdb
def test_an_outbox_file_that_is_a_folder_is_refused_before_the_run(project):
    root = project("alerts: {outbox_file: outbox}\n", payloads=[{"code": "", "size": 1}])
    (root / "outbox").mkdir()
    assert eventqa(root, "generate").returncode == 0
    one_clean_line(run(root), 2, "checks.yaml:4: alerts.outbox_file: outbox is a directory")
    assert stored_runs(root) == 0  # refused before the run, not after it was stored


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"name": "x",\n', "expectations/backend__events/thing_done.json:2:1: is not valid JSON"),
        ('{"name": "x"}\n', "expectations/backend__events/thing_done.json: is not a suite"),
    ],
)
def test_a_corrupt_suite_names_its_file_and_says_to_generate(project, content, fragment):
    root = project()
    assert eventqa(root, "generate").returncode == 0
    (root / "expectations" / "backend__events" / "thing_done.json").write_text(content)
    done = run(root)
    one_clean_line(done, 2, fragment)
    assert "hint: run `eventqa generate`" in done.stderr


@pytest.mark.duckdb
def test_a_results_store_that_cannot_be_created_exits_3_naming_it(project):
    # Root-proof: a folder on the way is a regular file, which no permission bypass changes.
    root = project('results: {url: "sqlite:///blocker/results.db"}\n', payloads=[{"code": "a"}])
    (root / "blocker").write_text("not a folder")
    assert eventqa(root, "generate").returncode == 0
    one_clean_line(run(root), 3, "cannot write the results store", "blocker/results.db")


@contextmanager
def read_only_folder(path: Path):
    """A folder nobody can add files to: `chattr +i` for root (chmod does not stop root)."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    if not shutil.which("chattr"):
        pytest.skip("running as root without chattr: no way to make a folder read-only")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.duckdb
def test_a_read_only_results_folder_exits_3_and_writes_nothing(project):
    root = project(payloads=[{"code": "", "size": 1}])
    assert eventqa(root, "generate").returncode == 0
    assert run(root, "--no-alert").returncode == 0  # the store exists, with one run
    output = root / "report.json"
    with read_only_folder(root / ".eventqa"):  # SQLite cannot create its journal to write
        done = run(root, "--no-alert", "--output", str(output))
    one_clean_line(done, 3, "cannot write the results store", ".eventqa/results.db")
    assert stored_runs(root) == 1 and not output.exists()


def test_protoc_never_crashes_on_bytes_that_are_not_utf8(make_project):
    text = events_proto("message A { int64 a = 1; }", {"a_happened": "A"})
    raw = text.encode().replace(b'value = "Fires', b'value = "\xff Fires', 1)
    root = make_project({"events.proto": ""})
    (root / "contracts" / "events.proto").write_bytes(raw)
    line = raw[: raw.index(b"\xff")].count(b"\n") + 1
    one_clean_line(eventqa(root, "generate"), 2, f"contracts/events.proto:{line}:", "not UTF-8")

    escaped = text.replace('value = "Fires', 'value = "\\377 Fires', 1)
    root = make_project({"events.proto": escaped})
    line = escaped[: escaped.index("\\377")].count("\n") + 1
    done = eventqa(root, "generate")
    one_clean_line(done, 2, f"contracts/events.proto:{line}:", "bytes that are not UTF-8")
    assert "stack trace" not in done.stderr and "absl" not in done.stderr


@pytest.mark.parametrize(("args", "code"), [(("generate",), 2), (("run", "--all"), 3)])
def test_debug_shows_the_traceback_and_keeps_the_exit_code(project, args, code):
    root = project()
    assert eventqa(root, "generate").returncode == 0
    if code == 2:
        (root / "checks.yaml").write_text("defaults: {window: 0s}\n")
    done = eventqa(root, "--debug", *args)
    assert done.returncode == code, done.stderr
    assert "Traceback" in done.stderr
