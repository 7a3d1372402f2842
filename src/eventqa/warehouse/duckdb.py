"""Embedded DuckDB: the zero-setup default, a file named in checks.yaml.

Great Expectations' SQL engine opens a connection per query and reads results after closing it,
which leaves DuckDB with empty results and loses temp tables. `DuckDBExecutionEngine` keeps one
connection for the engine's life instead, and `EventQADuckDBDatasource` makes GX use it.
"""

from __future__ import annotations

import builtins
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, Literal, cast

# This module is imported only when a DuckDB warehouse is opened, so these heavy imports stay
# off the CLI's start-up path; the subclasses below must be defined at module level for GX.
from great_expectations.datasource.fluent.sql_datasource import SQLDatasource  # noqa: TID253
from great_expectations.execution_engine.sqlalchemy_execution_engine import (  # noqa: TID253
    SqlAlchemyExecutionEngine,
)

from eventqa.warehouse.base import (
    TerminalWarehouseError,
    TransientWarehouseError,
    Warehouse,
    WarehouseError,
)


class DuckDBExecutionEngine(SqlAlchemyExecutionEngine):
    """GX's SQL engine, holding one persistent DuckDB connection."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.dialect_module is None:
            # GX knows no `duckdb` dialect module, so regex expectations fail with "not supported".
            # duckdb_engine's dialect derives from PostgreSQL's, whose `~` GX then uses; DuckDB's
            # `~` is the same partial regex match.
            import duckdb_engine

            self.dialect_module = cast(Any, SimpleNamespace(dialect=duckdb_engine.Dialect))
        # duckdb_engine quotes identifiers by PostgreSQL's keyword list, so a payload field named
        # `at` or `pivot` reaches DuckDB unquoted and fails to parse. Quote DuckDB's own keywords.
        preparer = self.engine.dialect.identifier_preparer
        with self.get_connection() as connection:
            keywords = connection.exec_driver_sql("SELECT keyword_name FROM duckdb_keywords()")
            preparer.reserved_words = set(preparer.reserved_words) | {k for (k,) in keywords}

    @contextmanager
    def get_connection(self) -> Generator[Any, None, None]:
        """The engine's one connection, opened on first use (GX's own closes per query)."""
        if self._connection is None:
            self._connection = self.engine.connect()
            self._connection.exec_driver_sql("SET TimeZone = 'UTC'")
        yield self._connection


class EventQADuckDBDatasource(SQLDatasource):
    """A GX fluent datasource type (`eventqa_duckdb`) that uses DuckDBExecutionEngine."""

    # GX discriminates datasource types by this literal, so it narrows the base class's "sql".
    type: Literal["eventqa_duckdb"] = "eventqa_duckdb"  # type: ignore[assignment]
    # `builtins.type`: inside this class body, `type` is the field above.
    execution_engine_override: ClassVar[builtins.type[SqlAlchemyExecutionEngine]] = (
        DuckDBExecutionEngine
    )


class DuckDB(Warehouse):
    """A DuckDB database file."""

    name = "duckdb"

    def __init__(self, path: Path):
        self.path = path

    def add_gx_datasource(self, context: Any, name: str) -> Any:
        """An `eventqa_duckdb` datasource over the file, one connection for its life."""
        from sqlalchemy.pool import StaticPool

        if not self.path.is_file():
            raise TerminalWarehouseError(
                f"DuckDB warehouse {self.path} does not exist",
                hint="run `eventqa demo` to build the sample warehouse, or fix `warehouse.path`",
            )
        return context.data_sources.add_eventqa_duckdb(
            name=name,
            connection_string=f"duckdb:///{self.path}",
            kwargs={"poolclass": StaticPool},
        )

    def check_table(self, datasource: Any, table: str) -> None:
        """Fail with exit 3 and a hint when the events table is missing."""
        engine = datasource.get_execution_engine()
        with engine.get_connection() as connection:
            found = connection.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", (table,)
            ).scalar()
        if not found:
            raise TerminalWarehouseError(
                f"table {table} does not exist in {self.path}",
                hint="check `tables:` in checks.yaml, or run `eventqa demo`",
            )

    def translate(self, error: BaseException) -> WarehouseError:
        """A lock held by another process is transient; anything else terminal."""
        import duckdb

        original = getattr(error, "orig", None) or error
        message = str(original).splitlines()[0] if str(original) else type(original).__name__
        if isinstance(original, duckdb.IOException) and "lock" in message.lower():
            return TransientWarehouseError(f"DuckDB {self.path} is locked: {message}")
        return TerminalWarehouseError(f"DuckDB {self.path}: {message}")

    def quote(self, identifier: str) -> str:
        """A double-quoted identifier, inner quotes doubled."""
        return '"' + identifier.replace('"', '""') + '"'
