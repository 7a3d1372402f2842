"""A volume finding reads as its explanation in the terminal, JUnit and Slack."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from rich.console import Console

from eventqa.alerting.blocks import check_lines
from eventqa.cli.documents import run_junit
from eventqa.cli.render import print_run
from eventqa.results import CheckResult, EventResult, RunResult, Status
from eventqa.results.models import Window

UNTIL = datetime(2026, 3, 5, 12, tzinfo=UTC)
EXPLANATION = (
    "bid_placed 14:00\u201317:00 UTC: 372 events, expected 1,190 "
    "(usual 1,050\u20131,320 at this hour on the last 8 Thursdays), \u221269%"
)


def finding(status: Status, observed: dict) -> CheckResult:
    return CheckResult(
        expectation_type="eventqa_volume", column=None, check_id="volume", status=status,
        severity="error", check="volume", description=observed["explanation"],
        origin="checks.yaml#defaults.volume", observed_value=observed,
    )  # fmt: skip


DROP = finding(
    Status.FAILED,
    {
        "status": "failed", "kind": "drop", "observed": 372, "expected": 1190.4, "low": 1010.2,
        "high": 1380.7, "band": [1010.2, 1380.7], "buckets": [],
        "anomalous_buckets": ["2026-03-05T14:00:00Z", "2026-03-05T15:00:00Z"],
        "history_days": 56.0, "required_days": 21.0, "explanation": EXPLANATION,
    },
)  # fmt: skip
LEARNING = finding(
    Status.PASSED,
    {
        "status": "learning", "kind": None, "observed": 40, "expected": 0, "low": 0, "high": 0,
        "buckets": [], "history_days": 6.0, "required_days": 21.0,
        "explanation": "bid_placed: learning: 6 of 21 days of history",
    },
)  # fmt: skip


def run_of(*events: tuple[str, CheckResult]) -> RunResult:
    return RunResult(
        run_id="r1",
        window=Window(since=UNTIL - timedelta(days=1), until=UNTIL),
        events=[
            EventResult(
                event=name, table="backend__events", owner="Marketplace", status=c.status,
                checks=[c], row_count=c.observed_value["observed"],
            )
            for name, c in events
        ],
    )  # fmt: skip


def test_the_terminal_shows_the_explanation_and_the_figures():
    console = Console(width=250, record=True, color_system=None)
    print_run(console, run_of(("bid_placed", DROP), ("bid_withdrawn", LEARNING)))
    text = console.export_text()
    assert EXPLANATION in text
    assert "372 events, expected 1,190 (band 1,010\u20131,381)" in text
    assert (
        "bid_withdrawn (backend__events, owner Marketplace): passed, 40 events, volume "
        "learning (6 of 21 days)" in text
    )


def test_slack_lists_the_explanation_with_its_figures():
    lines = check_lines([DROP])
    assert f"*{EXPLANATION}*" in lines
    assert "372 events, expected 1,190 (band 1,010\u20131,381) in 2 anomalous buckets" in lines


def test_junit_names_monitoring_checks_by_id_and_keeps_the_explanation():
    root = ET.fromstring(run_junit(run_of(("bid_placed", DROP))).split("?>", 1)[1])
    (case,) = root.iter("testcase")
    assert case.get("name") == "volume (against its own history)"
    assert EXPLANATION in case.find("failure").text
