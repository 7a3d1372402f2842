"""The one facade the CLI (and later the scheduler) calls: load, derive, write, check."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eventqa.config import Config, load_config
from eventqa.errors import Location, StaleSuitesError
from eventqa.results.models import RunResult, Status, Window

if TYPE_CHECKING:  # protobuf, suite derivation and exports load only for the commands using them
    from eventqa.contracts import ContractSet
    from eventqa.contracts.model import Diagnostic
    from eventqa.export import ExportResult
    from eventqa.report import ReportSummary
    from eventqa.suites import DerivedSuite, SuiteDiff

EXPECTATIONS_DIR = "expectations"
# `eventqa report` writes here, relative to checks.yaml, unless told otherwise.
REPORT_FILE = Path(".eventqa/report.html")
EXPORTS_DIR = "exports"  # `eventqa export <kind>` writes to exports/<kind>/ unless told where


@dataclass(frozen=True)
class GenerateResult:
    """What `generate` did (or, with --check, found)."""

    changes: SuiteDiff
    suites: list[DerivedSuite]
    diagnostics: tuple[Diagnostic, ...]
    directory: Path


# Heartbeat names in the results store: the scheduler beats while it runs and once when it stops.
SCHEDULER_HEARTBEAT = "scheduler"
SCHEDULER_STOPPED = "scheduler.stopped"


@dataclass(frozen=True)
class SchedulerLiveness:
    """What `eventqa status` knows of the scheduler: its last heartbeat and its last clean stop."""

    last_heartbeat: datetime | None
    stopped_at: datetime | None

    @property
    def stopped(self) -> bool:
        """True when the last thing the scheduler recorded was a clean stop."""
        return self.stopped_at is not None and (
            self.last_heartbeat is None or self.stopped_at >= self.last_heartbeat
        )


class Project:
    """An eventqa project: checks.yaml, the contracts it points at, and expectations/."""

    def __init__(self, config_path: Path):
        self.config_path = config_path

    @cached_property
    def config(self) -> Config:
        """checks.yaml, validated."""
        return load_config(self.config_path)

    @property
    def directory(self) -> Path:
        """Where checks.yaml lives; its relative paths start here."""
        return self.config.project_dir

    @cached_property
    def contracts(self) -> ContractSet:
        """The compiled contracts."""
        from eventqa.contracts import load_contracts

        settings = self.config.contracts
        return load_contracts(
            self.directory, settings.root, settings.include, envelopes=set(self.config.tables)
        )

    @cached_property
    def catalog(self) -> SuiteCatalog:
        """The committed suites, read once."""
        return SuiteCatalog(self)

    @cached_property
    def suites(self) -> list[DerivedSuite]:
        """Every event's derived suite."""
        from eventqa.suites import derive_suites

        return derive_suites(self.contracts, self.config)

    @property
    def expectations_dir(self) -> Path:
        """expectations/ next to checks.yaml."""
        return self.directory / EXPECTATIONS_DIR

    def generate(self, *, check: bool = False) -> GenerateResult:
        """Write suites to expectations/; with `check`, only compare and fail when stale."""
        from eventqa.suites import diff_suites, write_suites

        if check:
            changes = diff_suites(self.expectations_dir, self.suites)
            if not changes.clean:
                lines = [f"{EXPECTATIONS_DIR}/ is out of date with the contracts and checks.yaml:"]
                for label, paths in (
                    ("stale", changes.stale),
                    ("missing", changes.missing),
                    ("orphaned", changes.orphaned),
                ):
                    lines += [f"  {label}: {EXPECTATIONS_DIR}/{path}" for path in paths]
                raise StaleSuitesError("\n".join(lines))
        else:
            changes = write_suites(self.expectations_dir, self.suites)
        return GenerateResult(
            changes, self.suites, self.contracts.diagnostics, self.expectations_dir
        )

    def export(
        self, kind: Literal["dbt", "odcs"], output: Path | None = None, *, force: bool = False
    ) -> ExportResult:
        """Write the contracts as a dbt project part (`dbt`) or ODCS documents (`odcs`).

        `output` defaults to `exports/<kind>/` next to checks.yaml. Files edited by hand there
        are never overwritten without `force` (`export.HandEditedFilesError`, exit 2).
        """
        from eventqa.export import write_export

        if kind == "dbt":
            from eventqa.export.dbt import dbt_files
            from eventqa.warehouse import dialect_for

            files = dbt_files(self.contracts, self.config, self.suites, dialect_for(self.config))
        elif kind == "odcs":
            from eventqa.export.odcs import odcs_files

            files = odcs_files(self.contracts, self.config, self.suites)
        else:
            from eventqa.errors import UsageError

            raise UsageError(f"unknown export {kind!r}; choose dbt or odcs")
        directory = output if output is not None else self.directory / EXPORTS_DIR / kind
        return write_export(directory, kind, files, force=force)

    def stale_suites(self) -> SuiteDiff | None:
        """How expectations/ differs from the contracts and checks.yaml (`generate --check`).

        None when current. A current project is remembered by a hash of everything the answer
        depends on (checks.yaml, the .proto files, expectations/, eventqa's version) in
        `.eventqa/expectations.checked`, so `run` pays for deriving suites only after a change.
        """
        marker = self.directory / ".eventqa" / "expectations.checked"
        fingerprint = self._suite_inputs_hash()
        try:
            if marker.read_text(encoding="utf-8") == fingerprint:
                return None
        except OSError:
            pass  # never checked here, or unreadable: compare now
        from eventqa.suites import diff_suites

        changes = diff_suites(self.expectations_dir, self.suites)
        if not changes.clean:
            return changes
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(fingerprint, encoding="utf-8")
        except OSError:
            pass  # a read-only project is compared on every run instead
        return None

    def _suite_inputs_hash(self) -> str:
        """A hash of the files suites derive from and of the committed suites."""
        import hashlib

        from eventqa import __version__

        settings = self.config.contracts
        folders = [settings.root, *settings.include]
        files = [self.config_path]
        for folder in folders:
            base = folder if folder.is_absolute() else self.directory / folder
            files += sorted(base.rglob("*.proto"))
        files += sorted(self.expectations_dir.rglob("*.json"))
        digest = hashlib.sha256(__version__.encode())
        for path in files:
            digest.update(f"\0{path}\0".encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"unreadable")
        return digest.hexdigest()

    def lint(self, against: str | None = None) -> Any:
        """Lint the contracts; with `against` (a contracts folder or git ref), what breaks too."""
        from eventqa.lint import lint

        previous = self._contracts_at(against) if against else None
        return lint(self.contracts, self.config, previous, against)

    def _contracts_at(self, against: str) -> ContractSet:
        """The contracts of another version: a folder of .proto files, or a git ref."""
        import subprocess
        import tarfile
        import tempfile

        from eventqa.contracts import load_contracts
        from eventqa.errors import UsageError

        folder = Path(against)
        settings = self.config.contracts
        envelopes = set(self.config.tables)
        if folder.is_dir():
            return load_contracts(
                folder.resolve().parent, Path(folder.resolve().name), (), envelopes
            )

        def git(*args: str) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(["git", *args], cwd=self.directory, capture_output=True)

        if git("rev-parse", "--verify", "--quiet", f"{against}^{{commit}}").returncode != 0:
            raise UsageError(
                f"--against {against!r} is neither a folder of contracts nor a git commit",
                hint="pass a directory such as ../main/contracts, or a ref such as origin/main",
            )
        prefix = git("rev-parse", "--show-prefix").stdout.decode().strip()
        archive = git("archive", "--format=tar", against, "--", f"{prefix}{settings.root}")
        if archive.returncode != 0:
            raise UsageError(
                f"{against} has no {settings.root}/: {archive.stderr.decode().strip()}"
            )
        with tempfile.TemporaryDirectory(prefix="eventqa-against-") as tmp:
            archive_path = Path(tmp) / "contracts.tar"
            archive_path.write_bytes(archive.stdout)
            with tarfile.open(archive_path) as tar:
                tar.extractall(tmp, filter="data")
            return load_contracts(Path(tmp) / prefix, settings.root, settings.include, envelopes)

    def demo(
        self,
        rows: int,
        warehouse: str = "duckdb",
        progress: Callable[[str, int, int], None] | None = None,
    ) -> Any:
        """Build the sample warehouse from the contracts: a DuckDB file, or into Snowflake.

        `warehouse="snowflake"` loads the same events, in bulk, into the Snowflake that
        checks.yaml configures, replacing its events tables.
        """
        from eventqa.config.models import DuckDBWarehouse, SnowflakeWarehouse
        from eventqa.demo import build_demo
        from eventqa.errors import UsageError

        settings = self.config.warehouse
        tables = {name: self.config.table_for(name) for name in self.contracts.envelopes}
        if warehouse == "snowflake":
            if not isinstance(settings, SnowflakeWarehouse):
                raise UsageError(
                    "`eventqa demo --warehouse snowflake` loads the Snowflake that checks.yaml "
                    f"configures, and checks.yaml's warehouse is {settings.type}",
                    hint="set `warehouse: {type: snowflake, connection_name: ...}` in checks.yaml",
                )
            from eventqa.warehouse.snowflake import Snowflake

            adapter = Snowflake(settings)
            where = "Snowflake {}.{} ({})".format(
                adapter.params.get("database", "?"), adapter.params.get("schema", "?"),
                ", ".join(sorted(set(tables.values()))),
            )  # fmt: skip
            summary = build_demo(
                self.contracts, tables, where, rows,
                load=lambda records: self._with_retries(adapter.load_events, records, progress),
                progress=progress,
            )  # fmt: skip
            self._forget_volume(tables.values())
            return summary
        if not isinstance(settings, DuckDBWarehouse):
            raise UsageError(
                "`eventqa demo` builds a DuckDB warehouse, and checks.yaml names Snowflake",
                hint="pass `--warehouse snowflake` to load the demo events into it "
                "(its events tables are replaced)",
            )
        path = settings.path if settings.path.is_absolute() else self.directory / settings.path
        summary = build_demo(self.contracts, tables, path, rows, progress=progress)
        self._forget_volume(tables.values())
        return summary

    def _forget_volume(self, tables: Iterable[str]) -> None:
        """The demo replaced these tables: volume history learnt from their old rows is void."""
        store = self.result_store()
        try:
            with store_errors(self.results_url):
                store.forget_volume(tables)
        finally:
            store.close()

    def run(
        self,
        selection: Selection,
        since: datetime | None = None,
        until: datetime | None = None,
        progress: Callable[[str, int, int], None] | None = None,
        alert: bool = True,
    ) -> RunResult:
        """Check the selected events' window in the warehouse, store the result, then alert."""
        from eventqa.errors import ConfigErrors
        from eventqa.warehouse import WarehouseBusyError, WarehouseError

        runner = self.catalog
        jobs = runner.load_jobs(selection)
        if problems := self.config.volume_event_errors(set(runner.all_jobs)):
            raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
        now = datetime.now(UTC)  # the run's one "now": its window and its alerts agree on it
        window = default_window(self.config, since, until, now)
        if alert:
            self._check_outbox()
        try:
            return self._run(runner, jobs, window, selection, progress, alert, now)
        except WarehouseBusyError:
            raise  # another eventqa holds the warehouse (retried already): not an outage
        except WarehouseError as error:
            if alert:  # say once per outage that checks are not running
                store = self.result_store()
                try:
                    events = [(job.event, job.owner) for job in jobs]
                    error.alerts = self.alerter(store).outage(
                        str(error), events, self.config.warehouse.type, now
                    )
                finally:
                    store.close()
            raise

    def _run(
        self,
        runner: SuiteCatalog,
        jobs: list[Any],
        window: Window,
        selection: Selection,
        progress: Callable[[str, int, int], None] | None,
        alert: bool,
        now: datetime,
    ) -> RunResult:
        from eventqa.warehouse import open_warehouse

        warehouse = open_warehouse(self.config)
        run_id = uuid.uuid4().hex[:12]
        declared = runner.tables(selection) if selection.table or selection.all else {}
        by_table: dict[str, list[Any]] = {}
        for job in jobs:
            by_table.setdefault(job.table, []).append(job)
        for table in declared:
            by_table.setdefault(table, [])
        return self._run_tables(
            warehouse, run_id, jobs, by_table, declared, window, progress, alert, now
        )

    def _run_tables(
        self,
        warehouse: Any,
        run_id: str,
        jobs: list[Any],
        by_table: dict[str, list[Any]],
        declared: dict[str, Any],
        window: Window,
        progress: Callable[[str, int, int], None] | None,
        alert: bool,
        now: datetime,
    ) -> RunResult:
        from eventqa.execution.runner import complete_with_gx

        # What the volume history lacks is read from the results store while the warehouse
        # scans: a table's scan needs its count plan only once its checks are done.
        step = self.config.defaults.volume.bucket
        plans: dict[str, Future[Any]] = {
            table: Future()
            for table, table_jobs in by_table.items()
            if any(self.config.volume_enabled(job.event) for job in table_jobs)
        }
        results, tables, done, checked_tables = [], [], 0, []
        if progress:  # the total is known before anything runs
            progress("", 0, len(jobs))
        fetched: dict[str, Any] = {}  # by table: the scan's own result and the counts fetched
        store = None
        # One statement per table window; tables run side by side, each on its own connection.
        workers = max(1, min(self.config.defaults.concurrency, len(by_table)))
        # A warehouse in this process shares our cores, our memory, and the interpreter: the
        # store (SQLAlchemy's import, Python through and through) opens once the first
        # statement has left, while the warehouse works without the GIL.
        sent = threading.Event()
        if warehouse.in_process:
            workers = 1
        else:
            sent.set()
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eventqa") as pool:
                futures = {
                    pool.submit(
                        self._with_retries, _check_table, warehouse, table, table_jobs,
                        declared.get(table), window, step if table in plans else None,
                        plans.get(table), sent,
                    ): table
                    for table, table_jobs in by_table.items()
                }  # fmt: skip
                for future in futures:  # a scan that failed before its statement left
                    future.add_done_callback(lambda _: sent.set())
                try:  # this thread's work while the warehouse scans
                    sent.wait()
                    store = self.result_store()
                    history = self._plan_counts(store, plans, by_table, window)
                except BaseException:
                    for future in [*plans.values(), *futures]:
                        future.cancel()  # a scan waiting for its plan stops there
                    raise
                for future in as_completed(futures):
                    checked, counted = future.result()
                    fetched[futures[future]] = (checked, counted)
                    checked_tables.append(checked)
                    if checked.table is not None:
                        tables.append(checked.table)
                    for event in checked.events:
                        done += 1
                        if progress:
                            progress(event.event, done, len(jobs))
            for checked in checked_tables:  # every compiled connection is closed by now
                results += complete_with_gx(warehouse, checked, window)
            order = {job.event: index for index, job in enumerate(jobs)}
            results.sort(key=lambda result: order[result.event])
            tables.sort(key=lambda table: list(declared).index(table.table))
            counts = {table: plan.result() for table, plan in plans.items()}
            results, updates = self._judge_volume(counts, history, fetched, window, results)
            run = RunResult(run_id=run_id, window=window, events=results, tables=tables)
            with store_errors(self.results_url):
                # Stored before anything reads or sends it, counts and all, in one transaction.
                store.save(run, updates)
                if alert:
                    alerts = self.alerter(store).after_run(run, now)
                    run = run.model_copy(update={"alerts": alerts})
            return run
        finally:
            if store is not None:
                store.close()

    def _plan_counts(
        self,
        store: Any,
        plans: dict[str, Future[Any]],
        by_table: dict[str, list[Any]],
        window: Window,
    ) -> dict[str, StoredVolume]:
        """Fill each watched table's plan: the counts its volume history still lacks.

        Returns what the store holds for judging each table's volume: read here, while the
        warehouse scans, rather than after it.
        """
        from eventqa.monitoring.watch import event_volume, plan_counts

        step = self.config.defaults.volume.bucket
        history: dict[str, StoredVolume] = {}
        for table, plan in plans.items():
            volumes = [event_volume(self.config, job.event) for job in by_table[table]]
            training = max(volume.settings.training for volume in volumes)
            lookback = max(volume.lookback for volume in volumes)
            with store_errors(self.results_url):
                coverage = store.volume_coverage(table)
            planned = plan_counts(table, window, step, training, lookback, coverage)
            plan.set_result(planned)
            with store_errors(self.results_url):
                counted, newest = store.volume_history(table, planned.training_start, window.until)
                history[table] = StoredVolume(
                    counted, newest, store.volume_flags(table, planned.training_start),
                    store.volume_notices(table),
                )  # fmt: skip
        return history

    def _judge_volume(
        self,
        plans: dict[str, Any],
        history: dict[str, StoredVolume],
        fetched: dict[str, Any],
        window: Window,
        results: list[Any],
    ) -> tuple[list[Any], list[Any]]:
        """Every event's volume and freshness checks, and the counts to store with the run."""
        from eventqa.monitoring.watch import event_volume, judge_events, merge_counts

        found: dict[str, list[Any]] = {}
        updates = []
        for table, (checked, (new, new_newest)) in fetched.items():
            plan = plans.get(table)
            if plan is None:
                continue
            stored = history[table]
            counts = merge_counts(
                plan, window, stored.counts, stored.newest, new, new_newest, checked.counts,
                checked.newest,
            )  # fmt: skip
            counts.flagged, counts.notices = stored.flagged, stored.notices
            events = [(e.event, event_volume(self.config, e.event)) for e in checked.events]
            found |= judge_events(counts, events, window)
            updates.append(counts.update)
        judged = []
        for result in results:
            extra = found.get(result.event, [])
            if extra:
                checks = [*result.checks, *extra]
                result = result.model_copy(
                    update={"checks": checks, "status": Status.worst([c.status for c in checks])}
                )
            judged.append(result)
        return judged, updates

    def _check_outbox(self) -> None:
        """Without Slack, alerts go to `alerts.outbox_file`: if it cannot be written, say so now."""
        import os

        from eventqa.config.paths import cannot_write
        from eventqa.errors import ConfigError

        if os.environ.get("SLACK_BOT_TOKEN") or os.environ.get("SLACK_WEBHOOK_URL"):
            return
        path = self.config.alerts.outbox_file
        problem = cannot_write(
            path if path.is_absolute() else self.directory / path, create_folders=True
        )
        if problem:
            raise ConfigError(
                f"alerts.outbox_file: {problem}",
                location=self.config.locate("alerts", "outbox_file"),
            )

    def notifier(self) -> Any:
        """Slack with SLACK_BOT_TOKEN, else a webhook with SLACK_WEBHOOK_URL, else a local file."""
        import os

        from eventqa.alerting.delivery import FileNotifier, SlackNotifier, WebhookNotifier

        settings = self.config.alerts
        if token := os.environ.get("SLACK_BOT_TOKEN"):
            return SlackNotifier(token, settings.slack_base_url)
        if url := os.environ.get("SLACK_WEBHOOK_URL"):
            return WebhookNotifier(url)
        path = settings.outbox_file
        return FileNotifier(path if path.is_absolute() else self.directory / path)

    def alerter(self, store: Any) -> Any:
        """The alerter for this project, with reproduction SQL in the warehouse's dialect."""
        from eventqa.alerting import Alerter

        return Alerter(self.config, store, self.notifier(), self._failing_rows_sql)

    def _failing_rows_sql(self, event: Any, run: RunResult) -> dict[str, str]:
        """The stored reproduction SQL of an event's first failing checks, by `CheckResult.key`."""
        del run  # the SQL was written by the compiler when the run ran, and stored with it
        found: dict[str, str] = {}
        for check in event.checks:
            if check.reproduction_sql and len(found) < 2:
                found[check.key] = check.reproduction_sql
        return found

    def status(self) -> tuple[SchedulerLiveness, list[dict[str, Any]], list[str]]:
        """Whether the scheduler runs, each event's last stored run, and all events."""
        store = self.result_store()
        try:
            liveness = SchedulerLiveness(
                store.heartbeat(SCHEDULER_HEARTBEAT), store.heartbeat(SCHEDULER_STOPPED)
            )
            return liveness, store.last_runs(), sorted(self.catalog.all_jobs)
        finally:
            store.close()

    def preview_alert(self, event: str) -> dict[str, Any]:
        """The Block Kit message the event's latest stored run would send, as JSON."""
        from eventqa.errors import UsageError

        known = sorted(self.catalog.all_jobs)
        if event not in known:
            raise UsageError(f"unknown event {event!r}{_suggest(event, known)}")
        store = self.result_store()
        try:
            run_id = store.latest_run_id(event)
            if run_id is None:
                raise UsageError(
                    f"no stored run of {event} yet", hint=f"run `eventqa run --event {event}` first"
                )
            run = store.load_run(run_id, event)
        finally:
            store.close()
        (result,) = run.events
        alerter = self.alerter(store)
        message = alerter.preview(result, run)
        return {
            "channel": alerter.channel_for(event, result.owner),
            **message.payload(),
            "replies": [reply.payload() for reply in message.replies],
        }

    def report(self, output: Path | None = None) -> ReportSummary:
        """Write the HTML report of the results store; return its `ReportSummary`.

        `output` defaults to `.eventqa/report.html` next to checks.yaml. An empty store still
        gets a page, saying there is nothing to show yet.
        """
        from eventqa.errors import EventQAError
        from eventqa.report import build_report

        path = output if output is not None else self.directory / REPORT_FILE
        store = self.result_store()
        try:
            built = build_report(
                store, project=self.directory.resolve().name, project_dir=self.directory,
                output_dir=path.absolute().parent,
            )  # fmt: skip
        finally:
            store.close()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(built.html, encoding="utf-8")
        except OSError as error:
            raise EventQAError(f"cannot write the report to {path}: {error.strerror}") from None
        return built.summary(path)

    # Waits before the 2nd and 3rd attempts when the warehouse reports a transient error.
    retry_delays: tuple[float, ...] = (2.0, 8.0)
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def _with_retries(self, step: Callable[..., Any], *args: Any) -> Any:
        """Run a warehouse step, retrying transient errors with backoff."""
        from eventqa.warehouse import TransientWarehouseError

        for delay in self.retry_delays:
            try:
                return step(*args)
            except TransientWarehouseError:
                self.sleep(delay)
        return step(*args)

    @cached_property
    def results_url(self) -> str:
        """The results database URL (`EVENTQA_RESULTS_URL` wins), its SQLite path absolute."""
        import os

        from eventqa.config.models import check_database_url
        from eventqa.errors import UsageError

        url = os.environ.get("EVENTQA_RESULTS_URL") or self.config.results.url
        if url == os.environ.get("EVENTQA_RESULTS_URL"):
            try:
                check_database_url(url)
            except ValueError as error:
                raise UsageError(f"EVENTQA_RESULTS_URL {error}") from None
        prefix = "sqlite:///"
        relative = url.startswith(prefix) and not url.startswith(prefix + "/")
        if relative and url[len(prefix) :] not in ("", ":memory:"):
            url = f"{prefix}{(self.directory / url[len(prefix) :]).resolve()}"
        return url

    def result_store(self) -> Any:
        """The results store, its SQLite folder created when missing."""
        from eventqa.results.store import ResultStore

        url = self.results_url
        if url.startswith("sqlite:////"):
            with store_errors(url):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return ResultStore(url)

    def events(self, owner: str | None = None, table: str | None = None) -> list[EventInfo]:
        """The committed suites' events (what `run` checks), optionally one owner's or table's."""
        from eventqa.errors import UsageError

        jobs = list(self.catalog.all_jobs.values())
        if not jobs:
            raise UsageError(
                f"no suites in {EXPECTATIONS_DIR}/", hint="run `eventqa generate` first"
            )
        for value, known, what in (
            (owner, sorted({j.owner for j in jobs if j.owner}), "owner"),
            (table, sorted({j.table for j in jobs}), "table"),
        ):
            if value is not None and value not in known:
                raise UsageError(f"unknown {what} {value!r}{_suggest(value, known)}")
        return [
            EventInfo(
                event=job.event, table=job.table, owner=job.owner,
                description=job.suite["meta"]["eventqa"].get("description"),
                checks=len(job.suite.get("expectations", [])),
            )
            for job in sorted(jobs, key=lambda j: (j.table, j.event))
            if (owner is None or job.owner == owner) and (table is None or job.table == table)
        ]  # fmt: skip

    def history(self, event: str, limit: int) -> list[Any]:
        """The event's recent runs from the results store, newest first."""
        from eventqa.errors import UsageError

        known = sorted(self.catalog.all_jobs)
        if event not in known:
            raise UsageError(f"unknown event {event!r}{_suggest(event, known)}")
        store = self.result_store()
        try:
            rows: list[Any] = store.history(event, limit)
            return rows
        finally:
            store.close()


@dataclass(frozen=True)
class EventInfo:
    """An event as `eventqa list` shows it."""

    event: str
    table: str
    owner: str | None
    description: str | None
    checks: int


@dataclass(frozen=True)
class InitResult:
    """What `eventqa init` wrote, and the suites it generated."""

    directory: Path
    written: list[Path]
    generated: GenerateResult


def init_project(directory: Path) -> InitResult:
    """Scaffold a project into an empty folder, then generate its expectations/."""
    from eventqa.scaffold import write_scaffold

    scaffold = write_scaffold(directory)
    generated = Project(directory / "checks.yaml").generate()
    return InitResult(directory, scaffold.written, generated)


# -- running suites --------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which events a run checks: names, a table, an owner, or all of them."""

    events: tuple[str, ...] = ()
    table: str | None = None
    owner: str | None = None
    all: bool = False


def _suggest(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=3)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


@dataclass(frozen=True)
class StoredVolume:
    """What the results store holds for judging a table's volume, read while the warehouse scans."""

    counts: dict[str, dict[datetime, int]]  # per event and bucket since the training start
    newest: dict[str, datetime]  # each event's newest timestamp
    flagged: dict[str, set[datetime]]  # buckets earlier runs found anomalous
    notices: dict[tuple[str, str], datetime]  # what was already said once, and when


class SuiteCatalog:
    """The committed suites in expectations/ (what `run` checks: what was reviewed)."""

    def __init__(self, project: Project):
        self.project = project

    @cached_property
    def all_jobs(self) -> dict[str, Any]:
        """Every committed suite in expectations/, by event name."""
        import json

        from eventqa.errors import SuiteFileError
        from eventqa.execution.runner import EventJob

        jobs = {}
        for path in sorted(self.project.expectations_dir.glob("*/*.json")):
            shown = path.relative_to(self.project.directory).as_posix()
            try:
                suite = json.loads(path.read_text(encoding="utf-8"))
                meta = suite["meta"]["eventqa"]
                jobs[meta["event"]] = EventJob(meta["event"], meta["table"], meta["owner"], suite)
            except json.JSONDecodeError as error:
                raise SuiteFileError(
                    f"is not valid JSON: {error.msg}",
                    location=Location(shown, error.lineno, error.colno),
                ) from None
            except (KeyError, TypeError, UnicodeDecodeError):
                raise SuiteFileError(
                    "is not a suite eventqa wrote (its meta.eventqa is missing or incomplete)",
                    location=Location(shown),
                ) from None
        return jobs

    def tables(self, selection: Selection) -> dict[str, tuple[list[str], str]]:
        """Tables with table-level checks in this run: declared event names and their origin."""
        found: dict[str, tuple[list[str], str]] = {}
        for job in self.all_jobs.values():
            if selection.all or job.table == selection.table:
                names, origin = found.get(job.table, ([], ""))
                meta = job.suite["meta"]["eventqa"]
                found[job.table] = (
                    [*names, job.event],
                    origin or meta.get("envelope_location") or "",
                )
        return found

    def load_jobs(self, selection: Selection) -> list[Any]:
        """The committed suites the selection names; unknown names are usage errors."""
        from eventqa.errors import UsageError

        jobs = self.all_jobs
        if not jobs:
            raise UsageError(
                f"no suites in {EXPECTATIONS_DIR}/", hint="run `eventqa generate` first"
            )
        for name in selection.events:
            if name not in jobs:
                raise UsageError(f"unknown event {name!r}{_suggest(name, sorted(jobs))}")
        chosen = [
            job
            for job in jobs.values()
            if selection.all
            or job.event in selection.events
            or (selection.table is not None and job.table == selection.table)
            or (selection.owner is not None and job.owner == selection.owner)
        ]
        if selection.table and not chosen:
            tables = sorted({j.table for j in jobs.values()})
            raise UsageError(
                f"unknown table {selection.table!r}{_suggest(selection.table, tables)}"
            )
        if selection.owner and not chosen:
            owners = sorted({j.owner for j in jobs.values() if j.owner})
            raise UsageError(
                f"unknown owner {selection.owner!r}{_suggest(selection.owner, owners)}"
            )
        return chosen


@contextmanager
def store_errors(url: str) -> Iterator[None]:
    """The results database failing mid-way (read-only, disk full): one error naming it, exit 3.

    Writes are transactions, so a failed save leaves nothing half-written.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from eventqa.results.store import ResultStoreError

    try:
        yield
    except (SQLAlchemyError, OSError) as error:
        cause = getattr(error, "orig", None) or error
        reason = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        raise ResultStoreError(
            f"cannot write the results store {_database_name(url)}: {reason}",
            hint="make it writable, free disk space, or point `results.url` elsewhere",
        ) from error


def _database_name(url: str) -> str:
    """The file of an SQLite URL, else the URL without its password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return parsed.database
    return parsed.render_as_string(hide_password=True)


def default_window(
    config: Config, since: datetime | None, until: datetime | None, now: datetime | None = None
) -> Window:
    """[since, until): until defaults to now, since to until minus `defaults.window`.

    Whether the run is live (its `until` within the allowed clock skew of now) is decided here,
    once: a live run also reads the events dated after `until` plus the skew.
    """
    now = now or datetime.now(UTC)
    end = (until or now).astimezone(UTC).replace(microsecond=0)
    start = (since or end - config.defaults.window).astimezone(UTC)
    if start >= end:
        from eventqa.errors import UsageError

        raise UsageError(
            f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})"
        )
    skew = config.defaults.future_skew
    live = now - end <= skew
    return Window(
        since=start, until=end, future_after=end + skew if live else None, after_clock=now + skew
    )


def _check_table(
    warehouse: Any,
    table: str,
    jobs: list[Any],
    declared: Any,
    window: Window,
    step: timedelta | None = None,
    plan: Future[Any] | None = None,
    sent: threading.Event | None = None,
) -> tuple[Any, tuple[dict[str, dict[datetime, int]], dict[str, datetime]]]:
    """One table window's checks on a connection of its own, then the counts volume lacks.

    `step` is the volume bucket (None when the table's volume is not monitored); `plan` what to
    count, which the caller reads from the results store while this scan runs. `sent` is set
    once the table's statement has left (or could not), before the scan waits on its plan.
    """
    from eventqa.execution.runner import run_tables

    sending = sent.set if sent is not None else None
    connection = warehouse.connect()
    try:
        try:
            run = run_tables(warehouse, connection, table, jobs, declared, window, step, sending)
        finally:
            if sent is not None:
                sent.set()  # before waiting on the plan the caller fills once it is set
        return run, _fetch_counts(warehouse, connection, table, plan.result() if plan else None)
    finally:
        warehouse.close(connection)


def _fetch_counts(
    warehouse: Any, connection: Any, table: str, plan: Any
) -> tuple[dict[str, dict[datetime, int]], dict[str, datetime]]:
    """The grouped counts of the periods the volume history lacks: one query per period."""
    from eventqa.suites.columns import quote_identifier

    counts: dict[str, dict[datetime, int]] = {}
    newest: dict[str, datetime] = {}
    if plan is None:
        return counts, newest
    epoch, seconds = datetime(1970, 1, 1, tzinfo=UTC), int(plan.step.total_seconds())
    for start, end in plan.queries:
        statement = warehouse.sql.bucket_counts(quote_identifier(table), start, end, seconds)
        for name, bucket, count, latest in warehouse.query(connection, statement, table=table):
            counts.setdefault(name, {})[epoch + timedelta(seconds=int(bucket))] = int(count)
            at = epoch + timedelta(microseconds=int(latest))
            newest[name] = max(newest.get(name, at), at)
    return counts, newest
