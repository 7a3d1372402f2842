"""The demo's volume: its planted drop is the one finding, also after the demo is rebuilt."""

from __future__ import annotations

import pytest

from eventqa.results import Status
from eventqa.service import Project, Selection

pytestmark = pytest.mark.duckdb


def volume_findings(project: Project) -> dict[str, str]:
    run = project.run(Selection(all=True), alert=False)
    return {
        event.event: check.observed_value["kind"]
        for event in run.events
        for check in event.checks
        if check.check_id == "volume" and check.status != Status.PASSED
    }


def test_the_planted_drop_is_the_only_volume_finding_even_after_a_rebuild(example_project):
    project = Project(example_project / "checks.yaml")
    project.demo(rows=20000)
    assert volume_findings(project) == {"buyer_placed_bid": "drop"}
    # A rebuild replaces the tables (here at twice the rates): the history learnt from the old
    # rows is forgotten, not compared with the new ones.
    project.demo(rows=40000)
    assert volume_findings(project) == {"buyer_placed_bid": "drop"}
