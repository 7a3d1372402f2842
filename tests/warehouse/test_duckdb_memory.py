"""DuckDB's memory limit keeps a run flat; a statement that cannot spill gets more, not an error."""

from __future__ import annotations

import duckdb
import pytest

from eventqa.warehouse.base import RejectedSQLError
from eventqa.warehouse.duckdb import OOM_DOUBLINGS, DuckDB

pytestmark = pytest.mark.duckdb

# A list of 2M integers cannot spill: about 16 MB that must fit in memory at once.
UNSPILLABLE = "SELECT len(list(i)) FROM range(2000000) AS t(i)"


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE t (i INTEGER)")
    return path


def limit_of(connection) -> str:
    return connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_a_statement_out_of_memory_runs_again_with_more_then_the_limit_returns(database):
    warehouse = DuckDB(database, memory_limit="4MB")
    connection = warehouse.connect()
    try:
        before = limit_of(connection)
        assert warehouse.query(connection, UNSPILLABLE) == [(2_000_000,)]
        assert limit_of(connection) == before
    finally:
        warehouse.close(connection)


def test_past_the_last_doubling_the_warehouse_refuses_the_statement(database):
    warehouse = DuckDB(database, memory_limit="4MB")
    connection = warehouse.connect()
    too_big = UNSPILLABLE.replace("2000000", str(2_000_000 * 2 ** (OOM_DOUBLINGS + 2)))
    try:
        before = limit_of(connection)
        with pytest.raises(RejectedSQLError, match=r"(?i)out of memory"):
            warehouse.query(connection, too_big, table="t")
        assert limit_of(connection) == before
        assert warehouse.query(connection, "SELECT 1") == [(1,)]
    finally:
        warehouse.close(connection)


def test_unset_the_limit_is_a_budget_that_grows_with_the_events_a_statement_checks(database):
    """Never with rows: a statement's limit follows the events it checks, whatever it reads.

    On one connection it only grows: DuckDB refuses a lower limit while it still holds what a
    larger statement used.
    """
    warehouse = DuckDB(database)
    connection = warehouse.connect()
    try:
        shown = []
        for events in (1, 100, 0):
            assert warehouse.query(connection, "SELECT count(*) FROM t", events=events) == [(0,)]
            shown.append(limit_of(connection))
        with duckdb.connect() as plain:  # what DuckDB shows for the budgets, set by hand
            expected = []
            for events in (1, 100, 100):
                plain.execute(f"SET memory_limit = '{DuckDB.budget(events)}B'")
                expected.append(limit_of(plain))
        assert shown == expected
        assert DuckDB.budget(100) > DuckDB.budget(1) > DuckDB.budget(0) > 0
    finally:
        warehouse.close(connection)


def test_a_smaller_limit_duckdb_refuses_leaves_the_larger_one(database):
    """After a large statement, the next one's smaller budget may be refused: it runs anyway."""
    warehouse = DuckDB(database, memory_limit="300MB")
    connection = warehouse.connect()
    try:
        # A result not yet read holds memory DuckDB cannot free: a tiny limit is refused.
        pending = connection.cursor()
        pending.execute("SELECT list(range) AS l FROM range(3000000)")
        warehouse.memory_limit = "8MB"
        assert warehouse.query(connection, "SELECT count(*) FROM t") == [(0,)]
        assert limit_of(connection) == "286.1 MiB"  # the larger one, kept
        pending.close()
    finally:
        warehouse.close(connection)
