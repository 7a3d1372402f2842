"""The compiler against Great Expectations' own engine: the same answer for every check emitted.

Rows are built from the suites themselves: for every field a suite checks, one row per hostile
value (absent, null, every wrong JSON kind, integer and float bounds, unicode, timestamps that are
not RFC 3339, ...), plus payloads that are not objects, duplicate ids and an event with no rows at
all. Each check's success, unexpected count, element count and observed value must agree.
"""

from __future__ import annotations

import json
import math
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eventqa.execution.reference import run_expectations
from eventqa.execution.runner import run_tables
from eventqa.results.models import Window
from eventqa.service import Project
from eventqa.warehouse import open_warehouse
from tests.conftest import REPO

pytestmark = pytest.mark.duckdb

UNTIL = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = Window(since=UNTIL - timedelta(days=1), until=UNTIL)
AT = UNTIL - timedelta(hours=2)

EDGES: list[Any] = [
    None, "x", "", "ü🙂 it's \\ \"q\"", 0, 1, -1, 1.0, 1.5, 2147483647, 2147483648,
    -2147483649, 4294967295, 4294967296, 9223372036854775807, 9223372036854775808,
    -9223372036854775809, 18446744073709551615, 18446744073709551616, 1e39, True, False,
    {}, [], [1, "a", None], {"a": 1}, "2024-01-01T00:00:00Z", "2024-01-01 00:00", "aGVsbG8=",
    "not base64!", "NaN", "12", "1.5s", "LEVEL_LOW", "COLOR_RED", "PLATFORM_IOS", "abc",
]  # fmt: skip


def _set(payload: dict[str, Any], path: str, value: Any) -> None:
    """Put `value` at a column path such as `parts[].tags[]` or `main.level`."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        name = head[:-2]
        if not rest:
            payload[name] = [value]
            return
        element: dict[str, Any] = {}
        payload[name] = [element]
        _set(element, rest, value)
        return
    if not rest:
        payload[head] = value
        return
    child = payload.setdefault(head, {})
    if isinstance(child, dict):
        _set(child, rest, value)


def edge_rows(suites: dict[str, dict[str, Any]], empty: str) -> list[tuple[str, str, str]]:
    """(event_id, event_name, payload JSON) rows hitting every edge of every checked field."""
    rows: list[tuple[str, str, str]] = []
    for event, suite in sorted(suites.items()):
        if event == empty:
            continue
        fields = sorted(
            c
            for c in suite["meta"]["eventqa"]["columns"]
            if not c.startswith(("json_type(", "keys(", "payload.")) and c not in ("event_id",)
        )
        payloads: list[str] = ["{}", '"a string"', "[1]", "null"]
        for field in fields:
            for value in EDGES:
                payload: dict[str, Any] = {}
                _set(payload, field, value)
                payloads.append(json.dumps(payload))
        for number, text in enumerate(payloads):
            rows.append((f"{event}-{number}", event, text))
        rows.append((f"{event}-0", event, "{}"))  # a duplicate event_id
    return rows


def build_duckdb(path: Path, table: str, rows: list[tuple[str, str, str]]) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            f"CREATE TABLE {table} (event_id VARCHAR, event_name VARCHAR, "
            "event_timestamp TIMESTAMPTZ, payload JSON)"
        )
        connection.executemany(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?)",
            [(event_id, name, AT, text) for event_id, name, text in rows],
        )


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float | int):
        return math.isclose(left, right, rel_tol=1e-9) or (math.isnan(left) and math.isnan(right))
    if isinstance(left, int | float) and isinstance(right, float):
        return _same(float(right), left)
    return bool(left == right)


def compare(project: Project, alone: bool = False) -> int:
    """Run every suite through both engines; assert they agree; return the checks compared.

    The compiler checks a table's events in one statement, or (`alone`) each in its own: on
    DuckDB, one pipeline for several kinds of rows, or an event's own columns.
    """
    warehouse = open_warehouse(project.config)
    jobs = list(project.catalog.all_jobs.values())
    compared = 0
    differences = []
    for table in sorted({job.table for job in jobs}):
        table_jobs = [job for job in jobs if job.table == table]
        connection = warehouse.connect()
        try:
            batches = [[job] for job in table_jobs] if alone else [table_jobs]
            events = [
                event
                for batch in batches
                for event in run_tables(warehouse, connection, table, batch, None, WINDOW).events
            ]
        finally:
            warehouse.close(connection)
        for job, result in zip(table_jobs, events, strict=True):
            positions = list(range(len(job.suite["expectations"])))
            reference = run_expectations(warehouse, job, positions, WINDOW, "ref")
            for position, check in enumerate(result.checks):
                expected = reference[position]
                for name in ("status", "unexpected_count", "element_count", "observed_value"):
                    mine, theirs = getattr(check, name), getattr(expected, name)
                    if not _same(mine, theirs):
                        differences.append(
                            (job.event, check.check_id or position, name, mine, theirs)
                        )
                compared += 1
    assert differences == [], "\n".join(map(repr, differences[:60]))
    return compared


def project_with_rows(tmp_path: Path, source: Path, name: str) -> tuple[Project, str]:
    root = tmp_path / name
    shutil.copytree(source, root, ignore=shutil.ignore_patterns(".eventqa"))
    project = Project(root / "checks.yaml")
    project.generate()
    suites = {job.event: job.suite for job in project.catalog.all_jobs.values()}
    empty = sorted(suites)[0]  # one event with no rows at all: an empty window
    for table in sorted({job.table for job in project.catalog.all_jobs.values()}):
        events = {e: s for e, s in suites.items() if s["meta"]["eventqa"]["table"] == table}
        settings = project.config.warehouse
        path = root / settings.path  # type: ignore[union-attr]
        path.parent.mkdir(parents=True, exist_ok=True)
        build_duckdb(path, table, edge_rows(events, empty))
    return Project(root / "checks.yaml"), empty


@pytest.fixture
def golden_project(tmp_path):
    root = tmp_path / "golden-src"
    shutil.copytree(REPO / "tests" / "suites" / "golden", root)
    checks = root / "checks.yaml"
    checks.write_text(
        checks.read_text() + "warehouse: {type: duckdb, path: .eventqa/warehouse.duckdb}\n"
    )
    return project_with_rows(tmp_path, root, "golden")


@pytest.mark.parametrize("alone", [False, True], ids=["events together", "each event alone"])
def test_compiler_agrees_with_great_expectations_on_every_type_family(golden_project, alone):
    project, _ = golden_project
    assert compare(project, alone) > 100


def test_compiler_agrees_with_great_expectations_on_every_rule_kind(tmp_path):
    project, _ = project_with_rows(tmp_path, REPO, "example")
    kinds = {
        e["type"] for job in project.catalog.all_jobs.values() for e in job.suite["expectations"]
    }
    assert len(kinds) >= 10  # every expectation type eventqa emits is exercised
    assert compare(project) > 300
