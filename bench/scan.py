"""The hand-written baseline: run each SQL file once against a warehouse, in this one process.

    python bench/scan.py WAREHOUSE SINCE UNTIL QUERY.sql [QUERY.sql ...]

Each query gets the window as bound parameters ($since, $until, and $future_after, the far future:
a re-run of a past window takes no future-dated events, as eventqa does).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    import duckdb

    warehouse, since, until, *queries = sys.argv[1:]
    values = {"since": since, "until": until, "future_after": "9999-12-31T00:00:00+00:00"}
    connection = duckdb.connect(warehouse, read_only=True)
    connection.execute("SET TimeZone = 'UTC'")
    for query in queries:
        sql = Path(query).read_text()
        connection.execute(sql, {k: v for k, v in values.items() if f"${k}" in sql}).fetchall()


if __name__ == "__main__":
    main()
