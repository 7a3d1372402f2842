"""What alerts say and to whom: per team, table findings, backfills, previews, check ids, crashes.

Delivery goes through the real slack-sdk client to the local Slack server; crashes are real: a
child process dies (os._exit) at a chosen SQL statement, and the next run is judged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from eventqa.alerting import Alerter
from eventqa.alerting.delivery import FileNotifier, SlackNotifier
from eventqa.config import load_config
from eventqa.results import Status, TableResult
from eventqa.results.store import ResultStore
from tests.alerting.slack_server import start
from tests.alerting.test_blocks import blocks_slack_accepts
from tests.alerting.test_slack import BROKEN, FINE, NOW, check, event, run

pytestmark = pytest.mark.slack
REPO = Path(__file__).resolve().parents[2]

SHARED = """\
version: 1
teams:
  Marketplace: {slack_channel: "#data-alerts"}
  Payments: {slack_channel: "#data-alerts"}
  Foundations: {slack_channel: "#foundations"}
alerts:
  fallback_channel: "#data-quality"
"""
UNDECLARED = check(
    "every event_name in backend__events is declared by a contract",
    Status.FAILED,
    samples=["user_teleported"],
    check_id="undeclared-events",
    column="event_name",
)
DECLARED = UNDECLARED.model_copy(update={"status": Status.PASSED, "samples": []})


@pytest.fixture
def slack():
    state, server = start()
    yield state
    server.shutdown()


def alerter_for(tmp_path, slack, checks: str = SHARED) -> tuple[Alerter, ResultStore]:
    (tmp_path / "checks.yaml").write_text(checks)
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    notifier = SlackNotifier("xoxb-test", base_url=slack.url, retries=1)
    return Alerter(load_config(tmp_path / "checks.yaml"), store, notifier), store


def with_tables(result, *tables: TableResult):
    return result.model_copy(update={"tables": list(tables)})


def table(*checks) -> TableResult:
    return TableResult(
        table="backend__events",
        status=Status.worst([c.status for c in checks]),
        checks=list(checks),
    )


def test_teams_sharing_a_channel_each_get_their_own_message(tmp_path, slack):
    alerter, _ = alerter_for(tmp_path, slack)
    payments = [event(f"payment_{i}", "Payments", BROKEN) for i in range(4)]
    alerter.after_run(run("r1", event("listing_created", "Marketplace", BROKEN), *payments), NOW)
    headers = sorted(m["text"] for m in slack.in_channel("#data-alerts"))
    assert headers == [
        "Marketplace: 1 event broke its contract (listing_created)",
        "Payments: 4 events broke their contract (payment_0, payment_1, payment_2, payment_3)",
    ]
    marketplace = next(m for m in slack.messages if m["text"].startswith("Marketplace"))
    assert "payment_" not in json.dumps(marketplace["blocks"])


def test_table_findings_alert_the_fallback_channel_once_then_resolve_in_the_thread(tmp_path, slack):
    alerter, _ = alerter_for(tmp_path, slack)
    fine = event("user_followed_user", "Foundations", FINE)
    alerter.after_run(with_tables(run("r1", fine), table(UNDECLARED)), NOW)
    (found,) = slack.messages
    assert found["channel"] == "#data-quality" and "user_teleported" in json.dumps(found["blocks"])
    at = NOW + timedelta(hours=1)
    alerter.after_run(with_tables(run("r2", fine, until=at), table(UNDECLARED)), at)
    assert len(slack.messages) == 1  # the same finding: said once
    at = NOW + timedelta(hours=2)
    alerter.after_run(with_tables(run("r3", fine, until=at), table(DECLARED)), at)
    resolved = slack.messages[-1]
    assert len(slack.messages) == 2 and "passes again" in json.dumps(resolved["blocks"])
    assert resolved["thread_ts"] == found["ts"]


def test_without_a_fallback_table_findings_reach_the_teams_of_the_table(tmp_path, slack):
    checks = SHARED.replace('  fallback_channel: "#data-quality"\n', "  remind_after: 24h\n")
    alerter, _ = alerter_for(tmp_path, slack, checks)
    fine = [event("user_followed_user", "Foundations", FINE), event("x", "Payments", FINE)]
    alerter.after_run(with_tables(run("r1", *fine), table(UNDECLARED)), NOW)
    assert sorted(m["channel"] for m in slack.messages) == ["#data-alerts", "#foundations"]


def test_a_backfill_neither_resolves_nor_reopens_the_live_alert(tmp_path, slack):
    alerter, store = alerter_for(tmp_path, slack)
    alerter.after_run(run("live1", event("user_followed_user", "Foundations", BROKEN)), NOW)
    assert len(slack.messages) == 1
    last_month = NOW - timedelta(days=30)
    passing_then = run("back1", event("user_followed_user", "Foundations", FINE), until=last_month)
    alerter.after_run(passing_then, NOW + timedelta(minutes=5))
    assert len(slack.messages) == 1  # no "passes again" from a window a month old
    assert store.alert_state("user_followed_user")["status"] == "failing"
    other = event("user_followed_user", "Foundations", check("other", Status.FAILED, column="x"))
    alerter.after_run(run("back2", other, until=last_month), NOW + timedelta(minutes=6))
    assert len(slack.messages) == 1  # nor a new failure from it
    at = NOW + timedelta(hours=1)
    alerter.after_run(run("live2", event("user_followed_user", "Foundations", FINE), until=at), at)
    assert [m["text"] for m in slack.messages][-1] == "user_followed_user passes again"


def test_a_preview_of_a_passing_run_says_it_passes(tmp_path, slack):
    alerter, _ = alerter_for(tmp_path, slack)
    passing = run("r1", event("user_followed_user", "Foundations", FINE))
    message = alerter.preview(passing.events[0], passing)
    blocks_slack_accepts(message)
    assert message.text == "user_followed_user passes"
    assert "broke" not in json.dumps(message.blocks)
    failing = run("r2", event("user_followed_user", "Foundations", BROKEN))
    assert "broke its contract" in alerter.preview(failing.events[0], failing).text


def test_alerts_follow_a_check_by_its_id_not_its_wording(tmp_path, slack):
    alerter, _ = alerter_for(tmp_path, slack)
    broken = check("a is valid", Status.FAILED, check_id="a-valid", column="a")
    alerter.after_run(run("r1", event("e", "Foundations", broken)), NOW)
    reworded = broken.model_copy(update={"description": "a is a valid Int64Value", "origin": "y:9"})
    at = NOW + timedelta(hours=1)
    alerter.after_run(run("r2", event("e", "Foundations", reworded), until=at), at)
    assert len(slack.messages) == 1  # the same check, reworded: the same failure
    another = broken.model_copy(update={"check_id": "a-in-range"})
    at = NOW + timedelta(hours=2)
    alerter.after_run(run("r3", event("e", "Foundations", another), until=at), at)
    assert len(slack.messages) == 2  # a different check fails: a new alert


# -- crashes ------------------------------------------------------------------------------------

CRASHING_RUN = """
import os, sys
from pathlib import Path
import sqlalchemy as sa
from eventqa.alerting import Alerter
from eventqa.alerting.delivery import FileNotifier
from eventqa.config import load_config
from eventqa.results.store import ResultStore
from tests.alerting.test_slack import BROKEN, NOW, event, run

store = ResultStore(sys.argv[1])

@sa.event.listens_for(store.engine, "before_cursor_execute")
def die(connection, cursor, statement, *args):
    if statement.startswith(sys.argv[2]):
        os._exit(9)  # killed here: no rollback, no cleanup

alerter = Alerter(load_config(Path("checks.yaml")), store, FileNotifier(Path("outbox.jsonl")))
alerter.after_run(run("r1", event("user_followed_user", "Foundations", BROKEN)), NOW)
os._exit(0)
"""


def crash_at(tmp_path: Path, statement: str) -> None:
    """Run the first alerting run in a child process that dies at the first `statement`."""
    (tmp_path / "checks.yaml").write_text(SHARED)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    url = f"sqlite:///{tmp_path / 'results.db'}"
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, url, statement],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 9, done.stderr  # it died where we meant


def test_a_crash_between_recording_an_alert_and_queueing_it_loses_nothing(tmp_path, slack):
    crash_at(tmp_path, "INSERT INTO outbox")
    alerter, store = alerter_for(tmp_path, slack)
    assert store.alert_state("user_followed_user") is None  # rolled back with the outbox entry
    at = NOW + timedelta(minutes=10)
    alerter.after_run(run("r2", event("user_followed_user", "Foundations", BROKEN), until=at), at)
    (message,) = slack.messages  # the next run still says it
    assert message["channel"] == "#foundations" and "broke its contract" in message["text"]


def test_a_crash_after_writing_the_outbox_file_does_not_write_it_twice(tmp_path):
    crash_at(tmp_path, "UPDATE outbox SET last_error")  # written to the file, not marked sent
    outbox = tmp_path / "outbox.jsonl"
    assert [json.loads(line)["id"] for line in outbox.read_text().splitlines()] == [
        "r1:#foundations:Foundations"
    ]
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    alerter = Alerter(load_config(tmp_path / "checks.yaml"), store, FileNotifier(outbox))
    alerter.after_run(run("r2"), NOW + timedelta(minutes=10))  # delivers what is pending
    assert store.pending() == []
    assert len(outbox.read_text().splitlines()) == 1


def test_a_record_cut_short_by_a_crash_is_replaced_by_a_whole_one(tmp_path):
    crash_at(tmp_path, "UPDATE outbox SET last_error")
    outbox = tmp_path / "outbox.jsonl"
    whole = outbox.read_text()
    outbox.write_text(whole[: len(whole) // 2])  # the crash came mid-write
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    alerter = Alerter(load_config(tmp_path / "checks.yaml"), store, FileNotifier(outbox))
    alerter.after_run(run("r2"), NOW + timedelta(minutes=10))
    records = [json.loads(line) for line in outbox.read_text().splitlines()]  # every line parses
    assert [r["id"] for r in records] == ["r1:#foundations:Foundations"]
    assert outbox.read_text() == whole
