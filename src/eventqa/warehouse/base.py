"""The warehouse interface: where events live, and how Great Expectations reaches them."""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from eventqa.config.models import Config, DuckDBWarehouse
from eventqa.errors import EventQAError
from eventqa.results.models import AlertSummary
from eventqa.warehouse.dialect import DialectSQL

# Every statement eventqa sends is logged here at DEBUG (`--debug` shows them; tests count them).
SQL_LOG = logging.getLogger("eventqa.sql")


class WarehouseError(EventQAError):
    """The run could not complete because of the warehouse (exit 3)."""

    exit_code = 3
    # What alerting did about the outage (set by the service when the run alerts).
    alerts: AlertSummary | None = None


class TransientWarehouseError(WarehouseError):
    """Worth retrying: a timeout, a dropped connection, a lock held by another process."""


class WarehouseBusyError(TransientWarehouseError):
    """Another process holds the warehouse (DuckDB's file lock): retried, and not an outage."""


class TerminalWarehouseError(WarehouseError):
    """Retrying will not help: bad credentials, a missing table, a file that is not a database."""


class RejectedSQLError(TerminalWarehouseError):
    """The warehouse (reachable, table present) rejected a statement: a check's SQL is at fault."""


class OutOfMemoryError(RejectedSQLError):
    """A statement needs more memory than the warehouse may use: a smaller one can still run."""

    hint = "raise `warehouse.memory_limit` in checks.yaml"


class Warehouse(ABC):
    """One warehouse: its SQL dialect, its connection, and the translation of its errors."""

    name: str
    sql: DialectSQL
    # The warehouse runs in eventqa's process, on its cores (DuckDB): tables are checked one
    # after another, each statement using them all; a remote one checks tables side by side.
    in_process = False

    @abstractmethod
    def connect(self) -> Any:
        """A DB-API connection for checks: read-only where the warehouse allows it, UTC."""

    @abstractmethod
    def _execute(
        self, connection: Any, statement: str, divisible: bool = False, events: int = 0
    ) -> list[tuple[Any, ...]]:
        """Run one statement with the driver and fetch its rows (see `query` for the flags)."""

    def query(
        self,
        connection: Any,
        statement: str,
        table: str | None = None,
        divisible: bool = False,
        events: int = 0,
    ) -> list[Any]:
        """Run one statement; driver errors become transient or terminal warehouse errors.

        `divisible`: the caller can split the statement, so one that runs out of memory raises
        OutOfMemoryError at once, where otherwise the warehouse may retry it with more memory.
        `events`: how many events' checks the statement computes (what its working memory
        grows with, where the warehouse's memory is eventqa's).
        """
        SQL_LOG.debug("%s", statement, extra={"warehouse": self.name})
        try:
            return self._execute(connection, statement, divisible, events)
        except Exception as error:
            translated = self.translate(error)
            if isinstance(translated, OutOfMemoryError):
                raise translated from error
            if table is not None and not isinstance(translated, TransientWarehouseError):
                self.check_table_exists(connection, table)
                raise RejectedSQLError(translated.message) from error
            raise translated from error

    @abstractmethod
    def check_table_exists(self, connection: Any, table: str) -> None:
        """Raise a clear terminal error when `table` is what is missing (after a failure)."""

    def close(self, connection: Any) -> None:
        """Close a connection from `connect`."""
        with contextlib.suppress(Exception):
            connection.close()

    @abstractmethod
    def add_gx_datasource(self, context: Any, name: str) -> Any:
        """Register a GX SQL datasource whose engine keeps one connection (temp tables live)."""

    @abstractmethod
    def translate(self, error: BaseException) -> WarehouseError:
        """Turn a driver exception into a transient or terminal eventqa error."""

    def release(self, datasource: Any) -> None:
        """Close the datasource's connection (its temp tables go with it)."""
        from eventqa.warehouse.engines import release

        release(datasource)


def driver_error(error: BaseException, kinds: type[BaseException]) -> BaseException | None:
    """The driver's own exception behind `error`, through SQLAlchemy's `orig` and GX's wrapping."""
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        if isinstance(found, kinds):
            return found
        seen.add(id(found))
        found = getattr(found, "orig", None) or found.__cause__ or found.__context__
    return None


def open_warehouse(config: Config) -> Warehouse:
    """The adapter for checks.yaml's `warehouse` (drivers imported lazily)."""
    settings = config.warehouse
    if isinstance(settings, DuckDBWarehouse):
        from eventqa.warehouse.duckdb import DuckDB

        path = settings.path if settings.path.is_absolute() else config.project_dir / settings.path
        return DuckDB(Path(path), settings.memory_limit, settings.threads)
    from eventqa.warehouse.snowflake import Snowflake

    return Snowflake(settings)


def dialect_for(config: Config) -> DialectSQL:
    """The SQL dialect of checks.yaml's warehouse, without connecting (or reading credentials)."""
    if isinstance(config.warehouse, DuckDBWarehouse):
        from eventqa.warehouse.duckdb import DuckDBSQL

        return DuckDBSQL()
    from eventqa.warehouse.snowflake import SnowflakeSQL

    return SnowflakeSQL()
