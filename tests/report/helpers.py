"""Small, explicit stored runs for report tests: checks, events, volume results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from eventqa.results import CheckResult, EventResult, RunResult, Status
from eventqa.results.models import Window

UNTIL = datetime(2026, 3, 1, 12, tzinfo=UTC)
HOSTILE = '</script><img src=x onerror="window.__pwned=1"><!--'


def check(description: str, status: Status, check_id: str, **extra: Any) -> CheckResult:
    return CheckResult(
        expectation_type=extra.pop("expectation_type", "expect_column_values_to_not_be_null"),
        column=extra.pop("column", "a"),
        check_id=check_id,
        status=status,
        severity="error",
        check="type",
        description=description,
        origin=extra.pop("origin", "contracts/backend.proto#ThingHappened.a"),
        **extra,
    )


def bucket(start: datetime, observed: int, expected: float, anomaly: str | None = None) -> dict:
    return {
        "start": start.isoformat().replace("+00:00", "Z"),
        "observed": observed,
        "expected": expected,
        "low": expected * 0.7,
        "high": expected * 1.3,
        "anomaly": anomaly,
    }


def volume_check(buckets: list[dict], status: Status = Status.PASSED) -> CheckResult:
    last = buckets[-1]
    return check(
        "volume is within its usual band",
        status,
        "volume",
        expectation_type="eventqa_volume",
        column=None,
        origin="checks.yaml#events.thing_happened.volume",
        observed_value={
            "observed": last["observed"], "expected": last["expected"], "low": last["low"],
            "high": last["high"], "kind": last["anomaly"],
            "explanation": "observed counts against the usual band", "buckets": buckets,
        },
    )  # fmt: skip


def event_run(
    run_id: str, until: datetime, *checks: CheckResult, event: str = "thing_happened",
    owner: str | None = "Foundations", table: str = "backend__events",
) -> RunResult:  # fmt: skip
    status = Status.worst([c.status for c in checks])
    return RunResult(
        run_id=run_id,
        window=Window(since=until - timedelta(hours=1), until=until),
        events=[
            EventResult(
                event=event,
                table=table,
                owner=owner,
                status=status,
                checks=list(checks),
                row_count=100,
            )
        ],
    )
