"""Volume and freshness in real runs on DuckDB: backfill once, then only new buckets; findings."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from eventqa.errors import ConfigError
from eventqa.results import Status
from eventqa.service import Project, Selection
from tests.conftest import events_proto

pytestmark = pytest.mark.duckdb

UNTIL = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)  # a Thursday
PROTO = "message Thing { int32 small = 1; }"
EVENTS = {"thing_happened": "Thing", "thing_forgotten": "Thing"}
CHECKS = """\
version: 1
tables: {BackendEvent: backend__events}
warehouse: {type: duckdb, path: wh.duckdb}
"""


def rate(hour: datetime) -> float:
    """About 130 events an hour, quieter at night, busier on Saturdays."""
    daily = 0.3 + 0.7 * (1 + math.cos(2 * math.pi * (hour.hour - 18) / 24)) / 2
    return 200 * daily * (1.3 if hour.weekday() == 5 else 1.0)


def write_events(
    path: Path,
    days: float,
    until: datetime = UNTIL,
    drop: tuple[datetime, datetime] | None = None,
    column: str = "TIMESTAMPTZ",
    extra: tuple[tuple[str, datetime], ...] = (),
    scale: float = 1.0,
) -> int:
    """Hourly seasonal counts of thing_happened for `days` before `until` (a drop: 20% kept)."""
    rng = random.Random(7)
    rows = []
    hour = until - timedelta(days=days)
    while hour < until:
        count = rng.randint(int(rate(hour) * scale * 0.9), int(rate(hour) * scale * 1.1))
        if drop and drop[0] <= hour < drop[1]:
            count //= 5
        rows += [hour + timedelta(seconds=rng.random() * 3599) for _ in range(count)]
        hour += timedelta(hours=1)
    rows = [("thing_happened", at) for at in rows if at < until] + list(extra)
    import pandas as pd

    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "event_name": [name for name, _ in rows],
            # A naive column holds UTC wall time.
            "event_timestamp": [
                at.replace(tzinfo=None) if column == "TIMESTAMP" else at for _, at in rows
            ],
        }
    )
    with duckdb.connect(str(path)) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.register("frame", frame)
        connection.execute(
            "CREATE OR REPLACE TABLE backend__events AS SELECT event_id, event_name, "
            f"CAST(event_timestamp AS {column}) AS event_timestamp, "
            "CAST('{\"small\": 1}' AS JSON) AS payload FROM frame"
        )
    return len(rows)


@pytest.fixture
def project(make_project) -> Project:
    root = make_project({"events.proto": events_proto(PROTO, EVENTS)}, CHECKS)
    project = Project(root / "checks.yaml")
    project.generate()
    return project


def check(run, event: str, check_id: str):
    (result,) = [e for e in run.events if e.event == event]
    return next(c for c in result.checks if c.check_id == check_id)


def backfills(sent: list[str]) -> list[str]:
    """The grouped history counts: they read event names and timestamps, never payloads."""
    return [s for s in sent if "GROUP BY event_name" in s and "payload" not in s]


def test_history_is_backfilled_once_then_only_new_buckets_are_counted(project, statements):
    write_events(project.directory / "wh.duckdb", days=35)
    first = project.run(Selection(all=True), None, UNTIL, alert=False)
    (backfill,) = backfills(statements)
    # Eight weeks before `until`, up to the window's first whole hour: one query.
    assert "TIMESTAMPTZ '2026-01-08T12:00:00+00:00'" in backfill
    assert "TIMESTAMPTZ '2026-03-04T12:00:00+00:00'" in backfill
    volume = check(first, "thing_happened", "volume")
    assert volume.status == Status.PASSED and volume.observed_value["status"] == "passed"
    assert volume.expectation_type == "eventqa_volume" and volume.column is None
    assert len(volume.observed_value["buckets"]) == 24
    assert set(volume.observed_value["buckets"][0]) >= {  # what the HTML report reads
        "start", "observed", "expected", "low", "high", "anomaly"
    }  # fmt: skip
    assert check(first, "thing_happened", "freshness").status == Status.PASSED

    statements.clear()
    later = UNTIL + timedelta(hours=6)
    project.run(Selection(all=True), None, later, alert=False)
    # Only the 2-day late-data lookback before the new window: nothing older is read again.
    (lookback,) = backfills(statements)
    assert "TIMESTAMPTZ '2026-03-03T12:00:00+00:00'" in lookback  # stored until - 2 days
    assert "TIMESTAMPTZ '2026-03-04T18:00:00+00:00'" in lookback  # the new window's start
    store = project.result_store()
    try:
        coverage = store.volume_coverage("backend__events")
        history, _ = store.volume_history("backend__events", UNTIL - timedelta(days=40), later)
    finally:
        store.close()
    assert coverage.until == later and coverage.bucket_seconds == 3600
    assert len(history["thing_happened"]) == 35 * 24  # every hour once, none lost or doubled

    statements.clear()
    project.run(Selection(all=True), later - timedelta(days=3), later, alert=False)
    assert backfills(statements) == []  # a window covering the lookback needs no extra query


def test_the_planted_drop_fails_with_its_explanation_and_is_remembered(project):
    drop = (UNTIL - timedelta(hours=8), UNTIL - timedelta(hours=5))
    write_events(project.directory / "wh.duckdb", days=35, drop=drop)
    run = project.run(Selection(events=("thing_happened",)), None, UNTIL, alert=False)
    volume = check(run, "thing_happened", "volume")
    assert volume.status == Status.FAILED and run.exit_code == 1
    assert volume.observed_value["kind"] == "drop"
    assert volume.description.startswith("thing_happened 04:00\u201307:00 UTC: ")
    assert "Thursdays" in volume.description and "\u2212" in volume.description
    anomalous = [b["start"] for b in volume.observed_value["buckets"] if b["anomaly"]]
    assert anomalous == ["2026-03-05T04:00:00Z", "2026-03-05T05:00:00Z", "2026-03-05T06:00:00Z"]
    assert volume.observed_value["observed"] < volume.observed_value["low"]
    store = project.result_store()
    try:
        flagged = store.volume_flags("backend__events", UNTIL - timedelta(days=1))
        stored = store.load_run(run.run_id, "thing_happened").events[0].checks
    finally:
        store.close()
    assert sorted(flagged["thing_happened"]) == [drop[0] + timedelta(hours=h) for h in range(3)]
    assert next(c for c in stored if c.check_id == "volume").observed_value == volume.observed_value


def test_short_history_is_learning_and_never_alerts(project):
    write_events(project.directory / "wh.duckdb", days=5)
    run = project.run(Selection(events=("thing_happened",)), None, UNTIL, alert=True)
    volume = check(run, "thing_happened", "volume")
    assert volume.status == Status.PASSED and volume.observed_value["status"] == "learning"
    assert "learning" in volume.description and "of 21 days" in volume.description
    assert check(run, "thing_happened", "freshness").status == Status.PASSED
    assert run.exit_code == 0
    assert not (project.directory / ".eventqa" / "outbox.jsonl").exists()


def test_an_empty_warehouse_is_learning_with_exit_0_and_no_alert(project):
    write_events(project.directory / "wh.duckdb", days=0)
    run = project.run(Selection(all=True), None, UNTIL, alert=True)
    assert run.exit_code == 0 and run.status == Status.PASSED
    for event in EVENTS:
        assert check(run, event, "volume").observed_value["status"] == "learning"
    assert not (project.directory / ".eventqa" / "outbox.jsonl").exists()


def test_a_declared_event_never_seen_is_reported_once(project):
    write_events(project.directory / "wh.duckdb", days=35)
    first = project.run(Selection(all=True), None, UNTIL, alert=False)
    said = check(first, "thing_forgotten", "volume")
    assert said.status == Status.WARNED
    assert said.description == (
        "thing_forgotten: not seen in the last 8 weeks: not shipped yet, or dead"
    )
    again = project.run(Selection(all=True), None, UNTIL + timedelta(hours=1), alert=False)
    quiet = check(again, "thing_forgotten", "volume")
    assert quiet.status == Status.PASSED and "(reported on " in quiet.description


def test_a_naive_timestamp_column_is_read_as_utc(project):
    project.config_path.write_text(
        CHECKS + "events:\n  thing_happened:\n    rules:\n      - freshness: {max_age: 1h}\n"
    )
    project = Project(project.config_path)
    project.generate()
    write_events(project.directory / "wh.duckdb", days=35, column="TIMESTAMP")
    run = project.run(Selection(events=("thing_happened",)), None, UNTIL, alert=False)
    (event,) = run.events
    assert event.error is None and run.exit_code == 0, [c for c in event.checks if c.error]
    fresh = check(run, "thing_happened", "freshness")
    assert fresh.status == Status.PASSED
    assert datetime.fromisoformat(fresh.observed_value["last_seen"]) > UNTIL - timedelta(hours=1)
    assert check(run, "thing_happened", "volume").observed_value["status"] == "passed"
    rule = check(run, "thing_happened", "rule.freshness")
    assert rule.status == Status.PASSED and rule.error is None


def test_events_dated_after_the_real_clock_are_reported_on_a_past_window(project):
    # An expectation GX's engine runs (the compiler does not know it) keeps its place.
    project.config_path.write_text(
        CHECKS
        + "events:\n  thing_happened:\n    rules:\n      - expectation:\n"
        + "          type: expect_column_mean_to_be_between\n"
        + "          kwargs: {column: small, min_value: 0, max_value: 5}\n"
    )
    project = Project(project.config_path)
    project.generate()
    ahead = datetime.now(UTC) + timedelta(days=2)
    write_events(project.directory / "wh.duckdb", days=2, extra=(("thing_happened", ahead),) * 3)
    run = project.run(Selection(events=("thing_happened",)), None, UNTIL, alert=False)
    found = check(run, "thing_happened", "event_timestamp.after_clock")
    assert found.status == Status.FAILED and found.unexpected_count == 3
    mean = next(c for c in run.events[0].checks if "mean" in c.expectation_type)
    assert mean.status == Status.PASSED and mean.observed_value == 1
    assert found.observed_value["newest"].startswith(ahead.isoformat()[:16])


def test_exclusions_of_unknown_events_are_config_errors_with_their_line(project):
    path = project.config_path
    path.write_text(
        CHECKS
        + "defaults:\n  volume:\n    exclusions:\n"
        + "      - {event: thing_hapened, start: 2026-02-01, end: 2026-02-02, reason: outage}\n"
    )
    with pytest.raises(ConfigError) as raised:
        Project(path).run(Selection(all=True), None, UNTIL, alert=False)
    assert str(raised.value).startswith("checks.yaml:7: defaults.volume.exclusions[0].event: ")
    assert "did you mean 'thing_happened'" in str(raised.value) and raised.value.exit_code == 2


@pytest.mark.cli
@pytest.mark.parametrize(
    ("volume", "message"),
    [
        (
            "    exclusions:\n      - {start: 2026-02-02, end: 2026-02-01, reason: launch}\n",
            "checks.yaml:7: defaults.volume.exclusions[0]: 'end' must be after 'start'",
        ),
        (
            "    timezone: Europe/Pariss\n",
            "checks.yaml:6: defaults.volume.timezone: unknown time zone 'Europe/Pariss'",
        ),
        (
            "    training: 3d\n",
            "checks.yaml:5: defaults.volume: 'training' must be at least 7d",
        ),
        (
            "    min_history: 2d\nevents:\n  thing_happened:\n    volume: {min_history: 60d}\n",
            "checks.yaml:9: events.thing_happened.volume: min_history (60 days) is longer than "
            "training (56 days)",
        ),
        (
            "    exclusions:\n"
            "      - {event: nope, start: 2026-02-01, end: 2026-02-02, reason: outage}\n",
            "checks.yaml:7: defaults.volume.exclusions[0].event: unknown event 'nope'",
        ),
    ],
)
def test_bad_volume_settings_exit_2_naming_the_line(project, volume, message):
    project.config_path.write_text(CHECKS + "defaults:\n  volume:\n" + volume)
    done = subprocess.run(
        [sys.executable, "-m", "eventqa", "run", "--all", "--no-alert"],
        cwd=project.directory, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_per_event_settings_override_the_defaults(project):
    project.config_path.write_text(
        CHECKS
        + "defaults:\n  volume:\n    min_history: 40d\n"
        + "events:\n  thing_happened:\n    volume: {min_history: 14d, sensitivity: 8}\n"
        + "  thing_forgotten:\n    volume: {enabled: false}\n"
    )
    write_events(project.directory / "wh.duckdb", days=35)
    run = Project(project.config_path).run(Selection(all=True), None, UNTIL, alert=False)
    volume = check(run, "thing_happened", "volume")
    assert volume.observed_value["required_days"] == 14
    assert volume.origin == "checks.yaml#events.thing_happened.volume"
    (forgotten,) = [e for e in run.events if e.event == "thing_forgotten"]
    assert not [c for c in forgotten.checks if c.check_id in ("volume", "freshness")]
    document = json.loads(run.model_dump_json())
    (happened,) = [e for e in document["events"] if e["event"] == "thing_happened"]
    assert [c["check_id"] for c in happened["checks"][-2:]] == ["volume", "freshness"]
    assert happened["checks"][-2]["observed_value"]["buckets"]


def test_a_results_store_that_cannot_open_during_the_scan_fails_the_run_cleanly(project):
    """The store opens while the warehouse scans; a scan waiting for its count plan must not hang.

    The run raises the store's error (exit 3), and no scan thread outlives it.
    """
    from eventqa.results.store import ResultStoreError

    write_events(project.directory / "wh.duckdb", days=2)
    results = project.directory / ".eventqa" / "results.db"
    results.parent.mkdir(exist_ok=True)
    results.write_text("this is not sqlite")
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(project.run(Selection(events=("thing_happened",)), None, UNTIL))
        except BaseException as error:
            outcome.append(error)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(timeout=120)  # a deadlock guard only: the run takes well under a second
    assert not runner.is_alive(), "the run hung waiting for a count plan"
    (error,) = outcome
    assert isinstance(error, ResultStoreError) and error.exit_code == 3
    assert not [t for t in threading.enumerate() if t.name.startswith("eventqa")]
    results.unlink()  # the warehouse connection was closed: the next run works
    run_after = project.run(Selection(events=("thing_happened",)), None, UNTIL, alert=False)
    assert check(run_after, "thing_happened", "volume").observed_value["status"] == "learning"
