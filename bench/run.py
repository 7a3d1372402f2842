"""Benchmark eventqa against hand-written single scans, with the targets of issue #10.

    python bench/run.py [--sizes 1M,20M] [--case all|one|many|demo|report] [--repeat 3] [--warmup 1]

(`make bench` runs it with the defaults.)

Cases, each timed as whole processes (median of --repeat runs after one warm-up), with the peak
RSS of the process tree (the largest process, from the kernel's accounting of each finished run).
eventqa and its baselines run in turn, one run of each per round, and a ratio is the median of
the rounds' ratios: a shared machine's speed drifts between two blocks of runs.

- one:  `eventqa run --event user_followed_user` on a warehouse where a quarter of N rows are that
        event, against one hand-written query computing the same metrics in one scan; and
        `floor.py`, that scan plus what any run on eventqa's libraries imports and opens.
- many: `eventqa run --all` on a generated project of 200 event contracts over two tables of N rows
        in all (`many_events.py`), against one hand-written query per table scanning its window
        once (`many_scan.py`).
- demo: `eventqa run --event user_followed_user` and `eventqa generate` on `eventqa demo`'s warehouse.
- report: `eventqa report` over a results store of 5,000 runs (`report.py`, its own figures).

Warehouses are cached under --cache, keyed by case, size, seed and the builders' source, so a second
run skips the build. When eventqa's JSON output reports how many SQL statements it sent (a key named
`queries`, `query_count` or `statements`, at the top or under `stats`), that count is printed too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import many_events
import many_scan
import one_event

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
EVENTQA = str(Path(PYTHON).with_name("eventqa"))
UNTIL = datetime(2026, 3, 1, tzinfo=UTC)
SPAN = timedelta(days=7)
SINCE = UNTIL - SPAN - timedelta(days=1)
SEED = 20260301
QUERY_KEYS = ("queries", "query_count", "statements")


@dataclass
class Timing:
    """Several runs of one command: wall seconds and peak RSS (MiB) of each, and exit codes."""

    seconds: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    timed_out: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def peak(self) -> float:
        return max(self.peak_mib) if self.peak_mib else float("nan")

    def spread(self) -> str:
        if self.timed_out:
            return "timed out"
        return f"{min(self.seconds):.2f}-{max(self.seconds):.2f}" if self.seconds else ""


def run_once(command: list[str], cwd: Path, timeout: float) -> tuple[float, float, int, str]:
    """Wall time, peak RSS of the process and its waited-for children (MiB), exit code, stderr."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        text = stderr.read().decode(errors="replace")
    return elapsed, usage.ru_maxrss / 1024, process.returncode, text


def measure(command: list[str], cwd: Path, args: argparse.Namespace, ok: set[int]) -> Timing:
    """`--warmup` runs that warm the file cache (exit codes checked too), then `--repeat` counted."""
    return measure_in_turn([(command, ok)], cwd, args)[0]


def measure_in_turn(
    commands: list[tuple[list[str], set[int]]], cwd: Path, args: argparse.Namespace
) -> list[Timing]:
    """Each command's timing, the commands run in turn: one run of each per round.

    A shared machine's speed drifts over minutes; timed in turn, the i-th runs of two commands
    met the same machine, and `Row.ratio` compares them pair by pair. The order turns each round,
    so no command always runs first (after the other's file cache, or its freed memory).
    """
    timings = [Timing() for _ in commands]
    for attempt in range(args.warmup + args.repeat):
        turn = attempt % len(commands)
        for index in [*range(turn, len(commands)), *range(turn)]:
            command, ok = commands[index]
            seconds, peak, code, stderr = run_once(command, cwd, args.timeout)
            if seconds >= args.timeout:
                timings[index].timed_out = True
                shown = " ".join(command[:4])
                print(f"    timed out after {args.timeout:.0f} s: {shown} ...", flush=True)
                return timings
            if code not in ok:
                raise SystemExit(f"{' '.join(command)} exited {code}:\n{stderr[-3000:]}")
            if attempt >= args.warmup:
                timings[index].seconds.append(seconds)
                timings[index].peak_mib.append(peak)
                timings[index].codes.append(code)
    return timings


def query_count(output: Path) -> int | None:
    """The number of SQL statements eventqa reports in its JSON output, when it reports one."""
    try:
        document = json.loads(output.read_text())
    except (OSError, ValueError):
        return None
    for scope in (document, document.get("stats") or {}):
        for key in QUERY_KEYS:
            if isinstance(scope.get(key), int):
                return int(scope[key])
    return None


def parse_size(text: str) -> int:
    """`1M`, `20M`, `100k` or a plain number of rows."""
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * factor)


def label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    return f"{rows // 1_000}k" if rows % 1_000 == 0 else str(rows)


def source_digest() -> str:
    """What a cached warehouse depends on: the builders' code and DuckDB's version (its hash).

    The version is read from the installed distribution: this process never imports DuckDB
    (see `cached`).
    """
    from importlib.metadata import version

    digest = hashlib.sha256(version("duckdb").encode())
    for name in ("one_event.py", "many_events.py"):
        digest.update((BENCH / name).read_bytes())
    return digest.hexdigest()[:12]


def cached(cache: Path, key: str, build: Callable[[Path], object]) -> Path:
    """The warehouse for `key`, built by `build(path)` unless the cache already holds it."""
    path = cache / f"{key}.duckdb"
    if path.exists():
        print(f"  cached warehouse {path.name}", flush=True)
        return path
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"{key}.partial.duckdb"
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    # Built in a child process. Every command this process starts inherits its peak RSS: Linux
    # counts the high-water mark of the memory a vfork'ed child leaves at exec (this process's)
    # in the child's ru_maxrss. Built in-process, a 20M-row warehouse made every later command
    # read 500 MiB or more.
    builder = multiprocessing.get_context("fork").Process(target=build, args=(partial,))
    builder.start()
    builder.join()
    if builder.exitcode != 0:
        raise SystemExit(f"building {path.name} failed (exit {builder.exitcode})")
    partial.rename(path)
    print(f"  built {path.name} in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def eventqa_run(*selection: str, output: Path) -> list[str]:
    window = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]
    return [EVENTQA, "run", *selection, *window, "--format", "json", "--output", str(output),
            "--no-alert"]  # fmt: skip


@dataclass
class Row:
    """One line of the results table."""

    case: str
    rows: int | None
    eventqa: Timing
    baseline: Timing | None = None
    queries: int | None = None
    # Timed in turn with its baseline (`measure_in_turn`): the ratio is the median of each
    # round's ratio, not the ratio of two medians taken minutes apart.
    paired: bool = False

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.eventqa.timed_out or self.baseline.timed_out:
            return None
        if self.paired and len(self.eventqa.seconds) == len(self.baseline.seconds):
            pairs = zip(self.eventqa.seconds, self.baseline.seconds, strict=True)
            return statistics.median(mine / theirs for mine, theirs in pairs)
        return self.eventqa.median / self.baseline.median


def bench_one(rows: int, cache: Path, work: Path, args: argparse.Namespace) -> list[Row]:
    """`eventqa run --event user_followed_user` against the single scan, on `rows` rows.

    A second row times `floor.py` against the same scan: the nearest any run importing click,
    pydantic and SQLAlchemy can come to it, so the ratio above it is eventqa's own.
    """
    key = f"one-{rows}-{source_digest()}"
    warehouse = cached(cache, key, lambda p: one_event.build_warehouse(p, rows, UNTIL - SPAN, SPAN))
    project = work / f"one-{rows}"
    for name in ("contracts", "expectations"):
        shutil.copytree(REPO / name, project / name)
    checks = (REPO / "checks.yaml").read_text()
    (project / "checks.yaml").write_text(
        checks.replace("path: .eventqa/warehouse.duckdb", f"path: {json.dumps(str(warehouse))}")
    )
    sql = project / "scan.sql"
    sql.write_text(one_event.SCAN_SQL)
    output = project / "run.json"
    window = [str(warehouse), SINCE.isoformat(), UNTIL.isoformat()]
    print(
        f"  in turn: eventqa run --event {one_event.EVENT}, the hand-written scan, and the "
        "stack's floor (the scan, plus what every run imports and opens) ...", flush=True
    )  # fmt: skip
    timing, baseline, floor = measure_in_turn(
        [
            (eventqa_run("--event", one_event.EVENT, output=output), {0, 1}),
            ([PYTHON, str(BENCH / "scan.py"), *window, str(sql)], {0}),
            ([PYTHON, str(BENCH / "floor.py"), *window, str(sql), "checks.yaml"], {0}),
        ],
        project,
        args,
    )
    return [
        Row("one event", rows, timing, baseline, query_count(output), paired=True),
        Row("  stack floor", rows, floor, baseline, paired=True),
    ]


def bench_many(rows: int, cache: Path, work: Path, args: argparse.Namespace) -> Row:
    """`eventqa run --all` over the 200-event project against one hand-written scan per table."""
    events = many_events.make_events(args.seed)
    key = f"many-{rows}-{args.seed}-{source_digest()}"
    warehouse = cached(
        cache, key, lambda p: many_events.build_warehouse(p, events, rows, UNTIL - SPAN, SPAN)
    )
    project = work / f"many-{rows}"
    many_events.write_project(project, events, warehouse)
    started = time.perf_counter()
    done = subprocess.run([EVENTQA, "generate"], cwd=project, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"eventqa generate failed in {project}:\n{done.stdout}{done.stderr}")
    print(f"  eventqa generate: {time.perf_counter() - started:.1f} s", flush=True)
    queries = []
    for table in ("backend__events", "frontend__events"):
        queries.append(project / f"scan_{table}.sql")
        queries[-1].write_text(many_scan.scan_sql(events, table))
    output = project / "run.json"
    print("  in turn: eventqa run --all, the hand-written scans ...", flush=True)
    scan = [PYTHON, str(BENCH / "scan.py"), str(warehouse), SINCE.isoformat(), UNTIL.isoformat()]
    timing, baseline = measure_in_turn(
        [(eventqa_run("--all", output=output), {0, 1}), ([*scan, *map(str, queries)], {0})],
        project,
        args,
    )
    return Row("many events", rows, timing, baseline, query_count(output), paired=True)


def bench_demo(work: Path, args: argparse.Namespace) -> list[Row]:
    """`eventqa run --event user_followed_user` and `eventqa generate` on the demo warehouse."""
    project = work / "demo"
    for name in ("contracts", "expectations"):
        shutil.copytree(REPO / name, project / name)
    shutil.copy(REPO / "checks.yaml", project / "checks.yaml")
    subprocess.run([EVENTQA, "demo"], cwd=project, check=True, capture_output=True)
    output = project / "run.json"
    run = [EVENTQA, "run", "--event", one_event.EVENT, "--format", "json", "--output",
           str(output), "--no-alert"]  # fmt: skip
    print(f"  eventqa run --event {one_event.EVENT} (demo) ...", flush=True)
    timing = measure(run, project, args, {0, 1})
    print("  eventqa generate (demo) ...", flush=True)
    generate = measure([EVENTQA, "generate"], project, args, {0})
    return [
        Row("demo: run --event", None, timing, queries=query_count(output)),
        Row("demo: generate", None, generate),
    ]


def verdicts(rows: list[Row]) -> list[tuple[str, str, str, bool | None]]:
    """Issue #10's targets: (target, measured, limit, passed); None when not measured."""
    found: list[tuple[str, str, str, bool | None]] = []

    def of(case: str) -> dict[int, Row]:
        return {r.rows: r for r in rows if r.case == case and r.rows is not None}

    for case, limits in (("one event", {1_000_000: 2.0, 20_000_000: 1.3}),
                         ("many events", {20_000_000: 2.0})):  # fmt: skip
        measured = of(case)
        for size, limit in limits.items():
            row = measured.get(size)
            ratio = row.ratio if row else None
            text = "not run" if row is None else ("timed out" if ratio is None else f"{ratio:.2f}x")
            passed = None if row is None else (ratio is not None and ratio <= limit)
            found.append((f"{case}: eventqa / scan at {label(size)}", text, f"<= {limit}x", passed))
        if 1_000_000 in measured and 20_000_000 in measured:
            small, large = measured[1_000_000].eventqa.peak, measured[20_000_000].eventqa.peak
            growth = large / small - 1
            known = not math.isnan(growth)
            found.append((f"{case}: peak RSS growth 1M -> 20M",
                          f"{growth:+.1%}" if known else "timed out", "<= +10%",
                          growth <= 0.10 if known else False))  # fmt: skip
        else:
            found.append((f"{case}: peak RSS growth 1M -> 20M", "not run", "<= +10%", None))
    for case, limit in (("demo: run --event", 1.5), ("demo: generate", 2.0)):
        row = next((r for r in rows if r.case == case), None)
        seconds = row.eventqa.median if row else None
        text = "not run" if seconds is None else f"{seconds:.2f} s"
        passed = None if seconds is None else seconds <= limit
        found.append((f"{case} (whole process)", text, f"<= {limit} s", passed))
    return found


def _figure(value: float | None, digits: int, width: int) -> str:
    known = value is not None and not math.isnan(value)
    return f"{value:{width}.{digits}f}" if known else f"{'-':>{width}}"


def report(rows: list[Row]) -> None:
    """The figures, then the targets with PASS/MISS."""
    print("\ncase                 rows   eventqa s (min-max)     scan s    ratio  eventqa MiB"
          "  scan MiB  queries")  # fmt: skip
    for row in rows:
        base = row.baseline
        print(
            f"{row.case:<18} {label(row.rows) if row.rows else '':>6}  "
            f"{_figure(row.eventqa.median, 2, 7)} ({row.eventqa.spread():>11})  "
            f"{_figure(base.median if base else None, 2, 8)}  "
            f"{_figure(row.ratio, 2, 6)}{'x' if row.ratio is not None else ' '}  "
            f"{_figure(row.eventqa.peak, 0, 11)}  {_figure(base.peak if base else None, 0, 8)}  "
            f"{row.queries if row.queries is not None else 'n/a':>7}"
        )
    print("\ntarget                                          measured     limit      verdict")
    for target, measured, limit, passed in verdicts(rows):
        verdict = "-" if passed is None else ("PASS" if passed else "MISS")
        print(f"{target:<47} {measured:>10}   {limit:<9}  {verdict}")


def precompile() -> None:
    """Byte-compile eventqa's modules, as installing its wheel does.

    An editable checkout compiles a module when first imported, and never keeps it where
    PYTHONDONTWRITEBYTECODE is set: every timed process would then compile eventqa's own source
    (about 35 ms of a 0.45 s run), which no installed eventqa does.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("eventqa")
    folders = (spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        compileall.compile_dir(folder, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,20M", help="rows per warehouse, e.g. 100k,1M,20M")
    parser.add_argument("--case", choices=("all", "one", "many", "demo", "report"), default="all")
    parser.add_argument("--repeat", type=int, default=3, help="counted runs per command")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs first")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--seed", type=int, default=SEED, help="of the many-events project")
    parser.add_argument("--cache", type=Path, default=REPO / ".eventqa" / "bench-cache")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    precompile()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="eventqa-bench-") as tmp:
        work = Path(tmp)
        for size in sizes:
            if args.case in ("all", "one"):
                print(f"one event, {label(size)} rows", flush=True)
                rows += bench_one(size, args.cache, work, args)
            if args.case in ("all", "many"):
                print(f"many events, {label(size)} rows", flush=True)
                rows.append(bench_many(size, args.cache, work, args))
        if args.case in ("all", "demo"):
            print("demo warehouse", flush=True)
            rows += bench_demo(work, args)
    if rows:
        report(rows)
    if args.case in ("all", "report"):
        print("\nreport from 5,000 stored runs", flush=True)
        command = [PYTHON, str(BENCH / "report.py"), "--cache", str(args.cache)]
        subprocess.run([*command, "--repeat", str(args.repeat)], check=False)
    # Each peak above is at least this one (see `cached`): it should stay far below them.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nbench took {time.perf_counter() - started:.0f} s; its own peak RSS {own:.0f} MiB")


if __name__ == "__main__":
    main()
