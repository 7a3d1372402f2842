"""Rendering is a pure function of a result: checked on a small, explicit run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from eventqa.cli.render import run_json, run_junit
from eventqa.results import CheckResult, EventResult, RunResult, Status, TableResult
from eventqa.results.models import Window

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


def test_junit_marks_failures_errors_and_keeps_warnings_passing():
    root = ET.fromstring(run_junit(RUN).split("?>", 1)[1])
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"backend__events.thing_happened", "backend__events"}
    event = suites["backend__events.thing_happened"]
    assert (event.get("tests"), event.get("failures"), event.get("errors")) == ("4", "1", "1")
    cases = {c.get("name"): c for c in event.iter("testcase")}
    failure = cases["color is a value name"].find("failure")
    assert failure.get("message") == "2 of 10 (20.00%)"
    assert "samples: BLUE" in failure.text and "origin: contracts/x.proto:9" in failure.text
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
