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
from pathlib import Path
from typing import Any

from eventqa.config.models import SnowflakeWarehouse
from eventqa.errors import ConfigError
from eventqa.suites.columns import quote_identifier
from eventqa.warehouse.base import (
    TerminalWarehouseError,
    TransientWarehouseError,
    Warehouse,
    WarehouseError,
)

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

    def check_table(self, datasource: Any, table: str) -> None:
        """Fail with exit 3 when the events table cannot be read."""
        engine = datasource.get_execution_engine()
        try:
            with engine.get_connection() as connection:
                connection.exec_driver_sql(f"SELECT 1 FROM {quote_identifier(table)} LIMIT 0")
        except Exception as error:
            translated = self.translate(error)
            if isinstance(translated, TransientWarehouseError):
                raise translated from error
            raise TerminalWarehouseError(
                f"table {table} cannot be read in Snowflake: {translated.message}",
                hint="check `tables:` in checks.yaml, the connection's database and schema, "
                "and the role's grants",
            ) from error

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
