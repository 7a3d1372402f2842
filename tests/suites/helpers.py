"""Build a suite from a contract snippet and look expectations up by what they check."""

from __future__ import annotations

import json
from typing import Any

from eventqa.service import Project
from eventqa.suites import render_suite
from tests.conftest import MINIMAL_CHECKS, events_proto


class Suite:
    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.expectations = document["expectations"]
        self.meta = document["meta"]["eventqa"]

    def find(self, type_: str | None = None, column: str | None = None, check: str | None = None):
        return [
            e
            for e in self.expectations
            if (type_ is None or e["type"] == type_)
            and (column is None or e["kwargs"].get("column") == column)
            and (check is None or e["meta"]["check"] == check)
        ]

    def one(self, type_: str | None = None, column: str | None = None, check: str | None = None):
        found = self.find(type_, column, check)
        assert len(found) == 1, (type_, column, check, found)
        return found[0]

    def checks_on(self, column: str) -> set[str]:
        return {e["meta"]["check"] for e in self.find(column=column)}


def derive(
    make_project,
    messages: str,
    event: str = "thing_happened",
    message: str = "Thing",
    checks: str = MINIMAL_CHECKS,
) -> Suite:
    root = make_project({"events.proto": events_proto(messages, {event: message})}, checks)
    project = Project(root / "checks.yaml")
    (derived,) = [s for s in project.suites if s.event == event]
    return Suite(json.loads(render_suite(derived)))
