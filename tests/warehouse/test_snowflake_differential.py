"""The compiler against Great Expectations' engine on the Snowflake emulator (fakesnow)."""

from __future__ import annotations

import shutil

import pytest

from eventqa.service import Project
from tests.conftest import REPO
from tests.execution.test_differential import compare, project_with_rows
from tests.warehouse.conftest import copy_to_snowflake, write_connections

pytestmark = pytest.mark.snowflake


def test_compiler_agrees_with_great_expectations_on_snowflake(
    tmp_path, fakesnow_server, monkeypatch
):
    source = tmp_path / "golden-src"
    shutil.copytree(REPO / "tests" / "suites" / "golden", source)
    checks = source / "checks.yaml"
    text = checks.read_text()
    checks.write_text(text + "warehouse: {type: duckdb, path: .eventqa/warehouse.duckdb}\n")
    duck, _ = project_with_rows(tmp_path, source, "golden")
    copy_to_snowflake(
        duck.directory / ".eventqa" / "warehouse.duckdb", fakesnow_server, ["golden__events"]
    )
    home = tmp_path / "snowflake-home"
    write_connections(home, "eventqa_test", fakesnow_server)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(home))
    (duck.directory / "checks.yaml").write_text(
        text + "warehouse: {type: snowflake, connection_name: eventqa_test}\n"
    )
    assert compare(Project(duck.directory / "checks.yaml")) > 100
