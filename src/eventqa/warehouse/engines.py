"""Great Expectations datasources and engines that keep one connection per event run.

GX's SQL engine opens a connection per query and reads results after closing it, and its
datasource may rebuild its engine between calls. Either loses the temporary tables that hold an
event window's projection (and on DuckDB leaves empty results). These types keep one engine and
one connection for a datasource's life, and teach SQLAlchemy the identifiers eventqa quotes.

Imported only when a warehouse is opened, so GX stays off the CLI's start-up path.
"""

from __future__ import annotations

import builtins
from collections.abc import Generator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, ClassVar, Literal, cast

# The subclasses below must be defined at module level for GX to register them.
from great_expectations.datasource.fluent.sql_datasource import SQLDatasource  # noqa: TID253
from great_expectations.execution_engine.sqlalchemy_execution_engine import (  # noqa: TID253
    SqlAlchemyExecutionEngine,
)
from typing_extensions import override

from eventqa.suites.keywords import KEYWORDS


class PersistentConnectionEngine(SqlAlchemyExecutionEngine):
    """GX's SQL engine holding one connection, quoting every identifier eventqa quotes."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        preparer = self.engine.dialect.identifier_preparer
        preparer.reserved_words = set(preparer.reserved_words) | KEYWORDS

    @contextmanager
    def get_connection(self) -> Generator[Any, None, None]:
        """The engine's one connection, opened on first use."""
        if self._connection is None:
            self._connection = self.engine.connect()
            self.on_connect(self._connection)
        yield self._connection

    def on_connect(self, connection: Any) -> None:
        """Session settings for a new connection."""


class DuckDBExecutionEngine(PersistentConnectionEngine):
    """DuckDB: UTC session, and regex support GX lacks for the `duckdb` dialect."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.dialect_module is None:
            # GX knows no `duckdb` dialect module, so regex expectations fail with "not
            # supported". duckdb_engine's dialect derives from PostgreSQL's, whose `~` GX then
            # uses; DuckDB's `~` is the same partial regex match.
            import duckdb_engine

            self.dialect_module = cast(Any, SimpleNamespace(dialect=duckdb_engine.Dialect))

    @override
    def on_connect(self, connection: Any) -> None:
        connection.exec_driver_sql("SET TimeZone = 'UTC'")


class SnowflakeExecutionEngine(PersistentConnectionEngine):
    """Snowflake (its UTC session is set at login, through the connector's session parameters)."""


class _OneEngine(SQLDatasource):
    """A SQL datasource that builds its execution engine once and keeps it."""

    @override
    def get_execution_engine(self) -> SqlAlchemyExecutionEngine:
        engine: SqlAlchemyExecutionEngine | None = self.__dict__.get("_eventqa_engine")
        if engine is None:
            engine = super().get_execution_engine()
            self.__dict__["_eventqa_engine"] = engine
        return engine


class EventQADuckDBDatasource(_OneEngine):
    """GX datasource type `eventqa_duckdb`."""

    # GX discriminates datasource types by this literal, so it narrows the base class's "sql".
    type: Literal["eventqa_duckdb"] = "eventqa_duckdb"  # type: ignore[assignment]
    # `builtins.type`: inside this class body, `type` is the field above.
    execution_engine_override: ClassVar[builtins.type[SqlAlchemyExecutionEngine]] = (
        DuckDBExecutionEngine
    )


class EventQASnowflakeDatasource(_OneEngine):
    """GX datasource type `eventqa_snowflake`."""

    type: Literal["eventqa_snowflake"] = "eventqa_snowflake"  # type: ignore[assignment]
    execution_engine_override: ClassVar[builtins.type[SqlAlchemyExecutionEngine]] = (
        SnowflakeExecutionEngine
    )


def release(datasource: Any) -> None:
    """Close a datasource's connection and engines (its temporary tables go with them)."""
    engine = datasource.get_execution_engine()
    if engine._connection is not None:
        engine._connection.close()
        engine._connection = None
    engine.engine.dispose()
    own_engine = getattr(datasource, "_engine", None)  # from GX's connection test on add
    if own_engine is not None:
        own_engine.dispose()
