"""Benchmark: `eventqa run --event user_followed_user` against a single hand-written scan and GX on pandas.

    python bench/run.py [--sizes 1000000 20000000]      (or `make bench`)

For each size it builds a DuckDB warehouse (a quarter of the rows are user_followed_user), then
times, each in its own process so that peak memory is that process's alone:

- eventqa: the real CLI, `eventqa run --event user_followed_user` over the whole data span;
- single scan: one hand-written SQL query computing the same metrics in one pass over the rows;
- GX on pandas: the event's rows pulled into a DataFrame and validated by GX's pandas engine.

It prints each time and peak RSS, and ratios against the single scan measured in the same run,
plus eventqa's peak memory growth from the smallest to the largest size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
UNTIL = datetime(2026, 3, 1, tzinfo=UTC)
SPAN = timedelta(days=7)


@dataclass
class Measure:
    seconds: float
    peak_mib: float


def measure(command: list[str], cwd: Path, failing_ok: bool = False) -> Measure:
    """Run a command; return its wall time and its own peak RSS (not the parent's)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if code != 0 and not (failing_ok and code == 1):  # eventqa: 1 = the planted defects found
        raise SystemExit(f"{' '.join(command)} exited {code}:\n{stderr}")
    return Measure(elapsed, usage.ru_maxrss / 1024)


def build_warehouse(path: Path, rows: int) -> None:
    """`rows` backend events over 7 days; every 4th a user_followed_user, a few of them broken."""
    import duckdb

    start = UNTIL - SPAN
    seconds = int(SPAN.total_seconds())
    with duckdb.connect(str(path)) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(
            f"""
            CREATE TABLE backend__events AS
            SELECT 'evt_' || i AS event_id,
                   CASE WHEN i % 4 = 0 THEN 'user_followed_user'
                        ELSE 'seller_started_livestream' END AS event_name,
                   TIMESTAMPTZ '{start.isoformat()}' + to_seconds((i * {seconds}) // {rows})
                     AS event_timestamp,
                   CASE
                     WHEN i % 4 <> 0 THEN json_object('livestream_id', i, 'seller_id', i % 977)
                     WHEN i % 4000 = 0 THEN json_object('follower_id', i, 'followee_id', i)
                     WHEN i % 10000 = 4 THEN json_object('follower_id', i, 'followee_id', CAST(i AS VARCHAR))
                     ELSE json_object('follower_id', i, 'followee_id', (i * 7919) % 100000007)
                   END::JSON AS payload
            FROM range({rows}) AS t(i)
            """
        )
        connection.execute(
            "CREATE TABLE frontend__events AS SELECT * FROM backend__events WHERE false"
        )


SINGLE_SCAN = """
import duckdb, sys
connection = duckdb.connect(sys.argv[1], read_only=True)
connection.execute("SET TimeZone = 'UTC'")
connection.execute("SET enable_progress_bar = false")
connection.execute('''
SELECT
  count(*) AS events,
  count(*) - count(event_id) AS missing_ids,
  count(*) - count(DISTINCT event_id) AS duplicate_ids,
  count(*) - count(event_timestamp) AS missing_timestamps,
  count(*) FILTER (WHERE event_timestamp > CAST($until AS TIMESTAMPTZ) + INTERVAL 5 MINUTE) AS future,
  max(event_timestamp) AS newest,
  count(*) FILTER (WHERE json_type(payload) <> 'OBJECT') AS not_objects,
  count(*) FILTER (WHERE list_has_any(json_keys(payload), ['follower_id', 'followee_id']) = false
                     OR len(list_filter(json_keys(payload), lambda k: k NOT IN ('follower_id', 'followee_id'))) > 0)
    AS undeclared_keys,
  count(*) FILTER (WHERE json_type(payload, '$.follower_id') NOT IN ('BIGINT', 'UBIGINT', 'NULL'))
    AS bad_follower,
  count(*) FILTER (WHERE json_type(payload, '$.followee_id') NOT IN ('BIGINT', 'UBIGINT', 'NULL'))
    AS bad_followee,
  count(*) FILTER (WHERE payload->>'follower_id' = payload->>'followee_id') AS self_follows,
  count(*) FILTER (WHERE payload->>'follower_id' IS NULL) AS null_followers,
  count(*) FILTER (WHERE payload->>'followee_id' IS NULL) AS null_followees,
  count(*) - count(DISTINCT (payload->>'follower_id', payload->>'followee_id')) AS duplicate_pairs
FROM backend__events
WHERE event_name = 'user_followed_user' AND event_timestamp >= $since AND event_timestamp < $until
''', {"since": sys.argv[2], "until": sys.argv[3]}).fetchall()
"""

GX_PANDAS = """
import sys, duckdb, json
import great_expectations as gx
from great_expectations.core import ExpectationSuite
from great_expectations.data_context.types.base import ProgressBarsConfig
connection = duckdb.connect(sys.argv[1], read_only=True)
frame = connection.execute('''
  SELECT event_id, event_timestamp, CAST(payload AS VARCHAR) AS payload FROM backend__events
  WHERE event_name = 'user_followed_user' AND event_timestamp >= $since AND event_timestamp < $until
''', {"since": sys.argv[2], "until": sys.argv[3]}).df()
payloads = frame.pop("payload").map(json.loads)
frame["follower_id"] = payloads.map(lambda p: p.get("follower_id"))
frame["followee_id"] = payloads.map(lambda p: p.get("followee_id"))
frame["follower_ok"] = frame["follower_id"].map(lambda v: v is None or type(v) is int)
frame["followee_ok"] = frame["followee_id"].map(lambda v: v is None or type(v) is int)
frame["keys"] = payloads.map(lambda p: ",".join(sorted(p)))
context = gx.get_context(mode="ephemeral")
context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
batch = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b").get_batch(batch_parameters={"dataframe": frame})
import great_expectations.expectations as gxe
checks = [
    gxe.ExpectColumnValuesToNotBeNull(column="event_id"),
    gxe.ExpectColumnValuesToBeUnique(column="event_id"),
    gxe.ExpectColumnValuesToNotBeNull(column="event_timestamp"),
    gxe.ExpectColumnValuesToBeInSet(column="keys", value_set=["followee_id,follower_id"]),
    gxe.ExpectColumnValuesToBeInSet(column="follower_ok", value_set=[True]),
    gxe.ExpectColumnValuesToBeInSet(column="followee_ok", value_set=[True]),
    gxe.ExpectColumnPairValuesToBeEqual(column_A="follower_id", column_B="followee_id", mostly=0.0),
    gxe.ExpectColumnProportionOfNonNullValuesToBeBetween(column="follower_id", min_value=1.0),
    gxe.ExpectColumnProportionOfNonNullValuesToBeBetween(column="followee_id", min_value=1.0),
    gxe.ExpectCompoundColumnsToBeUnique(column_list=["follower_id", "followee_id"]),
    gxe.ExpectTableRowCountToBeBetween(min_value=1),
    gxe.ExpectColumnMaxToBeBetween(column="event_timestamp"),
]
batch.validate(ExpectationSuite(name="s", expectations=checks), result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20})
"""


def project_for(directory: Path, warehouse: Path) -> Path:
    """The example project pointed at a benchmark warehouse."""
    for name in ("contracts", "expectations"):
        shutil.copytree(REPO / name, directory / name)
    checks = (REPO / "checks.yaml").read_text()
    checks = checks.replace("path: .eventqa/warehouse.duckdb", f"path: {warehouse}")
    (directory / "checks.yaml").write_text(checks)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 20_000_000])
    args = parser.parse_args()
    eventqa = Path(PYTHON).with_name("eventqa")
    since, until = (UNTIL - SPAN - timedelta(days=1)).isoformat(), UNTIL.isoformat()
    results: dict[int, dict[str, Measure]] = {}
    with tempfile.TemporaryDirectory(prefix="eventqa-bench-") as tmp:
        for size in args.sizes:
            workdir = Path(tmp) / str(size)
            workdir.mkdir()
            warehouse = workdir / "warehouse.duckdb"
            print(f"building {size:,} rows ...", flush=True)
            build_warehouse(warehouse, size)
            project = project_for(workdir / "project", warehouse)
            runs = {
                "eventqa": [str(eventqa), "run", "--event", "user_followed_user",
                            "--since", since, "--until", until, "--format", "json"],
                "single scan": [PYTHON, "-c", SINGLE_SCAN, str(warehouse), since, until],
                "GX on pandas": [PYTHON, "-c", GX_PANDAS, str(warehouse), since, until],
            }  # fmt: skip
            results[size] = {}
            for name, command in runs.items():
                results[size][name] = measure(command, project, failing_ok=name == "eventqa")
                m = results[size][name]
                print(f"  {name:<13} {m.seconds:8.2f} s  {m.peak_mib:8.0f} MiB peak", flush=True)

    print("\nsize         eventqa/scan  pandas/scan  eventqa MiB  scan MiB  pandas MiB")
    for size, m in results.items():
        scan = m["single scan"]
        print(
            f"{size:>11,}  {m['eventqa'].seconds / scan.seconds:11.2f}x  "
            f"{m['GX on pandas'].seconds / scan.seconds:10.2f}x  {m['eventqa'].peak_mib:11.0f}  "
            f"{scan.peak_mib:8.0f}  {m['GX on pandas'].peak_mib:10.0f}"
        )
    smallest, largest = min(results), max(results)
    growth = results[largest]["eventqa"].peak_mib / results[smallest]["eventqa"].peak_mib - 1
    print(
        f"\neventqa peak memory growth {smallest:,} -> {largest:,} rows: {growth:+.1%} "
        "(target: at most +10%)"
    )
    ratio = results[largest]["eventqa"].seconds / results[largest]["single scan"].seconds
    print(f"eventqa / single scan at {largest:,} rows: {ratio:.2f}x (target: at most 1.5x)")


if __name__ == "__main__":
    main()
