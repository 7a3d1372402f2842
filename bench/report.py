"""Time `eventqa report` over a results store of 5,000 runs (issue #12: <= 5 s).

    python bench/report.py [--runs 5000] [--events-per-run 1] [--repeat 3] [--cache DIR]

(`python bench/run.py --case report`, and `make bench`, run it too.)

The store is filled from one real `eventqa run --all` on the demo warehouse: its results are stored
again and again, one run per hour, each run checking `--events-per-run` events in turn (1: the
scheduler's one job per event; 13: every demo event in every run), a few checks failing now and
then, each run carrying a volume result with 24 hourly buckets. The store is cached under --cache.
Each timing is the whole `eventqa report` process (median of --repeat, after one warm-up); the
page's size is printed too.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eventqa.results import CheckResult, EventResult

REPO = Path(__file__).resolve().parents[1]
EVENTQA = str(Path(sys.executable).with_name("eventqa"))
LIMIT_SECONDS = 5.0
UNTIL = datetime(2026, 3, 1, tzinfo=UTC)


def volume_result(until: datetime, rng: random.Random) -> CheckResult:
    from eventqa.results import CheckResult, Status

    buckets = []
    for hour in range(24):
        start = until - timedelta(hours=24 - hour)
        expected = 400.0 + 150.0 * ((start.hour - 12) ** 2 < 36)
        observed = int(expected * rng.uniform(0.8, 1.2))
        buckets.append({
            "start": start.isoformat(), "observed": observed, "expected": expected,
            "low": expected * 0.6, "high": expected * 1.4, "anomaly": None,
        })  # fmt: skip
    last = buckets[-1]
    return CheckResult(
        expectation_type="eventqa_volume", column=None, check_id="volume", status=Status.PASSED,
        severity="error", check="volume", description="volume is within its usual band",
        origin="checks.yaml#defaults.volume",
        observed_value={**{k: last[k] for k in ("observed", "expected", "low", "high")},
                        "kind": None, "explanation": "within the usual band", "buckets": buckets},
    )  # fmt: skip


def vary(event: EventResult, rng: random.Random) -> EventResult:
    """The event's result with a check or two failing now and then (history strips vary)."""
    from eventqa.results import Status

    checks = list(event.checks)
    if rng.random() < 0.1:
        for index in rng.sample(range(len(checks)), k=min(2, len(checks))):
            checks[index] = checks[index].model_copy(
                update={"status": Status.FAILED, "unexpected_count": rng.randint(1, 50)}
            )
    status = Status.worst([c.status for c in checks])
    return event.model_copy(update={"checks": checks, "status": status})


def build_store(project_dir: Path, runs: int, per_run: int) -> None:
    """Demo warehouse, one real run of every event, then `runs` stored runs built from it."""
    import sqlalchemy as sa

    from eventqa.results import RunResult
    from eventqa.results.models import Window
    from eventqa.service import Project, Selection

    project = Project(project_dir / "checks.yaml")
    until = project.demo(rows=20_000).until
    real = project.run(Selection(all=True), until=until, alert=False)
    store = project.result_store()
    sa.event.listen(store.engine, "connect", lambda c, _: c.execute("PRAGMA synchronous=OFF"))
    store.engine.dispose()
    rng = random.Random(12)
    events = real.events
    for n in range(runs):
        end = UNTIL - timedelta(hours=runs - n)
        chosen = [events[(n * per_run + k) % len(events)] for k in range(per_run)]
        checked = [
            vary(e, rng).model_copy(update={"checks": [*vary(e, rng).checks,
                                                        volume_result(end, rng)]})
            for e in chosen
        ]  # fmt: skip
        window = Window(since=end - timedelta(hours=1), until=end)
        store.save(RunResult(run_id=f"bench{n:05}", window=window, events=checked))
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--events-per-run", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=REPO / ".eventqa" / "bench-cache")
    args = parser.parse_args()
    key = f"report-{args.runs}-{args.events_per_run}"
    cached = args.cache / key
    if not (cached / ".eventqa" / "results.db").exists():
        print(f"building a store of {args.runs:,} runs ({args.events_per_run} events each)...",
              flush=True)  # fmt: skip
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="eventqa-bench-report-") as tmp:
            work = Path(tmp) / "project"
            work.mkdir()
            for name in ("contracts", "expectations"):
                shutil.copytree(REPO / name, work / name)
            shutil.copy(REPO / "checks.yaml", work / "checks.yaml")
            build_store(work, args.runs, args.events_per_run)
            (work / ".eventqa" / "warehouse.duckdb").unlink()
            shutil.rmtree(cached, ignore_errors=True)
            shutil.copytree(work, cached)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    output = cached / ".eventqa" / "report.html"
    command = [EVENTQA, "--config", str(cached / "checks.yaml"), "report", "--output", str(output)]
    seconds = []
    for attempt in range(args.repeat + 1):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"eventqa report failed ({done.returncode}): {done.stderr.strip()}")
        if attempt:  # the first is a warm-up (file cache)
            seconds.append(elapsed)
    median = statistics.median(seconds)
    from eventqa.service import Project

    project = Project(cached / "checks.yaml")
    project.report(output)  # warm: imports, config, file cache
    inside = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        project.report(output)
        inside.append(time.perf_counter() - started)
    import os

    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{cached / '.eventqa' / 'results.db'}")
    with engine.connect() as connection:
        counts = [
            connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("runs", "event_results", "check_results")
        ]
    engine.dispose()
    print(done.stdout.strip())
    print(
        f"report: {counts[0]:,} runs, {counts[1]:,} event results, {counts[2]:,} check results; "
        f"page {output.stat().st_size / 1024:,.0f} KiB"
    )
    print(
        f"Project.report() in process (queries, page, write): {statistics.median(inside):.2f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    verdict = "PASS" if median <= LIMIT_SECONDS else "FAIL"
    print(
        f"eventqa report (whole process): {median:.2f} s median of {len(seconds)} "
        f"({min(seconds):.2f}-{max(seconds):.2f})   limit <= {LIMIT_SECONDS:.0f} s   {verdict}"
    )


if __name__ == "__main__":
    main()
