"""Terminal output of the commands, kept apart from what they do."""

from __future__ import annotations

from typing import Any

from rich.console import Console


def print_generate(out: Console, err: Console, result: Any, *, check: bool) -> None:
    """Summarise `generate`: contract diagnostics as warnings, then what changed."""
    for diagnostic in result.diagnostics:
        err.print(f"[yellow]warning:[/yellow] {diagnostic}", soft_wrap=True)
    changes = result.changes
    tables = sorted({s.table for s in result.suites})
    where = result.directory.name + "/"
    counted = f"{_plural(len(result.suites), 'suite')} for {_plural(len(tables), 'table')}"
    if check:
        out.print(f"{where} is current: {counted}")
        return
    written = len(changes.missing) + len(changes.stale)
    unchanged = len(result.suites) - written
    parts = [f"wrote {written}", f"{unchanged} unchanged"]
    if changes.orphaned:
        parts.append(f"removed {len(changes.orphaned)} orphaned")
    out.print(f"{counted} ({', '.join(tables)}): {', '.join(parts)} in {where}")
    for label, paths in (("new", changes.missing), ("updated", changes.stale)):
        for path in paths:
            out.print(f"  {label}: {where}{path}")
    for path in changes.orphaned:
        out.print(f"  removed: {where}{path}")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
