"""Snowflake for tests: fakesnow's server, reached by the real connector over HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eventqa.service import Project
from tests.conftest import REPO

DATABASE, SCHEMA = "EVENTS_DB", "PUBLIC"


@pytest.fixture(scope="session")
def fakesnow_server() -> Iterator[dict[str, Any]]:
    import fakesnow

    with fakesnow.server() as connection_kwargs:
        yield connection_kwargs


def connect(server: dict[str, Any]):
    import snowflake.connector

    return snowflake.connector.connect(**server, database=DATABASE, schema=SCHEMA)


def write_connections(home: Path, name: str, server: dict[str, Any], **overrides: Any) -> None:
    values = {
        "account": server["account"], "user": server["user"], "password": server["password"],
        "host": server["host"], "port": server["port"], "protocol": server["protocol"],
        "database": DATABASE, "schema": SCHEMA, "login_timeout": 5, "network_timeout": 60,
        **overrides,
    }  # fmt: skip
    lines = [f"[{name}]"] + [
        f"{key} = {value!r}".replace("'", '"') if isinstance(value, str) else f"{key} = {value}"
        for key, value in values.items()
    ]
    lines.append("session_parameters = { CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED = false }")
    home.mkdir(parents=True, exist_ok=True)
    (home / "connections.toml").write_text("\n".join(lines) + "\n")
    (home / "connections.toml").chmod(0o600)


def copy_to_snowflake(
    duckdb_path: Path, server: dict[str, Any], tables: list[str], schema: str = SCHEMA
) -> None:
    """Load the DuckDB warehouse's rows into the emulator's `schema` (payload as VARIANT)."""
    with duckdb.connect(str(duckdb_path), read_only=True) as source:
        data = {
            table: source.execute(
                f"SELECT event_id, event_name, strftime(event_timestamp, '%Y-%m-%d %H:%M:%S.%f+00:00'), "
                f"CAST(payload AS VARCHAR) FROM {table}"
            ).fetchall()
            for table in tables
        }
    connection = connect(server)
    try:
        cursor = connection.cursor()
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.{schema}")
        cursor.execute(f"USE SCHEMA {DATABASE}.{schema}")
        for table, rows in data.items():
            cursor.execute(
                f"CREATE OR REPLACE TABLE {table}_staging (event_id VARCHAR, event_name VARCHAR, ts VARCHAR, payload VARCHAR)"
            )
            cursor.executemany(f"INSERT INTO {table}_staging VALUES (%s, %s, %s, %s)", rows)
            cursor.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT event_id, event_name, "
                f"CAST(ts AS TIMESTAMP_TZ) AS event_timestamp, PARSE_JSON(payload) AS payload "
                f"FROM {table}_staging"
            )
            cursor.execute(f"DROP TABLE {table}_staging")
    finally:
        connection.close()


# Where the demo's rows are loaded once per session; each test's tables are copied from there.
MASTER = "TWIN_MASTER"
TABLES = ["backend__events", "frontend__events"]


@pytest.fixture(scope="session")
def twin_template(tmp_path_factory, fakesnow_server) -> tuple[Path, datetime]:
    """The example project and its demo rows, built once: in DuckDB, and in the emulator.

    Building the demo and loading it over HTTP is most of a Snowflake test's time: each test
    copies the project folder and has the emulator copy the tables (one statement each).
    """
    root = tmp_path_factory.mktemp("twin") / "example"
    root.mkdir()
    for name in ("contracts", "expectations"):
        shutil.copytree(REPO / name, root / name)
    (root / "checks.yaml").write_text((REPO / "checks.yaml").read_text())
    summary = Project(root / "checks.yaml").demo(rows=3000)
    copy_to_snowflake(summary.path, fakesnow_server, TABLES, schema=MASTER)
    return root, summary.until


@pytest.fixture
def twin_warehouses(
    tmp_path, twin_template, fakesnow_server, monkeypatch
) -> tuple[Project, Project, datetime]:
    """The example project twice, over the same demo rows: in DuckDB and in the emulator."""
    template, until = twin_template
    root = tmp_path / "example"
    shutil.copytree(template, root)
    checks = (root / "checks.yaml").read_text()
    duck = Project(root / "checks.yaml")
    connection = connect(fakesnow_server)
    try:
        cursor = connection.cursor()
        for table in TABLES:  # this test's own copy: a test may drop or change them
            cursor.execute(
                f"CREATE OR REPLACE TABLE {DATABASE}.{SCHEMA}.{table} AS "
                f"SELECT * FROM {DATABASE}.{MASTER}.{table}"
            )
    finally:
        connection.close()

    home = tmp_path / "snowflake-home"
    write_connections(home, "eventqa_test", fakesnow_server)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    snow_root = tmp_path / "snow"
    shutil.copytree(root, snow_root, ignore=shutil.ignore_patterns(".eventqa"))
    snow_checks = checks.replace(
        "warehouse:\n  type: duckdb               # the embedded default, built by `eventqa demo`\n"
        "  path: .eventqa/warehouse.duckdb\n",
        "warehouse:\n  type: snowflake\n  connection_name: eventqa_test\n",
    )
    assert snow_checks != checks
    (snow_root / "checks.yaml").write_text(snow_checks)
    return duck, Project(snow_root / "checks.yaml"), until
