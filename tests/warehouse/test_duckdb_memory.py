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


def _shown(limit: int) -> str:
    """How DuckDB shows a limit of `limit` bytes."""
    with duckdb.connect() as plain:
        plain.execute(f"SET memory_limit = '{limit}B'")
        return limit_of(plain)


def test_unset_the_limit_is_a_budget_that_grows_with_the_events_a_statement_checks(database):
    """Never with rows: a statement runs under a limit that follows the events it checks."""
    warehouse = DuckDB(database)
    connection = warehouse.connect()
    try:
        during = [
            warehouse.query(connection, "SELECT current_setting('memory_limit')", events=n)[0][0]
            for n in (1, 100, 0)
        ]
        assert during == [_shown(DuckDB.budget(n)) for n in (1, 100, 0)]
        assert DuckDB.budget(100) > DuckDB.budget(1) > DuckDB.budget(0) > 0
    finally:
        warehouse.close(connection)


def test_statements_in_flight_on_one_database_add_their_budgets(database):
    """Connections to one file share DuckDB's database, and its one limit: it is their sum."""
    first, second = DuckDB(database), DuckDB(database)
    one, other = first.connect(), second.connect()
    try:
        first._need(one, DuckDB.budget(100))
        second._need(other, DuckDB.budget(50))
        both = DuckDB.budget(100) + DuckDB.budget(50)
        assert limit_of(one) == limit_of(other) == _shown(both)
        first._need(one, None)  # done: the other's alone
        assert limit_of(other) == _shown(DuckDB.budget(50))
        second._need(other, None)
        assert limit_of(other) == _shown(DuckDB.budget(0))
    finally:
        first.close(one)
        second.close(other)


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
