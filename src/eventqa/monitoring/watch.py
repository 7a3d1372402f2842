"""Volume and freshness in a run: counts to fetch, settings per event, findings as checks.

The service fetches what `plan_counts` asks for (the run's own scan plus, at most, a grouped
query per table for history it does not have), and this module turns the stored and new counts
into one `volume` and one `freshness` check per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from eventqa.config.models import ALL_EVENTS, Config, format_duration
from eventqa.errors import ConfigError
from eventqa.monitoring.detector import (
    Exclusion,
    FreshnessFinding,
    VolumeFinding,
    VolumeSettings,
    judge_freshness,
    judge_volume,
)
from eventqa.results.models import FRESHNESS_TYPE, VOLUME_TYPE, CheckResult, Status, Window
from eventqa.results.store import Coverage, VolumeUpdate

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOT_SEEN = "not_seen"


@dataclass(frozen=True)
class EventVolume:
    """One event's resolved volume settings."""

    enabled: bool
    settings: VolumeSettings
    exclusions: tuple[Exclusion, ...]
    severity: str
    origin: str
    lookback: timedelta


def event_volume(config: Config, event: str) -> EventVolume:
    """`defaults.volume` with the event's `events.<name>.volume` over it."""
    defaults = config.defaults.volume
    override = config.events.get(event)
    own = override.volume if override is not None else None
    chosen: dict[str, Any] = {}
    for name in ("sensitivity", "seasonality", "direction", "timezone", "min_history", "training"):
        value = getattr(own, name, None) if own is not None else None
        if value is None:
            value = getattr(defaults, name)
        if value is not None:
            chosen[name] = value
    enabled = config.volume_enabled(event)
    exclusions = tuple(
        Exclusion(e.start, e.end, e.reason)
        for e in defaults.exclusions
        if e.event in (ALL_EVENTS, event)
    )
    severity = (override.severity if override else None) or config.defaults.severity
    where = config.locate("events", event, "volume") if own is not None else None
    origin = (
        f"{where.path}#events.{event}.volume"
        if where is not None
        else f"{config.locate('defaults', 'volume').path}#defaults.volume"
    )
    if "min_history" not in chosen and "training" in chosen:  # short training: learn it all
        chosen["min_history"] = min(VolumeSettings().min_history, chosen["training"])
    try:
        settings = VolumeSettings(bucket=defaults.bucket, **chosen)
    except ValueError as error:
        loc = ("events", event, "volume") if own is not None else ("defaults", "volume")
        raise ConfigError(
            f"{'.'.join(loc)}: {error} (for event {event})", location=config.locate(*loc)
        ) from None
    lookback = own.lookback if own is not None and own.lookback is not None else None
    return EventVolume(
        enabled,
        settings,
        exclusions,
        severity.value,
        origin,
        defaults.lookback if lookback is None else lookback,
    )


def floor_to(value: datetime, step: timedelta) -> datetime:
    """The start of the bucket holding `value` (buckets count from the epoch, in UTC)."""
    return value - (value - EPOCH) % step


def ceil_to(value: datetime, step: timedelta) -> datetime:
    """The first bucket start at or after `value`."""
    start = floor_to(value, step)
    return start if start == value else start + step


def tested_buckets(window: Window, step: timedelta) -> list[datetime]:
    """The complete buckets of the window (one still in progress at `until` is not judged)."""
    first, buckets = ceil_to(window.since, step), []
    while first + step <= window.until:
        buckets.append(first)
        first += step
    return buckets


@dataclass
class CountPlan:
    """The counts a run fetches for one table, besides its own scan."""

    table: str
    step: timedelta
    # [start, end) ranges a grouped query counts (bucket-aligned); empty when the store has them.
    queries: list[tuple[datetime, datetime]]
    # Where the run's own scan is complete: whole buckets from `scan_from` to `until`.
    scan_from: datetime
    training_start: datetime
    coverage: Coverage


def plan_counts(
    table: str,
    window: Window,
    step: timedelta,
    training: timedelta,
    lookback: timedelta,
    stored: Coverage | None,
) -> CountPlan:
    """What to count so the store holds the training period up to `until`, never rescanning it.

    First use: one grouped query from the training start to the window. Later: only the late-data
    lookback before the window (and nothing when the window's own scan covers it), plus any
    older period a longer training asks for.
    """
    start = floor_to(window.until - training, step)
    scan_from = ceil_to(window.since, step)
    seconds = int(step.total_seconds())
    if stored is None or stored.bucket_seconds != seconds:
        queries = [(start, scan_from)] if start < scan_from else []
        coverage = Coverage(seconds, min(start, scan_from), window.until)
        return CountPlan(table, step, queries, scan_from, start, coverage)
    queries = []
    if start < stored.since:  # a longer training, or a window older than the history
        queries.append((start, stored.since))
    late_from = max(floor_to(stored.until - lookback, step), start, *(b for _, b in queries))
    if late_from < scan_from:  # late data, and any gap since the last run
        queries.append((late_from, scan_from))
    coverage = Coverage(seconds, min(stored.since, start), max(stored.until, window.until))
    return CountPlan(table, step, queries, scan_from, start, coverage)


@dataclass
class TableCounts:
    """A table's counts as the store will hold them after the run."""

    plan: CountPlan
    history: dict[str, dict[datetime, int]]
    newest: dict[str, datetime]
    update: VolumeUpdate
    flagged: dict[str, set[datetime]] = field(default_factory=dict)
    notices: Mapping[tuple[str, str], datetime] = field(default_factory=dict)


def merge_counts(
    plan: CountPlan,
    window: Window,
    stored: dict[str, dict[datetime, int]],
    stored_newest: dict[str, datetime],
    fetched: dict[str, dict[datetime, int]],
    fetched_newest: dict[str, datetime],
    scanned: Mapping[str | None, Mapping[datetime, int]],
    scanned_newest: Mapping[str | None, datetime],
) -> TableCounts:
    """Stored history overlaid with what this run counted; and the update that stores it."""
    recounted = [*plan.queries, (plan.scan_from, window.until)]

    def recount(start: datetime) -> bool:
        return any(a <= start < b for a, b in recounted)

    history = {
        name: {start: n for start, n in buckets.items() if not recount(start)}
        for name, buckets in stored.items()
    }
    new: dict[str, dict[datetime, int]] = {}
    for name, buckets in fetched.items():
        new.setdefault(name, {}).update(buckets)
    for scanned_name, scanned_buckets in scanned.items():
        if scanned_name is None:
            continue
        kept = {s: n for s, n in scanned_buckets.items() if plan.scan_from <= s < window.until}
        new.setdefault(scanned_name, {}).update(kept)
    for name, buckets in new.items():
        history.setdefault(name, {}).update(buckets)
    newest = dict(stored_newest)
    for source in (fetched_newest, scanned_newest):
        for named, latest in source.items():
            if named is not None:
                latest = min(latest, window.until)
                newest[named] = max(newest.get(named, latest), latest)
    update = VolumeUpdate(
        plan.table,
        plan.coverage,
        recounted,
        new,
        {n: t for n, t in newest.items() if n in new},
    )
    return TableCounts(plan, history, newest, update)


def judge_events(
    counts: TableCounts, events: Iterable[tuple[str, EventVolume]], window: Window
) -> dict[str, list[CheckResult]]:
    """Each enabled event's volume and freshness checks; flags and notices go to the update."""
    found: dict[str, list[CheckResult]] = {}
    plan, update = counts.plan, counts.update
    table_has_history = any(
        n for buckets in counts.history.values() for s, n in buckets.items() if s < plan.scan_from
    )
    for event, volume in events:
        if not volume.enabled:
            continue
        history = {
            s: n
            for s, n in counts.history.get(event, {}).items()
            if window.until - volume.settings.training <= s < window.until
        }
        if table_has_history and not any(history.values()):
            first = (event, NOT_SEEN) not in counts.notices
            if first:
                update.notices.add((event, NOT_SEEN))
            found[event] = [not_seen_check(event, volume, first, counts.notices)]
            continue
        tested = tested_buckets(window, plan.step)
        checks = []
        if tested:
            finding = judge_volume(
                event,
                history,
                tested,
                volume.settings,
                volume.exclusions,
                counts.flagged.get(event, set()),
            )
            for bucket in finding.buckets:
                if bucket.anomaly:
                    update.flags.setdefault(event, {})[bucket.start] = bucket.anomaly
            checks.append(volume_check(event, finding, volume))
        freshness = judge_freshness(
            event,
            history,
            counts.newest.get(event),
            window.until,
            volume.settings,
            volume.exclusions,
        )
        checks.append(freshness_check(event, freshness, volume))
        found[event] = checks
    return found


def _status(status: str, severity: str) -> Status:
    """A finding's status as a check status: learning never alerts; failures follow severity."""
    if status == "failed":
        return Status.FAILED if severity == "error" else Status.WARNED
    if status == "warned":
        return Status.WARNED
    return Status.PASSED


def explained(event: str, explanation: str) -> str:
    """`bid_placed 14:00-17:00 UTC: 372 events, ...`, or `bid_placed: learning ...`."""
    return f"{event} {explanation}" if explanation[:1].isdigit() else f"{event}: {explanation}"


def volume_check(event: str, finding: VolumeFinding, volume: EventVolume) -> CheckResult:
    """The `volume` check of an event, explained."""
    observed = {**finding.to_json(), "low": round(finding.low, 2), "high": round(finding.high, 2)}
    return CheckResult(
        expectation_type=VOLUME_TYPE,
        column=None,
        check_id="volume",
        status=_status(finding.status, volume.severity),
        severity=volume.severity,
        check="volume",
        description=explained(event, finding.explanation),
        origin=volume.origin,
        observed_value=observed,
        expected={
            "expected": round(finding.expected, 2),
            "low": round(finding.low, 2),
            "high": round(finding.high, 2),
        },
    )


def freshness_check(event: str, finding: FreshnessFinding, volume: EventVolume) -> CheckResult:
    """The `freshness` check of an event: how unlikely its silence is at its usual rate."""
    return CheckResult(
        expectation_type=FRESHNESS_TYPE,
        column=None,
        check_id="freshness",
        status=_status(finding.status, volume.severity),
        severity=volume.severity,
        check="volume",
        description=explained(event, finding.explanation),
        origin=volume.origin,
        observed_value=finding.to_json(),
    )


def not_seen_check(
    event: str, volume: EventVolume, first: bool, notices: Mapping[tuple[str, str], datetime]
) -> CheckResult:
    """An event the contracts declare that the training history never saw: said once (warned)."""
    period = format_duration(volume.settings.training).replace("w", " weeks").replace("d", " days")
    text = f"{event}: not seen in the last {period}: not shipped yet, or dead"
    if not first:
        noted = notices[(event, NOT_SEEN)]
        text += f" (reported on {noted:%Y-%m-%d})"
    return CheckResult(
        expectation_type=VOLUME_TYPE,
        column=None,
        check_id="volume",
        status=Status.WARNED if first else Status.PASSED,
        severity="warn",
        check="volume",
        description=text,
        origin=volume.origin,
        observed_value={
            "status": NOT_SEEN,
            "kind": None,
            "observed": 0,
            "buckets": [],
            "explanation": text,
        },
    )
