"""The report's data: a JSON document built from the results store's recent runs (pure).

One entry per event: its latest run (status, every check with what was observed, samples and the
reproduction SQL), the status of each check across the event's last runs (oldest first), and its
volume series (observed counts against the expected band), concatenated from the buckets that the
stored volume results carry, the latest run winning for a bucket seen twice.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from eventqa.results.models import (
    FRESHNESS_TYPE,
    MONITORING_LABELS,
    MONITORING_TYPES,
    VOLUME_TYPE,
    CheckResult,
    Status,
    monitoring_figures,
)
from eventqa.results.store import CheckStatusRow, EventRunRow, RecentResults

# Runs of each event shown in its history strips (and read from the store): the page stays small.
HISTORY_RUNS = 50
# The volume check's expectation type; its observed value carries the buckets of the chart.
# History strips are keyed by check id: the ids of the monitoring checks, and their names.
_MONITORING_STRIPS = {
    "volume": MONITORING_LABELS[VOLUME_TYPE],
    "freshness": MONITORING_LABELS[FRESHNESS_TYPE],
}
# Volume buckets charted per event, the newest kept (hourly buckets: 30 days).
MAX_BUCKETS = 720
# Each point of a volume series is a list of these, in this order (half the size of objects).
POINT_COLUMNS = ("start", "observed", "expected", "low", "high", "anomaly")
# Sample values shown per check (a run stores at most 20).
MAX_SAMPLES = 20
# One letter per status in history strips ("-": the check was not part of that run).
STATUS_LETTER = {Status.PASSED: "p", Status.WARNED: "w", Status.FAILED: "f", Status.ERROR: "e"}


def build_document(
    recent: RecentResults, *, project: str, project_dir: Path, output_dir: Path,
    generated_at: datetime,
) -> dict[str, Any]:  # fmt: skip
    """The document the page renders: summary, then one entry per event, worst status first."""
    by_event: dict[str, list[EventRunRow]] = {}
    for run in recent.runs:  # newest first per event
        by_event.setdefault(run.event, []).append(run)
    statuses: dict[str, list[CheckStatusRow]] = {}
    for status in recent.statuses:
        statuses.setdefault(status.event, []).append(status)
    observed: dict[str, dict[str, Any]] = {}
    for event, run_id, value in recent.observed:
        if isinstance(value, dict):
            observed.setdefault(event, {})[run_id] = value
    links = _OriginLinks(project_dir, output_dir)
    events = [
        _event_entry(
            runs, recent.latest.get(name, []), statuses.get(name, []), observed.get(name, {}), links
        )
        for name, runs in by_event.items()
    ]
    order = list(Status)
    events.sort(key=lambda e: (-order.index(Status(e["status"])), e["event"]))
    count = {status: sum(e["status"] == status for e in events) for status in Status}
    return {
        "project": project,
        "generated_at": _iso(generated_at),
        "summary": {
            "events": len(events),
            "failed": count[Status.FAILED],
            "warned": count[Status.WARNED],
            "passed": count[Status.PASSED],
            "error": count[Status.ERROR],
            "stored_runs": recent.stored_runs,
            "last_run": _iso(recent.last_stored) if recent.last_stored else None,
        },
        "events": events,
    }


def _event_entry(
    runs: list[EventRunRow], checks: list[CheckResult], statuses: list[CheckStatusRow],
    observed: dict[str, dict[str, Any]], links: _OriginLinks,
) -> dict[str, Any]:  # fmt: skip
    latest = runs[0]
    return {
        "event": latest.event,
        "table": latest.table,
        "owner": latest.owner,
        "status": latest.status.value,
        "run_id": latest.run_id,
        "since": _iso(latest.since),
        "until": _iso(latest.until),
        "row_count": latest.row_count,
        "error": latest.error,
        "checks": [_check_entry(check, links) for check in checks],
        "history": history(runs, statuses),
        "volume": volume_series(runs, observed),
    }


def _check_entry(check: CheckResult, links: _OriginLinks) -> dict[str, Any]:
    """A check as the page shows it: failing ones with observations, samples and SQL.

    Passing checks carry only their name and origin, so the page stays small.
    """
    entry: dict[str, Any] = {
        "description": check.description,
        "status": check.status.value,
        "column": check.column,
        "origin": check.origin,
        "origin_href": links.href(check.origin),
    }
    if check.status == Status.PASSED:
        return {k: v for k, v in entry.items() if v is not None}
    observed: Any = check.observed_value
    expected: dict[str, Any] | None = check.expected
    if check.expectation_type in MONITORING_TYPES and isinstance(observed, dict):
        # The description already explains the finding; the buckets are charted.
        observed, expected = monitoring_figures(check.expectation_type, observed), None
    entry |= {
        "key": check.key,
        "severity": check.severity,
        "expectation_type": check.expectation_type,
        "unexpected_count": check.unexpected_count,
        "element_count": check.element_count,
        "observed_value": observed,
        "expected": expected,
        "samples": check.samples[:MAX_SAMPLES],
        "sql": check.reproduction_sql,
        "error": check.error,
    }
    return {k: v for k, v in entry.items() if v is not None}


def history(runs: list[EventRunRow], statuses: list[CheckStatusRow]) -> dict[str, Any]:
    """Each check's status across the event's runs, oldest first, as one letter per run.

    Checks are ordered worst-recent first, then by how often they failed, so a strip that turned
    red is at the top; descriptions are the latest ones.
    """
    oldest_first = runs[::-1]
    column = {run.run_id: index for index, run in enumerate(oldest_first)}
    strips: dict[str, list[str]] = {}
    descriptions: dict[str, tuple[int, str]] = {}
    for status in statuses:
        index = column[status.run_id]
        strip = strips.setdefault(status.key, ["-"] * len(oldest_first))
        strip[index] = STATUS_LETTER[status.status]
        if index >= descriptions.get(status.key, (-1, ""))[0]:
            # Monitoring checks explain each run anew: their strip is named by what they watch.
            label = _MONITORING_STRIPS.get(status.key, status.description)
            descriptions[status.key] = (index, label)
    severity = "-pwfe"
    checks = [
        {"key": key, "description": descriptions[key][1], "statuses": "".join(strip)}
        for key, strip in strips.items()
    ]
    checks.sort(
        key=lambda c: (
            -severity.index(c["statuses"][-1]),
            -sum(letter in "fe" for letter in c["statuses"]),
            c["description"],
        )
    )
    return {
        "runs": [
            {"run_id": run.run_id, "until": _iso(run.until), "status": run.status.value}
            for run in oldest_first
        ],
        "checks": checks,
    }


def volume_series(
    runs: list[EventRunRow], observed: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """Buckets of the stored volume results, by start, the latest run winning; None without any.

    Points are lists in the order of `POINT_COLUMNS`.
    """
    buckets: dict[str, list[Any]] = {}
    latest: dict[str, Any] | None = None
    for run in reversed(runs):  # oldest first: later runs overwrite
        value = observed.get(run.run_id)
        if value is None:
            continue
        latest = value
        for bucket in value.get("buckets") or []:
            if isinstance(bucket, dict) and isinstance(bucket.get("start"), str):
                anomaly = bucket.get("anomaly")
                buckets[bucket["start"]] = [
                    bucket["start"],
                    *(_number(bucket.get(key)) for key in ("observed", "expected", "low", "high")),
                    anomaly if isinstance(anomaly, str) else None,
                ]
    if latest is None:
        return None
    points = [buckets[start] for start in sorted(buckets, key=_instant)][-MAX_BUCKETS:]
    summary = {key: latest.get(key) for key in ("observed", "expected", "low", "high", "kind")}
    return {
        "columns": list(POINT_COLUMNS),
        "points": points,
        "latest": {**summary, "explanation": latest.get("explanation")},
    }


def _instant(start: str) -> tuple[int, datetime | str]:
    """Sort key of a bucket start: its instant when ISO 8601, else its text after those."""
    try:
        return (0, datetime.fromisoformat(start.replace("Z", "+00:00")))
    except ValueError:
        return (1, start)


def _number(value: Any) -> float | None:
    """A count or band edge as the chart needs it: rounded to hundredths (the page stays small)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(float(value), 2)
    return None


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class _OriginLinks:
    """Relative links from the report to the files checks come from (`file#Message.field`)."""

    def __init__(self, project_dir: Path, output_dir: Path):
        self.project_dir = project_dir.resolve()
        self.output_dir = output_dir.resolve()

    def href(self, origin: str) -> str | None:
        """A relative URL of the origin's file (never a scheme), or None without a file."""
        path = re.sub(r":\d+$", "", origin.split("#", 1)[0])  # older origins end in `:line`
        if not path or "://" in path:
            return None
        target = os.path.relpath(self.project_dir / path, self.output_dir)
        link = quote(Path(target).as_posix(), safe="/")
        return link if link.startswith("../") else f"./{link}"
