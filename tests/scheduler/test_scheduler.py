"""The scheduled runner: real APScheduler, real job store, real runs, on short intervals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger

from eventqa.config.models import Schedule
from eventqa.scheduler import EventScheduler, build_trigger, latest_fire_time, schedule_for
from eventqa.service import Project

pytestmark = pytest.mark.scheduler

EVENT = "user_followed_user"


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


def test_a_restart_neither_loses_nor_repeats_runs(project):
    trigger = CronTrigger(second="*/10", timezone="UTC")
    first = only(project, **{EVENT: trigger})
    first.start()
    job = first.scheduler.get_job(f"event:{EVENT}")
    planned = job.next_run_time
    first.scheduler.pause()  # down before its next fire time
    assert first.stop(timedelta(seconds=30))
    assert stored_runs(project) == []
    time.sleep(
        max(0.0, (planned - datetime.now(UTC)).total_seconds()) + 11
    )  # two fire times missed
    second = only(project, **{EVENT: trigger})
    second.start()
    try:
        assert second.scheduler.get_job(f"event:{EVENT}") is not None
        wait_for(lambda: len(stored_runs(project)) >= 1, timeout=60)
        time.sleep(1.0)
        runs = stored_runs(project)
        assert len(runs) == 1  # the missed fire times, coalesced into one run
        assert runs[0].until >= planned.astimezone(UTC)
    finally:
        second.stop(timedelta(seconds=60))


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
    scheduler.start()
    try:
        wait_for(lambda: len(stored_runs(project)) >= 2, timeout=90)
    finally:
        scheduler.stop(timedelta(seconds=60))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "eventqa.scheduler"]
    failures = [line for line in lines if line.get("event") == "payment_failed"]
    assert failures and all(
        line["status"] == "error" and "missing__events" in line["error"] for line in failures
    )
    successes = [line for line in lines if line.get("event") == EVENT]
    assert {"window", "status", "duration_seconds", "rows", "checks", "failed"} <= set(successes[0])


def test_stop_lets_the_run_in_flight_finish(project):
    scheduler = only(project, **{EVENT: CronTrigger(second="*/2", timezone="UTC")})
    scheduler.start()
    wait_for(
        lambda: bool(scheduler.scheduler._executors["default"]._instances), timeout=30, step=0.05
    )
    before = len(stored_runs(project))
    assert scheduler.stop(timedelta(seconds=60))  # waits for the run in flight
    assert len(stored_runs(project)) == before + 1


@pytest.mark.cli
def test_schedule_list_and_sigterm_stop_from_the_command_line(project):
    root = project.directory
    listed = subprocess.run(
        [sys.executable, "-m", "eventqa", "schedule", "--list"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert "13 scheduled events" in listed.stdout and "15 * * * *" in listed.stdout
    daemon = subprocess.Popen(
        [sys.executable, "-m", "eventqa", "schedule"], cwd=root, stderr=subprocess.PIPE, text=True
    )
    try:
        started = daemon.stderr.readline()
        assert json.loads(started)["message"] == "scheduler started"
        wait_for(
            lambda: (
                "last heartbeat"
                in subprocess.run(
                    [sys.executable, "-m", "eventqa", "status"],
                    cwd=root,
                    capture_output=True,
                    text=True,
                ).stdout
            ),
            timeout=60,
            step=1,
        )
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0
        tail = daemon.stderr.read()
        assert "scheduler stopped" in tail and "Traceback" not in tail
    finally:
        if daemon.poll() is None:
            daemon.kill()
    status = subprocess.run(
        [sys.executable, "-m", "eventqa", "status"], cwd=root, capture_output=True, text=True
    )
    assert "scheduler: last heartbeat" in status.stdout and "user_followed_user" in status.stdout
