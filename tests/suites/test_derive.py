from __future__ import annotations

import json

import pytest

from eventqa.errors import ConfigError
from eventqa.service import Project
from eventqa.suites import load_suite, render_suite
from tests.conftest import MINIMAL_CHECKS
from tests.suites.helpers import derive

NOT_NULL = "expect_column_values_to_not_be_null"
IN_SET = "expect_column_values_to_be_in_set"
NOT_IN_SET = "expect_column_values_to_not_be_in_set"


def test_every_event_gets_envelope_checks(make_project):
    suite = derive(make_project, "message Thing { int64 a = 1; }")
    assert {e["type"] for e in suite.find(column="event_id")} == {
        NOT_NULL,
        "expect_column_values_to_be_unique",
    }
    future = suite.one("expect_column_values_to_be_between", "event_timestamp")
    assert future["kwargs"]["max_value"] == {"$PARAMETER": "until_plus_5m"}
    assert suite.one(IN_SET, "json_type(payload)", "payload")["kwargs"]["value_set"] == ["object"]
    drift = suite.one(IN_SET, "keys(payload)")
    assert drift["kwargs"]["value_set"] == ["a"]
    assert drift["meta"]["check"] == "undeclared_keys"


@pytest.mark.parametrize(
    ("proto", "value_type"),
    [
        ("int32", "int32"),
        ("sint32", "int32"),
        ("sfixed32", "int32"),
        ("int64", "int64"),
        ("sint64", "int64"),
        ("sfixed64", "int64"),
        ("uint32", "uint32"),
        ("fixed32", "uint32"),
        ("uint64", "uint64"),
        ("fixed64", "uint64"),
        ("float", "float"),
        ("double", "double"),
        ("bool", "bool"),
        ("string", "string"),
        ("bytes", "bytes"),
    ],
)
def test_plain_scalars_are_required_and_typed_per_width(make_project, proto, value_type):
    suite = derive(make_project, f"message Thing {{ {proto} v = 1; }}")
    assert suite.meta["columns"] == {"v": value_type}
    present = suite.one(NOT_NULL, "json_type(v)", "present")
    assert "row_condition" not in present["kwargs"]
    assert suite.one(NOT_IN_SET, "json_type(v)", "not_null")["kwargs"]["value_set"] == ["null"]
    typed = suite.one(NOT_NULL, "v", "type")
    assert typed["kwargs"]["row_condition"] == {
        "type": "comparison",
        "column": {"name": "json_type(v)"},
        "operator": "!=",
        "parameter": "null",
    }
    assert typed["description"] == f"v is a valid {proto} when set"
    assert typed["meta"]["origin"] == "contracts/events.proto#Thing.v"
    assert typed["meta"]["id"] == "v.type"


@pytest.mark.parametrize(
    ("wrapper", "value_type"),
    [
        ("Int64Value", "int64"),
        ("UInt64Value", "uint64"),
        ("Int32Value", "int32"),
        ("UInt32Value", "uint32"),
        ("DoubleValue", "double"),
        ("FloatValue", "float"),
        ("BoolValue", "bool"),
        ("StringValue", "string"),
        ("BytesValue", "bytes"),
    ],
)
def test_wrappers_are_nullable_but_typed(make_project, wrapper, value_type):
    suite = derive(make_project, f"message Thing {{ google.protobuf.{wrapper} v = 1; }}")
    assert suite.checks_on("json_type(v)") == set()  # may be null or absent
    assert suite.checks_on("v") == {"type"}
    assert suite.meta["columns"] == {"v": value_type}


def test_proto3_optional_is_nullable(make_project):
    suite = derive(make_project, "message Thing { optional string v = 1; string w = 2; }")
    assert suite.checks_on("json_type(v)") == set()
    assert suite.checks_on("json_type(w)") == {"present", "not_null"}


def test_enums_top_level_and_nested_check_value_names(make_project):
    suite = derive(
        make_project,
        """
        enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; }
        message Thing {
          enum Size { SIZE_UNSPECIFIED = 0; SIZE_L = 1; }
          Color color = 1;
          Size size = 2;
        }""",
    )
    assert suite.one(IN_SET, "color", "enum")["kwargs"]["value_set"] == [
        "COLOR_UNSPECIFIED",
        "COLOR_RED",
    ]
    assert suite.one(IN_SET, "size", "enum")["kwargs"]["value_set"] == [
        "SIZE_UNSPECIFIED",
        "SIZE_L",
    ]
    assert suite.meta["columns"] == {"color": "enum", "size": "enum"}
    assert "acme.events.Thing.Size" in suite.one(IN_SET, "size")["description"]


def test_timestamp_is_a_nullable_rfc3339_value(make_project):
    suite = derive(make_project, "message Thing { google.protobuf.Timestamp at = 1; }")
    assert suite.meta["columns"] == {"at": "timestamp"}
    assert suite.checks_on("json_type(at)") == set()
    assert "google.protobuf.Timestamp" in suite.one(NOT_NULL, "at", "type")["description"]


def test_nested_message_fields_are_checked_where_the_parent_is_an_object(make_project):
    suite = derive(
        make_project,
        """
        message Address { string city = 1; optional string line2 = 2; }
        message Thing { Address address = 1; }""",
    )
    assert suite.one(IN_SET, "json_type(address)", "type")["kwargs"]["value_set"] == [
        "object",
        "null",
    ]
    assert suite.one(IN_SET, "keys(address)")["kwargs"]["value_set"] == ["city", "line2"]
    present = suite.one(NOT_NULL, "json_type(address.city)", "present")
    assert present["kwargs"]["row_condition"] == {
        "type": "comparison",
        "column": {"name": "json_type(address)"},
        "operator": "==",
        "parameter": "object",
    }
    assert suite.checks_on("json_type(address.line2)") == set()
    assert suite.meta["columns"] == {"address.city": "string", "address.line2": "string"}


def test_repeated_scalars_are_arrays_never_null_with_typed_elements(make_project):
    suite = derive(make_project, "message Thing { repeated int32 v = 1; }")
    assert suite.one(IN_SET, "json_type(v)", "type")["kwargs"]["value_set"] == ["array"]
    assert suite.checks_on("json_type(v)") == {"present", "not_null", "type"}
    assert suite.one(NOT_IN_SET, "json_type(v[])", "not_null")
    assert suite.one(NOT_NULL, "v[]", "type")
    assert suite.meta["columns"] == {"v[]": "int32"}


def test_repeated_messages_check_each_element_field_by_field(make_project):
    suite = derive(
        make_project,
        """
        message Item { uint32 quantity = 1; repeated string tags = 2; }
        message Thing { repeated Item items = 1; }""",
    )
    assert suite.one(IN_SET, "json_type(items[])", "type")["kwargs"]["value_set"] == ["object"]
    assert suite.one(IN_SET, "keys(items[])")["kwargs"]["value_set"] == ["quantity", "tags"]
    present = suite.one(NOT_NULL, "json_type(items[].quantity)", "present")
    assert present["kwargs"]["row_condition"]["column"] == {"name": "json_type(items[])"}
    assert suite.one(NOT_NULL, "items[].tags[]", "type")
    assert suite.meta["columns"] == {"items[].quantity": "uint32", "items[].tags[]": "string"}


def test_maps_are_objects_never_null(make_project):
    suite = derive(make_project, "message Thing { map<string, int32> counts = 1; }")
    assert suite.one(IN_SET, "json_type(counts)", "type")["kwargs"]["value_set"] == ["object"]
    assert suite.checks_on("json_type(counts)") == {"present", "not_null", "type"}
    assert "map<string, int32>" in suite.one(IN_SET, "json_type(counts)")["description"]


def test_pipelines_that_omit_defaults_do_not_require_presence(make_project):
    checks = MINIMAL_CHECKS + "payload:\n  omits_defaults: true\n  int64_encoding: string\n"
    suite = derive(make_project, "message Thing { int64 v = 1; }", checks=checks)
    assert suite.checks_on("json_type(v)") == {"not_null"}
    assert suite.meta["payload"] == {"int64_encoding": "string", "omits_defaults": True}


def test_sensitive_fields_come_from_the_contract_and_checks_yaml(make_project):
    checks = MINIMAL_CHECKS + "events:\n  thing_happened:\n    sensitive_fields: [name]\n"
    suite = derive(
        make_project,
        """
        message Thing { string email = 1 [(acme.options.sensitive) = true]; string name = 2; }""",
        checks=checks,
    )
    assert suite.meta["sensitive"] == ["email", "name"]


RULES = """\
version: 1
tables: {BackendEvent: backend__events}
events:
  thing_happened:
    severity: warn
    rules:
      - compare: {left: a, op: "!=", right: b}
      - compare: {left: a, op: "<=", right: b}
        severity: error
      - between: {field: a, min: 0, max: 10}
      - in_set: {field: color, values: [COLOR_RED]}
      - matches: {field: name, pattern: "^[a-z]+$"}
      - unique: {fields: [a]}
      - unique: {fields: [a, b]}
      - max_null_fraction: {field: name, max: 0.25}
      - row_count: {min: 1, max: 1000}
      - freshness: {max_age: 2h}
      - expectation: {type: expect_column_value_lengths_to_be_between, kwargs: {column: name, max_value: 64}}
      - sql: {query: "SELECT * FROM {batch} WHERE a > 100"}
      - between: {field: "items[].n", min: 1}
"""
RULE_PROTO = """
    enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; }
    message Item { int32 n = 1; }
    message Thing { int64 a = 1; int64 b = 2; Color color = 3; string name = 4; repeated Item items = 5; }
"""


def test_each_rule_kind_becomes_a_pushdown_friendly_expectation(make_project):
    suite = derive(make_project, RULE_PROTO, checks=RULES)
    rules = [e for e in suite.expectations if e["meta"]["check"].startswith("rule:")]
    assert [(e["type"], e["meta"]["id"], e["meta"]["severity"]) for e in rules] == [
        ("unexpected_rows_expectation", "rule.compare.a!=b", "warn"),
        ("expect_column_pair_values_a_to_be_greater_than_b", "rule.compare.a<=b", "error"),
        ("expect_column_values_to_be_between", "rule.between.a", "warn"),
        ("expect_column_values_to_be_in_set", "rule.in_set.color", "warn"),
        ("expect_column_values_to_match_regex", "rule.matches.name", "warn"),
        ("expect_column_values_to_be_unique", "rule.unique.a", "warn"),
        ("expect_compound_columns_to_be_unique", "rule.unique.a+b", "warn"),
        (
            "expect_column_proportion_of_non_null_values_to_be_between",
            "rule.max_null_fraction.name",
            "warn",
        ),
        ("expect_table_row_count_to_be_between", "rule.row_count", "warn"),
        ("expect_column_max_to_be_between", "rule.freshness", "warn"),
        (
            "expect_column_value_lengths_to_be_between",
            "rule.expectation.expect_column_value_lengths_to_be_between.name",
            "warn",
        ),
        ("unexpected_rows_expectation", "rule.sql", "warn"),
        ("expect_column_values_to_be_between", "rule.between.items[].n", "warn"),
    ]
    # origins name the rule's key in checks.yaml, never its line
    assert [e["meta"]["origin"] for e in rules] == [
        f"checks.yaml#events.thing_happened.rules[{index}]" for index in range(len(rules))
    ]
    assert rules[0]["kwargs"]["unexpected_rows_query"] == "SELECT * FROM {batch} WHERE a = b"
    assert rules[1]["kwargs"] == {
        "column_A": "b",
        "column_B": "a",
        "or_equal": True,
        "ignore_row_if": "either_value_is_missing",
    }
    assert rules[1]["severity"] == "critical" and rules[0]["severity"] == "warning"
    assert rules[7]["kwargs"]["min_value"] == 0.75
    assert rules[9]["kwargs"] == {
        "column": "event_timestamp",
        "min_value": {"$PARAMETER": "until_minus_2h"},
    }
    assert rules[12]["kwargs"]["column"] == "items[].n"
    # contract-derived checks take the event's severity
    assert suite.one(NOT_NULL, "a", "type")["meta"]["severity"] == "warn"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "- between: {field: folower_id, min: 1}",
            "checks.yaml:6: events.thing_happened.rules[0].between.field: unknown field 'folower_id' "
            "in event 'thing_happened'; did you mean 'follower_id'?",
        ),
        (
            "- between: {field: name, min: 1}",
            "checks.yaml:6: events.thing_happened.rules[0].between.field: 'name' is string; "
            "this rule needs one of: double, float, int32, int64, uint32, uint64",
        ),
        (
            "- in_set: {field: color, values: [COLOR_RD]}",
            "checks.yaml:6: events.thing_happened.rules[0].in_set.values: 'COLOR_RD' is not a value of "
            "acme.events.Color; did you mean 'COLOR_RED'?",
        ),
        (
            "- between: {field: tags, min: 1}",
            "checks.yaml:6: events.thing_happened.rules[0].between.field: 'tags' is repeated; "
            "write 'tags[]' to check its elements",
        ),
        (
            "- expectation: {type: expect_column_values_to_be_purple, kwargs: {column: name}}",
            "checks.yaml:6: events.thing_happened.rules[0].expectation: Great Expectations rejects "
            "expect_column_values_to_be_purple: expect_column_values_to_be_purple not found",
        ),
    ],
)
def test_rules_on_unknown_or_unsuitable_fields_name_their_line(make_project, rule, expected):
    checks = f"version: 1\ntables: {{BackendEvent: backend__events}}\nevents:\n  thing_happened:\n    rules:\n      {rule}\n"
    proto = """
        enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; }
        message Thing { int64 follower_id = 1; string name = 2; Color color = 3; repeated int32 tags = 4; }"""
    with pytest.raises(ConfigError) as error:
        derive(make_project, proto, checks=checks)
    assert str(error.value).startswith(expected)


def test_rules_for_an_unknown_event_suggest_close_names(make_project):
    checks = "version: 1\ntables: {BackendEvent: backend__events}\nevents:\n  thing_hapened:\n    rules: []\n"
    with pytest.raises(ConfigError) as error:
        derive(make_project, "message Thing { int64 a = 1; }", checks=checks)
    assert str(error.value) == (
        "checks.yaml:4: events.thing_hapened: unknown event 'thing_hapened'; "
        "did you mean 'thing_happened'?"
    )


def test_suites_are_deterministic_and_load_back_into_great_expectations(make_project, tmp_path):
    from tests.conftest import events_proto

    root = make_project(
        {"events.proto": events_proto(RULE_PROTO, {"thing_happened": "Thing"})}, RULES
    )
    first = [render_suite(s) for s in Project(root / "checks.yaml").suites]
    second = [render_suite(s) for s in Project(root / "checks.yaml").suites]
    assert first == second
    path = tmp_path / "suite.json"
    path.write_text(first[0])
    loaded = load_suite(path)
    assert loaded.name == "backend__events.thing_happened"
    assert len(loaded.expectations) == len(json.loads(first[0])["expectations"])
    assert first[0].endswith("}\n") and '"great_expectations_version"' not in first[0]
