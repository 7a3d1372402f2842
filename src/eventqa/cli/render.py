"""Terminal output of the commands, kept apart from what they do.

Everything printed is a `rich.text.Text`: names, messages and values from users, contracts and
the warehouse are shown literally, never read as rich markup (`[/x]`, `[link=...]`) or emoji
codes (`:100:` in `file:100:7`). Styles are the program's own, applied as Text spans.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from eventqa.cli.documents import observed_text, plural, samples_text


def print_generate(out: Console, err: Console, result: Any, *, check: bool) -> None:
    """Summarise `generate`: contract diagnostics as warnings, then what changed."""
    for diagnostic in result.diagnostics:
        err.print(Text.assemble(("warning:", "yellow"), f" {diagnostic}"), soft_wrap=True)
    changes = result.changes
    tables = sorted({s.table for s in result.suites})
    where = result.directory.name + "/"
    counted = f"{plural(len(result.suites), 'suite')} for {plural(len(tables), 'table')}"
    if check:
        out.print(Text(f"{where} is current: {counted}"))
        return
    written = len(changes.missing) + len(changes.stale)
    unchanged = len(result.suites) - written
    parts = [f"wrote {written}", f"{unchanged} unchanged"]
    if changes.orphaned:
        parts.append(f"removed {len(changes.orphaned)} orphaned")
    out.print(Text(f"{counted} ({', '.join(tables)}): {', '.join(parts)} in {where}"))
    for label, paths in (("new", changes.missing), ("updated", changes.stale)):
        for path in paths:
            out.print(Text(f"  {label}: {where}{path}"))
    for path in changes.orphaned:
        out.print(Text(f"  removed: {where}{path}"))


def print_export(out: Console, result: Any) -> None:
    """Summarise an export: what it wrote, kept, removed and overwrote, and where."""
    total = len(result.written) + len(result.unchanged)
    parts = [f"wrote {len(result.written)}", f"{len(result.unchanged)} unchanged"]
    if result.removed:
        parts.append(f"removed {len(result.removed)}")
    out.print(Text(f"{plural(total, 'file')} in {result.directory}: {', '.join(parts)}"))
    for label, paths in (
        ("written", result.written),
        ("removed", result.removed),
        ("overwrote hand edits", result.overwritten),
    ):
        for path in paths:
            out.print(Text(f"  {label}: {path}"))


def print_init(out: Console, result: Any) -> None:
    """What `init` wrote, then what to do next."""
    where = result.directory
    out.print(Text(f"Created an eventqa project in {where}/:"))
    for path in result.written:
        out.print(Text(f"  {path.as_posix()}"))
    suites = result.generated.suites
    for suite in suites:
        out.print(Text(f"  expectations/{suite.relative_path} (generated)"))
    out.print(Text("Next steps:", "bold"))
    steps = [] if where.resolve() == Path.cwd().resolve() else [(f"cd {where}", "")]
    steps += [
        ("eventqa demo", "build a sample DuckDB warehouse from the contracts"),
        ("eventqa run --all", "check it (exit 0: the sample keeps its contracts)"),
        ("eventqa list", "the events, their owners and checks"),
        ("edit contracts/ and checks.yaml", "then `eventqa generate` and commit expectations/"),
    ]
    width = max(len(command) for command, _ in steps)
    for command, note in steps:
        shown = f"  {command.ljust(width)}" if note else f"  {command}"
        out.print(Text.assemble(shown, (f"  # {note}" if note else "", "dim")))


def print_events(out: Console, events: list[Any]) -> None:
    """`list`: one row per event."""
    from rich.table import Table

    table = Table(title=Text(plural(len(events), "event")), title_justify="left")
    table.add_column("event", no_wrap=True)
    table.add_column("table", no_wrap=True)
    table.add_column("owner", no_wrap=True)
    table.add_column("checks", justify="right")
    table.add_column("description", overflow="ellipsis")
    for event in events:
        table.add_row(
            Text(event.event), Text(event.table), Text(event.owner or "?"),
            Text(str(event.checks)), Text(event.description or ""),
        )  # fmt: skip
    out.print(table)


def print_demo(out: Console, summary: Any) -> None:
    """What `demo` built, and the defects planted in it."""
    total = sum(summary.rows.values())
    out.print(
        Text(
            f"{'Built' if isinstance(summary.path, Path) else 'Loaded'} {summary.path} with "
            f"{total:,} events over "
            f"{summary.since:%Y-%m-%d} .. {summary.until:%Y-%m-%d %H:%M} UTC "
            f"({len(summary.rows)} event types)."
        )
    )
    if summary.defects:
        out.print(Text("Planted defects, for `eventqa run` to find:"))
        for description, count in sorted(summary.defects.items()):
            out.print(Text(f"  - {description}: {count} rows"))


_STYLE = {"passed": "green", "warned": "yellow", "failed": "red", "error": "magenta"}


def _status(status: str) -> Text:
    """A status word in its colour."""
    return Text(status, style=_STYLE[status])


def _learning(event: Any) -> str:
    """`, volume learning (6 of 21 days)` for an event whose history is still too short."""
    for check in event.checks:
        found = check.observed_value
        if check.expectation_type == "eventqa_volume" and isinstance(found, dict):
            if found.get("status") == "learning":
                have, need = found.get("history_days", 0), found.get("required_days", 0)
                return f", volume learning ({have:.0f} of {need:.0f} days)"
            if found.get("status") == "not_seen":
                return ", never seen in the volume history"
    return ""


def print_run(out: Console, result: Any) -> None:
    """A table per event: each failing check, what was observed, samples, and its origin."""
    out.print(
        Text(
            f"run {result.run_id}  window {result.window.since:%Y-%m-%d %H:%M} .. "
            f"{result.window.until:%Y-%m-%d %H:%M} UTC"
        )
    )
    for event in result.events:
        title = Text.assemble(
            (event.event, "bold"),
            f" ({event.table}, owner {event.owner or '?'}): ",
            _status(event.status.value),
            f", {event.row_count or 0:,} events{_learning(event)}",
        )
        failing = [c for c in event.checks if c.status.value != "passed"]
        rows = [
            (
                check.description, check.status.value, observed_text(check, event.row_count),
                samples_text(check, 5), check.origin,
            )
            for check in failing
        ]  # fmt: skip
        table, origins_below = _checks_table(out, title, rows)
        passed = len(event.checks) - len(failing)
        if failing:
            out.print(table)
            for number, row in enumerate(rows, start=1):
                if origins_below:
                    out.print(Text.assemble(f"  #{number} ", (row[4], "dim")))
        else:
            out.print(title)
        out.print(Text(f"  {passed} of {len(event.checks)} checks passed"))
    for table_result in result.tables:
        for check in table_result.checks:
            samples = samples_text(check, 5)
            out.print(
                Text.assemble(
                    (table_result.table, "bold"),
                    f": {check.description}: ",
                    _status(check.status.value),
                    f" {observed_text(check)}" + (f"; unknown: {samples}" if samples else ""),
                )
            )


def print_run_summary(out: Console, result: Any) -> None:
    """The run's last line: its status, then counts of events, checks and alerts."""
    out.print(Text.assemble(_status(result.status.value), ": ", run_summary(result)))


def _checks_table(out: Console, title: Text, rows: Sequence[tuple[str, ...]]) -> tuple[Any, bool]:
    """The failing checks of an event as a table, and whether origins go below it.

    Each column is at least as wide as its longest word, so wrapping happens between words;
    origins (long paths) are one unbroken column when the line has room for them, else listed
    under the table by check number. A word wider than the whole line is shortened with an
    ellipsis, never cut in two.
    """
    from rich.table import Table

    headers = ("check", "status", "failing / observed", "samples")
    widths = [_longest_word([row[i] for row in rows]) for i in range(len(headers))]
    frame = 3 * len(headers) + 1  # borders and padding
    origin = max((len(row[4]) for row in rows), default=0)
    origins_below = sum(widths) + frame + origin + 3 > out.width
    room = out.width - frame - (0 if origins_below else origin + 3)
    while sum(widths) > room and max(widths) > 8:  # a narrow terminal: shrink the widest
        widths[widths.index(max(widths))] -= 1
    table = Table(title=title, title_justify="left", show_lines=False, expand=False)
    if origins_below:
        table.add_column("#", justify="right", no_wrap=True)
    for header, width in zip(headers, widths, strict=True):
        table.add_column(header, overflow="ellipsis", min_width=width)
    if not origins_below:
        table.add_column("origin", no_wrap=True, overflow="ellipsis")
    for number, (description, status, observed, samples, where) in enumerate(rows, start=1):
        cells = [Text(description), _status(status), Text(observed), Text(samples)]
        if origins_below:
            cells.insert(0, Text(str(number)))
        else:
            cells.append(Text(where))
        table.add_row(*cells)
    return table, origins_below


def _longest_word(cells: list[str], cap: int = 48) -> int:
    """The longest space-free run in `cells` (capped: a column may not take the whole line)."""
    return min(cap, max((len(word) for cell in cells for word in cell.split()), default=0))


def run_summary(result: Any) -> str:
    """One line: `5 of 13 events failed, 2 warned; 41 checks failed; alerts: 3 sent, ...`."""
    events = result.events
    by_status = {s: sum(e.status.value == s for e in events) for s in _STYLE}
    parts = [f"{by_status['failed']} of {plural(len(events), 'event')} failed"]
    if by_status["warned"]:
        parts[0] += f", {by_status['warned']} warned"
    if by_status["error"]:
        parts[0] += f", {by_status['error']} could not run"
    checks = [c for e in events for c in e.checks] + [c for t in result.tables for c in t.checks]
    failed = sum(c.status.value == "failed" for c in checks)
    warned = sum(c.status.value == "warned" for c in checks)
    parts.append(f"{plural(failed, 'check')} failed" + (f", {warned} warned" if warned else ""))
    bad_tables = [t.table for t in result.tables if t.status.value != "passed"]
    if bad_tables:
        parts.append(f"table-level findings in {', '.join(bad_tables)}")
    parts.append(f"alerts: {_alerts_in_brief(result.alerts)}")
    return "; ".join(parts)


def _alerts_in_brief(alerts: Any) -> str:
    if alerts is None:
        return "off (--no-alert)"
    counts: dict[str, int] = {}
    for delivery in alerts.deliveries:
        counts[delivery.outcome.value] = counts.get(delivery.outcome.value, 0) + 1
    parts = []
    if counts.get("sent"):
        parts.append(f"{counts['sent']} sent")
    if counts.get("written"):
        parts.append(f"{counts['written']} written to the outbox file")
    if counts.get("pending"):
        parts.append(f"{counts['pending']} not delivered")
    if alerts.unchanged:
        parts.append(f"{len(alerts.unchanged)} unchanged")
    if alerts.backfill:
        parts.append("none for a backfill")
    return ", ".join(parts) or "none"


def print_alerts(err: Console, alerts: Any) -> None:
    """What happened to alerts: sent to a channel, written to the outbox, or kept quiet."""
    if alerts is None:
        return
    for delivery in alerts.deliveries:
        outcome = delivery.outcome.value
        if outcome == "sent":
            head = Text.assemble(("alert", "yellow"), f" sent to {delivery.channel}")
            tail = f" ({delivery.destination})" if delivery.destination != "Slack" else ""
        elif outcome == "written":
            head = Text.assemble(("alert", "yellow"), f" for {delivery.channel}")
            tail = f" (no SLACK_BOT_TOKEN: written to {delivery.destination})"
        else:
            head = Text.assemble(("alert", "red"), f" for {delivery.channel} not delivered")
            tail = f" ({delivery.error}; kept in the outbox, the next run sends it)"
        err.print(Text.assemble(head, f": {delivery.text}", (tail, "dim")), soft_wrap=True)
    if alerts.unchanged:
        err.print(
            Text.assemble(
                ("alerts", "dim"),
                " suppressed as unchanged (said before; reminded after alerts.remind_after): ",
                ", ".join(alerts.unchanged),
            ),
            soft_wrap=True,
        )
    if alerts.backfill and not alerts.deliveries:
        err.print(Text("no alerts: the window ended too long ago (a backfill)", "dim"))


@contextmanager
def progress_bar(err: Console) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on a terminal's stderr while a run checks its events.

    The run reports its total before anything runs, so the bar shows `0/13` at once; it is
    transient (gone when done) and nothing else is printed while it is live.
    """
    if not err.is_terminal:
        yield lambda event, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("checking events"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}", markup=False),  # an event name, shown as it is
        console=err, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("", total=None, visible=False)  # shown once the total is known

        def advance(event: str, done: int, total: int) -> None:
            progress.update(task, total=total, completed=done, description=event, visible=True)

        yield advance


@contextmanager
def demo_progress(err: Console) -> Iterator[Callable[[str, int, int], None]]:
    """`eventqa demo`: a transient bar per step (generating rows, loading each table)."""
    if not err.is_terminal:
        yield lambda step, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err, transient=True,
    ) as progress:  # fmt: skip
        tasks: dict[str, Any] = {}

        def advance(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(step, total=total)
            progress.update(tasks[step], total=total, completed=done)

        yield advance


_MARK = {"passed": Text("ok", "green"), "warned": Text("warn", "yellow"),
         "failed": Text("FAIL", "red"), "error": Text("ERR", "magenta")}  # fmt: skip


def print_history(out: Console, event: str, rows: list[Any]) -> None:
    """A check-by-run matrix, newest run first."""
    from rich.table import Table

    if not rows:
        out.print(Text(f"no stored runs of {event} yet; `eventqa run --event {event}` makes one"))
        return
    table = Table(title=Text(f"{event}: last {len(rows)} runs"), title_justify="left")
    table.add_column("check", overflow="fold")
    for row in rows:
        table.add_column(f"{row.until:%m-%d %H:%M}", justify="center")
    table.add_row(Text("run", "bold"), *(_MARK[row.status.value] for row in rows))
    checks = sorted({key for row in rows for key in row.checks})
    for key in checks:
        marks = [_MARK[row.checks[key].value] if key in row.checks else Text() for row in rows]
        table.add_row(Text(str(key[1])), *marks)
    out.print(table)


_LINT_STYLE = {"error": "red", "warn": "yellow", "info": "cyan"}


def print_lint(out: Console, report: Any) -> None:
    """One line per finding, then a summary."""
    for finding in report.findings:
        out.print(
            Text.assemble(
                f"{finding.location}: ",
                (finding.rule, "bold"),
                " ",
                (finding.severity, _LINT_STYLE[finding.severity]),
                f": {finding.message}",
            )
        )
    errors = len(report.errors)
    warnings = sum(f.severity == "warn" for f in report.findings)
    additive = sum(f.severity == "info" for f in report.findings)
    summary = f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"
    if report.against:
        summary += f"; {plural(additive, 'compatible change')} since {report.against}"
    out.print(Text(summary, "red" if errors else "green"))


def print_jobs(out: Console, jobs: list[Any]) -> None:
    """`schedule --list`: each event's cron, time zone and next fire time."""
    from datetime import UTC, datetime

    from rich.table import Table

    now = datetime.now(UTC)
    table = Table(title=Text(plural(len(jobs), "scheduled event")), title_justify="left")
    for header in ("event", "cron", "time zone", "next run (UTC)"):
        table.add_column(header)
    for job in jobs:
        next_run = f"{job.next_run.astimezone(UTC):%Y-%m-%d %H:%M}" if job.next_run else "paused"
        if job.next_run and job.next_run < now:
            next_run += " (missed: runs once at start)"
        table.add_row(*(Text(str(cell)) for cell in (job.event, job.cron, job.timezone, next_run)))
    out.print(table)


def print_status(
    out: Console, scheduler: Any, runs: list[dict[str, Any]], events: list[str]
) -> None:
    """`status`: whether the scheduler stopped or runs (heartbeat age), each event's last run."""
    from datetime import UTC, datetime

    from rich.table import Table

    if scheduler.stopped:
        stopped = f"stopped at {scheduler.stopped_at:%Y-%m-%d %H:%M:%S} UTC"
        out.print(Text.assemble("scheduler: ", (stopped, "yellow")))
    elif scheduler.last_heartbeat is None:
        out.print(
            Text.assemble(
                "scheduler: ", ("never seen", "yellow"), " (start it with `eventqa schedule`)"
            )
        )
    else:
        age = int((datetime.now(UTC) - scheduler.last_heartbeat).total_seconds())
        # Beats come every 30 s: a silent minute or two means the process died without stopping.
        style, note = ("green", "") if age < 120 else ("red", " (not stopped cleanly: is it up?)")
        out.print(
            Text.assemble(
                f"scheduler: running, last heartbeat {scheduler.last_heartbeat:%Y-%m-%d %H:%M:%S}"
                " UTC ",
                (f"({age}s ago){note}", style),
            )
        )
    table = Table(title=Text("last run of each event"), title_justify="left")
    for header in ("event", "status", "window end (UTC)", "stored", "events"):
        table.add_column(header)
    by_event = {row["event"]: row for row in runs}
    for event in events:
        row = by_event.get(event)
        if row is None:
            table.add_row(Text(event), Text("never run", "dim"), "", "", "")
            continue
        table.add_row(
            Text(event), _status(row["status"]), f"{row['until']:%Y-%m-%d %H:%M}",
            f"{row['stored_at']:%Y-%m-%d %H:%M}", f"{row['row_count'] or 0:,}",
        )  # fmt: skip
    out.print(table)
