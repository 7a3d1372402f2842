"""Check ids and origins: stable across reordering, and no suite changes when a comment moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eventqa.errors import ConfigError
from eventqa.service import Project
from tests.conftest import MINIMAL_CHECKS, events_proto
from tests.suites.helpers import derive

PROTO = """
    enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; }
    message Item { string sku = 1; }
    message Thing {
      int64 follower_id = 1;
      int64 followee_id = 2;
      Color color = 3;
      repeated Item items = 4;
      string event_id = 5;
    }
"""
REORDERED_PROTO = """
    message Item { string sku = 1; }
    message Thing {
      string event_id = 5;
      repeated Item items = 4;
      Color color = 3;
      int64 followee_id = 2;
      int64 follower_id = 1;
    }
    enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; }
"""
RULES = [
    '- compare: {left: follower_id, op: "!=", right: followee_id}',
    "- between: {field: follower_id, min: 1}",
    "- between: {field: follower_id, max: 100}",
    "- unique: {fields: [follower_id, followee_id]}",
    '- sql: {query: "SELECT * FROM {batch} WHERE follower_id = 0"}',
    '- sql: {query: "SELECT * FROM {batch} WHERE followee_id = 0"}',
]


def checks(rules: list[str]) -> str:
    lines = "\n".join(f"      {rule}" for rule in rules)
    return f"{MINIMAL_CHECKS}events:\n  thing_happened:\n    rules:\n{lines}\n"


def by_id(suite) -> dict[str, tuple[str, str]]:
    """What each id names: the expectation's type and kwargs."""
    return {
        e["meta"]["id"]: (e["type"], json.dumps(e["kwargs"], sort_keys=True))
        for e in suite.expectations
    }


def test_ids_are_readable_names_of_what_is_checked(make_project):
    suite = derive(make_project, PROTO, checks=checks(RULES))
    ids = [e["meta"]["id"] for e in suite.expectations]
    assert len(ids) == len(set(ids))
    assert {
        "event_id.not_null",
        "event_id.unique",
        "event_timestamp.not_future",
        "payload.json_object",
        "payload.undeclared_keys",
        "follower_id.type",
        "color.in_enum",
        "items.type",
        "items[].not_null",
        "items[].sku.type",
        "payload.event_id.type",  # a payload field named like a warehouse column
        "rule.compare.follower_id!=followee_id",
        "rule.unique.follower_id+followee_id",
    } <= set(ids)
    # two rules about the same field get a hash of their kwargs appended, never an index
    between = sorted(i for i in ids if i.startswith("rule.between.follower_id"))
    sql = sorted(i for i in ids if i.startswith("rule.sql"))
    assert len(between) == len(sql) == 2
    assert all(len(i.rsplit("@", 1)[1]) == 8 for i in [*between, *sql])


def test_ids_survive_reordering_fields_and_rules(make_project):
    before = derive(make_project, PROTO, checks=checks(RULES))
    after = derive(make_project, REORDERED_PROTO, checks=checks(list(reversed(RULES))))
    assert by_id(after) == by_id(before)


def test_ids_survive_an_unrelated_rule_being_added(make_project):
    before = by_id(derive(make_project, PROTO, checks=checks(RULES)))
    after = by_id(derive(make_project, PROTO, checks=checks([*RULES, "- row_count: {min: 1}"])))
    assert set(after) - set(before) == {"rule.row_count"}
    assert {i: after[i] for i in before} == before


def test_a_rule_repeated_exactly_is_an_error_naming_both(make_project):
    rule = "- between: {field: follower_id, min: 1}"
    with pytest.raises(ConfigError) as error:
        derive(make_project, PROTO, checks=checks([rule, rule]))
    assert str(error.value) == (
        "checks.yaml:8: events.thing_happened.rules[1]: repeats events.thing_happened.rules[0] "
        "(the same check twice); remove one"
    )


def test_origins_name_symbols_and_keys_without_lines(make_project):
    suite = derive(make_project, PROTO, checks=checks(RULES))
    origin = {e["meta"]["id"]: e["meta"]["origin"] for e in suite.expectations}
    assert origin["event_id.not_null"] == "contracts/events.proto#BackendEvent.thing_happened"
    assert origin["payload.undeclared_keys"] == "contracts/events.proto#Thing"
    assert origin["items[].sku.type"] == "contracts/events.proto#Item.sku"
    assert origin["rule.compare.follower_id!=followee_id"] == (
        "checks.yaml#events.thing_happened.rules[0]"
    )
    assert suite.meta["contract"] == "contracts/events.proto#BackendEvent.thing_happened"


def written(root: Path) -> dict[str, bytes]:
    Project(root / "checks.yaml").generate()
    folder = root / "expectations"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.json")}


def test_comments_and_blank_lines_in_contracts_and_checks_rewrite_no_suite(make_project):
    proto = events_proto(PROTO, {"thing_happened": "Thing"})
    root = make_project({"events.proto": proto}, checks(RULES))
    before = written(root)
    commented = proto.replace("message Thing {", "// Someone follows someone.\n\nmessage Thing {")
    commented = commented.replace("int64 followee_id = 2;", "\n  // who\n  int64 followee_id = 2;")
    assert commented.count("\n") > proto.count("\n") + 2
    (root / "contracts" / "events.proto").write_text(commented)
    yaml = (root / "checks.yaml").read_text()
    (root / "checks.yaml").write_text("# project settings\n\n" + yaml)
    after = written(root)
    assert after == before
    assert len(after) == 1
