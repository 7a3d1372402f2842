"""How a run reaches the warehouse: statements per table, no GX unless needed, safe in parallel."""

from __future__ import annotations

import difflib
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from eventqa.results import Status
from eventqa.service import Project, Selection

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
    # The whole table: the same two, plus one for the undeclared event names it found.
    assert len(sent_for_table) <= 3, sent_for_table
    assert sum(s.count("UNION ALL") for s in sent_for_table[:1]) >= 7


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
