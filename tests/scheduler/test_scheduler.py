"""The scheduled runner: real APScheduler, real job store, real runs, on short intervals.

Tests wait on what they mean (a run stored, APScheduler reporting the event's job submitted, a
clock past a fire time), each with a deadline; never on a fixed sleep or on "some job".
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from eventqa.config.models import Schedule
from eventqa.scheduler import EventScheduler, build_trigger, latest_fire_time, schedule_for
from eventqa.service import Project

pytestmark = pytest.mark.scheduler

EVENT = "user_followed_user"
JOB = f"event:{EVENT}"


def test_latest_fire_time_is_the_window_end_a_late_run_still_uses():
    trigger = build_trigger(Schedule(cron="15 * * * *", timezone="UTC"))
    grace = timedelta(minutes=30)
    at = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert latest_fire_time(trigger, at, grace) == at  # on time
    assert latest_fire_time(trigger, at + timedelta(minutes=12), grace) == at  # late: same window
    assert latest_fire_time(trigger, at + timedelta(minutes=45), grace) is None  # beyond grace
    zoned = build_trigger(Schedule(cron="0 9 * * *", timezone="Europe/Paris"))
    assert latest_fire_time(zoned, datetime(2026, 3, 1, 8, 5, tzinfo=UTC), grace) == datetime(
        2026, 3, 1, 8, 0, tzinfo=UTC
    )


def test_schedules_come_from_the_event_then_its_table_then_the_default(example_project):
    checks = example_project / "checks.yaml"
    checks.write_text(
        checks.read_text() + "\ntable_schedules:\n  frontend__events: {cron: '*/30 * * * *'}\n"
    )
    text = checks.read_text().replace(
        "  user_followed_user:\n",
        "  user_followed_user:\n    schedule: {cron: '*/5 * * * *', timezone: Europe/Paris}\n",
        1,
    )
    checks.write_text(text)
    project = Project(checks)
    assert schedule_for(project, EVENT, "backend__events").cron == "*/5 * * * *"
    assert schedule_for(project, "user_opened_app", "frontend__events").cron == "*/30 * * * *"
    assert schedule_for(project, "payment_failed", "backend__events").cron == "15 * * * *"


@pytest.fixture
def project(example_project):
    checks = example_project / "checks.yaml"
    checks.write_text(checks.read_text().replace("  concurrency: 4\n", ""))
    project = Project(checks)
    project.demo(rows=2000)
    return project


def stored_runs(project: Project, event: str = EVENT) -> list:
    store = project.result_store()
    try:
        return list(reversed(store.history(event, limit=50)))
    finally:
        store.close()


def stored_next_runs(project: Project) -> dict[str, datetime | None]:
    """Each job's next run time as the job store holds it."""
    store = project.result_store()
    try:
        with store.engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT id, next_run_time FROM eventqa_jobs").all()
    finally:
        store.close()
    return {job_id: at and datetime.fromtimestamp(at, UTC) for job_id, at in rows}


def wait_for(condition, timeout: float = 60.0, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError("timed out waiting")


def only(project: Project, **triggers) -> EventScheduler:
    """A scheduler running just these events, on these (fast) triggers."""
    scheduler = EventScheduler(project, triggers)
    wanted = scheduler.wanted

    def just_these():
        return {k: v for k, v in wanted().items() if k.removeprefix("event:") in triggers}

    scheduler.wanted = just_these
    return scheduler


def on_job(scheduler: EventScheduler, job_id: str, mask: int) -> threading.Event:
    """Set when APScheduler reports `mask` (submitted, executed...) for this job, not any job."""
    happened = threading.Event()

    def listener(event) -> None:
        if event.job_id == job_id:
            happened.set()

    scheduler.scheduler.add_listener(listener, mask)
    return happened


def test_windows_end_at_fire_times_and_runs_never_overlap(project):
    scheduler = only(project, **{EVENT: CronTrigger(second="*/2", timezone="UTC")})
    scheduler.start()
    try:
        wait_for(lambda: len(stored_runs(project)) >= 3, timeout=90)
    finally:
        assert scheduler.stop(timedelta(seconds=60))
    runs = stored_runs(project)
    for row in runs:
        assert row.until.second % 2 == 0 and row.until.microsecond == 0  # a fire time
        assert row.until - row.since == timedelta(hours=24)
    store = project.result_store()
    with store.engine.connect() as connection:
        spans = connection.exec_driver_sql(
            "SELECT r.stored_at, e.duration_seconds FROM runs r JOIN event_results e USING (run_id) "
            "ORDER BY r.stored_at"
        ).all()
    store.close()
    ends = [datetime.fromisoformat(str(s)) for s, _ in spans]
    starts = [end - timedelta(seconds=d) for end, (_, d) in zip(ends, spans, strict=True)]
    assert all(starts[i + 1] >= ends[i] - timedelta(milliseconds=50) for i in range(len(ends) - 1))


def test_a_restart_neither_loses_nor_repeats_runs(project, caplog):
    # Fire times every second for a few seconds, then none: whatever the machine's speed, the
    # restart below finds exactly these missed and none ahead.
    last_fire = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    trigger = CronTrigger(second="*", end_date=last_fire, timezone="UTC")
    first = only(project, **{EVENT: trigger})
    first.scheduler.start(paused=True)  # stopping: no new runs taken while fire times pass
    first.sync()
    planned = first.scheduler.get_job(JOB).next_run_time
    wait_for(lambda: datetime.now(UTC) > last_fire, timeout=30)  # down over every fire time
    caplog.set_level("WARNING", logger="apscheduler")
    assert first.stop(timedelta(seconds=30))
    assert stored_runs(project) == []
    assert stored_next_runs(project)[JOB] == planned  # the stop neither ran nor skipped it
    assert not [r for r in caplog.records if r.name.startswith("apscheduler")]

    second = only(project, **{EVENT: trigger})
    second.start()
    try:
        wait_for(lambda: len(stored_runs(project)) >= 1, timeout=60)
    finally:
        assert second.stop(timedelta(seconds=60))
    (run,) = stored_runs(project)  # the missed fire times, coalesced into one run
    assert run.until == last_fire  # the window of the latest missed fire time


def test_a_failing_job_does_not_stop_the_others(project, caplog):
    suite = project.expectations_dir / "backend__events" / "payment_failed.json"
    suite.write_text(
        suite.read_text().replace('"table": "backend__events"', '"table": "missing__events"')
    )
    scheduler = only(
        project,
        **{
            EVENT: CronTrigger(second="*/2", timezone="UTC"),
            "payment_failed": CronTrigger(second="*/2", timezone="UTC"),
        },
    )
    caplog.set_level("INFO", logger="eventqa.scheduler")

    def lines(event: str) -> list[dict]:
        records = [vars(r) for r in caplog.records if r.name == "eventqa.scheduler"]
        return [record for record in records if record.get("event") == event]

    scheduler.start()
    try:
        wait_for(lambda: lines("payment_failed") and len(lines(EVENT)) >= 2, timeout=90)
    finally:
        scheduler.stop(timedelta(seconds=60))
    failures = lines("payment_failed")
    assert all(
        line["status"] == "error" and "missing__events" in line["error"] for line in failures
    )
    assert {"window", "status", "duration_seconds", "rows", "checks", "failed"} <= set(
        lines(EVENT)[0]
    )


def test_stop_lets_the_run_in_flight_finish(project):
    scheduler = only(project, **{EVENT: DateTrigger(datetime.now(UTC))})  # one run, due at once
    submitted = on_job(scheduler, JOB, EVENT_JOB_SUBMITTED)
    finished = on_job(scheduler, JOB, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    assert submitted.wait(timeout=30)  # the event's run is in flight (not the heartbeat's)
    assert scheduler.stop(timedelta(seconds=60))  # waits for it
    assert finished.is_set()
    assert len(stored_runs(project)) == 1


def test_a_copied_project_runs_its_own_config_into_its_own_store(project, tmp_path):
    first = only(project, **{EVENT: CronTrigger(second="*", timezone="UTC")})
    first.scheduler.start(paused=True)
    first.sync()
    assert first.stop(timedelta(seconds=30))
    moved = tmp_path / "moved"
    shutil.copytree(project.directory, moved)  # the results database, job store included
    shutil.rmtree(project.directory)
    copy = Project(moved / "checks.yaml")
    scheduler = only(copy, **{EVENT: CronTrigger(second="*", timezone="UTC")})
    scheduler.start()
    try:
        wait_for(lambda: len(stored_runs(copy)) >= 1, timeout=60)
    finally:
        assert scheduler.stop(timedelta(seconds=60))
    assert not project.directory.exists()  # nothing was written back to the old place


# -- the command line -----------------------------------------------------------------------------


def eventqa(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventqa", *args],
        cwd=project.directory,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def missed(example_project) -> tuple[Project, datetime]:
    """A project whose scheduler was down at the event's last fire time (10 minutes ago, daily).

    The job store is left as such a downtime leaves it: the event's job due at that fire time.
    """
    checks = example_project / "checks.yaml"
    fire = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)
    checks.write_text(
        checks.read_text().replace(
            "  user_followed_user:\n",
            f"  user_followed_user:\n    schedule: {{cron: '{fire.minute} {fire.hour} * * *'}}\n",
            1,
        )
    )
    project = Project(checks)
    project.demo(rows=2000)
    scheduler = EventScheduler(project)
    scheduler.scheduler.start(paused=True)
    scheduler.sync()
    scheduler.scheduler.modify_job(JOB, next_run_time=fire)
    assert scheduler.stop(timedelta(seconds=30))
    return project, fire


@pytest.mark.cli
def test_schedule_list_reads_the_job_store_and_changes_nothing(missed):
    project, fire = missed
    before = stored_next_runs(project)
    assert before[JOB] == fire
    listed = eventqa(project, "schedule", "--list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""
    assert "13 scheduled events" in listed.stdout and "15 * * * *" in listed.stdout
    assert f"{fire:%Y-%m-%d %H:%M} (missed: runs once at start)" in listed.stdout
    assert stored_next_runs(project) == before  # nothing run, skipped or moved
    scheduler = EventScheduler(project)
    scheduler.start()
    try:
        wait_for(lambda: len(stored_runs(project)) >= 1, timeout=60)
    finally:
        assert scheduler.stop(timedelta(seconds=60))
    (run,) = stored_runs(project)
    assert run.until == fire  # the missed run, made once, for its own window


@pytest.mark.cli
def test_the_daemon_logs_only_json_and_status_tells_running_from_stopped(missed):
    project, fire = missed
    assert "scheduler: stopped at" in eventqa(project, "status").stdout
    daemon = subprocess.Popen(
        [sys.executable, "-m", "eventqa", "schedule"],
        cwd=project.directory,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = json.loads(daemon.stderr.readline())
        assert started["message"] == "scheduler started" and started["jobs"] == 13
        wait_for(lambda: len(stored_runs(project)) >= 1, timeout=60)  # the missed run, made
        assert "scheduler: running, last heartbeat" in eventqa(project, "status").stdout
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0
        rest = daemon.stderr.read()
    finally:
        if daemon.poll() is None:
            daemon.kill()
    lines = [json.loads(line) for line in rest.splitlines()]  # every line is one JSON object
    (run,) = [line for line in lines if line.get("event") == EVENT]
    assert run["status"] in ("passed", "warned", "failed") and run["window"]["until"] == (
        fire.isoformat()
    )
    assert lines[-1]["message"] == "scheduler stopped"
    assert all(line["level"] == "INFO" for line in lines), lines  # no library noise or errors
    status = eventqa(project, "status").stdout
    assert "scheduler: stopped at" in status and EVENT in status
