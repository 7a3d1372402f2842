"""Samples carried by the table statement are exactly those the samples statement fetches.

On DuckDB each check also aggregates its smallest failing values (`Compiled.inline`), so a run
usually needs no second statement. Where repeats could hide a distinct value, the samples
statement still runs for that check alone. Either way the result must be the same as with the
samples statement alone (a dialect without a bounded aggregate): compared check by check.
"""

from __future__ import annotations

import pytest

from eventqa.service import Selection
from eventqa.warehouse.duckdb import DuckDBSQL
from tests.execution.test_duckdb_run import AT, SINCE, UNTIL, build, good
from tests.execution.test_duckdb_run import CHECKS as DUCKDB_CHECKS

pytestmark = pytest.mark.duckdb

CHECKS = DUCKDB_CHECKS + "      - unique: {fields: [maybe]}\n"


def rows() -> list[tuple[str, object, object]]:
    found: list[tuple[str, object, object]] = []
    # An enum value repeated past what the scan carries, then a larger one: only the samples
    # statement can know it is there.
    found += [("thing_happened", AT, good(color="COLOR_BAD", maybe=n)) for n in range(150)]
    found += [("thing_happened", AT, good(color="COLOR_ZZZ", maybe=1000))]
    # 30 distinct values its type rejects (the scan carries them all), and duplicates.
    found += [("thing_happened", AT, good(small=f"s{n:02}", maybe=n % 7)) for n in range(30)]
    # Rows a rule finds (more than the sample shows), one value out of a set.
    found += [("thing_happened", AT, good(small=n, maybe=n)) for n in range(25)]
    found += [("thing_happened", AT, good(select="nope", maybe=None))]
    return found


def outcome(project) -> dict[str, tuple[str, int | None, list[object] | None]]:
    result = project.run(Selection(events=("thing_happened",)), SINCE, UNTIL, alert=False)
    (event,) = result.events
    return {c.check_id: (c.status.value, c.unexpected_count, c.samples) for c in event.checks}


def test_inline_samples_equal_the_samples_statement(make_project, statements, monkeypatch):
    project = build(make_project, rows(), CHECKS)
    carried = outcome(project)
    sent_inline = [s for s in statements if "payload" in s]
    statements.clear()
    monkeypatch.setattr(DuckDBSQL, "smallest", lambda self, value, count: None)
    fetched = outcome(project)
    sent_apart = [s for s in statements if "payload" in s]

    assert carried == fetched
    failed = {k: v for k, v in carried.items() if v[0] != "passed"}
    assert failed["color.in_enum"][2] == ["COLOR_BAD", "COLOR_ZZZ"]
    assert failed["small.type"][2] == [f'"s{n:02}"' for n in range(20)]
    assert len(failed["rule.compare.small!=maybe"][2] or []) == 20
    assert failed["rule.unique.maybe"][2] == sorted(range(25), key=str)[:20]  # by JSON text
    assert failed["rule.in_set.select"][2] == ["nope"]
    # Inline, the samples statement ran for the repeated enum only; apart, for every failed check.
    assert len(sent_inline) == 2 and len(sent_apart) == 2
    assert sent_inline[1].count("SELECT DISTINCT") == 1
    assert sent_apart[1].count("SELECT DISTINCT") == len(failed)


def test_a_run_whose_samples_the_scan_carries_sends_one_statement(make_project, statements):
    project = build(make_project, rows()[151:], DUCKDB_CHECKS)
    result = outcome(project)
    failed = {k for k, v in result.items() if v[0] != "passed"}
    assert failed >= {"small.type", "rule.compare.small!=maybe"}
    assert len([s for s in statements if "payload" in s]) == 1


def test_duplicates_found_by_hash_are_counted_and_sampled_in_one_more_statement(
    make_project, statements
):
    # The scan groups keys by hash: none repeated proves the key unique; repeats are counted
    # again over the relation, with their samples, in the one statement samples need anyway.
    project = build(make_project, rows()[151:], CHECKS)
    result = outcome(project)
    assert result["rule.unique.maybe"] == ("failed", 37, [0, 1, 2, 3, 4, 5, 6])
    assert result["event_id.unique"][0] == "passed"
    sent = [s for s in statements if "payload" in s]
    assert len(sent) == 2 and "hash(" in sent[0] and "GROUP BY maybe HAVING" in sent[1]
