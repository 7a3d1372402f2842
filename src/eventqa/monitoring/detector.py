"""Judge an event's counts and its silence against its own seasonal history (pure, no I/O).

Volume: each tested bucket is compared with the median of the same seasonal slot (hour of the
week by default) over the training history, scaled to the event's recent level, with a band of
`sensitivity` robust deviations measured on a square-root scale, where Poisson noise has the same
size (1) whatever the volume. Freshness: the probability of the current silence if events kept
arriving at the event's usual rate for those hours (Poisson). README "Volume and freshness
monitoring" gives the formulas.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from statistics import median
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Seasonality = Literal["hour_of_week", "hour_of_day", "none"]
Direction = Literal["both", "drop", "spike"]
Status = Literal["passed", "warned", "failed", "learning"]
Anomaly = Literal["drop", "stop", "spike"]

#: 1 / Φ⁻¹(3/4): turns a median absolute deviation into a standard deviation for normal noise.
MAD_TO_SD = 1.4826
#: The relative jitter assumed at least (beyond Poisson noise): a million-a-day event does not
#: alarm on a 5% wobble that Poisson noise alone would call huge.
RELATIVE_FLOOR = 0.03
#: How many points the event's pooled spread weighs against a slot's own MAD (of its n points).
SLOT_PRIOR = 16
#: A zero is a "stop" (an error at once) when Poisson noise gives it less than this probability
#: (an expected count above 9.2 in the empty bucket or run of empty buckets).
STOP_PROBABILITY = 1e-4
#: How many empty buckets before the tested ones a run of zeros may reach back to.
SILENCE_LOOKBACK = 48
#: Days of recent history whose level scales the seasonal medians.
LEVEL_DAYS = 7
#: Typography of explanations: an en dash between bounds, a real minus sign before decreases.
DASH = "\u2013"
MINUS = "\u2212"
#: Anscombe's shift: 2·sqrt(x + 3/8) has variance ~1 for Poisson counts, even small ones.
_ANSCOMBE = 3 / 8


@dataclass(frozen=True)
class VolumeSettings:
    """How one event's volume and freshness are judged (checks.yaml `volume`, per event)."""

    bucket: timedelta = timedelta(hours=1)
    seasonality: Seasonality = "hour_of_week"
    #: Robust deviations (square-root scale, Poisson noise = 1) that make a bucket anomalous.
    sensitivity: float = 5.0
    direction: Direction = "both"
    training: timedelta = timedelta(weeks=8)
    #: Below this much usable history an event is "learning" and never alerts.
    min_history: timedelta = timedelta(days=21)
    #: Seasonal slots (hour of day / week) are computed in this time zone.
    timezone: str = "UTC"
    #: Consecutive anomalous buckets for a warning.
    warn_after: int = 1
    #: Consecutive anomalous buckets for an error (a stop is an error at once).
    error_after: int = 2

    def __post_init__(self) -> None:
        """Refuse settings no judgement could use (config reports them with their line)."""
        if self.bucket <= timedelta(0) or timedelta(days=1) % self.bucket:
            raise ValueError(f"bucket must divide a day evenly, not {self.bucket}")
        if self.sensitivity <= 0:
            raise ValueError(f"sensitivity must be positive, not {self.sensitivity}")
        if self.training < timedelta(days=7) or self.min_history < timedelta(0):
            raise ValueError("training must be at least 7 days and min_history not negative")
        if self.min_history > self.training:
            raise ValueError(
                f"min_history ({self.min_history.days} days) is longer than training "
                f"({self.training.days} days): the event would learn forever"
            )
        if not 1 <= self.warn_after <= self.error_after:
            raise ValueError(
                f"need 1 <= warn_after <= error_after, not {self.warn_after} and {self.error_after}"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None


@dataclass(frozen=True)
class Exclusion:
    """A declared period (outage, launch, holiday) kept out of training: `[start, end)`, UTC."""

    start: datetime
    end: datetime
    reason: str

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether `[start, end)` meets this period."""
        return self.start < end and start < self.end


@dataclass(frozen=True)
class BucketVerdict:
    """One tested bucket: its count, what was expected and the band it had to stay in."""

    start: datetime
    observed: int
    expected: float
    low: float
    high: float
    anomaly: Anomaly | None
    #: For a stop whose silence began before the tested buckets: the first empty bucket.
    silent_since: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored with the run and printed by `--format json`."""
        return {
            "silent_since": None if self.silent_since is None else _iso(self.silent_since),
            "start": _iso(self.start),
            "observed": self.observed,
            "expected": round(self.expected, 2),
            "low": round(self.low, 2),
            "high": round(self.high, 2),
            "anomaly": self.anomaly,
        }


@dataclass(frozen=True)
class VolumeFinding:
    """The verdict on an event's tested buckets, with the numbers that explain it."""

    status: Status
    kind: Anomaly | None
    buckets: list[BucketVerdict]
    observed: int
    expected: float
    low: float
    high: float
    history_days: float
    required_days: float
    explanation: str
    #: The buckets summed in observed/expected (the anomalous run, or every tested bucket).
    run: list[BucketVerdict] = field(default_factory=list)
    #: What the same buckets had on the last `usual_periods` weeks (or days), at today's level.
    usual_low: float = 0.0
    usual_high: float = 0.0
    usual_periods: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored with the run and printed by `--format json`."""
        return {
            "status": self.status,
            "kind": self.kind,
            "observed": self.observed,
            "expected": round(self.expected, 2),
            "band": [round(self.low, 2), round(self.high, 2)],
            "usual": [round(self.usual_low, 2), round(self.usual_high, 2)],
            "usual_periods": self.usual_periods,
            "buckets": [bucket.to_json() for bucket in self.buckets],
            "anomalous_buckets": [_iso(bucket.start) for bucket in self.run if bucket.anomaly],
            "history_days": round(self.history_days, 2),
            "required_days": round(self.required_days, 2),
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class FreshnessFinding:
    """How unlikely the silence since the newest event is at the event's usual rate."""

    status: Status
    last_seen: datetime | None
    silence: timedelta
    expected_in_silence: float
    probability: float
    explanation: str
    history_days: float = 0.0
    required_days: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored with the run and printed by `--format json`."""
        return {
            "status": self.status,
            "last_seen": None if self.last_seen is None else _iso(self.last_seen),
            "silence_seconds": self.silence.total_seconds(),
            "expected_in_silence": round(self.expected_in_silence, 3),
            "probability": self.probability,
            "history_days": round(self.history_days, 2),
            "required_days": round(self.required_days, 2),
            "explanation": self.explanation,
        }


# --- baseline -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    """A seasonal slot's baseline, on the scale of the event's current level."""

    expected: float
    #: Robust standard deviation on the square-root scale (before the floors).
    spread: float
    points: int
    #: The slot's past counts (oldest first), each scaled to today's level.
    past: tuple[float, ...] = ()
    #: Their trimmed mean (without the highest and lowest from 5 points on): for small counts a
    #: steadier rate than the median, which is an integer or half of one.
    mean: float = 0.0


@dataclass(frozen=True)
class Baseline:
    """Per seasonal slot: median (scaled by the recent level) and robust spread."""

    settings: VolumeSettings
    slots: Mapping[tuple[int, ...], _Slot]
    level: float
    history_days: float
    zone: tzinfo
    #: Relative noise beyond Poisson (day-to-day and hour-to-hour wobble), pooled over slots.
    jitter: float = RELATIVE_FLOOR
    #: Relative standard error of the level factor (a median of the last 7 days' levels).
    level_error: float = 0.0

    def slot_of(self, start: datetime) -> tuple[int, ...]:
        """The seasonal slot of a bucket: (weekday, hour, minute), (hour, minute) or ()."""
        return _slot(start, self.settings, self.zone)

    def band(self, start: datetime) -> tuple[float, float, float, int]:
        """(expected, low, high, training points) for the bucket starting at `start`."""
        slot = self.slots.get(self.slot_of(start))
        if slot is None:
            return 0.0, 0.0, 0.0, 0
        expected = slot.expected
        # Poisson noise (1 on this scale) plus the event's relative jitter (at least the
        # relative floor); a slot whose own MAD says it is noisier widens it, weighed as n
        # points against the pooled figure's SLOT_PRIOR (eight points say little); then the
        # uncertainty of a median of n points (pi/2n).
        pooled = math.sqrt(1 + self.jitter**2 * expected)
        own = slot.spread * math.sqrt(self.level)
        n = slot.points
        spread = max(pooled, math.sqrt((SLOT_PRIOR * pooled**2 + n * own**2) / (SLOT_PRIOR + n)))
        spread *= math.sqrt(1 + math.pi / (2 * slot.points))
        # The level factor's own error, relative, is a relative error of the expected count.
        spread = math.hypot(spread, self.level_error * math.sqrt(expected))
        center = 2 * math.sqrt(expected + _ANSCOMBE)
        reach = self.settings.sensitivity * spread
        low = _from_root(center - reach)
        high = _from_root(center + reach)
        return expected, low, high, slot.points

    def usual(self, starts: Sequence[datetime]) -> tuple[float, float, int]:
        """Lowest and highest of the last n totals of these buckets' slots, at today's level.

        For hour_of_week and consecutive buckets, the i-th most recent values of their slots come
        from the same past week: the totals are what those hours had on each of the last n weeks.
        """
        pasts = [self.slots[slot].past for slot in map(self.slot_of, starts) if slot in self.slots]
        if not pasts or len(pasts) < len(starts):
            return 0.0, 0.0, 0
        n = min(len(past) for past in pasts)
        totals = [sum(past[-i] for past in pasts) for i in range(1, n + 1)]
        return min(totals), max(totals), n

    def cautious(self, start: datetime) -> float:
        """The slot's rate lowered by one standard error (square-root scale), for stops.

        Its trimmed mean rather than the median (a median of small counts is an integer), one
        standard error lower: a stop is only called when even this figure makes silence
        improbable.
        """
        slot = self.slots.get(self.slot_of(start))
        if slot is None:
            return 0.0
        return _from_root(_root(slot.mean) - math.sqrt(1 / slot.points))

    def expected(self, start: datetime) -> float:
        """The expected count of the bucket starting at `start` (0 for an unseen slot)."""
        slot = self.slots.get(self.slot_of(start))
        return 0.0 if slot is None else slot.expected


def _root(count: float) -> float:
    return 2 * math.sqrt(max(count, 0.0) + _ANSCOMBE)


def _from_root(value: float) -> float:
    if value <= 0:
        return 0.0
    return max((value / 2) ** 2 - _ANSCOMBE, 0.0)


def _slot(start: datetime, settings: VolumeSettings, zone: tzinfo) -> tuple[int, ...]:
    return _local_slot(start.astimezone(zone), settings)


def _local_slot(local: datetime, settings: VolumeSettings) -> tuple[int, ...]:
    if settings.seasonality == "hour_of_week":
        return (local.weekday(), local.hour, local.minute)
    if settings.seasonality == "hour_of_day":
        return (local.hour, local.minute)
    return ()


def _trimmed_mean(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if len(ordered) >= 5:
        ordered = ordered[1:-1]
    return sum(ordered) / len(ordered)


def _mad(values: Sequence[float], center: float) -> float:
    return median(abs(value - center) for value in values)


def _training_buckets(
    history: Mapping[datetime, int],
    first_tested: datetime,
    last_tested: datetime,
    settings: VolumeSettings,
    left_out: Collection[datetime],
    exclusions: Sequence[Exclusion],
) -> list[tuple[datetime, int]]:
    """Usable (bucket, count) pairs: inside the training period, after the first appearance."""
    seen = [start for start, count in history.items() if count > 0 and start < last_tested]
    if not seen:
        return []
    first_seen = min(seen)
    step = settings.bucket
    periods = int(settings.training / step)
    starts = [first_tested - i * step for i in range(periods, 0, -1)]
    starts += list(_grid(first_tested, last_tested, step))
    buckets: list[tuple[datetime, int]] = []
    for start in starts:
        end = start + step
        if end <= first_seen or start in left_out:
            continue
        if not any(exclusion.overlaps(start, end) for exclusion in exclusions):
            buckets.append((start, history.get(start, 0)))
    return buckets


def _levels(
    buckets: Sequence[tuple[datetime, int]],
    day_of: Mapping[datetime, date],
    expected_of: Mapping[datetime, float],
) -> dict[date, float]:
    """Per local day: the day's count over the sum of its buckets' seasonal medians."""
    observed: dict[date, float] = defaultdict(float)
    expected: dict[date, float] = defaultdict(float)
    for start, count in buckets:
        day = day_of[start]
        observed[day] += count
        expected[day] += expected_of[start]
    return {day: observed[day] / expected[day] for day in observed if expected[day] > 0}


def build_baseline(
    history: Mapping[datetime, int],
    tested: Sequence[datetime],
    settings: VolumeSettings,
    exclusions: Sequence[Exclusion] = (),
    flagged: Collection[datetime] = (),
) -> Baseline:
    """The seasonal baseline the tested buckets are judged against (see the module docstring).

    1. slot medians of the raw counts; 2. each day's level (its count over its slots' medians),
    smoothed by a centred 7-day median, divides that day's counts, so growth during training
    neither shifts the medians nor widens the spread; 3. slot medians and MADs of those
    normalised counts; 4. the median level of the last 7 days scales them to today.
    """
    zone = ZoneInfo(settings.timezone)
    ordered = sorted(tested)
    left_out = set(ordered) | set(flagged)
    buckets = _training_buckets(history, ordered[0], ordered[-1], settings, left_out, exclusions)
    history_days = len(buckets) * settings.bucket / timedelta(days=1)
    if not buckets:
        return Baseline(settings, {}, 1.0, 0.0, zone)
    slot_of: dict[datetime, tuple[int, ...]] = {}
    day_of: dict[datetime, date] = {}
    for start, _ in buckets:
        local = start.astimezone(zone)
        slot_of[start] = _local_slot(local, settings)
        day_of[start] = local.date()

    raw: dict[tuple[int, ...], list[float]] = defaultdict(list)
    for start, count in buckets:
        raw[slot_of[start]].append(count)
    first_medians = {slot: median(values) for slot, values in raw.items()}
    day_levels = _levels(buckets, day_of, {s: first_medians[slot_of[s]] for s, _ in buckets})
    days = sorted(day_levels)
    reach = timedelta(days=LEVEL_DAYS // 2)
    smoothed = {
        day: median(
            day_levels[other]
            for other in days[max(i - LEVEL_DAYS, 0) : i + LEVEL_DAYS]
            if abs(other - day) <= reach
        )
        for i, day in enumerate(days)
    }

    normalised: dict[tuple[int, ...], list[float]] = defaultdict(list)
    for start, count in buckets:
        level = smoothed.get(day_of[start], 1.0)
        normalised[slot_of[start]].append(count / level if level > 0 else float(count))
    medians = {slot: median(values) for slot, values in normalised.items()}

    recent = _levels(buckets, day_of, {s: medians[slot_of[s]] for s, _ in buckets})
    recent_days = sorted(recent)[-LEVEL_DAYS:]
    level = median(recent[day] for day in recent_days) if recent_days else 1.0
    level_error = 0.0
    if level > 0 and len(recent_days) >= 3:
        # Standard error of a median of the recent days' levels, relative to it.
        ratios = [recent[day] / level for day in recent_days]
        level_error = 1.253 * MAD_TO_SD * _mad(ratios, 1.0) / math.sqrt(len(ratios))
    if level > 0 and len(recent_days) == LEVEL_DAYS:
        # The last 7 days are centred ~4 days before the tested buckets: carry the trend there.
        middle = ordered[0] + (ordered[-1] + settings.bucket - ordered[0]) / 2
        local = middle.astimezone(zone)
        now = local.toordinal() + (local.hour * 60 + local.minute) / 1440
        ahead = now - (recent_days[LEVEL_DAYS // 2].toordinal() + 0.5)
        level *= math.exp(_trend(recent) * ahead)

    slots: dict[tuple[int, ...], _Slot] = {}
    roots: dict[tuple[int, ...], list[float]] = {}
    for slot, values in normalised.items():
        roots[slot] = [2 * math.sqrt(value + _ANSCOMBE) for value in values]
        slots[slot] = _Slot(
            expected=medians[slot] * level,
            spread=MAD_TO_SD * _mad(roots[slot], median(roots[slot])),
            points=len(values),
            past=tuple(value * level for value in values),
            mean=_trimmed_mean(values) * level,
        )
    jitter = _jitter(roots, medians)
    return Baseline(settings, slots, level, history_days, zone, jitter, level_error)


#: The trend is measured over this many recent days and never taken above 2% a day either way.
TREND_DAYS = 28
MAX_TREND = 0.02


def _trend(levels: Mapping[date, float]) -> float:
    """Daily growth rate of the level (log scale), Theil-Sen over the last 4 weeks.

    Robust to a bad day, and near zero for a flat event (a day's wobble barely moves the slope).
    """
    days = [day for day in sorted(levels)[-TREND_DAYS:] if levels[day] > 0]
    if len(days) < 2 * LEVEL_DAYS:
        return 0.0
    logs = [math.log(levels[day]) for day in days]
    slopes = [
        (logs[j] - logs[i]) / (days[j] - days[i]).days
        for i in range(len(days))
        for j in range(i + 1, len(days))
    ]
    return max(-MAX_TREND, min(MAX_TREND, median(slopes)))


#: Median of a chi-square variable with one degree of freedom: median(z²) for standard normal z.
_CHI2_MEDIAN = 0.4549


def _jitter(
    roots: Mapping[tuple[int, ...], Sequence[float]],
    medians: Mapping[tuple[int, ...], float],
) -> float:
    """The event's noise beyond Poisson, as a relative standard deviation, from all its slots.

    On the square-root scale a count's variance is 1 + c²·m (Poisson plus relative jitter c at
    mean m). c is the value that makes the median squared residual from the slot medians what
    normal noise gives (0.455), allowing for the medians' closeness to their own points: a pooled,
    robust estimate that one slot's eight points could not give.
    """
    pairs: list[tuple[float, float]] = []
    for slot, values in roots.items():
        if len(values) < 3:
            continue
        center = _root(medians[slot])
        # A point's residual from a median it helped make is smaller than a new point's.
        deflation = (len(values) - 1) / len(values)
        pairs.extend(((v - center) ** 2 / deflation, medians[slot]) for v in values)
    if len(pairs) < 24:
        return RELATIVE_FLOOR

    def excess(c2: float) -> float:
        return median([r2 / (1 + c2 * m) for r2, m in pairs]) - _CHI2_MEDIAN

    if excess(RELATIVE_FLOOR**2) <= 0:
        return RELATIVE_FLOOR
    low, high = RELATIVE_FLOOR**2, 1.0
    if excess(high) > 0:
        return 1.0
    for _ in range(8):
        middle = math.sqrt(low * high)
        if excess(middle) > 0:
            low = middle
        else:
            high = middle
    return math.sqrt(high)


# --- volume ---------------------------------------------------------------------------------


def judge_volume(
    event: str,
    history: Mapping[datetime, int],
    tested: Sequence[datetime],
    settings: VolumeSettings,
    exclusions: Sequence[Exclusion] = (),
    flagged: Collection[datetime] = (),
) -> VolumeFinding:
    """Judge the tested buckets' counts against the event's seasonal history.

    history: bucket start (UTC, aware) -> count, for the training period; missing buckets count 0
    between the event's first appearance and the tested buckets (before it: no data). tested:
    the bucket starts being judged (their counts are in `history`, or 0 if absent); they,
    excluded buckets and `flagged` (buckets flagged anomalous earlier) stay out of the baseline.
    Tested buckets inside an exclusion (a declared outage or launch) are never anomalous.
    A run of anomalous buckets continues a run of flagged buckets just before it.
    """
    if not tested:
        raise ValueError(f"no tested buckets for {event}")
    ordered = sorted(set(tested))
    baseline = build_baseline(history, ordered, settings, exclusions, flagged)
    required_days = settings.min_history / timedelta(days=1)
    learning = baseline.history_days < required_days

    verdicts: list[BucketVerdict] = []
    for start in ordered:
        observed = history.get(start, 0)
        expected, low, high, n = baseline.band(start)
        anomaly: Anomaly | None = None
        declared = any(e.overlaps(start, start + settings.bucket) for e in exclusions)
        if not learning and n > 0 and not declared:
            if observed < low and settings.direction != "spike":
                stop = observed == 0 and math.exp(-baseline.cautious(start)) < STOP_PROBABILITY
                anomaly = "stop" if stop else "drop"
            elif observed > high and settings.direction != "drop":
                anomaly = "spike"
        verdicts.append(BucketVerdict(start, observed, expected, low, high, anomaly))
    if not learning and settings.direction != "spike":
        verdicts = _silent_runs(verdicts, history, baseline, exclusions)

    if learning:
        observed_total = sum(v.observed for v in verdicts)
        text = (
            f"learning: {_days(baseline.history_days)} of {_days(required_days)} days of history"
            f" ({_plural(observed_total, 'event')} in {_plural(len(verdicts), 'tested bucket')})"
        )
        return _finding("learning", None, verdicts, verdicts, baseline, required_days, text)

    status, kind, run = _worst_run(verdicts, settings, set(flagged))
    explanation = _explain_volume(run, baseline)
    return _finding(status, kind, verdicts, run, baseline, required_days, explanation)


def _silent_runs(
    verdicts: list[BucketVerdict],
    history: Mapping[datetime, int],
    baseline: Baseline,
    exclusions: Sequence[Exclusion],
) -> list[BucketVerdict]:
    """Mark runs of consecutive empty buckets as a stop when, together, they are too unlikely.

    Each hour of a low-volume event may be empty by chance, but 6 empty hours where 30 events
    were expected have probability exp(-30): P(0) is judged over the whole run of zeros,
    including the empty buckets just before the tested ones (a silence that began in the
    previous run's window), back to the event's first appearance.
    """
    step = baseline.settings.bucket

    def declared(start: datetime) -> bool:
        return any(e.overlaps(start, start + step) for e in exclusions)

    runs: list[list[int]] = []
    for index, verdict in enumerate(verdicts):
        if verdict.observed != 0 or declared(verdict.start):
            continue
        if runs and verdicts[runs[-1][-1]].start + step == verdict.start:
            runs[-1].append(index)
        else:
            runs.append([index])
    tested = {verdict.start for verdict in verdicts}
    seen = [start for start, count in history.items() if count > 0]
    first_seen = min(seen) if seen else None
    marked = list(verdicts)
    for run in runs:
        expected = sum(baseline.cautious(verdicts[i].start) for i in run)
        before = verdicts[run[0]].start - step
        for _ in range(SILENCE_LOOKBACK):
            if first_seen is None or before < first_seen or before in tested:
                break
            if history.get(before, 0) != 0 or declared(before):
                break
            expected += baseline.cautious(before)
            before -= step
        if math.exp(-expected) < STOP_PROBABILITY:
            since = before + step if before + step < verdicts[run[0]].start else None
            for i in run:
                if verdicts[i].expected > 0:
                    marked[i] = replace(verdicts[i], anomaly="stop", silent_since=since)
    return marked


def _finding(
    status: Status,
    kind: Anomaly | None,
    verdicts: list[BucketVerdict],
    run: list[BucketVerdict],
    baseline: Baseline,
    required_days: float,
    explanation: str,
) -> VolumeFinding:
    usual_low, usual_high, periods = baseline.usual([v.start for v in run])
    return VolumeFinding(
        status=status,
        kind=kind,
        buckets=verdicts,
        observed=sum(v.observed for v in run),
        expected=sum(v.expected for v in run),
        low=sum(v.low for v in run),
        high=sum(v.high for v in run),
        history_days=baseline.history_days,
        required_days=required_days,
        explanation=explanation,
        run=run,
        usual_low=usual_low,
        usual_high=usual_high,
        usual_periods=periods,
    )


_RANK: dict[Status, int] = {"passed": 0, "learning": 0, "warned": 1, "failed": 2}


def _worst_run(
    verdicts: list[BucketVerdict], settings: VolumeSettings, flagged: set[datetime]
) -> tuple[Status, Anomaly | None, list[BucketVerdict]]:
    """The most severe run of consecutive anomalous buckets, its status and kind."""
    runs: list[list[BucketVerdict]] = []
    for verdict in verdicts:
        if verdict.anomaly is None:
            continue
        if runs and runs[-1][-1].start + settings.bucket == verdict.start:
            runs[-1].append(verdict)
        else:
            runs.append([verdict])
    best: tuple[Status, Anomaly | None, list[BucketVerdict]] = ("passed", None, verdicts)
    best_key = (0, 0)
    for run in runs:
        # Buckets flagged by earlier runs just before this one make it longer.
        length = len(run)
        before = run[0].start - settings.bucket
        while before in flagged:
            length += 1
            before -= settings.bucket
        kinds = {v.anomaly for v in run}
        kind: Anomaly = "stop" if "stop" in kinds else "drop" if "drop" in kinds else "spike"
        if kind == "stop" or length >= settings.error_after:
            status: Status = "failed"
        elif length >= settings.warn_after:
            status = "warned"
        else:
            continue
        # The most severe, then the longest, then the latest run explains the finding.
        if (_RANK[status], length) >= best_key:
            best, best_key = (status, kind, run), (_RANK[status], length)
    return best


def _explain_volume(run: list[BucketVerdict], baseline: Baseline) -> str:
    """`14:00-17:00 UTC: 372 events, expected 1,200 (usual ... on the last 8 Thursdays), -69%`."""
    settings = baseline.settings
    zone = baseline.zone
    observed = sum(v.observed for v in run)
    expected = sum(v.expected for v in run)
    span = _span(run[0].start, run[-1].start + settings.bucket, zone)
    counted = "no events" if observed == 0 else f"{_number(observed)} {_noun(observed, 'event')}"
    low, high, n = baseline.usual([v.start for v in run])
    text = f"{span}: {counted}, expected {_amount(expected)}"
    if n:
        usual = (
            f"{_amount(low)}{DASH}{_amount(high)}"
            if _amount(low) != _amount(high)
            else _amount(low)
        )
        text += f" (usual {usual} {_context(run, n, settings, zone)})"
    if expected > 0:
        text += f", {_percent(observed / expected - 1)}"
    since = run[0].silent_since
    if since is not None:
        first, tested = since.astimezone(zone), run[0].start.astimezone(zone)
        when = f"{first:%H:%M}" if first.date() == tested.date() else f"{first:%a %H:%M}"
        text += f"; silent since {when}"
    return text


def _context(run: list[BucketVerdict], n: int, settings: VolumeSettings, zone: tzinfo) -> str:
    hours = "this hour" if len(run) == 1 else "these hours"
    if settings.seasonality == "hour_of_week":
        weekdays = {v.start.astimezone(zone).strftime("%A") for v in run}
        if len(weekdays) > 1:
            return f"at these hours of the week over the last {_plural(n, 'week')}"
        day = weekdays.pop()
        return f"at {hours} on the last {n} {day}s" if n != 1 else f"at {hours} last {day}"
    if settings.seasonality == "hour_of_day":
        return f"at {hours} on the last {_plural(n, 'day')}"
    return f"per bucket over the last {_plural(n, 'bucket')}"


# --- freshness ------------------------------------------------------------------------------


def _tail(sensitivity: float) -> float:
    """One-sided normal tail probability beyond `sensitivity` standard deviations."""
    return 0.5 * math.erfc(sensitivity / math.sqrt(2))


def judge_freshness(
    event: str,
    history: Mapping[datetime, int],
    last_seen: datetime | None,
    now: datetime,
    settings: VolumeSettings,
    exclusions: Sequence[Exclusion] = (),
) -> FreshnessFinding:
    """Judge the silence since `last_seen` by its probability at the event's seasonal rate.

    Expected count E over `[last_seen, now)` (excluded periods count nothing); P(no event) =
    exp(-E). Warned below the one-sided normal tail of `sensitivity` raised to `warn_after`,
    failed below it raised to `error_after` (as unlikely as that many anomalous buckets in a row).
    """
    required_days = settings.min_history / timedelta(days=1)
    step = settings.bucket
    if last_seen is None:
        seen = [start for start, count in history.items() if count > 0 and start < now]
        last_seen = max(seen) if seen else None
    if last_seen is None:
        return FreshnessFinding(
            "learning", None, timedelta(0), 0.0, 1.0, "learning: no event seen yet", 0.0,
            required_days,
        )  # fmt: skip
    silence = max(now - last_seen, timedelta(0))
    first = _floor(last_seen, step)
    silent_buckets = list(_grid(first, now, step)) or [first]
    baseline = build_baseline(history, silent_buckets, settings, exclusions)
    if baseline.history_days < required_days:
        text = f"learning: {_days(baseline.history_days)} of {_days(required_days)} days of history"
        return FreshnessFinding(
            "learning", last_seen, silence, 0.0, 1.0, text, baseline.history_days, required_days
        )
    expected = 0.0
    for start in silent_buckets:
        end = start + step
        overlap = min(end, now) - max(start, last_seen)
        if overlap <= timedelta(0):
            continue
        parts = [(max(start, last_seen), min(end, now))]
        for exclusion in exclusions:
            parts = [piece for a, b in parts for piece in _minus(a, b, exclusion)]
        covered = sum((b - a for a, b in parts), timedelta(0))
        expected += baseline.expected(start) * (covered / step)
    log10_probability = -expected / math.log(10)
    probability = math.exp(-expected)
    tail = _tail(settings.sensitivity)
    if probability < tail**settings.error_after:
        status: Status = "failed"
    elif probability < tail**settings.warn_after:
        status = "warned"
    else:
        status = "passed"
    hours = silence / timedelta(hours=1)
    rate = expected / hours if hours > 0 else 0.0
    said = "that many silent hours happen" if hours >= 2 else "a silence that long happens"
    text = (
        f"no event for {_duration(silence)}; at its usual rate for those hours ({_rate(rate)}/h)"
        f" {said} with probability {_probability(log10_probability)}"
    )
    return FreshnessFinding(
        status,
        last_seen,
        silence,
        expected,
        probability,
        text,
        baseline.history_days,
        required_days,
    )


def _floor(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return moment - (moment - epoch) % step


def _grid(start: datetime, end: datetime, step: timedelta) -> Iterable[datetime]:
    current = start
    while current < end:
        yield current
        current += step


def _minus(start: datetime, end: datetime, exclusion: Exclusion) -> list[tuple[datetime, datetime]]:
    if not exclusion.overlaps(start, end):
        return [(start, end)]
    pieces = []
    if start < exclusion.start:
        pieces.append((start, exclusion.start))
    if exclusion.end < end:
        pieces.append((exclusion.end, end))
    return pieces


# --- text -----------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _number(value: int) -> str:
    return f"{value:,}"


def _amount(value: float) -> str:
    """Counts as people read them: 1,190 / 42 / 2.4 / 0."""
    if value >= 10 or value == 0:
        return f"{round(value):,}"
    return f"{value:.1f}"


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 0.1 else f"{value:.2g}"


def _percent(change: float) -> str:
    points = round(change * 100)
    if points == 0:
        return "±0%"
    return f"+{points:,}%" if points > 0 else f"{MINUS}{-points:,}%"


def _days(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _noun(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {_noun(count, noun)}"


def _span(start: datetime, end: datetime, zone: tzinfo) -> str:
    """`14:00-17:00 UTC`, or `Wed 23:00-Thu 02:00 UTC` across midnight (local time, en dash)."""
    first = start.astimezone(zone)
    last = end.astimezone(zone)
    name = first.tzname() or str(zone)
    if first.date() == (last - timedelta(microseconds=1)).date():
        until = "24:00" if last.date() != first.date() else f"{last:%H:%M}"
        return f"{first:%H:%M}{DASH}{until} {name}"
    return f"{first:%a %H:%M}{DASH}{last:%a %H:%M} {name}"


def _duration(value: timedelta) -> str:
    minutes = round(value / timedelta(minutes=1))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" if rest == 0 or hours >= 10 else f"{hours} h {rest} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _probability(log10_value: float) -> str:
    if log10_value > -3:
        return f"{10**log10_value:.2g}"
    exponent = math.floor(log10_value)
    mantissa = round(10 ** (log10_value - exponent))
    if mantissa == 10:
        mantissa, exponent = 1, exponent + 1
    return f"{mantissa}e{exponent}"
