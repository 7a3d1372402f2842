"""`eventqa schedule`: the long-running runner on APScheduler, through the same facade as `run`.

One job per event, on its cron schedule (the event's own, its table's, or the default), kept in
APScheduler's SQLAlchemy job store inside the results database, so a restart neither loses nor
repeats runs. A job checks the window that ends at its scheduled fire time, so a late run checks
exactly what it would have checked on time. `max_instances=1` keeps an event from running twice
at once; missed runs are coalesced into one within `defaults.misfire_grace`.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventqa.config.models import Schedule
from eventqa.errors import EventQAError
from eventqa.service import Project, Selection

JOB_PREFIX = "event:"
HEARTBEAT_JOB = "eventqa:heartbeat"
HEARTBEAT_SECONDS = 30
log = logging.getLogger("eventqa.scheduler")


def build_trigger(schedule: Schedule) -> Any:
    """APScheduler's cron trigger for a 5-field expression in its time zone."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)


def latest_fire_time(trigger: Any, now: datetime, grace: timedelta) -> datetime | None:
    """The most recent fire time at or before `now`, looking back at most `grace`."""
    candidate = trigger.get_next_fire_time(None, now - grace)
    latest = None
    while candidate is not None and candidate <= now:
        latest = candidate
        candidate = trigger.get_next_fire_time(candidate, candidate + timedelta(microseconds=1))
    return latest


def schedule_for(project: Project, event: str, table: str) -> Schedule:
    """The event's schedule: its own, else its table's, else the default."""
    config = project.config
    settings = config.events.get(event)
    if settings and settings.schedule:
        return settings.schedule
    return config.table_schedules.get(table) or config.defaults.schedule


def log_line(**fields: Any) -> None:
    """One structured (JSON) log line."""
    log.info(json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"), **fields}))


def run_scheduled_event(config_path: str, event: str, trigger_override: Any = None) -> None:
    """The job: check `event`'s window ending at the fire time this run stands for.

    Never raises: a failed run is logged (and alerted by the run itself when the warehouse is
    unreachable), and the scheduler carries on.
    """
    started = time.monotonic()
    project = Project(Path(config_path))
    try:
        job = project.catalog.all_jobs[event]
        schedule = schedule_for(project, event, job.table)
        trigger = trigger_override or build_trigger(schedule)
        now = datetime.now(UTC)
        until = latest_fire_time(trigger, now, project.config.defaults.misfire_grace) or now
        until = until.astimezone(UTC)
        since = until - project.config.defaults.window
        result = project.run(Selection(events=(event,)), since, until)
    except EventQAError as error:
        log_line(event=event, status="error", error=str(error),
                 duration_seconds=round(time.monotonic() - started, 3))  # fmt: skip
        return
    except Exception as error:  # a bug must not stop the scheduler; it is logged in full
        log.exception("run of %s failed unexpectedly: %s", event, error)
        return
    (checked,) = result.events
    log_line(
        event=event,
        run_id=result.run_id,
        window={"since": since.isoformat(), "until": until.isoformat()},
        status=checked.status.value,
        duration_seconds=round(time.monotonic() - started, 3),
        rows=checked.row_count,
        checks=len(checked.checks),
        failed=sum(c.status.value in ("failed", "error") for c in checked.checks),
        warned=sum(c.status.value == "warned" for c in checked.checks),
    )


def beat(config_path: str) -> None:
    """The heartbeat job: the scheduler is alive (read by `eventqa status`)."""
    store = Project(Path(config_path)).result_store()
    try:
        store.beat()
    finally:
        store.close()


@dataclass(frozen=True)
class JobInfo:
    """A scheduled job as `schedule --list` shows it."""

    event: str
    cron: str
    timezone: str
    next_run: datetime | None


class EventScheduler:
    """APScheduler with eventqa's jobs, job store, pool and stop behaviour."""

    def __init__(self, project: Project, triggers: dict[str, Any] | None = None):
        self.project = project
        self.triggers = triggers or {}  # tests may replace cron triggers with faster ones
        self.scheduler = self._build()

    def _build(self) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        store = self.project.result_store()  # migrates the results database first
        url = store.engine.url.render_as_string(hide_password=False)
        store.close()
        defaults = self.project.config.defaults
        return BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=url, tablename="eventqa_jobs")},
            executors={"default": ThreadPoolExecutor(max_workers=defaults.concurrency)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(defaults.misfire_grace.total_seconds()),
            },
            timezone=UTC,
        )

    def wanted(self) -> dict[str, tuple[Any, Schedule]]:
        """Job id -> (trigger, schedule) for every event with a committed suite."""
        wanted = {}
        for event, job in sorted(self.project.catalog.all_jobs.items()):
            schedule = schedule_for(self.project, event, job.table)
            trigger = self.triggers.get(event) or build_trigger(schedule)
            wanted[f"{JOB_PREFIX}{event}"] = (trigger, schedule)
        return wanted

    def sync(self, heartbeat: bool = True) -> None:
        """Make the job store match checks.yaml, keeping jobs whose schedule did not change.

        A kept job keeps its stored next run time: a run missed while the scheduler was down
        still happens (once) on start, and none is repeated.
        """
        config_path = str(self.project.config_path.resolve())
        wanted = self.wanted()
        for job in self.scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                job.remove()
        for job_id, (trigger, _) in wanted.items():
            event = job_id.removeprefix(JOB_PREFIX)
            existing = self.scheduler.get_job(job_id)
            if existing is not None and str(existing.trigger) == str(trigger):
                continue
            if existing is not None:
                existing.reschedule(trigger)
                continue
            self.scheduler.add_job(
                run_scheduled_event, trigger, args=[config_path, event], id=job_id, name=event,
                kwargs={"trigger_override": trigger} if event in self.triggers else {},
            )  # fmt: skip
        if heartbeat:
            self.scheduler.add_job(
                beat, "interval", seconds=HEARTBEAT_SECONDS, args=[config_path],
                id=HEARTBEAT_JOB, replace_existing=True, next_run_time=datetime.now(UTC),
            )  # fmt: skip

    def jobs(self) -> list[JobInfo]:
        """Every event job with its schedule and next fire time (the scheduler is not run)."""
        self.scheduler.start(paused=True)
        try:
            self.sync(heartbeat=False)
            wanted = self.wanted()
            return [
                JobInfo(job.name, wanted[job.id][1].cron, wanted[job.id][1].timezone,
                        job.next_run_time)
                for job in sorted(self.scheduler.get_jobs(), key=lambda j: j.id)
                if job.id in wanted
            ]  # fmt: skip
        finally:
            self.scheduler.shutdown(wait=False)

    def start(self) -> None:
        """Start running jobs in the background."""
        self.scheduler.start(paused=True)
        self.sync()
        self.scheduler.resume()

    def stop(self, timeout: timedelta) -> bool:
        """Stop taking new runs and let runs in flight finish; False if they outlast `timeout`."""
        self.scheduler.pause()
        stopper = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True})
        stopper.start()
        stopper.join(timeout.total_seconds())
        return not stopper.is_alive()


def serve(project: Project, stop_signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT),
          on_started: Callable[[], None] | None = None) -> int:  # fmt: skip
    """Run the scheduler in the foreground until SIGTERM or SIGINT; return the exit code."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stopping = threading.Event()
    for number in stop_signals:
        signal.signal(number, lambda *_: stopping.set())
    scheduler = EventScheduler(project)
    scheduler.start()
    log_line(message="scheduler started", jobs=len(scheduler.scheduler.get_jobs()) - 1)
    if on_started:
        on_started()
    stopping.wait()
    timeout = project.config.defaults.stop_timeout
    log_line(message="stopping: letting runs in flight finish", timeout_seconds=timeout.seconds)
    finished = scheduler.stop(timeout)
    log_line(message="scheduler stopped" if finished else "stopped with runs still in flight")
    return 0 if finished else 3
