"""The Snowflake path end to end: real connector, fakesnow's server over HTTP, GX pushed down."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from eventqa.config.models import SnowflakeWarehouse
from eventqa.errors import ConfigError
from eventqa.service import Selection
from eventqa.warehouse import TerminalWarehouseError, TransientWarehouseError
from eventqa.warehouse.snowflake import Snowflake, connection_parameters
from tests.warehouse.conftest import write_connections

pytestmark = pytest.mark.snowflake


def summary(result):
    return {
        event.event: (event.status, event.row_count, [
            (c.check, c.column, c.status, c.unexpected_count, c.element_count) for c in event.checks
        ])
        for event in result.events
    }  # fmt: skip


def test_duckdb_and_snowflake_agree_on_every_example_event(twin_warehouses):
    duck, snow, until = twin_warehouses
    since = until - timedelta(days=7)  # the demo's planted defects fall anywhere in its 7 days
    on_duckdb = duck.run(Selection(all=True), since, until)
    on_snowflake = snow.run(Selection(all=True), since, until)
    assert len(on_snowflake.events) == 13
    expected, actual = summary(on_duckdb), summary(on_snowflake)
    for event in expected:
        differing = [
            (a, e) for a, e in zip(actual[event][2], expected[event][2], strict=True) if a != e
        ]
        assert actual[event][:2] == expected[event][:2] and not differing, (event, differing)
    assert [c.unexpected_count for t in on_snowflake.tables for c in t.checks] == [
        c.unexpected_count for t in on_duckdb.tables for c in t.checks
    ]
    failing = {e.event for e in on_snowflake.events if e.status.value == "failed"}
    assert failing == {e.event for e in on_duckdb.events if e.status.value == "failed"}
    assert len(failing) >= 2  # the planted defects are found, not just agreed upon
    checked = sum(len(e.checks) for e in on_snowflake.events)
    assert checked > 300


def test_missing_table_is_terminal(twin_warehouses):
    _, snow, until = twin_warehouses
    suite = snow.expectations_dir / "backend__events" / "user_followed_user.json"
    suite.write_text(
        suite.read_text().replace('"table": "backend__events"', '"table": "nope__events"')
    )
    with pytest.raises(TerminalWarehouseError, match="nope__events") as error:
        snow.run(Selection(events=("user_followed_user",)), until - timedelta(days=1), until)
    assert error.value.exit_code == 3


def test_unreachable_snowflake_is_retried_then_reported(
    twin_warehouses, tmp_path, monkeypatch, fakesnow_server
):
    import socket

    _, snow, until = twin_warehouses
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    write_connections(
        tmp_path / "down", "eventqa_test", fakesnow_server, port=closed_port, login_timeout=1
    )
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path / "down"))
    attempts = []
    snow.sleep = attempts.append  # the backoff, observed instead of waited
    snow.retry_delays = (2.0, 8.0)
    with pytest.raises(TransientWarehouseError, match="Snowflake is unreachable") as error:
        snow.run(Selection(events=("user_followed_user",)), until - timedelta(days=1), until)
    assert error.value.exit_code == 3
    assert "hunter2-not-for-logs" not in f"{error.value} {error.value.hint}"
    assert attempts == [2.0, 8.0]  # three attempts, backing off in between


def test_settings_come_from_connections_toml_then_environment(
    tmp_path, monkeypatch, fakesnow_server
):
    write_connections(tmp_path, "prod", fakesnow_server)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("SNOWFLAKE_ROLE", "ANALYST")
    params = connection_parameters(
        SnowflakeWarehouse(type="snowflake", connection_name="prod", schema="RAW")
    )
    assert (params["user"], params["role"], params["schema"]) == ("fake", "ANALYST", "RAW")

    with pytest.raises(
        ConfigError,
        match=r"connection 'staging' not found in .*connections.toml \(connections there: prod\)",
    ):
        connection_parameters(SnowflakeWarehouse(type="snowflake", connection_name="staging"))


def test_incomplete_settings_say_where_eventqa_looked(monkeypatch):
    for variable in (
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PASSWORD",
        "SNOWFLAKE_PRIVATE_KEY_PATH",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme-prod")
    with pytest.raises(
        ConfigError, match="missing user, password, private_key_file or authenticator"
    ):
        connection_parameters(SnowflakeWarehouse(type="snowflake"))


def test_key_pair_auth_is_passed_to_the_connector(monkeypatch, tmp_path):
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme-prod")
    monkeypatch.setenv("SNOWFLAKE_USER", "eventqa")
    monkeypatch.delenv("SNOWFLAKE_PASSWORD", raising=False)
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PATH", str(tmp_path / "rsa_key.p8"))
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "s3cret")
    params = connection_parameters(SnowflakeWarehouse(type="snowflake"))
    assert params["private_key_file"].endswith("rsa_key.p8")


def test_driver_errors_are_classified():
    from snowflake.connector import errors

    warehouse = Snowflake.__new__(Snowflake)
    auth = errors.DatabaseError(msg="Incorrect username or password was specified.", errno=390100)
    assert isinstance(warehouse.translate(auth), TerminalWarehouseError)
    assert "authentication failed" in warehouse.translate(auth).message
    network = errors.OperationalError(msg="Could not connect to Snowflake backend", errno=250001)
    assert isinstance(warehouse.translate(network), TransientWarehouseError)
    sql = errors.ProgrammingError(msg="SQL compilation error", errno=1003)
    assert isinstance(warehouse.translate(sql), TerminalWarehouseError)


def test_statements_per_run_on_snowflake_do_not_grow_with_events(twin_warehouses, statements):
    _, snow, until = twin_warehouses
    run = snow.run(
        Selection(table="backend__events"), until - timedelta(days=2), until, alert=False
    )
    sent = list(statements)
    assert len(run.events) == 7
    # Every event in one statement, then one for samples, one for undeclared names if any.
    assert 1 <= len(sent) <= 3, [s[:80] for s in sent]
    assert sent[0].count("UNION ALL") >= 7


def _counts(project, since, until):
    """Events per name and hour, counted by the run's own table statement."""
    from eventqa.execution.runner import run_tables
    from eventqa.results.models import Window
    from eventqa.warehouse import open_warehouse

    warehouse = open_warehouse(project.config)
    jobs = project.catalog.load_jobs(Selection(table="backend__events"))
    connection = warehouse.connect()
    try:
        run = run_tables(
            warehouse, connection, "backend__events", jobs, None,
            Window(since=since, until=until), bucket=timedelta(hours=1),
        )  # fmt: skip
    finally:
        warehouse.close(connection)
    return run


def test_counts_per_event_and_hour_agree_between_warehouses(twin_warehouses):
    import duckdb

    duck, snow, until = twin_warehouses
    since = until - timedelta(days=2)
    on_duckdb, on_snowflake = _counts(duck, since, until), _counts(snow, since, until)
    path = duck.directory / ".eventqa" / "warehouse.duckdb"
    with duckdb.connect(str(path), read_only=True) as connection:
        expected = connection.execute(
            "SELECT event_name, date_trunc('hour', event_timestamp AT TIME ZONE 'UTC'), COUNT(*),"
            " MAX(event_timestamp) FROM backend__events"
            " WHERE event_timestamp >= ? AND event_timestamp < ? GROUP BY ALL",
            [since, until],
        ).fetchall()
    by_name: dict[str, dict] = {}
    for name, hour, count, _ in expected:
        by_name.setdefault(name, {})[hour.replace(tzinfo=UTC)] = count
    assert on_duckdb.counts == by_name and on_snowflake.counts == by_name
    assert sum(map(sum, (c.values() for c in by_name.values()))) > 300
    newest = {name: latest.astimezone(UTC) for name, _, _, latest in expected}
    for name, latest in on_duckdb.newest.items():
        assert latest == max(v for n, _, _, v in expected if n == name).astimezone(UTC)
        assert on_snowflake.newest[name] == latest
    assert set(on_duckdb.newest) == set(newest)


def test_a_check_the_emulator_rejects_is_an_error_for_that_check_alone(twin_warehouses):
    from eventqa.results import Status
    from eventqa.service import Project
    from tests.execution.test_compiled_run import MISMATCH, with_rule

    _, snow, until = twin_warehouses
    with_rule(snow.config_path, "payment_failed", MISMATCH)
    snow = Project(snow.config_path)
    snow.generate()
    run = snow.run(Selection(table="backend__events"), until - timedelta(days=7), until)
    assert len(run.events) == 7 and run.exit_code == 3
    errors = [(e.event, c) for e in run.events for c in e.checks if c.status == Status.ERROR]
    assert [(event, c.expectation_type) for event, c in errors] == [
        ("payment_failed", "expect_column_values_to_be_between")
    ]
    assert "VARCHAR" in (errors[0][1].error or "")
    payment = next(e for e in run.events if e.event == "payment_failed")
    assert sum(c.status == Status.FAILED for c in payment.checks) >= 1  # the rest still ran
    assert any(e.status == Status.FAILED for e in run.events if e.event != "payment_failed")
