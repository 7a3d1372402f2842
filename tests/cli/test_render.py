"""Rendering is a pure function of a result: checked on a small, explicit run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from eventqa.cli.documents import events_json, lint_json, run_json, run_junit
from eventqa.errors import Location
from eventqa.lint import LintReport
from eventqa.lint.model import Finding
from eventqa.results import CheckResult, EventResult, RunResult, Status, TableResult
from eventqa.results.models import Window
from eventqa.service import EventInfo

UNTIL = datetime(2026, 3, 1, 12, tzinfo=UTC)


def check(description, status, **extra):
    return CheckResult(
        expectation_type="expect_column_values_to_be_in_set",
        column="color",
        status=status,
        severity="warn" if status == Status.WARNED else "error",
        check="enum",
        description=description,
        origin="contracts/x.proto:9",
        **extra,
    )


RUN = RunResult(
    run_id="abc123",
    window=Window(since=UNTIL - timedelta(days=1), until=UNTIL),
    events=[
        EventResult(
            event="thing_happened",
            table="backend__events",
            owner="Foundations",
            status=Status.FAILED,
            row_count=10,
            checks=[
                check(
                    "color is a value name",
                    Status.FAILED,
                    unexpected_count=2,
                    element_count=10,
                    samples=["BLUE"],
                ),
                check("ratio in range", Status.WARNED, unexpected_count=1, element_count=10),
                check("name is valid", Status.PASSED),
                check("odd one", Status.ERROR, error="boom"),
            ],
        )
    ],
    tables=[
        TableResult(
            table="backend__events",
            status=Status.PASSED,
            checks=[check("names are declared", Status.PASSED)],
        )
    ],
)


def test_json_document_has_the_documented_shape():
    document = json.loads(run_json(RUN))
    assert document["run_id"] == "abc123" and document["status"] == "failed"
    assert document["window"] == {"since": "2026-02-28T12:00:00Z", "until": "2026-03-01T12:00:00Z"}
    event = document["events"][0]
    assert [c["status"] for c in event["checks"]] == ["failed", "warned", "passed", "error"]
    assert event["checks"][0]["samples"] == ["BLUE"]
    assert document["tables"][0]["table"] == "backend__events"
    assert list(document)[-1] == "status"  # after the run's parts, where scripts found it before


def test_json_document_is_strict_json_in_utf8():
    """Text from contracts and the warehouse passes through as it is; a NaN or infinite observed
    value is `null` (JSON has neither, and `NaN` would break every strict reader)."""
    odd = check("prix en €, café", Status.FAILED, observed_value={"mean": float("nan")})
    event = RUN.events[0].model_copy(update={"checks": [odd]})
    text = run_json(RUN.model_copy(update={"events": [event]}))

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    document = json.loads(text, parse_constant=refuse)
    assert '"prix en €, café"' in text
    assert document["events"][0]["checks"][0]["observed_value"] == {"mean": None}


def test_list_and_lint_documents_write_text_as_it_is():
    """Every command's JSON document writes text as it is: `café`, never `caf\\u00e9`."""
    listed = events_json([EventInfo("order_placed", "backend__events", "Café", "prix en €", 3)])
    linted = lint_json(
        LintReport(
            [Finding("EQ003", "warn", Location("contracts/café.proto", 4, 2), "décrit « ici »")],
            against=None,
        )
    )
    for text, phrase in ((listed, '"prix en €"'), (linted, '"décrit « ici »"')):
        assert phrase in text and "\\u" not in text
    assert json.loads(listed)[0]["owner"] == "Café"
    assert json.loads(linted)["findings"][0]["file"] == "contracts/café.proto"


def test_junit_marks_failures_errors_and_keeps_warnings_passing():
    root = ET.fromstring(run_junit(RUN).split("?>", 1)[1])
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"backend__events.thing_happened", "backend__events"}
    event = suites["backend__events.thing_happened"]
    assert (event.get("tests"), event.get("failures"), event.get("errors")) == ("4", "1", "1")
    cases = {c.get("name"): c for c in event.iter("testcase")}
    failure = cases["color is a value name"].find("failure")
    assert failure.get("message") == "2 of 10 (20.00%)"
    assert 'samples: "BLUE"' in failure.text and "origin: contracts/x.proto:9" in failure.text
    assert cases["odd one"].find("error").get("message") == "boom"
    assert cases["ratio in range"].find("failure") is None
    assert "warning" in cases["ratio in range"].find("system-out").text
    assert list(cases["name is valid"]) == []


HOSTILE = "[/bold] [link=https://evil.example]click[/link] :100:"


def rendered(print_to) -> str:
    """What a markup- and emoji-reading console shows: the render functions must not rely on
    the CLI's console settings to print text from users, contracts and the warehouse literally."""
    from rich.console import Console

    console = Console(record=True, width=300, markup=True, emoji=True, color_system=None)
    print_to(console)
    return console.export_text()


def test_every_printer_shows_hostile_text_literally():
    from types import SimpleNamespace

    from eventqa.cli.render import print_history, print_jobs, print_lint, print_run, print_status
    from eventqa.errors import Location
    from eventqa.lint.model import Finding
    from eventqa.results.store import HistoryRow
    from eventqa.service import SchedulerLiveness

    hostile_run = RUN.model_copy(
        update={
            "events": [
                RUN.events[0].model_copy(
                    update={
                        "event": HOSTILE,
                        "owner": HOSTILE,
                        "checks": [
                            check(HOSTILE, Status.FAILED, unexpected_count=1, element_count=2,
                                  samples=[HOSTILE, {"code": HOSTILE}]),
                            check("odd", Status.ERROR, error=HOSTILE),
                        ],
                    }
                )
            ],
            "tables": [TableResult(table="t", status=Status.FAILED,
                                   checks=[check(HOSTILE, Status.FAILED, samples=[HOSTILE])])],
        }
    )  # fmt: skip
    texts = [
        rendered(lambda console: print_run(console, hostile_run)),
        rendered(
            lambda console: print_history(
                console,
                HOSTILE,
                [HistoryRow("r", UNTIL, UNTIL, Status.FAILED, {(0, HOSTILE): Status.FAILED})],
            )
        ),
        rendered(
            lambda console: print_lint(
                console,
                SimpleNamespace(
                    findings=[Finding("EQ001", "error", Location("a.proto", 100, 7), HOSTILE)],
                    errors=[1],
                    against=None,
                ),
            )
        ),
        rendered(
            lambda console: print_jobs(
                console,
                [SimpleNamespace(event=HOSTILE, cron=HOSTILE, timezone="UTC", next_run=None)],
            )
        ),
        rendered(
            lambda console: print_status(console, SchedulerLiveness(None, None), [], [HOSTILE])
        ),
    ]
    for text in texts:
        assert HOSTILE in text.replace("\n", ""), text
        assert "💯" not in text
    assert "a.proto:100:7" in texts[2]


# -- what a run's text says -----------------------------------------------------------------


def text_of(result, width: int = 160) -> str:
    from rich.console import Console

    from eventqa.cli.render import print_run, print_run_summary

    console = Console(record=True, width=width, color_system=None, markup=False, emoji=False)
    print_run(console, result)
    print_run_summary(console, result)
    return console.export_text()


def test_samples_are_json_not_python_reprs():
    sample = {"event_id": "e1", "processor_code": None, "ok": True, "reason": "X"}
    failing = check("codes are present", Status.FAILED, unexpected_count=1, element_count=9,
                    samples=[sample, "PLATFORM_VISIONOS", 7])  # fmt: skip
    text = text_of(RUN.model_copy(update={"events": [RUN.events[0].model_copy(
        update={"checks": [failing]})]}))  # fmt: skip
    flat = " ".join(text.split())
    assert '{"event_id": "e1", "processor_code": null, "ok": true, "reason": "X"}' in flat
    assert '"PLATFORM_VISIONOS", 7' in flat
    assert "None" not in text and "'" not in text


def test_a_null_fraction_check_reports_the_null_fraction():
    nulls = CheckResult(
        expectation_type="expect_column_proportion_of_non_null_values_to_be_between",
        column="followee_id", status=Status.FAILED, severity="error", check="rule:max_null_fraction",
        description="at most 0% of followee_id is null or missing", origin="checks.yaml#x",
        observed_value=0.997, expected={"min_value": 1.0},
    )  # fmt: skip
    from eventqa.cli.documents import observed_text

    assert observed_text(nulls) == "0.30% null or missing (at most 0.00%)"
    assert "0.997" not in text_of(RUN.model_copy(update={"events": [RUN.events[0].model_copy(
        update={"checks": [nulls]})]}))  # fmt: skip


def test_schema_drift_is_a_share_of_events_not_of_keys():
    drift = check("payload keys are declared (schema drift)", Status.FAILED,
                  unexpected_count=3, element_count=1489)  # fmt: skip
    drift = drift.model_copy(update={"column": "keys(payload)"})
    from eventqa.cli.documents import observed_text

    assert observed_text(drift, 186) == "3 undeclared keys in at most 3 of 186 events (1.61%)"


def test_long_names_and_paths_are_never_cut_inside_a_word():
    origin = (
        "contracts/backend/backend_events.proto#BuyerPlacedOrderEvent.shipping_address.country_code"
    )
    described = check("platform is a value name of livemart.common.v1.Platform", Status.FAILED,
                      unexpected_count=1, element_count=201,
                      samples=["2026-11-22T20:49:56+00:00", "2026-11-23T00:49:56+00:00"])  # fmt: skip
    described = described.model_copy(update={"origin": origin})
    result = RUN.model_copy(update={"events": [RUN.events[0].model_copy(
        update={"checks": [described]})]})  # fmt: skip
    for width in (160, 120):
        text = text_of(result, width)
        for word in (origin, "livemart.common.v1.Platform", '"2026-11-22T20:49:56+00:00",'):
            assert word in text, (width, text)


def big_run(alerts):
    """13 events: 5 failed (41 failing checks), 2 warned, 6 passed."""
    events = []
    for number in range(13):
        if number < 5:
            checks = [check(f"c{i}", Status.FAILED, unexpected_count=1, element_count=2)
                      for i in range(9 if number else 5)]  # fmt: skip
            status = Status.FAILED
        elif number < 7:
            checks, status = (
                [check("w", Status.WARNED, unexpected_count=1, element_count=2)],
                Status.WARNED,
            )
        else:
            checks, status = [check("p", Status.PASSED)], Status.PASSED
        events.append(EventResult(event=f"e{number}", table="t", owner="T", status=status,
                                  checks=checks, row_count=2))  # fmt: skip
    return RUN.model_copy(update={"events": events, "tables": [], "alerts": alerts})


def delivery(outcome, channel="#x", **extra):
    from eventqa.results.models import Delivered, Delivery

    return Delivery(channel=channel, kind="failure", text=f"T: broke ({channel})",
                    outcome=Delivered(outcome), destination=extra.pop("destination", "Slack"),
                    **extra)  # fmt: skip


def test_the_summary_line_counts_events_checks_and_alerts():
    from eventqa.cli.render import run_summary
    from eventqa.results.models import AlertSummary

    alerts = AlertSummary(deliveries=[delivery("sent")] * 3, unchanged=["e3", "e4"])
    assert run_summary(big_run(alerts)) == (
        "5 of 13 events failed, 2 warned; 41 checks failed, 2 warned; alerts: 3 sent, 2 unchanged"
    )
    assert run_summary(big_run(None)).endswith("alerts: off (--no-alert)")
    text = text_of(big_run(alerts))
    assert text.rstrip().splitlines()[-1] == "failed: " + run_summary(big_run(alerts))


def test_alert_lines_say_where_each_alert_went():
    from rich.console import Console

    from eventqa.cli.render import print_alerts
    from eventqa.results.models import AlertSummary

    alerts = AlertSummary(
        deliveries=[
            delivery("sent", "#growth"),
            delivery("written", "#pay", destination=".eventqa/outbox.jsonl"),
            delivery("pending", "#ops", error="Slack answered internal_error"),
        ],
        unchanged=["user_followed_user", "table frontend__events"],
    )
    console = Console(record=True, width=300, color_system=None)
    print_alerts(console, alerts)
    assert console.export_text().splitlines() == [
        "alert sent to #growth: T: broke (#growth)",
        "alert for #pay: T: broke (#pay) (no SLACK_BOT_TOKEN: written to .eventqa/outbox.jsonl)",
        "alert for #ops not delivered: T: broke (#ops) (Slack answered internal_error; kept in "
        "the outbox, the next run sends it)",
        "alerts suppressed as unchanged (said before; reminded after alerts.remind_after): "
        "user_followed_user, table frontend__events",
    ]
