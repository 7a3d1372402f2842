"""DuckDB's fused pipeline: its pieces evaluated by DuckDB itself, and an event it cannot hold."""

from __future__ import annotations

import copy
import logging
import random
from datetime import timedelta

import duckdb
import pytest

from eventqa.execution.fused import Templates, case_tree, name_tree
from eventqa.execution.runner import EventJob, run_tables
from eventqa.results.models import Window
from eventqa.service import Project
from eventqa.warehouse import open_warehouse
from eventqa.warehouse.duckdb import DuckDBSQL

pytestmark = pytest.mark.duckdb


@pytest.mark.parametrize("seed", range(6))
def test_a_case_tree_gives_each_value_its_own_expression(seed):
    """Runs of values sharing an expression, gaps with none, any domain: DuckDB agrees."""
    rng = random.Random(seed)
    domain = sorted(rng.sample(range(200), rng.randint(1, 60)))
    branches = {v: f"'e{rng.randint(0, 4)}'" for v in domain if rng.random() < 0.8}
    tree = case_tree("v", branches, domain)
    values = ", ".join(f"({v})" for v in domain)
    found = duckdb.sql(f"SELECT v, {tree} FROM (VALUES {values}) AS t(v) ORDER BY v").fetchall()
    assert found == [(v, branches[v].strip("'") if v in branches else None) for v in domain]


@pytest.mark.parametrize("count", [1, 3, 4, 5, 17])
def test_a_name_tree_numbers_each_name(count):
    names = {f"event_{i:02d}_{'x' * (i % 3)}": i * 10 for i in range(count)}
    tree = name_tree("n", names, DuckDBSQL())
    values = ", ".join(f"('{n}')" for n in names)
    found = dict(duckdb.sql(f"SELECT n, {tree} FROM (VALUES {values}) AS t(n)").fetchall())
    assert found == names


def test_templates_share_one_column_and_read_each_users_constants():
    """Checks that differ only in their constants are one expression; each user reads its own."""
    templates = Templates("x", "g")
    a = templates.add("v < \x000\x00", [("HUGEINT", "5")], 0)
    b = templates.add("v < \x000\x00", [("HUGEINT", "7")], 2)
    c = templates.add("NOT list_contains(\x000\x00, s)", [("VARCHAR[]", "['a', 'b']")], 1)
    d = templates.add("NOT list_contains(\x000\x00, s)", [("VARCHAR[]", "['a', 'b']")], 3)
    assert a == b and c == d and a != c
    assert "CAST(['a', 'b'] AS VARCHAR[])" in templates.expression(c, 4)  # one value: a literal
    rows = "(0, 6, 'a'), (1, 6, 'c'), (2, 6, 'b'), (3, 6, 'a')"
    sql = (
        f"SELECT g, {templates.expression(a, 4)}, {templates.expression(c, 4)} "
        f"FROM (VALUES {rows}) AS t(g, v, s) ORDER BY g"
    )
    # Slot 0 reads 5 (6 < 5 is false), slot 2 reads 7; slots 1 and 3 have no bound (NULL).
    assert duckdb.sql(sql).fetchall() == [
        (0, False, False), (1, None, True), (2, True, False), (3, None, False)
    ]  # fmt: skip
    # Read from columns of a joined table instead: the same column names for every user.
    joined = templates.expression(a, 4, "g")
    assert "x0_0" in joined and "[" not in joined
    assert list(templates.varying(4)) == ["x0_0"]


def test_an_event_the_pipeline_cannot_hold_is_checked_apart(example_project, caplog):
    """A check over an object's keys that is no set membership cannot be counted from the key
    list: its event runs in a statement of its own, the others still in one pipeline."""
    project = Project(example_project / "checks.yaml")
    until = project.demo(rows=2000).until
    window = Window(since=until - timedelta(days=7), until=until)
    jobs = [
        EventJob(job.event, job.table, job.owner, job.suite)
        for job in project.catalog.all_jobs.values()
        if job.table == "backend__events"
    ]
    odd = copy.deepcopy(jobs[1].suite)
    odd["expectations"].append({
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "keys(payload)"},
        "meta": {"id": "payload.keys.not_null", "severity": "error", "check": "keys"},
    })  # fmt: skip
    jobs[1] = EventJob(jobs[1].event, jobs[1].table, jobs[1].owner, odd)
    warehouse = open_warehouse(project.config)

    def run() -> list:
        connection = warehouse.connect()
        try:
            return run_tables(warehouse, connection, "backend__events", jobs, None, window).events
        finally:
            warehouse.close(connection)

    caplog.set_level(logging.DEBUG, logger="eventqa.sql")
    fused = run()
    log = [r.getMessage() for r in caplog.records if r.name == "eventqa.sql"]
    assert any(f"{jobs[1].event} in a statement of its own" in m for m in log)
    tables = [m for m in log if "AS relation_index" in m]
    assert len(tables) == 2 and "s AS MATERIALIZED" in tables[0]  # the other six together
    (keys,) = [c for c in fused[1].checks if c.check_id == "payload.keys.not_null"]
    assert keys.unexpected_count == 0 and (keys.element_count or 0) > fused[1].row_count
    # The same answers as every event through its relations' own SQL.
    DuckDBSQL.fused = False
    try:
        apart = run()
    finally:
        DuckDBSQL.fused = True
    assert [e.model_dump(exclude={"duration_seconds"}) for e in fused] == [
        e.model_dump(exclude={"duration_seconds"}) for e in apart
    ]
