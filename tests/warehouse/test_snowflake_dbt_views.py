"""`eventqa export dbt` staging views in Snowflake's dialect read the values DuckDB's do.

Here beside the other emulator tests: fakesnow's server can start once per process.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.warehouse.conftest import connect

pytestmark = pytest.mark.snowflake

EVENTS = {
    "buyer_placed_order": "backend__events",
    "user_signed_up": "backend__events",
    "user_saved_listing": "frontend__events",
}


def runnable(model: Path, table: str) -> str:
    """The model's SQL as dbt compiles it: no marker or config, the source replaced by its table."""
    sql = "\n".join(
        line for line in model.read_text().splitlines()[1:] if not line.startswith("{{ config")
    )
    return re.sub(r"\{\{ source\('eventqa', '[a-z_]+'\) \}\}", table, sql)


def same(left, right) -> bool:
    if isinstance(left, str) and isinstance(right, str) and left[:1] in "{[":
        return json.loads(left) == json.loads(right)
    if isinstance(left, float) or isinstance(right, float):
        return left is not None and right is not None and math.isclose(left, right)
    if isinstance(left, datetime) and isinstance(right, datetime):
        return left == right
    return left == right or (left is not None and right is not None and int(left) == int(right))


def test_snowflake_staging_views_agree_with_duckdb(twin_warehouses, fakesnow_server, tmp_path):
    duck, snow, _ = twin_warehouses
    duck.export("dbt", tmp_path / "duck")
    snow.export("dbt", tmp_path / "snow")
    warehouse = duck.directory / ".eventqa" / "warehouse.duckdb"
    checked = 0
    for event, table in EVENTS.items():
        model = f"stg_eventqa__{event}.sql"
        snow_sql = runnable(tmp_path / "snow" / model, table)
        assert "doc['" in snow_sql and "json_extract" not in snow_sql
        with duckdb.connect(str(warehouse), read_only=True) as db:
            db.execute("SET TimeZone = 'UTC'")
            cursor = db.execute(f"{runnable(tmp_path / 'duck' / model, table)} ORDER BY event_id")
            columns = [d[0].lower() for d in cursor.description]
            expected = cursor.fetchall()
        connection = connect(fakesnow_server)
        try:
            cursor = connection.cursor()
            cursor.execute(f"SELECT * FROM ({snow_sql}) ORDER BY event_id")
            assert [d[0].lower() for d in cursor.description] == columns
            actual = cursor.fetchall()
        finally:
            connection.close()
        assert len(actual) == len(expected) > 50
        for want, got in zip(expected, actual, strict=True):
            for name, left, right in zip(columns, want, got, strict=True):
                assert same(left, right), (event, name, left, right)
                checked += 1
    assert checked > 1000
