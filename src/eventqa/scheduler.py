"""`eventqa schedule`: the long-running runner on APScheduler, through the same facade as `run`.

One job per event, on its cron schedule (the event's own, its table's, or the default), kept in
APScheduler's SQLAlchemy job store inside the results database, so a restart neither loses nor
repeats runs. A stored job names only its event: the scheduler that runs it supplies the project,
so a copied or moved project runs its own checks.yaml into its own store. A job checks the window
that ends at its scheduled fire time, so a late run checks exactly what it would have checked on
time. `max_instances=1` keeps an event from running twice at once; missed runs are coalesced into
one within `defaults.misfire_grace`. stderr carries one JSON object per line, nothing else.
"""

from __future__ import annotations

import io
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from eventqa.config.models import Schedule
from eventqa.errors import EventQAError
from eventqa.service import SCHEDULER_HEARTBEAT, SCHEDULER_STOPPED, Project, Selection

JOB_PREFIX = "event:"
HEARTBEAT_JOB = "eventqa:heartbeat"
HEARTBEAT_SECONDS = 30
JOBS_TABLE = "eventqa_jobs"
JOB_STORE = "default"
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


def log_line(message: str, **fields: Any) -> None:
    """One structured log line: `message` plus `fields`, rendered as JSON by `json_stderr`."""
    log.info(message, extra=fields)


@contextmanager
def json_stderr() -> Iterator[None]:
    """Make stderr one JSON object per line while the scheduler runs.

    Every log record becomes a JSON line: eventqa's from INFO; Great Expectations', APScheduler's,
    SQLAlchemy's and Python warnings only from WARNING. Text that code writes to stderr directly
    (the console note of an alert written to the outbox file, a library's print) is logged too.
    """
    from pythonjsonlogger.json import JsonFormatter

    real_stderr = sys.stderr
    handler = logging.StreamHandler(real_stderr)
    handler.setFormatter(
        JsonFormatter(
            "{message}{levelname}{name}",
            style="{",
            timestamp="at",
            rename_fields={"levelname": "level", "name": "logger"},
        )
    )
    # Libraries may raise their own loggers to INFO (GX does on import): filter at the handler.
    handler.addFilter(lambda record: record.levelno >= logging.WARNING or _ours(record))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("eventqa").setLevel(logging.INFO)
    logging.captureWarnings(True)
    sys.stderr = _LoggedLines(logging.getLogger("eventqa.stderr"))
    try:
        yield
    finally:
        sys.stderr = real_stderr


def _ours(record: logging.LogRecord) -> bool:
    return record.name == "eventqa" or record.name.startswith("eventqa.")


class _LoggedLines(io.TextIOBase):
    """A stand-in for sys.stderr that logs each line written to it."""

    def __init__(self, logger: logging.Logger):
        self.logger = logger
        self.partial = ""
        self.lock = threading.Lock()

    def writable(self) -> bool:
        """A text stream one can write to."""
        return True

    def write(self, text: str) -> int:
        """Log every complete line; keep the rest until its newline comes."""
        with self.lock:
            *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            if line.strip():
                self.logger.info(line.rstrip())
        return len(text)


def run_scheduled_event(event: str) -> None:
    """The stored job of an event: run it in the project of the scheduler running it."""
    EventScheduler.running().run_event(event)


def beat() -> None:
    """The heartbeat job: the scheduler is alive (read by `eventqa status`)."""
    EventScheduler.running().beat()


@dataclass(frozen=True)
class JobInfo:
    """A scheduled job as `schedule --list` shows it."""

    event: str
    cron: str
    timezone: str
    next_run: datetime | None


class EventScheduler:
    """APScheduler with eventqa's jobs, job store, pool and stop behaviour."""

    # The scheduler whose jobs this process runs: stored jobs name only their event.
    _running: ClassVar[EventScheduler | None] = None

    def __init__(self, project: Project, triggers: dict[str, Any] | None = None):
        self.project = project
        self.triggers = triggers or {}  # tests may replace cron triggers with faster ones
        self.scheduler = self._build()

    @classmethod
    def running(cls) -> EventScheduler:
        """The started scheduler of this process (a job only runs inside one)."""
        if cls._running is None:
            raise RuntimeError("an eventqa job ran outside a started EventScheduler")
        return cls._running

    def _job_store(self) -> Any:
        """APScheduler's SQLAlchemy job store, in the project's results database."""
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        store = self.project.result_store()  # migrates the results database first
        url = store.engine.url.render_as_string(hide_password=False)
        store.close()
        return SQLAlchemyJobStore(url=url, tablename=JOBS_TABLE)

    def _build(self) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        defaults = self.project.config.defaults
        return BackgroundScheduler(
            jobstores={JOB_STORE: self._job_store()},
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

    def sync(self) -> None:
        """Make the job store match checks.yaml, keeping jobs whose schedule did not change.

        A kept job keeps its stored next run time: a run missed while the scheduler was down
        still happens (once) on start, and none is repeated.
        """
        wanted = self.wanted()
        for job in self.scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                job.remove()
        for job_id, (trigger, _) in wanted.items():
            event = job_id.removeprefix(JOB_PREFIX)
            existing = self.scheduler.get_job(job_id)
            if existing is None:
                self.scheduler.add_job(run_scheduled_event, trigger, args=[event], id=job_id,
                                       name=event)  # fmt: skip
                continue
            if existing.args != (event,) or existing.kwargs:  # an older job pinning a path
                existing.modify(func=run_scheduled_event, args=[event], kwargs={})
            if str(existing.trigger) != str(trigger):
                existing.reschedule(trigger)
        self.scheduler.add_job(
            beat, "interval", seconds=HEARTBEAT_SECONDS, id=HEARTBEAT_JOB,
            replace_existing=True, next_run_time=datetime.now(UTC),
        )  # fmt: skip

    def jobs(self) -> list[JobInfo]:
        """Every event's schedule and next run, read from the job store.

        No scheduler is started: listing neither runs, skips nor moves anything.
        """
        import sqlalchemy as sa

        store = self._job_store()
        try:
            stored = sa.inspect(store.engine).has_table(JOBS_TABLE)
            now = datetime.now(UTC)
            listed = []
            for job_id, (trigger, schedule) in self.wanted().items():
                job = _stored_job(store, job_id) if stored else None
                if job is not None and str(job.trigger) == str(trigger):
                    next_run = job.next_run_time
                else:  # what starting the scheduler would store for it
                    next_run = trigger.get_next_fire_time(None, now)
                listed.append(JobInfo(job_id.removeprefix(JOB_PREFIX), schedule.cron,
                                      schedule.timezone, next_run))  # fmt: skip
            return listed
        finally:
            store.shutdown()

    def start(self) -> None:
        """Start running jobs in the background, in this scheduler's project."""
        if EventScheduler._running not in (None, self):
            raise RuntimeError("another EventScheduler already runs in this process")
        EventScheduler._running = self
        # A run imports sqlalchemy.orm lazily (GX does). Imported in a pool thread while another
        # thread uses SQLAlchemy (the heartbeat, a run storing its result), its inspection hook
        # can meet a half-imported `sqlalchemy.orm.exc`. Import it fully before any thread runs.
        import sqlalchemy.orm  # noqa: F401

        self.beat()  # `eventqa status` says "running" from now on
        self.scheduler.start(paused=True)
        self.sync()
        self.scheduler.resume()

    def stop(self, timeout: timedelta) -> bool:
        """Stop taking new runs and let runs in flight finish; False if they outlast `timeout`.

        The stop is recorded for `eventqa status`. Due jobs stay due in the job store, so a
        restart makes them (once).
        """
        self.scheduler.pause()
        # APScheduler's shutdown wakes its loop once more after stopping the pool: a job due then
        # would be handed to the stopped pool (RuntimeError) and its next run moved past the
        # missed one, which is then lost (agronholm/apscheduler#285). Detach the store first.
        self.scheduler.remove_jobstore(JOB_STORE)
        stopper = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True})
        stopper.start()
        stopper.join(timeout.total_seconds())
        self.beat(SCHEDULER_STOPPED)
        if EventScheduler._running is self:
            EventScheduler._running = None
        return not stopper.is_alive()

    def beat(self, name: str = SCHEDULER_HEARTBEAT) -> None:
        """Record in the results store that the scheduler is alive (or, by name, stopped)."""
        store = self.project.result_store()
        try:
            store.beat(name)
        finally:
            store.close()

    def run_event(self, event: str) -> None:
        """Check `event`'s window ending at the fire time this run stands for, and log it.

        Never raises: a failed run is logged (and alerted by the run itself when the warehouse
        is unreachable), and the scheduler carries on.
        """
        started = time.monotonic()
        project = Project(self.project.config_path)  # each run reads its own, like `eventqa run`
        try:
            job = project.catalog.all_jobs[event]
            schedule = schedule_for(project, event, job.table)
            trigger = self.triggers.get(event) or build_trigger(schedule)
            now = datetime.now(UTC)
            until = latest_fire_time(trigger, now, project.config.defaults.misfire_grace) or now
            until = until.astimezone(UTC)
            since = until - project.config.defaults.window
            result = project.run(Selection(events=(event,)), since, until)
        except EventQAError as error:
            log_line("run failed", event=event, status="error", error=str(error),
                     duration_seconds=round(time.monotonic() - started, 3))  # fmt: skip
            return
        except Exception as error:  # a bug must not stop the scheduler; it is logged in full
            log.exception("run of %s failed unexpectedly: %s", event, error, extra={"event": event})
            return
        (checked,) = result.events
        log_line(
            "run finished",
            event=event,
            run_id=result.run_id,
            window={"since": since.isoformat(), "until": until.isoformat()},
            status=checked.status.value,
            duration_seconds=round(time.monotonic() - started, 3),
            rows=checked.row_count,
            checks=len(checked.checks),
            failed=sum(c.status.value in ("failed", "error") for c in checked.checks),
            warned=sum(c.status.value == "warned" for c in checked.checks),
            alerts=_alert_counts(result.alerts),
        )


def _alert_counts(alerts: Any) -> dict[str, int]:
    """What alerting did in a run, for its log line: sent, written, pending, unchanged."""
    if alerts is None:
        return {}
    counts: dict[str, int] = {}
    for delivery in alerts.deliveries:
        counts[delivery.outcome.value] = counts.get(delivery.outcome.value, 0) + 1
    if alerts.unchanged:
        counts["unchanged"] = len(alerts.unchanged)
    return counts


def _stored_job(store: Any, job_id: str) -> Any:
    """A job from the store, or None when absent or unreadable (a start would replace it)."""
    try:
        return store.lookup_job(job_id)
    except Exception:  # unpickling an outdated job can fail in many ways; listing must not
        return None


def serve(project: Project, stop_signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT),
          on_started: Callable[[], None] | None = None) -> int:  # fmt: skip
    """Run the scheduler in the foreground until SIGTERM or SIGINT; return the exit code."""
    stopping = threading.Event()
    for number in stop_signals:
        signal.signal(number, lambda *_: stopping.set())
    with json_stderr():
        scheduler = EventScheduler(project)
        scheduler.start()
        log_line("scheduler started", jobs=len(scheduler.scheduler.get_jobs()) - 1)
        if on_started:
            on_started()
        stopping.wait()
        timeout = project.config.defaults.stop_timeout
        log_line("stopping: letting runs in flight finish",
                 timeout_seconds=int(timeout.total_seconds()))  # fmt: skip
        finished = scheduler.stop(timeout)
        log_line("scheduler stopped" if finished else "stopped with runs still in flight")
    return 0 if finished else 3
