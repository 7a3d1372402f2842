"""The hand-written baseline: run each SQL file once against a warehouse, in this one process.

    python bench/scan.py WAREHOUSE SINCE UNTIL QUERY.sql [QUERY.sql ...]

Each query gets the window as bound parameters ($since, $until, and $future_after, the far future:
a re-run of a past window takes no future-dated events, as eventqa does).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def connect(warehouse: str) -> Any:
    """A read-only DuckDB connection to the warehouse file, in UTC."""
    import duckdb

    connection = duckdb.connect(warehouse, read_only=True)
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def window(sql: str, since: str, until: str) -> dict[str, str]:
    """The bound parameters `sql` names, of $since, $until and $future_after."""
    values = {"since": since, "until": until, "future_after": "9999-12-31T00:00:00+00:00"}
    return {name: value for name, value in values.items() if f"${name}" in sql}


def main() -> None:
    warehouse, since, until, *queries = sys.argv[1:]
    connection = connect(warehouse)
    for query in queries:
        sql = Path(query).read_text()
        connection.execute(sql, window(sql, since, until)).fetchall()


if __name__ == "__main__":
    main()
