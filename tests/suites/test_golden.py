"""The golden suites under tests/suites/golden/expectations/ match what derivation produces.

Regenerate them with `make golden` and review the diff like any other code change.
"""

from __future__ import annotations

from eventqa.service import Project
from eventqa.suites import diff_suites
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "suites" / "golden"


def test_golden_suites_are_current():
    project = Project(GOLDEN / "checks.yaml")
    changes = diff_suites(project.expectations_dir, project.suites)
    assert changes.clean, f"golden suites differ; run `make golden` and review: {changes}"


def test_repository_expectations_are_current():
    project = Project(REPO / "checks.yaml")
    changes = diff_suites(project.expectations_dir, project.suites)
    assert changes.clean, f"expectations/ is stale; run `eventqa generate`: {changes}"
