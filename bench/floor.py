"""The floor of eventqa's stack: the hand-written scan, plus what every `eventqa run` must do.

    python bench/floor.py WAREHOUSE SINCE UNTIL QUERY.sql CHECKS.yaml

In one process: import click (the command line; a run writing JSON to a file never imports
rich), load CHECKS.yaml with eventqa's pydantic models, run QUERY.sql in a thread, and open an
SQLite results store with SQLAlchemy while DuckDB scans, as eventqa overlaps them. Nothing else:
no suites, no compiling, no results, no output. Its ratio to `scan.py` is how close to the scan
any run on these libraries can come on this machine; eventqa's own work is the difference between
this program and `eventqa run`.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import threading
from pathlib import Path

from scan import connect, window


def main() -> None:
    warehouse, since, until, query, checks = sys.argv[1:]
    gc.set_threshold(10_000, 10, 10)  # as eventqa's command line does
    import click  # noqa: F401 (imported for its cost: eventqa's command line)

    from eventqa.config.loader import load_config

    load_config(Path(checks))
    sent = threading.Event()
    failed: list[BaseException] = []

    def scan() -> None:
        try:
            connection = connect(warehouse)
            sql = Path(query).read_text()
            sent.set()  # like eventqa: the store opens as the statement leaves, DuckDB off the GIL
            connection.execute(sql, window(sql, since, until)).fetchall()
        except BaseException as error:
            failed.append(error)
        finally:
            sent.set()

    thread = threading.Thread(target=scan)
    thread.start()
    sent.wait()
    import sqlalchemy

    with tempfile.TemporaryDirectory() as folder:
        engine = sqlalchemy.create_engine(f"sqlite:///{folder}/results.db")
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
        thread.join()
    if failed:
        raise SystemExit(f"the scan failed: {failed[0]}")
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown, as eventqa's command line


if __name__ == "__main__":
    main()
