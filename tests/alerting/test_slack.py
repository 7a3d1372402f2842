"""Slack alerts through the real slack-sdk WebClient, against a local Slack Web API server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eventqa.alerting import Alerter
from eventqa.alerting.blocks import MAX_BLOCKS, MAX_TEXT
from eventqa.alerting.delivery import FileNotifier, SlackNotifier
from eventqa.config import load_config
from eventqa.results import CheckResult, EventResult, RunResult, Status
from eventqa.results.models import Window
from eventqa.results.store import ResultStore
from tests.alerting.slack_server import start

pytestmark = pytest.mark.slack

CHECKS = """\
version: 1
teams:
  Foundations: {slack_channel: "#foundations"}
  Growth: {slack_channel: "#growth"}
alerts:
  fallback_channel: "#data-quality"
  remind_after: 24h
events:
  user_signed_up: {slack_channel: "#signups"}
"""
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def slack():
    state, server = start()
    yield state
    server.shutdown()


@pytest.fixture
def setup(tmp_path, slack, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checks.yaml").write_text(CHECKS)
    config = load_config(Path("checks.yaml"))
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    notifier = SlackNotifier("xoxb-test", base_url=slack.url, retries=2)
    return Alerter(config, store, notifier), store


def check(
    description: str,
    status: Status,
    samples=(),
    unexpected=3,
    origin="contracts/x.proto:3",
    check_id: str = "",
    column: str = "follower_id",
):
    return CheckResult(
        expectation_type="expect_column_values_to_not_be_null",
        column=column,
        check_id=check_id,
        status=status,
        severity="warn" if status == Status.WARNED else "error",
        check="type",
        description=description,
        origin=origin,
        unexpected_count=unexpected,
        element_count=100,
        samples=list(samples),
    )


def event(name: str, owner: str | None, *checks: CheckResult) -> EventResult:
    return EventResult(
        event=name,
        table="backend__events",
        owner=owner,
        status=Status.worst([c.status for c in checks]),
        checks=list(checks),
        row_count=100,
    )


def run(run_id: str, *events: EventResult, until: datetime = NOW) -> RunResult:
    return RunResult(
        run_id=run_id,
        window=Window(since=until - timedelta(days=1), until=until),
        events=list(events),
    )


BROKEN = check("follower_id is a valid Int64Value", Status.FAILED, samples=['"12"'])
FINE = check("follower_id is a valid Int64Value", Status.PASSED, unexpected=0)


def test_routing_by_owner_override_and_fallback(setup, slack):
    alerter, store = setup
    alerter.after_run(run("r1",
        event("user_followed_user", "Foundations", BROKEN),
        event("user_signed_up", "Growth", BROKEN),
        event("orphan_event", "NoSuchTeam", BROKEN),
        event("user_opened_app", "Growth", FINE),
    ), NOW)  # fmt: skip
    channels = sorted(m["channel"] for m in slack.messages)
    assert channels == ["#data-quality", "#foundations", "#signups"]
    assert store.pending() == []


def test_with_report_url_set_the_delivered_alert_links_the_report(tmp_path, slack, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checks = CHECKS.replace(
        "  remind_after: 24h\n",
        "  remind_after: 24h\n  report_url: https://ci.example.com/r.html\n",
    )
    (tmp_path / "checks.yaml").write_text(checks)
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    notifier = SlackNotifier("xoxb-test", base_url=slack.url, retries=2)
    Alerter(load_config(Path("checks.yaml")), store, notifier).after_run(
        run("r1", event("user_followed_user", "Foundations", BROKEN)), NOW
    )
    (message,) = slack.messages
    assert message["blocks"][-1]["elements"][0]["text"] == (
        ":bar_chart: <https://ci.example.com/r.html#event=user_followed_user|Open the report>"
    )


def test_message_has_what_broke_how_badly_and_how_to_reproduce(setup, slack):
    alerter, _ = setup
    alerter.after_run(run("r1", event("user_followed_user", "Foundations", BROKEN)), NOW)
    (message,) = slack.messages
    text = json.dumps(message["blocks"])
    assert "user_followed_user" in text and "Foundations" in text and "backend__events" in text
    assert "3 of 100 failing (3.00%)" in text
    assert "severity *error*" in text
    assert "2026-02-28 12:00 to 2026-03-01 12:00 UTC" in text
    assert (
        "eventqa run --event user_followed_user --since 2026-02-28T12:00:00+00:00 --until 2026-03-01T12:00:00+00:00"
        in text
    )
    assert "contracts/x.proto:3" in text
    assert message["metadata"]["event_payload"]["alert_id"] == "r1:#foundations:Foundations"


def test_data_cannot_mention_link_or_format(setup, slack):
    alerter, _ = setup
    evil = ["<!channel> pay now", "<@U024BE7LH>", "<https://evil.example|click>", "`x` *bold*"]
    alerter.after_run(
        run(
            "r1",
            event(
                "user_followed_user",
                "Foundations",
                check("<!here> field", Status.FAILED, samples=evil),
            ),
        ),
        NOW,
    )
    text = json.dumps(slack.messages[0]["blocks"])
    for raw in ("<!channel>", "<!here>", "<@U024BE7LH>", "<https://"):
        assert raw not in text
    assert "&lt;!channel&gt; pay now" in text and "&lt;!here&gt; field" in text
    assert "`'x' *bold*`" in text  # backticks cannot close the code span


def test_many_failing_events_go_to_the_thread_within_slack_limits(setup, slack):
    alerter, _ = setup
    many_checks = [
        check(f"check {i} " + "x" * 200, Status.FAILED, samples=["v" * 150] * 20) for i in range(40)
    ]
    events = [event(f"event_{i}", "Foundations", *many_checks) for i in range(6)]
    alerter.after_run(run("r1", *events), NOW)
    top = slack.in_channel("#foundations")
    assert len(top) == 1
    replies = [m for m in slack.messages if m["thread_ts"] == top[0]["ts"]]
    assert len(replies) == 6
    for message in slack.messages:
        assert len(message["blocks"]) <= MAX_BLOCKS
        for block in message["blocks"]:
            text = block.get("text", {}).get("text", "")
            assert len(text) <= MAX_TEXT
    assert any("more lines" in json.dumps(m["blocks"]) for m in replies)


def test_same_failure_alerts_once_then_reminds_then_resolves_in_its_thread(setup, slack):
    alerter, _ = setup
    failing = event("user_followed_user", "Foundations", BROKEN)
    # Each run's window ends when it runs (a live run, not a backfill).
    alerter.after_run(run("r1", failing), NOW)
    alerter.after_run(run("r2", failing, until=NOW + timedelta(hours=1)), NOW + timedelta(hours=1))
    assert len(slack.messages) == 1  # the same failure an hour later: quiet
    changed = event(
        "user_followed_user", "Foundations", BROKEN, check("another", Status.FAILED, column="x")
    )
    alerter.after_run(run("r3", changed, until=NOW + timedelta(hours=2)), NOW + timedelta(hours=2))
    assert len(slack.messages) == 2  # a different set of failing checks: a new alert
    alerter.after_run(
        run("r4", changed, until=NOW + timedelta(hours=27)), NOW + timedelta(hours=27)
    )
    assert len(slack.messages) == 3 and "still failing" in json.dumps(slack.messages[2]["blocks"])
    at = NOW + timedelta(hours=28)
    alerter.after_run(run("r5", event("user_followed_user", "Foundations", FINE), until=at), at)
    resolved = slack.messages[3]
    assert "passes again" in json.dumps(resolved["blocks"])
    assert resolved["thread_ts"] == slack.messages[2]["ts"]
    at = NOW + timedelta(hours=29)
    alerter.after_run(run("r6", event("user_followed_user", "Foundations", FINE), until=at), at)
    assert len(slack.messages) == 4


def test_warnings_go_to_a_daily_digest_by_default(setup, slack):
    alerter, _ = setup
    warned = event("user_followed_user", "Foundations", check("soft", Status.WARNED))
    alerter.after_run(run("r1", warned), NOW)
    alerter.after_run(run("r2", warned, until=NOW + timedelta(hours=2)), NOW + timedelta(hours=2))
    assert [m["text"] for m in slack.messages] == ["eventqa warnings digest (1 events)"]


def test_rate_limit_is_retried_after_retry_after(setup, slack):
    alerter, store = setup
    slack.faults.extend(["429"])
    started = time.monotonic()
    alerter.after_run(run("r1", event("user_followed_user", "Foundations", BROKEN)), NOW)
    posts = [t for method, t in slack.requests if method == "chat.postMessage"]
    assert len(posts) == 2 and posts[1] - posts[0] >= slack.retry_after * 0.9
    assert time.monotonic() - started >= slack.retry_after * 0.9
    assert len(slack.messages) == 1 and store.pending() == []


@pytest.mark.parametrize("fault", ["500", "reset"])
def test_server_errors_and_dropped_connections_are_retried(setup, slack, fault):
    alerter, store = setup
    slack.faults.extend([fault])
    alerter.after_run(run("r1", event("user_followed_user", "Foundations", BROKEN)), NOW)
    assert len(slack.messages) == 1 and store.pending() == []


def test_undelivered_alerts_wait_in_the_outbox_for_the_next_run(setup, slack):
    alerter, store = setup
    slack.faults.extend(["500"] * 3)  # more than the client's retries
    alerter.after_run(run("r1", event("user_followed_user", "Foundations", BROKEN)), NOW)
    assert slack.messages == []
    (pending,) = store.pending()
    assert (
        pending["id"] == "r1:#foundations:Foundations" and "internal_error" in pending["last_error"]
    )
    alerter.after_run(
        run("r2", event("user_opened_app", "Growth", FINE)), NOW + timedelta(minutes=5)
    )
    assert [m["metadata"]["event_payload"]["alert_id"] for m in slack.messages] == [
        "r1:#foundations:Foundations"
    ]
    assert store.pending() == []


def test_after_run_says_what_it_sent_kept_quiet_and_could_not_deliver(setup, slack):
    from eventqa.results.models import Delivered

    alerter, _ = setup
    first = alerter.after_run(run("r1", event("user_followed_user", "Foundations", BROKEN)), NOW)
    (sent,) = first.deliveries
    assert (sent.channel, sent.kind, sent.outcome, sent.destination) == (
        "#foundations", "failure", Delivered.SENT, "Slack",
    )  # fmt: skip
    assert "user_followed_user" in sent.text and first.unchanged == [] and not first.backfill

    at = NOW + timedelta(minutes=5)
    second = alerter.after_run(
        run("r2", event("user_followed_user", "Foundations", BROKEN), until=at), at
    )
    assert second.deliveries == [] and second.unchanged == ["user_followed_user"]

    slack.faults.extend(["500"] * 3)  # more than the client's retries
    at = NOW + timedelta(minutes=10)
    third = alerter.after_run(run("r3", event("user_opened_app", "Growth", BROKEN), until=at), at)
    (kept,) = third.deliveries
    assert kept.outcome == Delivered.PENDING and "internal_error" in (kept.error or "")
    assert third.count(Delivered.PENDING) == 1

    old = NOW - timedelta(days=30)  # a backfill: stored, never alerted
    backfill = alerter.after_run(
        run("r4", event("user_signed_up", "Growth", BROKEN), until=old), at
    )
    assert backfill.backfill and [d.kind for d in backfill.deliveries] == ["failure"]  # r3's


def test_an_alert_that_reached_slack_before_the_connection_dropped_is_not_posted_again(
    setup, slack
):
    alerter, store = setup
    slack.faults.extend(["accept-then-reset"] * 3)
    alerter.after_run(run("r1", event("user_followed_user", "Foundations", BROKEN)), NOW)
    assert len(slack.messages) == 1  # Slack has it; the answer never arrived
    alerter.after_run(run("r2"), NOW + timedelta(minutes=5))
    assert len(slack.messages) == 1  # found by its metadata, not posted twice
    assert store.pending() == []


def test_an_outage_alerts_once_and_its_end_once(setup, slack):
    alerter, _ = setup
    summaries = [
        alerter.outage(
            "Snowflake is unreachable: timeout",
            [("user_followed_user", "Foundations")],
            "snowflake",
        )
        for _ in range(3)
    ]
    assert [(d.channel, d.kind) for d in summaries[0].deliveries] == [("#data-quality", "outage")]
    assert summaries[2].deliveries == [] and summaries[2].unchanged == ["outage of snowflake"]
    assert [m["channel"] for m in slack.messages] == ["#data-quality"]
    assert "could not run" in json.dumps(slack.messages[0]["blocks"])
    alerter.after_run(run("r1", event("user_followed_user", "Foundations", FINE)), NOW)
    alerter.after_run(run("r2", event("user_followed_user", "Foundations", FINE)), NOW)
    assert [m["text"] for m in slack.messages] == ["eventqa could not run", "eventqa runs again"]


def test_without_slack_alerts_go_to_a_local_outbox_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checks.yaml").write_text(CHECKS)
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    alerter = Alerter(
        load_config(Path("checks.yaml")), store, FileNotifier(tmp_path / "outbox.jsonl")
    )
    summary = alerter.after_run(run("r1", event("user_followed_user", "Foundations", BROKEN)), NOW)
    (record,) = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert record["channel"] == "#foundations" and record["blocks"]
    (written,) = summary.deliveries
    assert written.outcome.value == "written"
    assert written.destination == str(tmp_path / "outbox.jsonl")


@pytest.mark.cli
@pytest.mark.duckdb
def test_eventqa_run_alerts_the_owning_team_end_to_end(example_project, slack):
    import os
    import subprocess
    import sys

    checks = example_project / "checks.yaml"
    checks.write_text(
        checks.read_text().replace(
            'alerts:\n  fallback_channel: "#data-quality"',
            f'alerts:\n  fallback_channel: "#data-quality"\n  slack_base_url: "{slack.url}"',
        )
    )
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test"}

    def eventqa(*args):
        return subprocess.run(
            [sys.executable, "-m", "eventqa", *args],
            cwd=example_project,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    assert eventqa("demo", "--rows", "20000").returncode == 0
    quiet = eventqa("run", "--event", "user_followed_user", "--no-alert")
    assert quiet.returncode == 1 and slack.messages == []
    loud = eventqa("run", "--event", "user_followed_user")
    assert loud.returncode == 1, loud.stderr
    (message,) = slack.messages
    assert message["channel"] == "#foundations-alerts"
    text = json.dumps(message["blocks"])
    assert "nobody follows themselves" in text and "WITH w AS" in text
    again = eventqa("run", "--event", "user_followed_user")
    assert again.returncode == 1 and len(slack.messages) == 1  # the same failure: no new alert
    preview = eventqa("alerts", "preview", "--event", "user_followed_user")
    assert json.loads(preview.stdout)["channel"] == "#foundations-alerts"
