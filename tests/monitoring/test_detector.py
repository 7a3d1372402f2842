"""The volume and freshness detector on small explicit series: what a user would notice."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from eventqa.monitoring import (
    Exclusion,
    VolumeSettings,
    judge_freshness,
    judge_volume,
)

HOUR = timedelta(hours=1)
# A Thursday at midnight UTC; histories end here and the tested buckets follow.
NOW = datetime(2026, 10, 1, tzinfo=UTC)
SETTINGS = VolumeSettings()


def hourly(
    rate: Callable[[datetime], float], days: int, *, seed: int = 1, end: datetime = NOW
) -> dict[datetime, int]:
    """`days` of hourly Poisson counts before `end` (plus 2 days after it) at `rate(bucket)`."""
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=days)
    buckets = [start + i * HOUR for i in range((days + 2) * 24)]
    return {b: int(rng.poisson(rate(b))) for b in buckets}


def diurnal(peak: float, night: float) -> Callable[[datetime], float]:
    """`night` from 00:00 to 06:00 UTC, `peak` from 12:00 to 18:00, a ramp in between."""

    def rate(bucket: datetime) -> float:
        distance = min(abs(bucket.hour + 0.5 - 15), 9) / 9
        return night + (peak - night) * (1 - distance)

    return rate


def test_a_stop_fails_at_once():
    history = hourly(lambda _: 100.0, 28)
    history[NOW + 14 * HOUR] = 0

    finding = judge_volume("bid_placed", history, [NOW + 14 * HOUR], SETTINGS)

    assert (finding.status, finding.kind) == ("failed", "stop")
    assert finding.observed == 0
    assert 90 < finding.expected < 110
    assert finding.buckets[0].anomaly == "stop"


def test_a_normal_hour_passes():
    history = hourly(lambda _: 100.0, 28)

    finding = judge_volume("bid_placed", history, [NOW + 14 * HOUR], SETTINGS)

    assert finding.status == "passed"
    assert finding.kind is None
    assert finding.low < finding.observed < finding.high


def test_a_halving_warns_for_one_hour_and_fails_for_two():
    history = hourly(lambda _: 1000.0, 28)
    history[NOW + 14 * HOUR] = 500

    one = judge_volume("e", history, [NOW + 14 * HOUR], SETTINGS)
    history[NOW + 15 * HOUR] = 480
    two = judge_volume("e", history, [NOW + 14 * HOUR, NOW + 15 * HOUR], SETTINGS)

    assert (one.status, one.kind) == ("warned", "drop")
    assert (two.status, two.kind) == ("failed", "drop")
    assert two.observed == 980
    assert [b.anomaly for b in two.buckets] == ["drop", "drop"]


def test_a_bucket_flagged_by_the_previous_run_makes_the_next_one_an_error():
    history = hourly(lambda _: 1000.0, 28)
    history[NOW + 14 * HOUR] = 400
    history[NOW + 15 * HOUR] = 420

    alone = judge_volume("e", history, [NOW + 15 * HOUR], SETTINGS)
    continued = judge_volume("e", history, [NOW + 15 * HOUR], SETTINGS, flagged={NOW + 14 * HOUR})

    assert alone.status == "warned"
    assert continued.status == "failed"


def test_a_tripling_is_a_spike_unless_only_drops_are_watched():
    history = hourly(lambda _: 1000.0, 28)
    history[NOW + 14 * HOUR] = 3000

    both = judge_volume("e", history, [NOW + 14 * HOUR], SETTINGS)
    drops = judge_volume("e", history, [NOW + 14 * HOUR], replace(SETTINGS, direction="drop"))

    assert (both.status, both.kind) == ("warned", "spike")
    assert (drops.status, drops.kind) == ("passed", None)


def test_a_low_volume_event_doubling_at_night_is_not_flagged():
    history = hourly(diurnal(peak=20, night=2), 56)
    tested = [NOW + h * HOUR for h in range(6)]  # 00:00-06:00, about 2 events an hour
    for bucket in tested:
        history[bucket] = 4

    finding = judge_volume("rare_event", history, tested, SETTINGS)

    assert finding.status == "passed", finding.explanation
    assert finding.observed == 24


def test_structural_zero_hours_do_not_alarm():
    def business(bucket: datetime) -> float:
        return 300.0 if bucket.weekday() < 5 and 9 <= bucket.hour < 18 else 0.0

    history = hourly(business, 56)
    night = [NOW + h * HOUR for h in range(0, 6)]
    history[night[2]] = 1  # a stray event at 02:00

    finding = judge_volume("invoice_sent", history, night, SETTINGS)

    assert finding.status == "passed", finding.explanation
    assert all(b.anomaly is None for b in finding.buckets)


def test_thirty_percent_monthly_growth_is_not_an_anomaly():
    origin = NOW - timedelta(days=56)

    def growing(bucket: datetime) -> float:
        return diurnal(peak=2000, night=300)(bucket) * 1.3 ** (
            (bucket - origin) / timedelta(days=30)
        )

    history = hourly(growing, 56)
    tested = [NOW + h * HOUR for h in range(24)]

    finding = judge_volume("order_paid", history, tested, SETTINGS)

    assert finding.status == "passed", finding.explanation
    truth = sum(growing(bucket) for bucket in tested)
    # Eight weeks of history whose median is a month old; the level factor brings it to today.
    assert abs(finding.expected / truth - 1) < 0.05


def test_a_declared_shutdown_stays_out_of_training():
    history = hourly(lambda _: 100.0, 28)
    shutdown = Exclusion(NOW - timedelta(days=7), NOW, "office move")
    for bucket in history:
        if shutdown.start <= bucket < shutdown.end:
            history[bucket] = 0
    tested = [NOW + 10 * HOUR]
    history[tested[0]] = 0

    declared = judge_volume(
        "e", history, tested, replace(SETTINGS, min_history=timedelta(days=14)), [shutdown]
    )
    undeclared = judge_volume(
        "e", history, tested, replace(SETTINGS, min_history=timedelta(days=14))
    )

    # Declared, the silent week is not the new normal: the silence now is a stop.
    assert (declared.status, declared.kind) == ("failed", "stop")
    assert round(declared.history_days) == 21
    # Undeclared, the last week's silence has become the event's level.
    assert undeclared.status == "passed"
    assert undeclared.expected == 0


def test_buckets_inside_a_declared_period_never_alarm():
    history = hourly(lambda _: 100.0, 28)
    tested = [NOW + 10 * HOUR]
    history[tested[0]] = 0
    holiday = Exclusion(NOW, NOW + timedelta(days=1), "national holiday")

    finding = judge_volume("e", history, tested, SETTINGS, [holiday])

    assert finding.status == "passed"


def test_an_event_with_little_history_is_learning_and_never_alarms():
    history = hourly(lambda _: 100.0, 5)
    history[NOW] = 0

    finding = judge_volume("new_event", history, [NOW], SETTINGS)

    assert finding.status == "learning"
    assert finding.kind is None
    assert (finding.history_days, finding.required_days) == (5, 21)
    assert finding.explanation.startswith("learning: 5 of 21 days of history")


def test_days_before_the_first_event_are_no_history():
    history = {bucket: count for bucket, count in hourly(lambda _: 50.0, 10).items()}
    # 56 days of training asked for, the event has existed for 10: not 56 days of zeros.
    finding = judge_volume("e", history, [NOW], SETTINGS)

    assert finding.history_days == 10
    assert finding.status == "learning"


def test_an_all_equal_history_does_not_explode():
    history = dict.fromkeys(hourly(lambda _: 0.0, 28), 50)
    tested = NOW + 9 * HOUR

    same = judge_volume("e", history, [tested], SETTINGS)
    history[tested] = 58
    a_bit_more = judge_volume("e", history, [tested], SETTINGS)
    history[tested] = 0
    nothing = judge_volume("e", history, [tested], SETTINGS)

    assert same.status == a_bit_more.status == "passed"
    assert same.expected == 50
    assert 10 < same.low < 50 < same.high < 120
    assert (nothing.status, nothing.kind) == ("failed", "stop")


def test_a_weekly_show_is_normal_by_hour_of_week_but_not_by_hour_of_day():
    def show(bucket: datetime) -> float:
        return 1500.0 if bucket.weekday() == 3 and bucket.hour == 20 else 100.0

    history = hourly(show, 56)
    thursday_evening = [NOW + 20 * HOUR]  # NOW is a Thursday

    weekly = judge_volume("e", history, thursday_evening, SETTINGS)
    daily = judge_volume(
        "e", history, thursday_evening, replace(SETTINGS, seasonality="hour_of_day")
    )

    assert weekly.status == "passed", weekly.explanation
    assert (daily.status, daily.kind) == ("warned", "spike")


def test_seasonal_slots_follow_the_settings_time_zone_across_daylight_saving():
    paris = VolumeSettings(timezone="Europe/Paris")

    def office_hours_in_paris(bucket: datetime) -> float:
        local = bucket.astimezone(ZoneInfo("Europe/Paris"))
        return 400.0 if 9 <= local.hour < 18 else 0.0

    # Paris leaves summer time on 2026-10-25: 09:00 local is 07:00 UTC before, 08:00 UTC after.
    end = datetime(2026, 10, 28, tzinfo=UTC)
    history = hourly(office_hours_in_paris, 56, end=end)
    seven_utc = end + 7 * HOUR  # 08:00 in Paris now: no office yet

    local = judge_volume("e", history, [seven_utc], paris)
    utc = judge_volume("e", history, [seven_utc], SETTINGS)

    assert local.status == "passed", local.explanation
    assert local.explanation.startswith("08:00–09:00 CET: no events, expected 0")  # noqa: RUF001
    # In UTC slots 07:00 was office time for weeks: its silence now reads as a stop.
    assert (utc.status, utc.kind) == ("failed", "stop")


def test_the_explanation_says_when_how_many_and_against_what():
    # Thursday 14:00-17:00 had 385-415 an hour on the last 8 Thursdays (median 400), 50 otherwise.
    weekly = [390, 400, 410, 395, 405, 400, 385, 415]
    history = {}
    for hour in range(56 * 24):
        bucket = NOW - timedelta(days=56) + hour * HOUR
        busy = bucket.weekday() == 3 and 14 <= bucket.hour < 17
        history[bucket] = weekly[hour // (7 * 24)] if busy else 50
    tested = [NOW + h * HOUR for h in (14, 15, 16)]
    for bucket, count in zip(tested, (130, 120, 122), strict=True):
        history[bucket] = count
    for h in range(14):
        history[NOW + h * HOUR] = 50

    finding = judge_volume("bid_placed", history, tested, SETTINGS)

    assert (finding.status, finding.kind) == ("failed", "drop")
    assert finding.explanation == (
        "14:00–17:00 UTC: 372 events, expected 1,200 "  # noqa: RUF001
        "(usual 1,155–1,245 at these hours on the last 8 Thursdays), −69%"  # noqa: RUF001
    )
    document = finding.to_json()
    assert document["observed"] == 372
    assert document["kind"] == "drop"
    assert document["band"] == [round(finding.low, 2), round(finding.high, 2)]
    assert document["usual"] == [1155, 1245]
    assert document["band"][0] < 1155 < 1245 < document["band"][1]
    assert document["usual_periods"] == 8
    assert [b["start"] for b in document["buckets"]] == [
        "2026-10-01T14:00:00Z",
        "2026-10-01T15:00:00Z",
        "2026-10-01T16:00:00Z",
    ]


def test_a_busy_event_silent_for_twelve_hours_fails():
    history = hourly(lambda _: 6.0, 28)
    last_seen = NOW - timedelta(hours=12)
    history = {bucket: count for bucket, count in history.items() if bucket < last_seen}

    finding = judge_freshness("bid_placed", history, last_seen, NOW, SETTINGS)

    assert finding.status == "failed"
    assert finding.silence == timedelta(hours=12)
    assert 60 < finding.expected_in_silence < 84
    assert finding.probability == pytest.approx(math.exp(-finding.expected_in_silence))
    assert finding.explanation.startswith("no event for 12 h; at its usual rate for those hours (")
    assert re.search(
        r"\(6\.\d/h\) that many silent hours happen with probability \de-3\d$", finding.explanation
    )


def test_a_quiet_event_silent_for_an_hour_at_night_passes():
    history = hourly(diurnal(peak=10, night=2), 56)
    last_seen = NOW + 2 * HOUR  # 02:00, the quietest hours
    history = {bucket: count for bucket, count in history.items() if bucket < NOW + 2 * HOUR}

    finding = judge_freshness("rare_event", history, last_seen, last_seen + HOUR, SETTINGS)

    assert finding.status == "passed", finding.explanation
    assert 0.05 < finding.probability < 0.5
    assert finding.to_json()["silence_seconds"] == 3600


def test_freshness_without_history_is_learning():
    finding = judge_freshness("new_event", {}, None, NOW, SETTINGS)

    assert finding.status == "learning"
    assert finding.last_seen is None


def test_a_silence_that_began_in_the_previous_window_is_judged_whole():
    history = hourly(lambda _: 5.0, 56)
    for hour in range(-2, 2):  # 22:00 yesterday to 02:00 today: 20 events expected, none came
        history[NOW + hour * HOUR] = 0
    today = [NOW, NOW + HOUR]

    yesterday = judge_volume("e", history, [NOW - 2 * HOUR, NOW - HOUR], SETTINGS)
    whole = judge_volume("e", history, today, SETTINGS)
    history[NOW - HOUR] = 4
    since_midnight = judge_volume("e", history, today, SETTINGS)

    # Two empty hours of a 5/h event happen now and then; four in a row do not.
    assert yesterday.status == since_midnight.status == "passed"
    assert (whole.status, whole.kind) == ("failed", "stop")
    assert whole.explanation.endswith("; silent since Wed 22:00")
    assert whole.to_json()["buckets"][0]["silent_since"] == "2026-09-30T22:00:00Z"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"sensitivity": 0}, "sensitivity must be positive, not 0"),
        ({"bucket": timedelta(minutes=7)}, "bucket must divide a day evenly, not 0:07:00"),
        ({"warn_after": 3}, "need 1 <= warn_after <= error_after, not 3 and 2"),
        (
            {"min_history": timedelta(weeks=10)},
            "min_history (70 days) is longer than training (56 days): the event would learn forever",
        ),
    ],
)
def test_settings_no_judgement_could_use_are_refused(change, message):
    with pytest.raises(ValueError) as raised:
        replace(SETTINGS, **change)

    assert str(raised.value) == message
