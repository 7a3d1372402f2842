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
    if check:
        out.print(f"{where} is current: {len(result.suites)} suites in {len(tables)} tables")
        return
    written = len(changes.missing) + len(changes.stale)
    unchanged = len(result.suites) - written
    parts = [f"wrote {written}", f"{unchanged} unchanged"]
    if changes.orphaned:
        parts.append(f"removed {len(changes.orphaned)} orphaned")
    out.print(
        f"{len(result.suites)} suites for {len(tables)} tables ({', '.join(tables)}): "
        f"{', '.join(parts)} in {where}"
    )
    for label, paths in (("new", changes.missing), ("updated", changes.stale)):
        for path in paths:
            out.print(f"  {label}: {where}{path}")
    for path in changes.orphaned:
        out.print(f"  removed: {where}{path}")
