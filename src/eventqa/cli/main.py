"""`eventqa` commands. Each is a few lines over `eventqa.service`; errors are handled once."""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from eventqa import __version__
from eventqa.errors import EventQAError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])


# The consoles are made when first printed to: a command that prints nothing on the terminal
# (`run --format json --output ...`, a run on a pipe) never imports rich, about 25 ms of the
# start-up before a run's first statement.
# Text from users, contracts and the warehouse is printed literally: no markup, no emoji codes
# (render.py builds rich Text; these settings keep any plain string literal too).
@functools.cache
def out() -> Console:
    """Standard output's console."""
    from rich.console import Console

    # Piped output (CI logs, files) is read in wide windows: do not squeeze tables into 80
    # columns.
    width = None if sys.stdout.isatty() else 160
    return Console(highlight=False, soft_wrap=True, markup=False, emoji=False, width=width)


@functools.cache
def err() -> Console:
    """Standard error's console: errors, warnings, alerts' outcomes and the progress bar."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)


EXIT_CODES = """\b
Exit codes:
  0  all checks passed (warnings allowed)
  1  an error-severity check failed, or `generate --check` found stale suites
  2  usage, configuration or contract error
  3  the run could not complete (warehouse unreachable, timeout)
"""


def error_handler(command: F) -> F:
    """Turn every EventQAError into one red message and its documented exit code.

    Messages quote user input (names, SQL, protoc's `file:100:7` errors): printed literally.
    `--debug` adds the traceback and keeps the exit code.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return command(*args, **kwargs)
        except click.ClickException:
            raise  # click prints usage errors itself and exits 2
        except EventQAError as error:
            from rich.text import Text

            if debug:
                traceback.print_exc()
            if alerts := getattr(error, "alerts", None):  # a run that could not complete alerted
                from eventqa.cli.render import print_alerts

                print_alerts(err(), alerts)
            for line in str(error).splitlines():
                err().print(Text.assemble(("error:", "red"), f" {line}") if line else Text())
            if error.hint:
                err().print(Text(f"hint: {error.hint}", "dim"))
            sys.exit(error.exit_code)
        except Exception as error:  # a bug: still one line, the traceback behind --debug
            from rich.text import Text

            if debug:
                traceback.print_exc()
            err().print(
                Text.assemble(("internal error:", "red"), f" {type(error).__name__}: {error}")
            )
            if not debug:
                err().print(
                    Text("rerun with --debug for the traceback, and please report it", "dim")
                )
            sys.exit(3)

    return wrapper  # type: ignore[return-value]


@click.group(epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("checks.yaml"),
    envvar="EVENTQA_CONFIG",
    show_default=True,
    help="The project's checks.yaml.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="eventqa")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, debug: bool) -> None:
    """Check that warehouse event data is what its protobuf contracts promise."""
    ctx.obj = config_path


def _project(config_path: Path) -> Any:
    """The service facade for this invocation (imported here so `--help` stays instant)."""
    from eventqa.service import Project

    return Project(config_path)


@cli.command()
@click.argument(
    "directory", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
    required=False,
)  # fmt: skip
@error_handler
def init(directory: Path) -> None:
    """Start a project in an empty folder: checks.yaml, contracts/, expectations/."""
    from eventqa.cli.render import print_init
    from eventqa.service import init_project

    print_init(out(), init_project(directory))


@cli.command("list")
@click.option("--owner", help="Only this team's events.")
@click.option("--table", help="Only this table's events.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
@error_handler
def list_events(
    config_path: Path, owner: str | None, table: str | None, output_format: str
) -> None:
    """The events that `run` checks: table, owner, description and number of checks."""
    from eventqa.cli.documents import events_json
    from eventqa.cli.render import print_events

    events = _project(config_path).events(owner, table)
    if output_format == "json":
        click.echo(events_json(events))
    else:
        print_events(out(), events)


@cli.command()
@click.option("--check", is_flag=True, help="Fail (exit 1) when expectations/ is not current.")
@click.pass_obj
@error_handler
def generate(config_path: Path, check: bool) -> None:
    """Derive a Great Expectations suite per event into expectations/."""
    from eventqa.cli.render import print_generate

    print_generate(out(), err(), _project(config_path).generate(check=check), check=check)


def main() -> None:
    """Console-script entry point.

    A command closes everything it opens (warehouse connections, the results store, files), so
    the interpreter's teardown is skipped: collecting and unloading some 600 modules takes about
    0.1 s, a fifth of a `run` over a million rows. Exit handlers still run and the streams are
    flushed. Skipping it also keeps duckdb 2.0's nanobind bindings from reporting module-level
    objects that duckdb_engine holds as "leaked" on stderr after a clean run.

    The collector's youngest generation is collected every 10,000 new objects instead of every
    700: start-up imports leave some 65,000 objects that live until exit, and scanning them over
    and over took 85-120 ms of a 1 s `run` (165 collections; 42 now, 45-60 ms). Garbage in
    cycles is still collected, a little later: this is the command-line process's setting, never
    set where eventqa is imported as a library (Dagster, a notebook).
    """
    gc.set_threshold(10_000, 10, 10)
    try:
        cli(prog_name="eventqa")
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(thread.is_alive() and not thread.daemon for thread in others):
        sys.exit(code)  # the ordinary exit waits for a thread still at work
    atexit._run_exitfuncs()  # logging's flush, and any handler a library registered
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing left to say
            stream.flush()
    os._exit(code)


@cli.command()
@click.option("--rows", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option(
    "--warehouse", type=click.Choice(["duckdb", "snowflake"]), default="duckdb",
    show_default=True,
    help="duckdb: build the embedded file; snowflake: load the events into the Snowflake "
    "checks.yaml configures (replaces its events tables).",
)  # fmt: skip
@click.pass_obj
@error_handler
def demo(config_path: Path, rows: int, warehouse: str) -> None:
    """Build a sample warehouse: 7 days of events for every contract, a few real defects.

    --rows events fall in the 7 days; 5 weeks of history at the same rates come before them.
    """
    from eventqa.cli.render import demo_progress, print_demo

    with demo_progress(err()) as advance:
        summary = _project(config_path).demo(rows, warehouse, progress=advance)
    print_demo(out(), summary)


# Windows are checked within these years: durations (at most ~100 years) then add and subtract
# without leaving what Python, DuckDB and Snowflake can represent.
_EARLIEST_YEAR, _LATEST_YEAR = 1900, 2999


def _timestamp(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """`--since`/`--until`: an ISO 8601 timestamp (UTC unless it says otherwise)."""
    if value is None:
        return None
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 timestamp") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if not _EARLIEST_YEAR <= parsed.astimezone(UTC).year <= _LATEST_YEAR:
        raise click.BadParameter(
            f"{value!r} is outside the years eventqa checks ({_EARLIEST_YEAR}-{_LATEST_YEAR})"
        )
    return parsed


def _writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Any:
    """`--output`: checked before the run starts, so a run is never lost to a bad path."""
    from eventqa.config.paths import cannot_write

    if value is not None and (problem := cannot_write(value)):
        raise click.BadParameter(problem)
    return value


RUN_HELP = """Check events' window in the warehouse; exit 1 when an error-severity check fails.

\b
Choose what to check with exactly one selector (required):
  --event NAME (repeatable), --table T, --owner TEAM or --all.

\b
Examples:
  eventqa run --event user_followed_user
  eventqa run --owner Payments --since 2026-03-01T00:00Z --until 2026-03-02T00:00Z
  eventqa run --table frontend__events --no-alert
  eventqa run --all --format junit --output results.xml
"""


@cli.command(help=RUN_HELP, short_help="Check events' window in the warehouse.")
@click.option("--event", "events", multiple=True, help="An event name (repeatable).")
@click.option("--table", help="Every event of this table, plus table-level checks.")
@click.option("--owner", help="Every event this team owns.")
@click.option("--all", "all_events", is_flag=True, help="Every event.")
@click.option(
    "--since", callback=_timestamp,
    help="Start of the window (ISO 8601; default: until minus the window).",
)  # fmt: skip
@click.option(
    "--until", callback=_timestamp,
    help="End of the window and the run's 'now' (ISO 8601; default: now).",
)  # fmt: skip
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json", "junit"]), default="text",
    show_default=True,
)  # fmt: skip
@click.option(
    "--output", type=click.Path(path_type=Path, dir_okay=False), callback=_writable_file,
    help="Write the report here (in --format), instead of to the terminal.",
)  # fmt: skip
@click.option("--no-alert", is_flag=True, help="Store the results but send no alerts.")
@click.pass_obj
@error_handler
def run(
    config_path: Path,
    events: tuple[str, ...],
    table: str | None,
    owner: str | None,
    all_events: bool,
    since: Any,
    until: Any,
    output_format: str,
    output: Path | None,
    no_alert: bool,
) -> None:
    """Check events' window in the warehouse (click shows RUN_HELP)."""
    from eventqa.cli.documents import run_json, run_junit
    from eventqa.service import Selection

    if sum(bool(x) for x in (events, table, owner, all_events)) != 1:
        raise click.UsageError("choose exactly one of --event, --table, --owner or --all")
    selection = Selection(events=events, table=table, owner=owner, all=all_events)
    project = _project(config_path)
    _warn_when_stale(project)
    with _progress() as advance:  # nothing else prints while the bar is live
        result = project.run(selection, since, until, progress=advance, alert=not no_alert)
    if result.alerts is not None:
        from eventqa.cli.render import print_alerts

        print_alerts(err(), result.alerts)
    if output_format == "text":
        from rich.console import Console

        from eventqa.cli.render import print_run, print_run_summary

        if output:
            with output.open("w", encoding="utf-8") as file:
                to_file = Console(
                    file=file, width=160, color_system=None, highlight=False, soft_wrap=True,
                    markup=False, emoji=False,
                )  # fmt: skip
                print_run(to_file, result)
                print_run_summary(to_file, result)
        else:
            print_run(out(), result)
        print_run_summary(out(), result)
    else:
        document = run_json(result) if output_format == "json" else run_junit(result)
        if output:
            output.write_text(document + "\n", encoding="utf-8")
        else:
            click.echo(document)
    sys.exit(result.exit_code)


def _progress() -> AbstractContextManager[Callable[[str, int, int], None]]:
    """A run's progress bar when stderr is a terminal; elsewhere (a pipe, a CI log) nothing."""
    if not sys.stderr.isatty():
        return contextlib.nullcontext(lambda event, done, total: None)
    from eventqa.cli.render import progress_bar

    return progress_bar(err())


def _warn_when_stale(project: Any) -> None:
    """One line on stderr when expectations/ is behind the contracts or checks.yaml."""
    project.config  # noqa: B018 (a checks.yaml error is the run's error, not a warning)
    try:
        stale = project.stale_suites()
    except EventQAError as error:
        _warning(f"could not compare expectations/: {str(error).splitlines()[0]}")
        return
    if stale is not None:
        counts = [
            f"{len(paths)} {label}"
            for label, paths in (
                ("stale", stale.stale), ("missing", stale.missing), ("orphaned", stale.orphaned)
            )
            if paths
        ]  # fmt: skip
        _warning(
            f"expectations/ is out of date with the contracts and checks.yaml "
            f"({', '.join(counts)} suites): this run checks the committed suites; "
            "run `eventqa generate`"
        )


def _warning(message: str) -> None:
    """`warning: <message>` on stderr, the word in yellow, the message literal."""
    from rich.text import Text

    err().print(Text.assemble(("warning:", "yellow"), f" {message}"))


@cli.command()
@click.option("--event", required=True, help="The event whose recent runs to show.")
@click.option("--limit", type=click.IntRange(1, 50), default=10, show_default=True)
@click.pass_obj
@error_handler
def history(config_path: Path, event: str, limit: int) -> None:
    """Recent runs of an event from the results store, with each check's status."""
    from eventqa.cli.render import print_history

    print_history(out(), event, _project(config_path).history(event, limit))


@cli.command()
@click.option("--against", help="A contracts folder or a git ref to check compatibility with.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
@error_handler
def lint(config_path: Path, against: str | None, output_format: str) -> None:
    """Check contract conventions and, with --against, breaking changes (exit 1 on errors)."""
    from eventqa.cli.documents import lint_json
    from eventqa.cli.render import print_lint

    report = _project(config_path).lint(against)
    if output_format == "json":
        click.echo(lint_json(report))
    else:
        print_lint(out(), report)
    sys.exit(report.exit_code)


@cli.group()
def export() -> None:
    """Write the contracts for other tools: dbt sources and staging models, ODCS documents."""


def _export_options(command: F) -> F:
    """`--output` and `--force`, shared by every `export` kind."""
    command = click.option(
        "--force", is_flag=True, help="Overwrite files edited by hand in the folder."
    )(command)
    command = click.option(
        "--output", type=click.Path(path_type=Path, file_okay=False),
        help="The folder to write (default: exports/<kind>/ next to checks.yaml).",
    )(command)  # fmt: skip
    return command


@export.command("dbt")
@_export_options
@click.pass_obj
@error_handler
def export_dbt(config_path: Path, output: Path | None, force: bool) -> None:
    """A dbt source per event and a typed staging view of it, with schema tests."""
    from eventqa.cli.render import print_export

    print_export(out(), _project(config_path).export("dbt", output, force=force))


@export.command("odcs")
@_export_options
@click.pass_obj
@error_handler
def export_odcs(config_path: Path, output: Path | None, force: bool) -> None:
    """One Open Data Contract Standard v3 document per event."""
    from eventqa.cli.render import print_export

    print_export(out(), _project(config_path).export("odcs", output, force=force))


@cli.group()
def alerts() -> None:
    """Slack alerts: preview what would be sent."""


@alerts.command()
@click.option("--event", required=True, help="Preview the alert for this event's latest run.")
@click.pass_obj
@error_handler
def preview(config_path: Path, event: str) -> None:
    """Print the Block Kit JSON the event's latest stored run would send."""
    from eventqa.cli.documents import json_document

    click.echo(json_document(_project(config_path).preview_alert(event)))


@cli.command()
@click.option(
    "--list", "list_jobs", is_flag=True, help="Show each job and its next run, then exit."
)
@click.pass_obj
@error_handler
def schedule(config_path: Path, list_jobs: bool) -> None:
    """Run every event on its schedule until stopped (SIGTERM/SIGINT stop gracefully)."""
    from eventqa.scheduler import EventScheduler, serve

    project = _project(config_path)
    if list_jobs:
        from eventqa.cli.render import print_jobs

        print_jobs(out(), EventScheduler(project).jobs())
        return
    sys.exit(serve(project))


@cli.command()
@click.pass_obj
@error_handler
def status(config_path: Path) -> None:
    """The last run of each event and how long ago the scheduler was last alive."""
    from eventqa.cli.render import print_status

    print_status(out(), *_project(config_path).status())


@cli.command()
@click.option(
    "--output", type=click.Path(path_type=Path, dir_okay=False), callback=_writable_file,
    help="Write the page here (default: .eventqa/report.html next to checks.yaml).",
)  # fmt: skip
@click.option("--open", "open_page", is_flag=True, help="Open the page in a web browser.")
@click.pass_obj
@error_handler
def report(config_path: Path, output: Path | None, open_page: bool) -> None:
    """Write a self-contained HTML report of the stored runs: latest, history, volume."""
    from eventqa.cli.documents import plural

    summary = _project(config_path).report(output)
    if summary.empty:
        out().print(
            "The results store has no runs yet: the report says so. Run `eventqa run` first."
        )
    else:
        runs = summary.stored_runs
        out().print(
            f"{plural(summary.events, 'event')}: {summary.failed + summary.errors} failed, "
            f"{summary.warned} warned (latest run of each; {runs:,} run{'' if runs == 1 else 's'} "
            "stored)."
        )
    out().print(f"Report: {summary.path} ({summary.size_bytes / 1024:,.0f} KiB)")
    if open_page:
        import webbrowser

        webbrowser.open(summary.path.resolve().as_uri())
