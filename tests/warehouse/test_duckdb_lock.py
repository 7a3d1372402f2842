"""DuckDB's file lock: a writer in another process makes a run wait and retry, never an outage.

The other process is real: it opens the warehouse file with DuckDB, as a loader (or `eventqa demo`)
would, and holds it until the test lets go.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eventqa.service import Project, Selection
from eventqa.warehouse import WarehouseBusyError

pytestmark = pytest.mark.duckdb

HOLD = """
import os, sys, duckdb
connection = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read_only")
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
os._exit(0)
"""
EVENT = Selection(events=("user_followed_user",))


def hold(path: Path, mode: str) -> subprocess.Popen[str]:
    """Another process with the warehouse open, once it says so."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    return holder


def let_go(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=60)


@pytest.fixture
def demo(example_project, monkeypatch):
    for name in ("SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "EVENTQA_RESULTS_URL"):
        monkeypatch.delenv(name, raising=False)
    project = Project(example_project / "checks.yaml")
    summary = project.demo(rows=500)
    waits: list[float] = []
    project.sleep = waits.append  # the retry waits, recorded instead of slept
    return project, summary, waits


def test_a_writer_holding_the_file_is_retried_then_reported_but_is_no_outage(demo):
    project, summary, waits = demo
    writer = hold(summary.path, "read_write")
    try:
        with pytest.raises(WarehouseBusyError) as error:
            project.run(EVENT, until=summary.until)
    finally:
        let_go(writer)
    assert error.value.exit_code == 3
    assert "in use by another process" in str(error.value) and "Conflicting lock" in str(
        error.value
    )
    assert waits == list(project.retry_delays)  # retried before giving up
    store = project.result_store()
    try:
        assert store.alert_state("outage:duckdb") is None  # nobody hears "eventqa could not run"
        assert store.pending() == []
    finally:
        store.close()
    assert not (project.directory / project.config.alerts.outbox_file).exists()


def test_a_run_goes_through_once_the_writer_lets_go(demo):
    project, summary, waits = demo
    writer = hold(summary.path, "read_write")
    project.sleep = lambda delay: (waits.append(delay), let_go(writer))
    result = project.run(EVENT, until=summary.until, alert=False)
    assert waits == [project.retry_delays[0]] and result.events[0].row_count


def test_eventqa_runs_share_the_file(demo):
    project, summary, waits = demo
    other_run = hold(summary.path, "read_only")  # how a run opens it
    try:
        result = project.run(EVENT, until=summary.until, alert=False)
    finally:
        let_go(other_run)
    assert waits == [] and result.events[0].row_count
