"""Terminal output of the commands, kept apart from what they do.

Everything printed is a `rich.text.Text`: names, messages and values from users, contracts and
the warehouse are shown literally, never read as rich markup (`[/x]`, `[link=...]`) or emoji
codes (`:100:` in `file:100:7`). Styles are the program's own, applied as Text spans.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.text import Text


def print_generate(out: Console, err: Console, result: Any, *, check: bool) -> None:
    """Summarise `generate`: contract diagnostics as warnings, then what changed."""
    for diagnostic in result.diagnostics:
        err.print(Text.assemble(("warning:", "yellow"), f" {diagnostic}"), soft_wrap=True)
    changes = result.changes
    tables = sorted({s.table for s in result.suites})
    where = result.directory.name + "/"
    counted = f"{_plural(len(result.suites), 'suite')} for {_plural(len(tables), 'table')}"
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


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def print_demo(out: Console, summary: Any) -> None:
    """What `demo` built, and the defects planted in it."""
    total = sum(summary.rows.values())
    out.print(
        Text(
            f"Built {summary.path} with {total:,} events over "
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


# Checks the volume monitoring adds: their observed value is the detector's finding.
_MONITORING = {"eventqa_volume", "eventqa_freshness"}


def _monitoring_figures(check: Any) -> str:
    """A volume or freshness finding in a few figures (its description is the explanation)."""
    found = check.observed_value if isinstance(check.observed_value, dict) else {}
    if found.get("status") == "learning":
        return "learning"
    if check.expectation_type == "eventqa_freshness":
        seen = found.get("last_seen") or "never"
        return f"last seen {seen}, probability {found.get('probability', 0):.2g}"
    if "expected" not in found:
        return ""
    low, high = found.get("low", 0), found.get("high", 0)
    return (
        f"{found.get('observed', 0):,} events, expected {found['expected']:,.0f} "
        f"(band {low:,.0f}\u2013{high:,.0f})"
    )


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


def _observed(check: Any) -> str:
    if check.expectation_type in _MONITORING and not check.error:
        return _monitoring_figures(check)
    if check.error:
        return str(check.error)
    if check.unexpected_count is not None and check.element_count:
        percent = 100 * check.unexpected_count / check.element_count
        return f"{check.unexpected_count:,} of {check.element_count:,} ({percent:.2f}%)"
    if check.unexpected_count is not None:
        return f"{check.unexpected_count:,} rows"
    if check.observed_value is not None:
        return f"observed {check.observed_value}"
    return ""


def print_run(out: Console, result: Any) -> None:
    """A table per event: each check, its status, what was observed, samples of failures."""
    from rich.table import Table

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
            f", {event.row_count:,} events{_learning(event)}",
        )
        failing = [c for c in event.checks if c.status.value != "passed"]
        table = Table(title=title, title_justify="left", show_lines=False, expand=False)
        for header in ("check", "status", "failing / observed", "samples", "origin"):
            table.add_column(header, overflow="fold")
        for check in failing:
            samples = ", ".join(map(str, check.samples[:5]))
            table.add_row(
                Text(check.description),
                _status(check.status.value),
                Text(_observed(check)),
                Text(samples),
                Text(check.origin),
            )
        passed = len(event.checks) - len(failing)
        if failing:
            out.print(table)
        else:
            out.print(title)
        out.print(Text(f"  {passed} of {len(event.checks)} checks passed"))
    for table_result in result.tables:
        for check in table_result.checks:
            samples = ", ".join(map(str, check.samples[:5]))
            out.print(
                Text.assemble(
                    (table_result.table, "bold"),
                    f": {check.description}: ",
                    _status(check.status.value),
                    f" {_observed(check)}" + (f"; unknown: {samples}" if samples else ""),
                )
            )
    out.print(_status(result.status.value))


def run_json(result: Any) -> str:
    """The `--format json` document (ARCHITECTURE.md, "Command line")."""
    import json

    document = result.model_dump(mode="json")
    document["status"] = result.status.value
    return json.dumps(document, indent=2)


@contextmanager
def progress_bar(err: Console) -> Iterator[Callable[[str, int, int], None]]:
    """A transient progress bar on a terminal's stderr while several events run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if not err.is_terminal:
        yield lambda event, done, total: None
        return
    with Progress(
        TextColumn("checking"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.description}", markup=False),  # an event name, shown as it is
        console=err, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("", total=None)

        def advance(event: str, done: int, total: int) -> None:
            if total > 1:
                progress.update(task, total=total, completed=done, description=event)

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


def run_junit(result: Any) -> str:
    """JUnit XML: a test suite per event (and per table), a test case per check.

    Failed error-severity checks are <failure>, checks that could not run are <error>, and
    warnings pass with their finding in <system-out>, so CI dashboards show them without failing.
    """
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name=f"eventqa run {result.run_id}")
    subjects = [(f"{e.table}.{e.event}", e.checks) for e in result.events] + [
        (t.table, t.checks) for t in result.tables
    ]
    for name, checks in subjects:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(checks)),
            failures=str(sum(c.status.value == "failed" for c in checks)),
            errors=str(sum(c.status.value == "error" for c in checks)),
            timestamp=result.window.until.isoformat(),
        )
        for check in checks:
            # Monitoring checks explain each run differently: CI tracks them by their id.
            monitoring = check.expectation_type in _MONITORING
            label = f"{check.check_id} (against its own history)" if monitoring else None
            case = ET.SubElement(suite, "testcase", classname=name, name=label or check.description)
            detail = "\n".join(
                filter(None, [
                    check.description if monitoring else "",
                    f"origin: {check.origin}",
                    f"{check.expectation_type}({check.column or ''})",
                    _observed(check),
                    f"samples: {', '.join(map(str, check.samples))}" if check.samples else "",
                ])
            )  # fmt: skip
            if check.status.value == "failed":
                ET.SubElement(case, "failure", message=_observed(check)).text = detail
            elif check.status.value == "error":
                ET.SubElement(case, "error", message=check.error or "").text = detail
            elif check.status.value == "warned":
                ET.SubElement(case, "system-out").text = "warning\n" + detail
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


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
    summary = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    if report.against:
        summary += f"; {_plural(additive, 'compatible change')} since {report.against}"
    out.print(Text(summary, "red" if errors else "green"))


def lint_json(report: Any) -> str:
    """The `lint --format json` document, for CI annotations."""
    import json

    return json.dumps(
        {
            "against": report.against,
            "errors": len(report.errors),
            "findings": [
                {
                    "rule": f.rule,
                    "kind": f.kind.value,
                    "severity": f.severity,
                    "file": f.location.path,
                    "line": f.location.line,
                    "column": f.location.column,
                    "message": f.message,
                }
                for f in report.findings
            ],
        },
        indent=2,
    )


def print_jobs(out: Console, jobs: list[Any]) -> None:
    """`schedule --list`: each event's cron, time zone and next fire time."""
    from datetime import UTC, datetime

    from rich.table import Table

    now = datetime.now(UTC)
    table = Table(title=Text(_plural(len(jobs), "scheduled event")), title_justify="left")
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
