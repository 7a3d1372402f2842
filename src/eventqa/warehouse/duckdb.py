"""Embedded DuckDB: the zero-setup default, a file named in checks.yaml.

Checks open the file read-only (their projections are temporary tables), so any number of eventqa
runs share it; a process writing to it (a loader, `eventqa demo`) holds DuckDB's file lock, which
is reported as WarehouseBusyError: retried, and not an outage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventqa.suites.columns import quote_identifier
from eventqa.warehouse.base import (
    TerminalWarehouseError,
    Warehouse,
    WarehouseBusyError,
    WarehouseError,
    driver_error,
)


class DuckDB(Warehouse):
    """A DuckDB database file."""

    name = "duckdb"

    def __init__(self, path: Path, memory_limit: str | None = None, threads: int | None = None):
        self.path = path
        self.settings: dict[str, Any] = {"temp_directory": f"{path}.tmp"}
        if memory_limit:
            self.settings["memory_limit"] = memory_limit
        if threads:
            self.settings["threads"] = threads

    def add_gx_datasource(self, context: Any, name: str) -> Any:
        """An `eventqa_duckdb` datasource over the file, one connection for its life."""
        from sqlalchemy.pool import StaticPool

        import eventqa.warehouse.engines  # noqa: F401 (registers the GX datasource types)

        if not self.path.is_file():
            raise TerminalWarehouseError(
                f"DuckDB warehouse {self.path} does not exist",
                hint="run `eventqa demo` to build the sample warehouse, or fix `warehouse.path`",
            )
        connect_args = {"read_only": True, "config": dict(self.settings)}
        try:  # GX opens a connection here to test it
            return context.data_sources.add_eventqa_duckdb(
                name=name,
                connection_string=f"duckdb:///{self.path}",
                kwargs={"poolclass": StaticPool, "connect_args": connect_args},
            )
        except Exception as error:
            raise self.translate(error) from error

    def check_table(self, datasource: Any, table: str) -> None:
        """Fail with exit 3 and a hint when the events table is missing."""
        engine = datasource.get_execution_engine()
        with engine.get_connection() as connection:
            found = connection.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", (table,)
            ).scalar()
        if not found:
            raise TerminalWarehouseError(
                f"table {quote_identifier(table)} does not exist in {self.path}",
                hint="check `tables:` in checks.yaml, or run `eventqa demo`",
            )

    def translate(self, error: BaseException) -> WarehouseError:
        """A lock held by another process is transient (busy); anything else terminal."""
        import duckdb

        original = driver_error(error, duckdb.Error) or error
        message = str(original).splitlines()[0] if str(original) else type(original).__name__
        if isinstance(original, duckdb.IOException) and "Could not set lock" in message:
            return WarehouseBusyError(
                f"DuckDB {self.path} is in use by another process: {message}",
                hint="a process writing to the file holds its lock (eventqa retried): try later",
            )
        return TerminalWarehouseError(f"DuckDB {self.path}: {message}")
