"""The results store: every run, saved through SQLAlchemy before anything else reads it.

Default: an SQLite file under `.eventqa/`; any SQLAlchemy URL works (`results.url` in checks.yaml).
The schema is versioned: `MIGRATIONS` lists each version's DDL in order, `schema_version` records
what a database has, and opening a store applies what is missing, in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventqa.errors import EventQAError
from eventqa.results.models import CheckResult, RunResult, Status


class ResultStoreError(EventQAError):
    """The results database cannot be opened or written (exit 3)."""

    exit_code = 3


def _metadata() -> Any:
    import sqlalchemy as sa

    metadata = sa.MetaData()
    sa.Table(
        "schema_version",
        metadata,
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
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
    )
    return metadata


def _create_v1(connection: Any, metadata: Any) -> None:
    names = ("runs", "event_results", "check_results")
    metadata.create_all(connection, tables=[metadata.tables[n] for n in names])


# Append new versions; never edit a released one.
MIGRATIONS: list[tuple[int, Callable[[Any, Any], None]]] = [(1, _create_v1)]
SCHEMA_VERSION = MIGRATIONS[-1][0]


@dataclass(frozen=True)
class HistoryRow:
    """One past run of an event: when, its status, and each check's status."""

    run_id: str
    since: datetime
    until: datetime
    status: Status
    checks: dict[tuple[int, str], Status]  # (position, description) -> status


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

    def migrate(self) -> int:
        """Apply missing schema versions; return the database's version."""
        versions = self.metadata.tables["schema_version"]
        with self.engine.begin() as connection:
            versions.create(connection, checkfirst=True)
            applied = {row[0] for row in connection.execute(versions.select())}
            for version, migration in MIGRATIONS:
                if version not in applied:
                    migration(connection, self.metadata)
                    connection.execute(
                        versions.insert().values(version=version, applied_at=datetime.now(UTC))
                    )
        return SCHEMA_VERSION

    def save(self, run: RunResult) -> None:
        """Store a run with every event's and table's checks, atomically."""
        tables = self.metadata.tables
        with self.engine.begin() as connection:
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
            found = connection.execute(
                sa.select(checks.c.run_id, checks.c.position, checks.c.description, checks.c.status)
                .where(checks.c.subject == event)
                .where(checks.c.run_id.in_([row.run_id for row in recent]))
            ).all()
        by_run: dict[str, dict[tuple[int, str], Status]] = {}
        for row in found:
            by_run.setdefault(row.run_id, {})[(row.position, row.description)] = Status(row.status)
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

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def _utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_rows(run_id: str, subject: str, checks: list[CheckResult]) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "subject": subject,
            "position": position,
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
        }
        for position, check in enumerate(checks)
    ]
