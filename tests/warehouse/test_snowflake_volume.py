"""The volume history's grouped backfill on the Snowflake emulator, agreeing with DuckDB."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from eventqa.service import Project, Selection
from tests.conftest import events_proto
from tests.monitoring.test_volume_run import CHECKS, EVENTS, PROTO, UNTIL, backfills, write_events
from tests.warehouse.conftest import copy_to_snowflake, write_connections

pytestmark = pytest.mark.snowflake


def test_backfill_and_lookback_run_on_snowflake_as_on_duckdb(
    make_project, fakesnow_server, tmp_path, monkeypatch
):
    root = make_project({"events.proto": events_proto(PROTO, EVENTS)}, CHECKS)
    duck = Project(root / "checks.yaml")
    duck.generate()
    write_events(root / "wh.duckdb", days=9, scale=0.1)
    copy_to_snowflake(root / "wh.duckdb", fakesnow_server, ["backend__events"])
    write_connections(tmp_path / "home", "eventqa_test", fakesnow_server)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path / "home"))
    snow_root = tmp_path / "snow"
    snow_root.mkdir()
    (snow_root / "checks.yaml").write_text(
        CHECKS.replace(
            "{type: duckdb, path: wh.duckdb}", "{type: snowflake, connection_name: eventqa_test}"
        )
    )
    (snow_root / "contracts").symlink_to(root / "contracts")
    (snow_root / "expectations").symlink_to(root / "expectations")
    snow = Project(snow_root / "checks.yaml")

    sent: list[str] = []

    class Log(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sent.append(record.getMessage())

    logger = logging.getLogger("eventqa.sql")
    handler, level = Log(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        stored = []
        for project in (duck, snow):
            sent.clear()
            project.run(Selection(all=True), None, UNTIL, alert=False)
            assert len(backfills(sent)) == 1
            sent.clear()
            run = project.run(Selection(all=True), None, UNTIL + timedelta(hours=3), alert=False)
            assert len(backfills(sent)) == 1  # the late-data lookback only
            store = project.result_store()
            try:
                stored.append(
                    store.volume_history(
                        "backend__events", UNTIL - timedelta(days=20), UNTIL + timedelta(hours=3)
                    )
                )
            finally:
                store.close()
            volume = next(
                c for e in run.events if e.event == "thing_happened" for c in e.checks
                if c.check_id == "volume"
            )  # fmt: skip
            assert volume.observed_value["status"] == "learning"  # 9 days of 21
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    (on_duckdb, newest_duckdb), (on_snowflake, newest_snowflake) = stored
    assert on_duckdb == on_snowflake and len(on_duckdb["thing_happened"]) == 9 * 24
    assert newest_duckdb == newest_snowflake
