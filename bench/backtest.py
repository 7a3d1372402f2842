"""Backtest eventqa's volume detector against an Elementary-style z-score (issue 11, item 7).

    python bench/backtest.py [--events 150] [--seed 11] [--weeks 4] [--sensitivity S]

(`make backtest` runs it with the defaults.) Deterministic: every series comes from its own
seeded generator. Each event gets 8 weeks of training history and `--weeks` weeks that are judged
one day at a time (24 hourly buckets per run, as a daily scheduled run would), with the buckets
flagged by earlier runs passed back as `flagged`, as the results store does.

Series: hourly Poisson counts of a rate with a diurnal curve (in the event's own time zone), a
weekend dip, steady growth (0, 10 or 30% a month), day-to-day and hour-to-hour jitter (lognormal,
4% and 3%), at three volumes (peak ~5,000/h, ~300/h, ~20/h). Clean look-alikes: business-hours
events (structural zeros at night and on weekends), a weekly show (15x on Thursday 19:00-22:00),
holidays (a day at 20%, declared as exclusions). Injected incidents: drops of 30%, 50% and 100%
lasting 1-3 h, stops (no events for 6 h), spikes of 2x, 3x and 5x lasting 1-3 h.

An incident is caught when a run alerts (warned or failed) on one of its buckets in its direction.
A false alarm is a run of consecutive alerted buckets that touches no incident; they are counted per
1,000 event-days judged. "Visible" incidents are those whose change, in their biggest hour, is at
least 6 standard deviations of the series' own noise (Poisson and jitter, measured on the
square-root scale where Poisson noise is 1) in its biggest hour, or for stops over their whole
length (a run of empty hours is judged together): below that, no detector can tell an incident from
noise without raising false alarms (a 50% drop of 20 events at night is noise), so the targets
apply to visible incidents; the recall over all incidents is printed too.

The z-score is Elementary's volume anomaly test as documented: per bucket, the mean and sample
standard deviation of the same seasonal slot over the last 14 days *including the tested bucket*,
anomalous when |z| > 3. It is run with the detector's seasonality (hour_of_week) and, for
reference, with hour_of_day (where it has 15 points per slot instead of 3).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from eventqa.monitoring import Exclusion, VolumeSettings, judge_volume

START = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)
TRAINING_WEEKS = 8
VISIBLE_SIGMAS = 6.0
DAY_JITTER, HOUR_JITTER = 0.04, 0.03
JITTER = math.hypot(DAY_JITTER, HOUR_JITTER)

# (kind, factor, hours): drops and spikes multiply the rate, a stop zeroes it.
INCIDENTS = [
    ("drop", 0.7, 1), ("drop", 0.7, 2), ("drop", 0.7, 3),
    ("drop", 0.5, 1), ("drop", 0.5, 2), ("drop", 0.5, 3),
    ("drop", 0.0, 1), ("drop", 0.0, 2), ("drop", 0.0, 3),
    ("stop", 0.0, 6),
    ("spike", 2.0, 1), ("spike", 2.0, 2), ("spike", 2.0, 3),
    ("spike", 3.0, 1), ("spike", 3.0, 2), ("spike", 3.0, 3),
    ("spike", 5.0, 1), ("spike", 5.0, 2), ("spike", 5.0, 3),
]  # fmt: skip
VOLUMES = {"high": 5000.0, "medium": 300.0, "low": 20.0}
SHAPES = ["diurnal", "business_hours", "weekly_show", "holidays"]
ZONES = ["UTC", "Europe/Paris", "America/New_York"]


@dataclass
class Incident:
    kind: str
    factor: float
    start: int  # hour index
    hours: int
    visible: bool
    caught: dict[str, bool] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.kind == "stop":
            return f"stop {self.hours}h"
        if self.kind == "drop":
            return f"drop {round((1 - self.factor) * 100)}% {self.hours}h"
        return f"spike {self.factor:g}x {self.hours}h"


@dataclass
class Series:
    name: str
    volume: str
    shape: str
    zone: str
    counts: np.ndarray
    rate: np.ndarray
    incidents: list[Incident]
    exclusions: list[Exclusion]
    excluded_hours: set[int]


def build_series(index: int, seed: int, weeks: int) -> Series:
    """One synthetic event: its clean rate, counts with incidents, and declared exclusions."""
    rng = np.random.default_rng([seed, index])
    volume = list(VOLUMES)[index % 3]
    shape = SHAPES[(index // 3) % len(SHAPES)]
    zone_name = ZONES[(index // 12) % len(ZONES)]
    zone = ZoneInfo(zone_name)
    hours = (TRAINING_WEEKS + weeks) * 168
    moments = [START + i * HOUR for i in range(hours)]
    local = [m.astimezone(zone) for m in moments]
    hour_of_day = np.array([m.hour for m in local])
    weekday = np.array([m.weekday() for m in local])
    day_index = np.array([(m.date() - local[0].date()).days for m in local])

    peak = VOLUMES[volume] * rng.uniform(0.7, 1.3)
    center = rng.uniform(12, 20)
    diurnal = 0.12 + 0.88 * np.exp(-(((hour_of_day - center) / 5.0) ** 2))
    weekend = np.where(weekday >= 5, rng.uniform(0.45, 0.95), 1.0)
    growth_per_month = [0.0, 0.1, 0.3][index % 3 if shape != "diurnal" else (index // 3) % 3]
    growth = (1 + growth_per_month) ** (np.arange(hours) / (24 * 30))
    days = int(day_index.max()) + 1
    day_jitter = rng.lognormal(0, DAY_JITTER, days)[day_index]
    hour_jitter = rng.lognormal(0, HOUR_JITTER, hours)
    rate = peak * diurnal * weekend * growth * day_jitter * hour_jitter
    if shape == "business_hours":
        rate = np.where((weekday < 5) & (hour_of_day >= 8) & (hour_of_day < 19), rate, 0.0)
    if shape == "weekly_show":
        rate = np.where((weekday == 3) & (hour_of_day >= 19) & (hour_of_day < 22), rate * 15, rate)

    exclusions: list[Exclusion] = []
    excluded: set[int] = set()
    if shape == "holidays":
        # One holiday in training, one in the judged weeks, each a whole local day at 20%.
        for day in (int(rng.integers(20, TRAINING_WEEKS * 7 - 3)), TRAINING_WEEKS * 7 + 9):
            members = np.nonzero(day_index == day)[0]
            rate[members] *= 0.2
            first, last = int(members[0]), int(members[-1])
            exclusions.append(
                Exclusion(moments[first], moments[last] + HOUR, f"holiday on day {day}")
            )
            excluded.update(range(first, last + 1))

    counts = rng.poisson(rate).astype(np.int64)

    incidents: list[Incident] = []
    judged_from = TRAINING_WEEKS * 168
    slots = 4
    span = (hours - judged_from) // slots
    for j in range(slots):
        kind, factor, length = INCIDENTS[(index * slots + j) % len(INCIDENTS)]
        for _ in range(200):
            at = judged_from + j * span + int(rng.integers(6, span - length - 6))
            block = range(at, at + length)
            if all(rate[h] > 0 for h in block) and not excluded.intersection(block):
                break
        else:
            continue
        total = float(sum(rate[h] for h in block))
        biggest = max(distance(rate[h], factor) for h in block)
        # A stop is judged as a run (P(0) over its hours), drops and spikes hour by hour.
        overall = distance(total, factor) if factor == 0 else 0.0
        visible = max(biggest, overall) >= VISIBLE_SIGMAS
        for h in block:
            counts[h] = rng.poisson(rate[h] * factor)
        incidents.append(Incident(kind, factor, at, length, visible))
    return Series(
        f"event_{index:03d}",
        volume,
        shape,
        zone_name,
        counts,
        rate,
        incidents,
        exclusions,
        excluded,
    )


def distance(rate: float, factor: float) -> float:
    """How far an incident moves an hour's count, in the series' own noise (Poisson + jitter)."""
    root = 2 * math.sqrt(rate + 3 / 8)
    moved = 2 * math.sqrt(rate * factor + 3 / 8)
    return abs(moved - root) / math.sqrt(1 + JITTER**2 * rate)


def run_detector(series: Series, settings: VolumeSettings) -> set[int]:
    """Hour indexes where a daily run alerted (warned/failed), judged day by day."""
    moments = [START + i * HOUR for i in range(len(series.counts))]
    history = {m: int(c) for m, c in zip(moments, series.counts, strict=True)}
    flagged: set[datetime] = set()
    alerted: set[int] = set()
    first = TRAINING_WEEKS * 168
    for day_start in range(first, len(moments), 24):
        tested = moments[day_start : day_start + 24]
        window = {
            m: history[m] for m in moments[day_start - 24 * 7 * TRAINING_WEEKS : day_start + 24]
        }
        finding = judge_volume(
            series.name, window, tested, settings, series.exclusions, frozenset(flagged)
        )
        anomalous = [b for b in finding.buckets if b.anomaly is not None]
        flagged.update(b.start for b in anomalous)
        if finding.status in ("warned", "failed"):
            for bucket in anomalous:
                alerted.add((bucket.start - START) // HOUR)
    return alerted


def run_zscore(series: Series, seasonality: str) -> set[int]:
    """Elementary-style: |z| > 3 over the slot's last 14 days, the tested bucket included."""
    counts = series.counts.astype(float)
    lags = [0, 168, 336] if seasonality == "hour_of_week" else [24 * d for d in range(15)]
    alerted: set[int] = set()
    first = TRAINING_WEEKS * 168
    for h in range(first, len(counts)):
        if h in series.excluded_hours:
            continue
        values = counts[[h - lag for lag in lags]]
        sd = values.std(ddof=1)
        if sd > 0 and abs(counts[h] - values.mean()) / sd > 3:
            alerted.add(h)
    return alerted


def direction_of(series: Series, h: int) -> str:
    return "spike" if series.counts[h] > series.rate[h] else "drop"


@dataclass
class Score:
    caught: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    false_alarms: int = 0
    event_days: float = 0.0

    def add(self, series: Series, alerted: set[int], name: str) -> None:
        incident_hours: set[int] = set()
        for incident in series.incidents:
            block = range(incident.start, incident.start + incident.hours)
            incident_hours.update(block)
            wanted = "spike" if incident.kind == "spike" else "drop"
            hit = any(h in alerted and direction_of(series, h) == wanted for h in block)
            incident.caught[name] = hit
        judged = len(series.counts) - TRAINING_WEEKS * 168
        self.event_days += judged / 24
        # Episodes: runs of consecutive alerted hours; one that touches an incident is its alarm.
        episodes: list[list[int]] = []
        for h in sorted(alerted):
            if episodes and episodes[-1][-1] == h - 1:
                episodes[-1].append(h)
            else:
                episodes.append([h])
        self.false_alarms += sum(1 for e in episodes if not incident_hours.intersection(e))

    @property
    def per_thousand(self) -> float:
        return 1000 * self.false_alarms / self.event_days if self.event_days else 0.0


def recall(incidents: list[Incident], name: str, test) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    chosen = [i for i in incidents if test(i)]
    return sum(i.caught[name] for i in chosen), len(chosen)


def percent(pair: tuple[int, int]) -> str:
    caught, total = pair
    return f"{100 * caught / total:5.1f}% ({caught}/{total})" if total else "   n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--weeks", type=int, default=4, help="judged weeks after 8 of training")
    parser.add_argument("--sensitivity", type=float, default=None)
    parser.add_argument("--verbose", action="store_true", help="list missed and false alarms")
    args = parser.parse_args()

    settings = VolumeSettings()
    if args.sensitivity is not None:
        settings = replace(settings, sensitivity=args.sensitivity)
    began = time.perf_counter()
    began_cpu = time.process_time()
    names = ["eventqa", "z-score hour_of_week", "z-score hour_of_day"]
    scores = {name: Score() for name in names}
    incidents: list[Incident] = []
    per_shape: dict[str, Score] = defaultdict(Score)
    for index in range(args.events):
        series = build_series(index, args.seed, args.weeks)
        zone_settings = replace(settings, timezone=series.zone)
        alerted = {
            "eventqa": run_detector(series, zone_settings),
            "z-score hour_of_week": run_zscore(series, "hour_of_week"),
            "z-score hour_of_day": run_zscore(series, "hour_of_day"),
        }
        for name in names:
            scores[name].add(series, alerted[name], name)
        per_shape[f"{series.volume}/{series.shape}"].add(series, alerted["eventqa"], "eventqa")
        if args.verbose:
            report_details(series, alerted["eventqa"])
        incidents.extend(series.incidents)
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - began_cpu

    days = scores["eventqa"].event_days
    print(
        f"backtest: {args.events} events, {days:,.0f} event-days judged, "
        f"{len(incidents)} incidents, seed {args.seed}, sensitivity {settings.sensitivity:g}, "
        f"{elapsed:.0f} s ({cpu:.0f} s of CPU)"
    )
    print()
    labels = sorted({i.label for i in incidents}, key=lambda text: (text.split()[0], text))
    header = f"{'incident':<16}" + "".join(f"{name:>29}" for name in names)
    print(header + "   (visible incidents / all incidents)")
    for label in labels:
        row = f"{label:<16}"
        for name in names:
            seen = recall(incidents, name, lambda i, label=label: i.label == label and i.visible)
            every = recall(incidents, name, lambda i, label=label: i.label == label)
            row += f"{percent(seen):>20} {100 * every[0] / max(every[1], 1):5.1f}%  "
        print(row)
    row = f"{'all incidents':<16}"
    for name in names:
        seen = recall(incidents, name, lambda i: i.visible)
        every = recall(incidents, name, lambda i: True)
        row += f"{percent(seen):>20} {100 * every[0] / max(every[1], 1):5.1f}%  "
    print(row)
    row = f"{'false alarms':<16}"
    for name in names:
        score = scores[name]
        row += f"{score.per_thousand:>16.2f} /1000 ({score.false_alarms})     "
    print(row + "  per 1,000 event-days")
    print()
    print("eventqa false alarms by volume/shape:")
    for key in sorted(per_shape):
        score = per_shape[key]
        print(f"  {key:<24} {score.false_alarms:>4}  ({score.per_thousand:.2f} per 1,000)")
    print()

    def big_drop(i: Incident) -> bool:
        return i.kind == "drop" and i.factor <= 0.5 and i.hours >= 2 and i.visible

    def stop(i: Incident) -> bool:
        return (i.kind == "stop" or (i.kind == "drop" and i.factor == 0)) and i.visible

    def big_spike(i: Incident) -> bool:
        return i.kind == "spike" and i.factor >= 3 and i.visible

    def any_visible(i: Incident) -> bool:
        return i.visible

    subsets = [("drops >= 50%, >= 2 h", big_drop), ("stops", stop), ("spikes >= 3x", big_spike)]
    for text, test in subsets:
        row = f"{text:<22}" + "".join(
            f"{percent(recall(incidents, name, test)):>24}" for name in names
        )
        print(row)
    print()

    ours = scores["eventqa"]
    drops = recall(incidents, "eventqa", big_drop)
    stops = recall(incidents, "eventqa", stop)
    spikes = recall(incidents, "eventqa", big_spike)
    mine = recall(incidents, "eventqa", any_visible)
    targets: list[tuple[str, str, bool | None]] = [
        ("recall, drops >= 50% lasting >= 2 h", percent(drops), drops[0] >= 0.95 * drops[1]),
        ("every stop caught", percent(stops), stops[0] == stops[1]),
        ("every spike >= 3x caught", percent(spikes), spikes[0] == spikes[1]),
        (
            "false alarms <= 1 per 1,000 event-days",
            f"{ours.per_thousand:.2f}",
            ours.per_thousand <= 1.0,
        ),
    ]
    for name in names[1:]:
        theirs = recall(incidents, name, any_visible)
        targets.append(
            (
                f"recall above {name} (visible)",
                f"{percent(mine)} vs {percent(theirs)}",
                mine[0] > theirs[0],
            )
        )
        fewer: bool | None = ours.per_thousand < scores[name].per_thousand
        if scores[name].false_alarms == 0 and theirs[0] == 0:
            # With 3 points per slot (the tested one included) |z| can never exceed
            # 2/sqrt(3) = 1.15: it raises nothing, true or false. Not a bar one can go under.
            fewer = None
        targets.append(
            (
                f"fewer false alarms than {name}",
                f"{ours.per_thousand:.2f} vs {scores[name].per_thousand:.2f}",
                fewer,
            )
        )
    # CPU time: the development machine is shared, so wall time says more about the neighbours.
    targets.append(
        ("finishes in under 2 minutes (CPU)", f"{cpu:.0f} s ({elapsed:.0f} s wall)", cpu < 120)
    )
    width = max(len(t[0]) for t in targets)
    for text, figure, ok in targets:
        verdict = "n/a " if ok is None else "PASS" if ok else "FAIL"
        note = "  (it cannot flag anything: |z| <= 1.15 with 3 points)" if ok is None else ""
        print(f"{verdict}  {text:<{width}}  {figure}{note}")
    return 0 if all(ok is not False for _, _, ok in targets) else 1


def report_details(series: Series, alerted: set[int]) -> None:
    incident_hours = {h for i in series.incidents for h in range(i.start, i.start + i.hours)}
    for incident in series.incidents:
        if incident.visible and not incident.caught.get("eventqa"):
            h = incident.start
            print(
                f"  missed {series.name} {series.volume}/{series.shape} {incident.label} at "
                f"{START + h * HOUR:%a %m-%d %H:00} rate {series.rate[h]:.1f} "
                f"counts {list(series.counts[h : h + incident.hours])}"
            )
    near = incident_hours | {h - 1 for h in incident_hours} | {h + 1 for h in incident_hours}
    for h in sorted(alerted - near):
        print(
            f"  false  {series.name} {series.volume}/{series.shape} at "
            f"{START + h * HOUR:%a %m-%d %H:00} rate {series.rate[h]:.1f} count {series.counts[h]}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
