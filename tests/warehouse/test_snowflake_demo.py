"""`eventqa demo --warehouse snowflake`: the demo events loaded in bulk into the emulator."""

from __future__ import annotations

import logging
import re
import shutil
from datetime import timedelta

import pytest

from eventqa.service import Project, Selection
from tests.cli.test_cli import eventqa
from tests.conftest import REPO
from tests.warehouse.conftest import DATABASE, SCHEMA, connect, write_connections

pytestmark = pytest.mark.snowflake

SNOWFLAKE = "warehouse:\n  type: snowflake\n  connection_name: eventqa_demo\n"


@pytest.fixture
def snowflake_project(tmp_path, fakesnow_server, monkeypatch) -> Project:
    """The example project, configured for the emulator, whose database is empty."""
    connection = connect(fakesnow_server)
    try:
        cursor = connection.cursor()
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.{SCHEMA}")
        for table in ("backend__events", "frontend__events"):
            cursor.execute(f"DROP TABLE IF EXISTS {DATABASE}.{SCHEMA}.{table}")
    finally:
        connection.close()
    home = tmp_path / "snowflake-home"
    write_connections(home, "eventqa_demo", fakesnow_server)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    root = tmp_path / "project"
    root.mkdir()
    for name in ("contracts", "expectations"):
        shutil.copytree(REPO / name, root / name)
    checks = (REPO / "checks.yaml").read_text()
    configured = checks.replace(
        "warehouse:\n  type: duckdb               # the embedded default, built by `eventqa demo`\n"
        "  path: .eventqa/warehouse.duckdb\n",
        SNOWFLAKE,
    )
    assert configured != checks
    (root / "checks.yaml").write_text(configured)
    return Project(root / "checks.yaml")


def test_demo_loads_snowflake_in_bulk_and_run_finds_the_planted_defects(
    snowflake_project, fakesnow_server, caplog
):
    caplog.set_level(logging.DEBUG, logger="eventqa.sql")
    steps: list[tuple[str, int, int]] = []
    summary = snowflake_project.demo(3000, "snowflake", progress=lambda *step: steps.append(step))
    statements = [r.getMessage() for r in caplog.records if r.name == "eventqa.sql"]

    assert str(summary.path).startswith(f"Snowflake {DATABASE}.{SCHEMA}")
    # The 3,000 events of the last 7 days, and the weeks of history before them.
    assert sum(summary.rows.values()) > 3000 and summary.since < summary.until - timedelta(days=7)
    # Bulk: a staged file and one COPY per table, never an INSERT per row.
    assert sum(s.startswith("PUT ") for s in statements) == 2
    assert sum(s.startswith("COPY INTO ") for s in statements) == 2
    assert not [s for s in statements if "VALUES" in s.upper()]
    assert len(statements) <= 8 * 2
    assert steps[0] == ("generating events", 0, 3000)
    assert ("loading tables into Snowflake", 2, 2) in steps

    connection = connect(fakesnow_server)
    try:
        cursor = connection.cursor()
        counted = {
            table: cursor.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("backend__events", "frontend__events")
        }
        payload = cursor.execute(
            "SELECT payload:follower_id FROM backend__events "
            "WHERE event_name = 'user_followed_user' LIMIT 1"
        ).fetchone()[0]
    finally:
        connection.close()
    assert sum(counted.values()) == sum(summary.rows.values())
    assert int(payload) > 0  # the payload is a VARIANT whose keys can be read

    until = summary.until
    result = snowflake_project.run(Selection(all=True), until - timedelta(days=7), until)
    failing = {e.event for e in result.events if e.status.value == "failed"}
    assert {"user_followed_user", "seller_ended_livestream", "payment_failed"} <= failing
    (frontend,) = [t for t in result.tables if t.table == "frontend__events"]
    assert "user_taped_buy_now" in frontend.checks[0].samples


@pytest.mark.cli
def test_the_readme_commands_load_and_check_snowflake(snowflake_project):
    root = snowflake_project.directory
    built = eventqa(root, "demo", "--warehouse", "snowflake", "--rows", "3000")
    assert built.returncode == 0, built.stderr
    assert re.match(
        rf"Loaded Snowflake {DATABASE}\.{SCHEMA} \(backend__events, frontend__events\) "
        r"with [\d,]+ events",
        built.stdout,
    )
    assert "Planted defects" in built.stdout
    done = eventqa(root, "run", "--all", "--since", "2000-01-01T00:00:00Z", "--no-alert")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "user_followed_user (backend__events, owner Foundations): failed" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("failed: ")
