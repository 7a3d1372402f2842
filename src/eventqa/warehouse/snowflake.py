"""Snowflake through snowflake-connector-python (and its SQLAlchemy dialect for GX).

Connection settings come from a named section of the Snowflake `connections.toml` (as the
Snowflake CLI and connector use it) or from `SNOWFLAKE_*` environment variables; checks.yaml may
name the connection and set the non-secret parts. Passwords and private keys never appear in
checks.yaml, in URLs, in logs or in error messages: they only travel in the connector's
`connect_args`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from typing_extensions import override

from eventqa.config.models import SnowflakeWarehouse
from eventqa.contracts.model import INTEGER_RANGES, ValueType
from eventqa.errors import ConfigError
from eventqa.suites.columns import quote_identifier
from eventqa.warehouse.base import (
    SQL_LOG,
    TerminalWarehouseError,
    TransientWarehouseError,
    Warehouse,
    WarehouseError,
)
from eventqa.warehouse.dialect import DialectSQL

# Environment variables read when checks.yaml names no connection (and to fill gaps in one).
ENVIRONMENT = {
    "account": "SNOWFLAKE_ACCOUNT",
    "user": "SNOWFLAKE_USER",
    "password": "SNOWFLAKE_PASSWORD",
    "private_key_file": "SNOWFLAKE_PRIVATE_KEY_PATH",
    "private_key_file_pwd": "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
    "authenticator": "SNOWFLAKE_AUTHENTICATOR",
    "role": "SNOWFLAKE_ROLE",
    "warehouse": "SNOWFLAKE_WAREHOUSE",
    "database": "SNOWFLAKE_DATABASE",
    "schema": "SNOWFLAKE_SCHEMA",
    "host": "SNOWFLAKE_HOST",
    "port": "SNOWFLAKE_PORT",
    "protocol": "SNOWFLAKE_PROTOCOL",
}
# Connector errors worth retrying: it could not reach Snowflake, or the request timed out.
TRANSIENT_ERRNOS = frozenset({250001, 250003, 251011, 251012, 290500, 290502, 290503, 290504})
AUTH_ERRNOS = frozenset({390100, 390144, 390318, 251005, 251006})


def connections_file() -> Path:
    """Where the connector looks for connections.toml, by its own precedence."""
    home = os.environ.get("SNOWFLAKE_HOME")
    if home:
        return Path(home).expanduser() / "connections.toml"
    legacy = Path("~/.snowflake/connections.toml").expanduser()
    if legacy.is_file():
        return legacy
    from snowflake.connector.constants import CONNECTIONS_FILE

    return Path(CONNECTIONS_FILE)


def connection_parameters(settings: SnowflakeWarehouse) -> dict[str, Any]:
    """Connector keyword arguments: connections.toml section, then environment, then checks.yaml."""
    params: dict[str, Any] = {}
    if settings.connection_name:
        path = connections_file()
        try:
            sections = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path} is not valid TOML: {error}") from None
        if settings.connection_name not in sections:
            known = ", ".join(sorted(sections)) or "none"
            raise ConfigError(
                f"Snowflake connection {settings.connection_name!r} not found in {path} "
                f"(connections there: {known})",
                hint="add it to connections.toml, or set SNOWFLAKE_HOME to the folder holding it",
            )
        params.update(sections[settings.connection_name])
    for key, variable in ENVIRONMENT.items():
        if key not in params and os.environ.get(variable):
            params[key] = os.environ[variable]
    for key in ("account", "user", "database", "warehouse", "role"):
        value = getattr(settings, key)
        if value:
            params[key] = value
    if settings.schema_name:
        params["schema"] = settings.schema_name
    if "port" in params:
        params["port"] = int(params["port"])
    missing = [key for key in ("account", "user") if not params.get(key)]
    if not any(params.get(k) for k in ("password", "private_key_file", "authenticator", "token")):
        missing.append("password, private_key_file or authenticator")
    if missing:
        where = (
            f"connection {settings.connection_name!r} in {connections_file()}"
            if settings.connection_name
            else "checks.yaml and "
            + ", ".join(ENVIRONMENT[k] for k in ("account", "user", "password"))
        )
        raise ConfigError(
            f"Snowflake settings incomplete: missing {', '.join(missing)} (looked in {where})",
            hint="see README, 'Connecting Snowflake'",
        )
    params.setdefault("login_timeout", 30)
    # Without it the connector retries failing requests for ever; a run must end (exit 3).
    params.setdefault("network_timeout", 300)
    return params


class Snowflake(Warehouse):
    """A Snowflake account, reached with the official connector."""

    name = "snowflake"

    def __init__(self, settings: SnowflakeWarehouse):
        self.settings = settings
        self.params = connection_parameters(settings)

    @property
    def sql(self) -> DialectSQL:  # type: ignore[override]
        """Snowflake's SQL."""
        return SnowflakeSQL()

    def connect(self) -> Any:
        """A connector session in UTC (checks only read)."""
        import snowflake.connector

        params = dict(self.params)
        session = dict(params.pop("session_parameters", None) or {})
        try:
            return snowflake.connector.connect(
                **params, session_parameters={**session, "TIMEZONE": "UTC"}
            )
        except Exception as error:
            raise self.translate(error) from error

    def _execute(
        self, connection: Any, statement: str, divisible: bool = False, events: int = 0
    ) -> list[tuple[Any, ...]]:
        cursor = connection.cursor()
        try:
            rows: list[tuple[Any, ...]] = cursor.execute(statement).fetchall()
        finally:
            cursor.close()
        return rows

    def check_table_exists(self, connection: Any, table: str) -> None:
        """Fail with exit 3 when the events table cannot be read."""
        try:
            self._execute(connection, f"SELECT 1 FROM {quote_identifier(table)} LIMIT 0")
        except Exception as error:
            translated = self.translate(error)
            if isinstance(translated, TransientWarehouseError):
                raise translated from error
            raise TerminalWarehouseError(
                f"table {table} cannot be read in Snowflake: {translated.message}",
                hint="check `tables:` in checks.yaml, the connection's database and schema, "
                "and the role's grants",
            ) from error

    def load_events(
        self,
        tables: dict[str, list[tuple[str, str, datetime, str]]],
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        """Replace each table with these events, in bulk (`eventqa demo --warehouse snowflake`).

        Rows are `(event_id, event_name, event_timestamp, payload JSON text)`. Each table's rows
        go into one gzip CSV, PUT to a temporary stage and loaded by one COPY INTO a temporary
        table; one INSERT ... SELECT then parses the payloads into the VARIANT column. No row
        travels in an INSERT of its own.
        """
        import csv
        import gzip
        import tempfile

        connection = self.connect()
        try:
            with tempfile.TemporaryDirectory(prefix="eventqa-demo-") as folder:
                for number, (table, rows) in enumerate(sorted(tables.items())):
                    if progress:
                        progress("loading tables into Snowflake", number, len(tables))
                    path = Path(folder) / f"{table}.csv.gz"
                    with gzip.open(path, "wt", newline="", encoding="utf-8") as file:
                        writer = csv.writer(file, quoting=csv.QUOTE_ALL, lineterminator="\n")
                        for event_id, name, at, payload in sorted(rows, key=lambda r: r[2]):
                            writer.writerow([event_id, name, at.isoformat(), payload])
                    self._load_table(connection, table, path)
                if progress:
                    progress("loading tables into Snowflake", len(tables), len(tables))
        except Exception as error:
            raise self.translate(error) from error
        finally:
            self.close(connection)

    def _load_table(self, connection: Any, table: str, path: Path) -> None:
        """CREATE OR REPLACE the events table, then PUT, COPY and parse the file at `path`."""
        name = quote_identifier(table)
        loading = quote_identifier(f"{table}__eventqa_load")
        stage = quote_identifier(f"{table}__eventqa_stage")
        statements = [
            f"CREATE OR REPLACE TABLE {name} (event_id VARCHAR, event_name VARCHAR, "
            "event_timestamp TIMESTAMP_TZ, payload VARIANT)",
            f"CREATE OR REPLACE TEMPORARY TABLE {loading} (event_id VARCHAR, "
            "event_name VARCHAR, event_timestamp VARCHAR, payload VARCHAR)",
            f"CREATE OR REPLACE TEMPORARY STAGE {stage}",
            f"PUT '{path.as_uri()}' @{stage} AUTO_COMPRESS=FALSE",
            f"COPY INTO {loading} FROM @{stage} FILE_FORMAT=(TYPE=CSV "
            "FIELD_OPTIONALLY_ENCLOSED_BY='\"' COMPRESSION=GZIP) PURGE=TRUE",
            f"INSERT INTO {name} SELECT event_id, event_name, "
            f"CAST(event_timestamp AS TIMESTAMP_TZ), PARSE_JSON(payload) FROM {loading}",
            f"DROP TABLE {loading}",
            # The temporary stage (emptied by PURGE) goes with the session.
        ]
        for statement in statements:
            SQL_LOG.debug("%s", statement, extra={"warehouse": self.name})
            self._execute(connection, statement)

    def add_gx_datasource(self, context: Any, name: str) -> Any:
        """An `eventqa_snowflake` datasource: one session, so temporary tables live."""
        from snowflake.sqlalchemy import URL
        from sqlalchemy.pool import StaticPool

        import eventqa.warehouse.engines  # noqa: F401 (registers the GX datasource types)

        public: dict[str, Any] = {
            k: self.params[k] for k in ("account", "user", "database", "schema") if k in self.params
        }
        connect_args = {k: v for k, v in self.params.items() if k not in ("account", "user")}
        connect_args["account"] = self.params["account"]
        connect_args["user"] = self.params["user"]
        session = dict(connect_args.get("session_parameters") or {})
        connect_args["session_parameters"] = {**session, "TIMEZONE": "UTC"}
        return context.data_sources.add_eventqa_snowflake(
            name=name,
            connection_string=URL(**public),  # no secrets: they are in connect_args only
            kwargs={"poolclass": StaticPool, "connect_args": connect_args},
        )

    def translate(self, error: BaseException) -> WarehouseError:
        """Network trouble is transient; authentication and SQL errors are terminal."""
        from snowflake.connector import errors

        original = getattr(error, "orig", None) or error
        while not isinstance(original, errors.Error) and original.__cause__ is not None:
            original = original.__cause__
        errno = getattr(original, "errno", None)
        message = getattr(original, "raw_msg", None) or str(original).splitlines()[0]
        if errno in AUTH_ERRNOS:
            return TerminalWarehouseError(f"Snowflake authentication failed: {message}")
        if errno in TRANSIENT_ERRNOS or isinstance(
            original, errors.OperationalError | errors.InterfaceError
        ):
            return TransientWarehouseError(f"Snowflake is unreachable: {message}")
        return TerminalWarehouseError(f"Snowflake: {message}")


class SnowflakeSQL(DialectSQL):
    """Snowflake: payload stored as VARIANT, bracket paths, LATERAL FLATTEN and OBJECT_KEYS."""

    @override
    def timestamp_literal(self, value: datetime) -> str:
        return f"'{value.isoformat()}'::TIMESTAMP_TZ"

    def _get(self, doc: str, path: list[str]) -> str:
        return doc + "".join(f"[{self.literal(part)}]" for part in path)

    @override
    def json_text(self, doc: str, path: list[str]) -> str:
        return f"TO_JSON({self._get(doc, path)})"

    @override
    def string_value(self, doc: str, path: list[str]) -> str:
        if not path:  # an element itself: cast where FLATTEN produced it (see `elements`)
            return "element_string"
        return f"CAST({self._get(doc, path)} AS VARCHAR)"

    @override
    def full_match(self, text: str, pattern: str) -> str:
        return f"REGEXP_LIKE({text}, {self.literal(pattern)})"  # Snowflake anchors the whole string

    @override
    def to_integer(self, text: str, value_type: ValueType) -> str:
        low, high = INTEGER_RANGES[value_type]
        number = f"TRY_CAST({text} AS NUMBER(38, 0))"
        return f"CASE WHEN {number} BETWEEN {low} AND {high} THEN {number} END"

    @override
    def key_list(self, doc: str, path: list[str]) -> str:
        target = self._get(doc, path)
        return f"CASE WHEN substr(TO_JSON({target}), 1, 1) = '{{' THEN OBJECT_KEYS({target}) END"

    @override
    def unnest_keys(self, table: str, column: str, alias: str) -> str:
        return (
            f"SELECT CAST(k.value AS VARCHAR) AS {alias} FROM {table} AS r, "
            f"LATERAL FLATTEN(input => r.{column}) AS k"
        )

    @override
    def to_double(self, text: str) -> str:
        return f"TRY_CAST({text} AS DOUBLE)"

    @override
    def to_timestamp(self, text: str) -> str:
        return f"TRY_CAST({text} AS TIMESTAMP_TZ)"

    @override
    def source(self, table: str, where: str) -> str:
        return (
            f"SELECT event_id, event_timestamp, event_name, {self.payload_text('payload')} AS raw, "
            f"payload AS doc FROM {table} WHERE {where}"
        )

    @override
    def payload_text(self, column: str) -> str:
        return f"TO_JSON({column})"  # a VARIANT's JSON text is written anew: no white space

    @override
    def elements(self, parent: str, path: list[str]) -> str:
        return (
            f"SELECT s.event_id, s.event_timestamp, s.event_name, e.value AS doc, "
            # Cast FLATTEN's value directly: a string element becomes its text, unquoted.
            f"CAST(e.value AS VARCHAR) AS element_string "
            f"FROM ({parent}) AS s, LATERAL FLATTEN(input => {self._get('s.doc', path)}) AS e "
            f"WHERE substr({self.json_text('s.doc', path)}, 1, 1) = '['"
        )

    @override
    def keys(self, base: str, path: list[str], alias: str) -> str:
        return (
            f"SELECT CAST(k.value AS VARCHAR) AS {alias} FROM ({base}) AS b, "
            f"LATERAL FLATTEN(input => OBJECT_KEYS({self._get('b.doc', path)})) AS k "
            f"WHERE substr({self.json_text('b.doc', path)}, 1, 1) = '{{'"
        )

    @override
    def literal(self, text: str) -> str:
        # Snowflake reads backslash escapes inside single quotes: a trailing backslash would
        # otherwise escape the closing quote.
        return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

    @override
    def epoch_us(self, value: str) -> str:
        return f"DATE_PART(epoch_microsecond, {value})"

    @override
    def regex_search(self, text: str, pattern: str) -> str:
        return f"REGEXP_COUNT({text}, {self.literal(pattern)}) > 0"

    @override
    def json_array(self, values: list[str]) -> str:
        # ARRAY_CONSTRUCT keeps NULLs in place (TO_JSON writes them as null).
        return f"TO_JSON(ARRAY_CONSTRUCT({', '.join(values)}))"

    @override
    def to_json(self, value: str) -> str:
        return f"TO_JSON(TO_VARIANT({value}))"

    @override
    def row_json(self, alias: str) -> str:
        return f"TO_JSON(OBJECT_CONSTRUCT_KEEP_NULL({alias}.*))"
