"""The results store: every run, saved through SQLAlchemy before anything else reads it.

Default: an SQLite file under `.eventqa/`; any SQLAlchemy URL works (`results.url` in checks.yaml).
The schema is versioned with Alembic: opening a store upgrades the database to the newest version
shipped in `migrations/versions/` (frozen files, each with its own DDL). Databases made by the
hand-rolled migrations of eventqa 0.1 (a `schema_version` table) are adopted at their version.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eventqa.errors import EventQAError
from eventqa.results.models import MONITORING_LABELS, CheckResult, RunResult, Status, check_key

# Alembic's bookkeeping table, named apart from `alembic_version`: the results may live in a
# database that an application migrates with Alembic too.
VERSION_TABLE = "eventqa_schema_version"
# The newest revision in migrations/versions (tests/results/test_migrations.py holds them equal):
# a database already there opens without running Alembic.
SCHEMA_HEAD = "0006"
# Alembic keeps the running migration in module globals (`op`, `context`): one thread at a time.
_MIGRATING = threading.Lock()
# The hand-rolled schema's versions (eventqa 0.1, table `schema_version`) as Alembic revisions.
LEGACY_REVISIONS = {1: "0001", 2: "0002", 3: "0003"}


class ResultStoreError(EventQAError):
    """The results database cannot be opened or written (exit 3)."""

    exit_code = 3


def _metadata() -> Any:
    import sqlalchemy as sa

    metadata = sa.MetaData()
    sa.Table(
        "runs",
        metadata,
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    sa.Table(
        "event_results",
        metadata,
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("event", sa.String(255), primary_key=True),
        sa.Column("table_name", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("row_count", sa.BigInteger),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("error", sa.Text),
        sa.Index("ix_event_results_event", "event", "run_id"),
    )
    sa.Table(
        "check_results",
        metadata,
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.run_id"), primary_key=True),
        # An event name, or `table:<name>` for table-level checks.
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("expectation_type", sa.String(255), nullable=False),
        sa.Column("column_name", sa.String(1024)),
        sa.Column("check_kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("origin", sa.String(1024), nullable=False),
        sa.Column("unexpected_count", sa.BigInteger),
        sa.Column("element_count", sa.BigInteger),
        sa.Column("unexpected_percent", sa.Float),
        sa.Column("observed_value", sa.Text),  # JSON
        sa.Column("expected", sa.Text),  # JSON
        sa.Column("samples", sa.Text),  # JSON
        sa.Column("error", sa.Text),
        sa.Column("check_id", sa.String(255)),  # CheckResult.check_id; NULL before version 0004
        sa.Column("reproduction_sql", sa.Text),  # failed checks; NULL before version 0005
    )
    _alerting_tables(metadata)
    _scheduler_tables(metadata)
    _volume_tables(metadata)
    return metadata


def _volume_tables(metadata: Any) -> None:
    import sqlalchemy as sa

    sa.Table(
        "volume_counts",  # events per name and bucket: the history baselines are learnt from
        metadata,
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("event_name", sa.String(255), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("newest", sa.DateTime(timezone=True)),  # the bucket's newest timestamp, if known
    )
    sa.Table(
        "volume_coverage",  # the period of each table whose counts are stored (never rescanned)
        metadata,
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("bucket_seconds", sa.Integer, nullable=False),
        sa.Column("covered_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("covered_until", sa.DateTime(timezone=True), nullable=False),
    )
    sa.Table(
        "volume_flags",  # buckets found anomalous: kept out of later baselines
        metadata,
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("event_name", sa.String(255), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("anomaly", sa.String(16), nullable=False),
    )
    sa.Table(
        "volume_notices",  # things said once, such as an event never seen in the history
        metadata,
        sa.Column("table_name", sa.String(255), primary_key=True),
        sa.Column("event_name", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
    )


def _alerting_tables(metadata: Any) -> None:
    import sqlalchemy as sa

    sa.Table(
        "alert_state",
        metadata,
        # An event name, `outage:<warehouse>` or `digest:<channel>`.
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),  # failing | passing
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("channel", sa.String(255)),
        sa.Column("first_failed_at", sa.DateTime(timezone=True)),
        sa.Column("last_alerted_at", sa.DateTime(timezone=True)),
        sa.Column("thread_alert_id", sa.String(128)),  # the outbox alert whose thread to reply in
    )
    sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.String(128), primary_key=True),  # idempotency key
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),  # JSON: text and blocks
        sa.Column("thread_of", sa.String(128)),  # reply in the thread of this alert id
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("ts", sa.String(64)),  # Slack's message timestamp once delivered
        sa.Index("ix_outbox_pending", "delivered_at", "created_at"),
    )


def _scheduler_tables(metadata: Any) -> None:
    import sqlalchemy as sa

    sa.Table(
        "heartbeats",
        metadata,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pid", sa.Integer),
        sa.Column("host", sa.String(255)),
    )


def _alembic_config(connection: Any) -> Any:
    """Alembic configured in code: the migrations ship inside the package, no alembic.ini."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "eventqa.results:migrations")
    config.attributes["connection"] = connection
    return config


def _quiet_alembic() -> None:
    """Keep Alembic's INFO chatter ("Context impl SQLiteImpl.") out of eventqa's JSON log lines.

    Left alone when the application set the `alembic` logger's level itself.
    """
    import logging

    logger = logging.getLogger("alembic")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)


def _adopt_legacy_schema(connection: Any, config: Any) -> None:
    """Stamp a database of the hand-rolled migrations at its version, then drop their table."""
    import sqlalchemy as sa
    from alembic import command

    tables = set(sa.inspect(connection).get_table_names())
    if "schema_version" not in tables or VERSION_TABLE in tables:
        return
    version = connection.execute(sa.text("SELECT max(version) FROM schema_version")).scalar()
    if version is not None:
        if version not in LEGACY_REVISIONS:
            raise ResultStoreError(f"the results store has unknown schema version {version}")
        command.stamp(config, LEGACY_REVISIONS[version])
    connection.execute(sa.text("DROP TABLE schema_version"))


@dataclass(frozen=True)
class OutboxEntry:
    """A message to queue: its idempotency key, where it goes, and the thread it replies in."""

    id: str
    channel: str
    kind: str
    payload: dict[str, Any]
    thread_of: str | None = None


@dataclass(frozen=True)
class Coverage:
    """The period of a table whose counts per bucket are stored."""

    bucket_seconds: int
    since: datetime
    until: datetime


@dataclass
class VolumeUpdate:
    """What a run learnt of one table's volume, saved with the run in one transaction.

    Every bucket in `recounted` is replaced by `counts` (a bucket absent there had no events).
    """

    table: str
    coverage: Coverage
    recounted: list[tuple[datetime, datetime]]
    counts: dict[str, dict[datetime, int]]
    newest: dict[str, datetime] = field(default_factory=dict)
    flags: dict[str, dict[datetime, str]] = field(default_factory=dict)
    notices: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class HistoryRow:
    """One past run of an event: when, its status, and each check's status."""

    run_id: str
    since: datetime
    until: datetime
    status: Status
    checks: dict[tuple[str, str], Status]  # (check key, description) -> status


@dataclass(frozen=True)
class EventRunRow:
    """One stored run of one event, as the report lists it (`newest`: the event's latest run)."""

    run_id: str
    event: str
    table: str
    owner: str | None
    status: Status
    row_count: int | None
    error: str | None
    since: datetime
    until: datetime
    stored_at: datetime
    newest: bool


@dataclass(frozen=True)
class CheckStatusRow:
    """One check's status in one run of an event: a cell of the report's history strips."""

    run_id: str
    event: str
    key: str  # CheckResult.key: follows the check across runs
    description: str
    status: Status


@dataclass(frozen=True)
class RecentResults:
    """What the HTML report shows, read in a few set-based queries.

    The last `per_event` runs of each event (newest first), each check's status in them, the full
    checks of each event's newest run, and the observed values of `observed_type` checks (the
    volume history) in those runs.
    """

    runs: list[EventRunRow]
    statuses: list[CheckStatusRow]
    latest: dict[str, list[CheckResult]]
    observed: list[tuple[str, str, Any]]  # (event, run_id, observed_value)
    stored_runs: int
    last_stored: datetime | None


class ResultStore:
    """Runs and their check results in a SQL database."""

    def __init__(self, url: str):
        import sqlalchemy as sa

        self.url = url
        self.metadata = _metadata()
        try:
            self.engine = sa.create_engine(url)
            self.migrate()
        except (sa.exc.SQLAlchemyError, ImportError) as error:
            hint = (
                f"install the database driver it needs ({error.name})"
                if isinstance(error, ImportError)
                else "check `results.url` in checks.yaml or EVENTQA_RESULTS_URL"
            )
            raise ResultStoreError(
                f"cannot open the results store {self._safe_url()}: {str(error).splitlines()[0]}",
                hint=hint,
            ) from error

    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def migrate(self) -> str:
        """Upgrade the database to the newest schema version; return that revision."""
        if self._at_head():
            return SCHEMA_HEAD  # the usual case: no need to import Alembic (a third of a second)
        _quiet_alembic()  # before importing it: it logs on import
        from alembic import command
        from alembic.migration import MigrationContext

        with _MIGRATING, self.engine.begin() as connection:

            def current() -> str | None:
                context = MigrationContext.configure(
                    connection, opts={"version_table": VERSION_TABLE}
                )
                return context.get_current_revision()

            if current() != SCHEMA_HEAD:
                config = _alembic_config(connection)
                _adopt_legacy_schema(connection, config)
                command.upgrade(config, "head")
            revision = current()
        return str(revision)

    def _at_head(self) -> bool:
        """Whether the version table already says SCHEMA_HEAD (one read, no Alembic)."""
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            if not sa.inspect(connection).has_table(VERSION_TABLE):
                return False
            versions = connection.execute(
                sa.text(f"SELECT version_num FROM {VERSION_TABLE}")
            ).scalars()
            return list(versions) == [SCHEMA_HEAD]

    def save(self, run: RunResult, volume: Iterable[VolumeUpdate] = ()) -> None:
        """Store a run with every event's and table's checks (and its volume counts), atomically."""
        tables = self.metadata.tables
        with self.engine.begin() as connection:
            for update in volume:
                self._save_volume(connection, update)
            connection.execute(
                tables["runs"]
                .insert()
                .values(
                    run_id=run.run_id,
                    stored_at=datetime.now(UTC),
                    since=run.window.since,
                    until=run.window.until,
                    status=run.status.value,
                )
            )
            checks: list[dict[str, Any]] = []
            for event in run.events:
                connection.execute(
                    tables["event_results"]
                    .insert()
                    .values(
                        run_id=run.run_id,
                        event=event.event,
                        table_name=event.table,
                        owner=event.owner,
                        status=event.status.value,
                        row_count=event.row_count,
                        duration_seconds=event.duration_seconds,
                        error=event.error,
                    )
                )
                checks += _check_rows(run.run_id, event.event, event.checks)
            for table in run.tables:
                checks += _check_rows(run.run_id, f"table:{table.table}", table.checks)
            if checks:
                connection.execute(tables["check_results"].insert(), checks)

    # -- volume history ---------------------------------------------------------------------

    def _save_volume(self, connection: Any, update: VolumeUpdate) -> None:
        """Replace the recounted buckets, extend the coverage, note flags and notices."""
        tables = self.metadata.tables
        counts, coverage = tables["volume_counts"], tables["volume_coverage"]
        for since, until in update.recounted:
            connection.execute(
                counts.delete()
                .where(counts.c.table_name == update.table)
                .where(counts.c.bucket_start >= since)
                .where(counts.c.bucket_start < until)
            )
        seconds = update.coverage.bucket_seconds
        rows = [
            {
                "table_name": update.table, "event_name": name, "bucket_start": start,
                "count": count, "newest": _newest_in(update.newest.get(name), start, seconds),
            }
            for name, buckets in update.counts.items()
            for start, count in buckets.items()
            if count
        ]  # fmt: skip
        if rows:
            connection.execute(counts.insert(), rows)
        values = {
            "bucket_seconds": seconds,
            "covered_since": update.coverage.since,
            "covered_until": update.coverage.until,
        }
        changed = connection.execute(
            coverage.update().where(coverage.c.table_name == update.table).values(**values)
        )
        if changed.rowcount == 0:
            connection.execute(coverage.insert().values(table_name=update.table, **values))
        flags = tables["volume_flags"]
        for name, buckets in update.flags.items():
            for start, anomaly in buckets.items():
                key = (
                    (flags.c.table_name == update.table)
                    & (flags.c.event_name == name)
                    & (flags.c.bucket_start == start)
                )
                connection.execute(flags.delete().where(key))
                connection.execute(
                    flags.insert().values(
                        table_name=update.table, event_name=name, bucket_start=start,
                        anomaly=anomaly,
                    )
                )  # fmt: skip
        notices = tables["volume_notices"]
        for name, kind in update.notices:
            key = (
                (notices.c.table_name == update.table)
                & (notices.c.event_name == name)
                & (notices.c.kind == kind)
            )
            if connection.execute(notices.select().where(key)).first() is None:  # said once
                connection.execute(
                    notices.insert().values(
                        table_name=update.table, event_name=name, kind=kind,
                        noted_at=datetime.now(UTC),
                    )
                )  # fmt: skip

    def forget_volume(self, tables: Iterable[str]) -> None:
        """Drop what the volume history holds of `tables`: their rows were replaced wholesale."""
        names = sorted(set(tables))
        with self.engine.begin() as connection:
            for name in ("volume_counts", "volume_coverage", "volume_flags", "volume_notices"):
                table = self.metadata.tables[name]
                connection.execute(table.delete().where(table.c.table_name.in_(names)))

    def volume_coverage(self, table: str) -> Coverage | None:
        """The stored period of a table's counts, if any."""
        coverage = self.metadata.tables["volume_coverage"]
        with self.engine.connect() as connection:
            row = connection.execute(
                coverage.select().where(coverage.c.table_name == table)
            ).first()
        if row is None:
            return None
        return Coverage(row.bucket_seconds, _utc(row.covered_since), _utc(row.covered_until))

    def volume_history(
        self, table: str, since: datetime, until: datetime
    ) -> tuple[dict[str, dict[datetime, int]], dict[str, datetime]]:
        """Counts per event and bucket in [since, until), and each event's newest timestamp."""
        counts = self.metadata.tables["volume_counts"]
        found: dict[str, dict[datetime, int]] = {}
        newest: dict[str, datetime] = {}
        with self.engine.connect() as connection:
            rows = connection.execute(
                counts.select()
                .where(counts.c.table_name == table)
                .where(counts.c.bucket_start >= since)
                .where(counts.c.bucket_start < until)
            )
            for row in rows:
                found.setdefault(row.event_name, {})[_utc(row.bucket_start)] = int(
                    row._mapping["count"]
                )
                if row.newest is not None:
                    latest = _utc(row.newest)
                    newest[row.event_name] = max(newest.get(row.event_name, latest), latest)
        return found, newest

    def volume_flags(self, table: str, since: datetime) -> dict[str, set[datetime]]:
        """Buckets from `since` on that earlier runs found anomalous, by event."""
        flags = self.metadata.tables["volume_flags"]
        found: dict[str, set[datetime]] = {}
        with self.engine.connect() as connection:
            rows = connection.execute(
                flags.select()
                .where(flags.c.table_name == table)
                .where(flags.c.bucket_start >= since)
            )
            for row in rows:
                found.setdefault(row.event_name, set()).add(_utc(row.bucket_start))
        return found

    def volume_notices(self, table: str) -> dict[tuple[str, str], datetime]:
        """What was already said once about a table's events: (event, kind) -> when."""
        notices = self.metadata.tables["volume_notices"]
        with self.engine.connect() as connection:
            rows = connection.execute(notices.select().where(notices.c.table_name == table))
            return {(row.event_name, row.kind): _utc(row.noted_at) for row in rows}

    def history(self, event: str, limit: int = 10) -> list[HistoryRow]:
        """The event's most recent runs, newest first."""
        import sqlalchemy as sa

        runs, events, checks = (
            self.metadata.tables[n] for n in ("runs", "event_results", "check_results")
        )
        with self.engine.connect() as connection:
            recent = connection.execute(
                sa.select(runs.c.run_id, runs.c.since, runs.c.until, events.c.status)
                .join(events, events.c.run_id == runs.c.run_id)
                .where(events.c.event == event)
                .order_by(runs.c.until.desc(), runs.c.stored_at.desc())
                .limit(limit)
            ).all()
            if not recent:
                return []
            found = connection.execute(
                checks.select()
                .where(checks.c.subject == event)
                .where(checks.c.run_id.in_([row.run_id for row in recent]))
            ).mappings()
            by_run: dict[str, dict[tuple[str, str], Status]] = {}
            for row in found:
                key = (_stored_check(row).key, _history_label(row))
                by_run.setdefault(row["run_id"], {})[key] = Status(row["status"])
        return [
            HistoryRow(
                row.run_id,
                _utc(row.since),
                _utc(row.until),
                Status(row.status),
                by_run.get(row.run_id, {}),
            )
            for row in recent
        ]

    # -- alert state and outbox ---------------------------------------------------------------

    def alert_state(self, key: str) -> dict[str, Any] | None:
        """The alerting state of an event (or outage, or digest), if any."""
        table = self.metadata.tables["alert_state"]
        with self.engine.connect() as connection:
            row = connection.execute(table.select().where(table.c.key == key)).mappings().first()
        if row is None:
            return None
        state = dict(row)
        for column in ("first_failed_at", "last_alerted_at"):
            if state[column] is not None:
                state[column] = _utc(state[column])
        return state

    def record_alerts(
        self, states: dict[str, dict[str, Any]], entries: Iterable[OutboxEntry] = ()
    ) -> None:
        """Update alert states and queue their messages in one transaction: both or neither.

        A crash between the two would otherwise record an alert as sent while nothing is queued,
        and the failure would never be said. Entries already queued are left as they are.
        """
        states_table, outbox = self.metadata.tables["alert_state"], self.metadata.tables["outbox"]
        with self.engine.begin() as connection:
            for key, values in states.items():
                updated = connection.execute(
                    states_table.update().where(states_table.c.key == key).values(**values)
                )
                if updated.rowcount == 0:
                    connection.execute(states_table.insert().values(key=key, **values))
            for entry in entries:
                queued = connection.execute(outbox.select().where(outbox.c.id == entry.id)).first()
                if queued is None:
                    connection.execute(
                        outbox.insert().values(
                            id=entry.id, created_at=datetime.now(UTC), channel=entry.channel,
                            kind=entry.kind, payload=json.dumps(entry.payload),
                            thread_of=entry.thread_of, attempts=0,
                        )
                    )  # fmt: skip

    def pending(self) -> list[dict[str, Any]]:
        """Undelivered alerts, oldest first."""
        table = self.metadata.tables["outbox"]
        with self.engine.connect() as connection:
            rows = connection.execute(
                table.select().where(table.c.delivered_at.is_(None)).order_by(table.c.created_at)
            ).mappings()
            return [{**row, "payload": json.loads(row["payload"])} for row in rows]

    def outbox_item(self, alert_id: str) -> dict[str, Any] | None:
        """One outbox entry, delivered or not."""
        table = self.metadata.tables["outbox"]
        with self.engine.connect() as connection:
            row = (
                connection.execute(table.select().where(table.c.id == alert_id)).mappings().first()
            )
        return dict(row) if row else None

    def start_attempt(self, alert_id: str) -> int:
        """Count an attempt before it is made (a crash mid-send still counts); return prior ones."""
        table = self.metadata.tables["outbox"]
        with self.engine.begin() as connection:
            before = connection.execute(
                table.select().with_only_columns(table.c.attempts).where(table.c.id == alert_id)
            ).scalar_one()
            connection.execute(
                table.update().where(table.c.id == alert_id).values(attempts=table.c.attempts + 1)
            )
        return int(before)

    def mark_attempt(self, alert_id: str, error: str | None = None, ts: str | None = None) -> None:
        """Record how an attempt ended: delivered (with Slack's ts) or failed (with the error)."""
        table = self.metadata.tables["outbox"]
        values: dict[str, Any] = {"last_error": error}
        if error is None:
            values |= {"delivered_at": datetime.now(UTC), "ts": ts}
        with self.engine.begin() as connection:
            connection.execute(table.update().where(table.c.id == alert_id).values(**values))

    def latest_run_id(self, event: str) -> str | None:
        """The most recent stored run that checked an event."""
        rows = self.history(event, limit=1)
        return rows[0].run_id if rows else None

    def load_run(self, run_id: str, event: str | None = None) -> RunResult:
        """A stored run back as a RunResult (only `event` when given)."""
        runs, events, checks = (
            self.metadata.tables[n] for n in ("runs", "event_results", "check_results")
        )
        with self.engine.connect() as connection:
            run = connection.execute(runs.select().where(runs.c.run_id == run_id)).mappings().one()
            query = events.select().where(events.c.run_id == run_id)
            if event:
                query = query.where(events.c.event == event)
            event_rows = connection.execute(query).mappings().all()
            check_rows = (
                connection.execute(
                    checks.select().where(checks.c.run_id == run_id).order_by(checks.c.position)
                )
                .mappings()
                .all()
            )
        by_subject: dict[str, list[CheckResult]] = {}
        for row in check_rows:
            by_subject.setdefault(row["subject"], []).append(_stored_check(row))
        from eventqa.results.models import EventResult, Window

        return RunResult(
            run_id=run_id,
            window=Window(since=_utc(run["since"]), until=_utc(run["until"])),
            events=[
                EventResult(
                    event=row["event"], table=row["table_name"], owner=row["owner"],
                    status=Status(row["status"]), checks=by_subject.get(row["event"], []),
                    row_count=row["row_count"], duration_seconds=row["duration_seconds"] or 0.0,
                    error=row["error"],
                )
                for row in event_rows
            ],
        )  # fmt: skip

    def beat(self, name: str = "scheduler") -> None:
        """Record that a long-running process is alive."""
        import os
        import socket

        table = self.metadata.tables["heartbeats"]
        values = {"at": datetime.now(UTC), "pid": os.getpid(), "host": socket.gethostname()}
        with self.engine.begin() as connection:
            updated = connection.execute(
                table.update().where(table.c.name == name).values(**values)
            )
            if updated.rowcount == 0:
                connection.execute(table.insert().values(name=name, **values))

    def heartbeat(self, name: str = "scheduler") -> datetime | None:
        """When the process last said it was alive."""
        table = self.metadata.tables["heartbeats"]
        with self.engine.connect() as connection:
            at = connection.execute(
                table.select().with_only_columns(table.c.at).where(table.c.name == name)
            ).scalar()
        return _utc(at) if at else None

    def last_runs(self) -> list[dict[str, Any]]:
        """Each event's most recent stored run: when, its window end, status and failing checks."""
        import sqlalchemy as sa

        runs, events = self.metadata.tables["runs"], self.metadata.tables["event_results"]
        latest = (
            sa.select(events.c.event, sa.func.max(runs.c.stored_at).label("stored_at"))
            .join(runs, runs.c.run_id == events.c.run_id)
            .group_by(events.c.event)
            .subquery()
        )
        query = (
            sa.select(events.c.event, events.c.status, events.c.row_count, runs.c.run_id,
                      runs.c.stored_at, runs.c.until)
            .join(runs, runs.c.run_id == events.c.run_id)
            .join(
                latest,
                (latest.c.event == events.c.event) & (latest.c.stored_at == runs.c.stored_at),
            )
            .order_by(events.c.event)
        )  # fmt: skip
        with self.engine.connect() as connection:
            rows = [dict(row) for row in connection.execute(query).mappings()]
        for row in rows:
            row["stored_at"], row["until"] = _utc(row["stored_at"]), _utc(row["until"])
        return rows

    def recent_results(self, per_event: int, observed_type: str) -> RecentResults:
        """Each event's last `per_event` runs for the report, in two queries whatever the count.

        Runs are ranked per event (newest window first) by a window function, once; each shown
        run's checks are reached through the check table's primary key, with their full details
        only for the newest run (and the observed values of `observed_type` checks), so the cost
        follows what the page shows, not how many runs are stored.
        """
        import sqlalchemy as sa

        runs, events, checks = (
            self.metadata.tables[n] for n in ("runs", "event_results", "check_results")
        )
        rank = (
            sa.func.row_number()
            .over(
                partition_by=events.c.event,
                order_by=(runs.c.until.desc(), runs.c.stored_at.desc(), runs.c.run_id.desc()),
            )
            .label("rank")
        )
        ranked = (
            sa.select(
                events.c.run_id, events.c.event, events.c.table_name, events.c.owner,
                events.c.status, events.c.row_count, events.c.error, runs.c.since, runs.c.until,
                runs.c.stored_at, rank,
            )
            .join(runs, runs.c.run_id == events.c.run_id)
            .subquery("ranked")
        )  # fmt: skip
        newest = ranked.c.rank == 1

        def newest_only(column: Any, also: Any = None) -> Any:
            keep = newest if also is None else newest | also
            return sa.case((keep, column), else_=None)

        # Check columns come back as `check_<name>` (the ranked runs have a status and an error).
        details = [
            c for c in checks.c if c.name not in ("run_id", "subject", "position", *_CHECK_IDENTITY)
        ]
        query = (
            sa.select(
                ranked, checks.c.position,
                *(checks.c[name].label(f"check_{name}") for name in _CHECK_IDENTITY),
                *(
                    newest_only(c, checks.c.expectation_type == observed_type
                                if c.name == "observed_value" else None).label(f"check_{c.name}")
                    for c in details
                ),
            )
            .select_from(
                ranked.outerjoin(
                    checks,
                    (checks.c.run_id == ranked.c.run_id) & (checks.c.subject == ranked.c.event),
                )
            )
            .where(ranked.c.rank <= per_event)
            .order_by(ranked.c.event, ranked.c.rank, checks.c.position)
        )  # fmt: skip
        with self.engine.connect() as connection:
            totals = connection.execute(
                sa.select(sa.func.count(), sa.func.max(runs.c.stored_at))
            ).one()
            rows = connection.execute(query).all()
        found = RecentResults(
            [], [], {}, [], int(totals[0]), _utc(totals[1]) if totals[1] else None
        )
        check_columns = [f"check_{name}" for name in (*_CHECK_IDENTITY, *(c.name for c in details))]
        for row in rows:
            if not found.runs or (found.runs[-1].run_id, found.runs[-1].event) != (
                row.run_id, row.event,
            ):  # fmt: skip
                found.runs.append(
                    EventRunRow(
                        run_id=row.run_id, event=row.event, table=row.table_name,
                        owner=row.owner, status=Status(row.status), row_count=row.row_count,
                        error=row.error, since=_utc(row.since), until=_utc(row.until),
                        stored_at=_utc(row.stored_at), newest=row.rank == 1,
                    )
                )  # fmt: skip
            if row.position is None:  # a run without checks (it could not run)
                continue
            found.statuses.append(
                CheckStatusRow(
                    run_id=row.run_id, event=row.event, description=row.check_description,
                    key=check_key(
                        row.check_check_id, row.check_check_kind, row.check_expectation_type,
                        row.check_column_name,
                    ),
                    status=Status(row.check_status),
                )
            )  # fmt: skip
            if row.rank == 1:
                mapping = row._mapping
                check = {name.removeprefix("check_"): mapping[name] for name in check_columns}
                found.latest.setdefault(row.event, []).append(_stored_check(check))
            observed = row.check_observed_value
            if observed is not None and row.check_expectation_type == observed_type:
                found.observed.append((row.event, row.run_id, json.loads(observed)))
        return found

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


# Columns of check_results the report reads for every shown run (the rest: newest run only).
_CHECK_IDENTITY = (
    "check_id",
    "check_kind",
    "expectation_type",
    "column_name",
    "description",
    "status",
)


def _utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _history_label(row: Any) -> str:
    """How `history` names a check: its description, stable for monitoring checks."""
    label = MONITORING_LABELS.get(row["expectation_type"])
    return label if label is not None else str(row["description"])


def _newest_in(newest: datetime | None, start: datetime, seconds: int) -> datetime | None:
    """`newest` when it falls in the bucket starting at `start`."""
    if newest is None or not 0 <= (newest - start).total_seconds() < seconds:
        return None
    return newest


def _stored_check(row: Any) -> CheckResult:
    """A check_results row back as the CheckResult it was saved from."""
    return CheckResult(
        expectation_type=row["expectation_type"], column=row["column_name"],
        check_id=row["check_id"] or "", status=Status(row["status"]), severity=row["severity"],
        check=row["check_kind"], description=row["description"], origin=row["origin"],
        unexpected_count=row["unexpected_count"], element_count=row["element_count"],
        unexpected_percent=row["unexpected_percent"],
        observed_value=json.loads(row["observed_value"] or "null"),
        expected=json.loads(row["expected"] or "{}"),
        samples=json.loads(row["samples"] or "[]"), error=row["error"],
        reproduction_sql=row.get("reproduction_sql"),
    )  # fmt: skip


def _check_rows(run_id: str, subject: str, checks: list[CheckResult]) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "subject": subject,
            "position": position,
            "check_id": check.check_id or None,
            "expectation_type": check.expectation_type,
            "column_name": check.column,
            "check_kind": check.check,
            "status": check.status.value,
            "severity": check.severity,
            "description": check.description,
            "origin": check.origin,
            "unexpected_count": check.unexpected_count,
            "element_count": check.element_count,
            "unexpected_percent": check.unexpected_percent,
            "observed_value": json.dumps(check.observed_value),
            "expected": json.dumps(check.expected),
            "samples": json.dumps(check.samples),
            "error": check.error,
            "reproduction_sql": check.reproduction_sql,
        }
        for position, check in enumerate(checks)
    ]
