"""The HTML report: one self-contained page built from the results store.

`build_report` reads each event's recent runs in a few set-based queries (the cost follows what
the page shows, not how many runs are stored), builds the page's JSON document (`data.py`) and
renders it (`html.py`). Writing the file is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventqa.report.data import HISTORY_RUNS, build_document
from eventqa.report.html import render_page
from eventqa.results.models import VOLUME_TYPE
from eventqa.results.store import ResultStore

__all__ = ["HISTORY_RUNS", "BuiltReport", "ReportSummary", "build_report"]


@dataclass(frozen=True)
class ReportSummary:
    """What a written report shows: counts by the status of each event's latest run."""

    path: Path
    events: int
    failed: int
    warned: int
    errors: int
    stored_runs: int
    last_run: datetime | None
    size_bytes: int

    @property
    def empty(self) -> bool:
        """True when the results store had no runs (the page says so)."""
        return self.stored_runs == 0


@dataclass(frozen=True)
class BuiltReport:
    """The page and the document it embeds."""

    html: str
    document: dict[str, Any]

    def summary(self, path: Path) -> ReportSummary:
        """Counts of the page, once written to `path`."""
        counts = self.document["summary"]
        last = counts["last_run"]
        return ReportSummary(
            path=path,
            events=counts["events"],
            failed=counts["failed"],
            warned=counts["warned"],
            errors=counts["error"],
            stored_runs=counts["stored_runs"],
            last_run=datetime.fromisoformat(last.replace("Z", "+00:00")) if last else None,
            size_bytes=len(self.html.encode("utf-8")),
        )


def build_report(
    store: ResultStore, *, project: str, project_dir: Path, output_dir: Path,
    now: datetime | None = None, history_runs: int = HISTORY_RUNS,
) -> BuiltReport:  # fmt: skip
    """The report of `store`; origin links are relative to `output_dir`."""
    recent = store.recent_results(history_runs, VOLUME_TYPE)
    document = build_document(
        recent, project=project, project_dir=project_dir, output_dir=output_dir,
        generated_at=(now or datetime.now(UTC)).replace(microsecond=0),
    )  # fmt: skip
    return BuiltReport(render_page(document), document)
