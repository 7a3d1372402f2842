"""Suites are written as GX JSON without importing GX, and GX reads them back as written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eventqa.suites.gx_json import gx_kwargs, known_kwargs
from tests.conftest import MINIMAL_CHECKS, REPO, events_proto

COMMITTED = sorted(
    [*(REPO / "expectations").rglob("*.json"), *(REPO / "tests/suites/golden").rglob("*.json")]
)
CONDITION = {
    "type": "comparison",
    "column": {"name": "json_type(a)"},
    "operator": "!=",
    "parameter": "null",
}


@pytest.mark.parametrize(
    ("type_", "kwargs"),
    [
        ("expect_column_values_to_not_be_null", {"column": "a", "row_condition": CONDITION}),
        ("expect_column_values_to_be_between", {"column": "a", "min_value": 1, "max_value": 2.5}),
        ("expect_column_values_to_be_between", {"column": "a", "max_value": {"$PARAMETER": "p"}}),
        ("expect_column_values_to_be_in_set", {"column": "a", "value_set": ["x", 1, 2.5]}),
        ("expect_column_values_to_not_be_in_set", {"column": "a", "value_set": ["null"]}),
        ("expect_column_values_to_match_regex", {"column": "a", "regex": "^[a-z]+$"}),
        ("expect_column_values_to_be_unique", {"column": "a"}),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "a", "column_B": "b", "or_equal": True, "ignore_row_if": "neither"},
        ),
        (
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": "a", "column_B": "b", "or_equal": False},
        ),
        (
            "expect_column_pair_values_to_be_equal",
            {"column_A": "a", "column_B": "b", "ignore_row_if": "both_values_are_missing"},
        ),
        (
            "expect_compound_columns_to_be_unique",
            {"column_list": ["a", "b"], "ignore_row_if": "all_values_are_missing"},
        ),
        ("expect_column_values_to_match_regex", {"column": "a", "regex": "(?s).*"}),
        ("expect_compound_columns_to_be_unique", {"column_list": ["a", "b"]}),
        (
            "expect_column_proportion_of_non_null_values_to_be_between",
            {"column": "a", "min_value": 1},
        ),
        ("expect_column_max_to_be_between", {"column": "a", "min_value": {"$PARAMETER": "p"}}),
        ("expect_table_row_count_to_be_between", {"min_value": 1, "max_value": 10}),
        ("unexpected_rows_expectation", {"unexpected_rows_query": "SELECT * FROM {batch}"}),
    ],
)
def test_kwargs_written_directly_are_what_gx_writes(type_, kwargs):
    assert known_kwargs(type_, kwargs) == gx_kwargs(type_, kwargs, "d")


@pytest.mark.parametrize(
    ("type_", "kwargs"),
    [
        ("expect_column_values_to_be_between", {"column": "a"}),  # GX wants a bound
        ("expect_column_values_to_be_between", {"column": "a", "min_value": True}),
        ("expect_column_values_to_be_between", {"column": "a", "min_value": 1, "mostly": 1}),
        ("expect_table_row_count_to_be_between", {"min_value": 2, "max_value": 1}),
        ("expect_compound_columns_to_be_unique", {"column_list": ["a"]}),
        ("expect_column_values_to_be_in_set", {"column": "a"}),
        ("expect_column_values_to_be_unique", {"column": "a", "colour": "red"}),
        ("expect_column_value_lengths_to_be_between", {"column": "a", "max_value": 3}),
    ],
)
def test_other_kwargs_are_left_to_gx(type_, kwargs):
    assert known_kwargs(type_, kwargs) is None


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_committed_suite_loads_in_gx_as_written(path: Path):
    from great_expectations.core import ExpectationSuite

    document = json.loads(path.read_text(encoding="utf-8"))
    if "expectations" not in document:
        pytest.skip("not a suite")
    suite = ExpectationSuite(**document)
    assert suite.name == document["name"]
    loaded = [e.configuration.to_json_dict() for e in suite.expectations]
    for gx, written in zip(loaded, document["expectations"], strict=True):
        assert (gx["type"], gx["kwargs"], gx["meta"]) == (
            written["type"],
            written["kwargs"],
            written["meta"],
        )
    assert [e.severity.value for e in suite.expectations] == [
        e["severity"] for e in document["expectations"]
    ]


def imports_of_generate(root: Path) -> str:
    """`eventqa generate` in a fresh interpreter; its `-X importtime` report of every import."""
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "eventqa",
            "--config",
            "checks.yaml",
            "generate",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "expectations").is_dir()
    return done.stderr


def test_generate_on_the_demo_project_never_imports_great_expectations(example_project):
    assert "great_expectations" not in imports_of_generate(example_project)


def test_generate_imports_great_expectations_only_for_a_raw_expectation_it_must_check(
    make_project,
):
    rule = "{type: expect_column_value_lengths_to_be_between, kwargs: {column: a, max_value: 3}}"
    checks = (
        f"{MINIMAL_CHECKS}events:\n  thing_happened:\n    rules:\n      - expectation: {rule}\n"
    )
    proto = events_proto("message Thing { string a = 1; }", {"thing_happened": "Thing"})
    root = make_project({"events.proto": proto}, checks)
    assert "great_expectations" in imports_of_generate(root)
