"""Contract lint: conventions, and a table of before/after contracts with their expected findings."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from eventqa.errors import ConfigError
from eventqa.service import Project
from tests.conftest import OPTIONS_PROTO

CHECKS = "version: 1\ntables: {BackendEvent: backend__events}\nteams:\n  Foundations: {slack_channel: '#f'}\n"
META = '(acme.options.event_metadata).description.value = "Fires.", (acme.options.event_metadata).team_owner.value = "Foundations"'
HEADER = 'syntax = "proto3";\npackage acme.events;\nimport "options/options.proto";\nimport "google/protobuf/wrappers.proto";\n'


def proto(body: str, envelope: str = "UserFollowedUserEvent user_followed_user = 1") -> str:
    """A contract file: the payload messages, and an envelope whose fields get metadata."""
    fields = "\n".join(
        f"    {line.strip()} [{META}];"
        if not line.strip().startswith("reserved")
        else f"    {line.strip()};"
        for line in envelope.split(";")
        if line.strip()
    )
    return HEADER + textwrap.dedent(body) + f"\nmessage BackendEvent {{\n{fields}\n}}\n"


def write_contracts(root, text: str) -> None:
    (root / "options").mkdir(parents=True, exist_ok=True)
    (root / "options" / "options.proto").write_text(OPTIONS_PROTO)
    (root / "events.proto").write_text(text)


def lint(make_project, tmp_path, after: str, before: str | None = None, checks: str = CHECKS):
    root = make_project({"events.proto": after}, checks)
    against = None
    if before is not None:
        old = tmp_path / "before" / "contracts"
        write_contracts(old, before)
        against = str(old)
    return Project(root / "checks.yaml").lint(against)


FOLLOW = "message UserFollowedUserEvent { google.protobuf.Int64Value follower_id = 1; google.protobuf.Int64Value followee_id = 2; }"
COLOR = "enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; COLOR_BLUE = 2; }"


def follow(*fields: str) -> str:
    return "message UserFollowedUserEvent { " + " ".join(fields) + " }"


CASES = {
    "unchanged": (FOLLOW, FOLLOW, []),
    "new field is additive": (
        FOLLOW,
        follow(
            "google.protobuf.Int64Value follower_id = 1;",
            "google.protobuf.Int64Value followee_id = 2;",
            "string source = 3;",
        ),
        [("ADD001", "info")],
    ),
    "field removed": (
        FOLLOW,
        follow("google.protobuf.Int64Value follower_id = 1;"),
        [("BRK002", "error")],
    ),
    "field removed and reserved": (
        FOLLOW,
        follow(
            "google.protobuf.Int64Value follower_id = 1;", 'reserved 2; reserved "followee_id";'
        ),
        [],
    ),
    "number reused": (
        FOLLOW,
        follow("google.protobuf.Int64Value follower_id = 1;", "string followee_handle = 2;"),
        [("BRK003", "error")],
    ),
    "field renamed": (
        FOLLOW,
        follow(
            "google.protobuf.Int64Value follower_id = 1;",
            "google.protobuf.Int64Value target_id = 2;",
        ),
        [("BRK008", "error")],
    ),
    "type changed": (
        FOLLOW,
        follow(
            "google.protobuf.Int64Value follower_id = 1;",
            "google.protobuf.StringValue followee_id = 2;",
        ),
        [("BRK004", "error")],
    ),
    "wrapper to plain scalar": (
        FOLLOW,
        follow("int64 follower_id = 1;", "google.protobuf.Int64Value followee_id = 2;"),
        [("BRK005", "error")],
    ),
    "plain scalar to optional": (
        follow("int64 follower_id = 1;"),
        follow("optional int64 follower_id = 1;"),
        [("BRK005", "error")],
    ),
    "singular to repeated": (
        follow("int64 follower_id = 1;"),
        follow("repeated int64 follower_id = 1;"),
        [("BRK004", "error")],
    ),
    "enum value removed": (
        COLOR + follow("Color color = 1;"),
        "enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; }" + follow("Color color = 1;"),
        [("BRK006", "error")],
    ),
    "enum value removed and reserved": (
        COLOR + follow("Color color = 1;"),
        'enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; reserved 2; reserved "COLOR_BLUE"; }'
        + follow("Color color = 1;"),
        [],
    ),
    "enum value renumbered": (
        COLOR + follow("Color color = 1;"),
        "enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 3; COLOR_BLUE = 2; }"
        + follow("Color color = 1;"),
        [("BRK006", "error")],
    ),
    "new enum value is additive": (
        COLOR + follow("Color color = 1;"),
        "enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; COLOR_BLUE = 2; COLOR_GREEN = 3; }"
        + follow("Color color = 1;"),
        [("ADD001", "info")],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_payload_changes(make_project, tmp_path, case):
    before, after, expected = CASES[case]
    report = lint(make_project, tmp_path, proto(after), proto(before))
    found = [(f.rule, f.severity) for f in report.findings if f.kind.value != "convention"]
    assert found == expected, [str(f) for f in report.findings]
    assert report.exit_code == (1 if any(s == "error" for _, s in expected) else 0)


TWO = "UserFollowedUserEvent user_followed_user = 1; UserBlockedUserEvent user_blocked_user = 2"
BLOCK = "message UserBlockedUserEvent { int64 blocker_id = 1; }"
ENVELOPE_CASES = {
    "event added": ("UserFollowedUserEvent user_followed_user = 1", TWO, [("ADD001", "info")]),
    "event removed": (TWO, "UserFollowedUserEvent user_followed_user = 1", [("BRK001", "error")]),
    "event removed and reserved": (
        TWO,
        'UserFollowedUserEvent user_followed_user = 1; reserved 2; reserved "user_blocked_user"',
        [],
    ),
    "event renamed": (
        TWO,
        "UserFollowedUserEvent user_followed_user = 1; UserBlockedUserEvent user_muted_user = 2",
        [("BRK007", "error")],
    ),
    "envelope tag reused": (
        TWO,
        "UserFollowedUserEvent user_followed_user = 1; UserFollowedUserEvent user_refollowed_user = 2",
        [("BRK003", "error")],
    ),
}


@pytest.mark.parametrize("case", list(ENVELOPE_CASES))
def test_envelope_changes(make_project, tmp_path, case):
    before, after, expected = ENVELOPE_CASES[case]
    report = lint(
        make_project, tmp_path, proto(FOLLOW + BLOCK, after), proto(FOLLOW + BLOCK, before)
    )
    found = [(f.rule, f.severity) for f in report.findings if f.kind.value != "convention"]
    assert found == expected, [str(f) for f in report.findings]


def test_breaking_findings_name_the_new_file_and_line(make_project, tmp_path):
    report = lint(
        make_project,
        tmp_path,
        proto(follow("google.protobuf.Int64Value follower_id = 1;", "string followee_id = 2;")),
        proto(FOLLOW),
    )
    (finding,) = [f for f in report.findings if f.rule == "BRK004"]
    assert str(finding.location) == "contracts/events.proto:5:77"
    assert "changed type from .google.protobuf.Int64Value to string" in finding.message


CONVENTIONS = {
    "EQ001": (
        "message FollowEvent { int64 a = 1; }",
        "FollowEvent user_followed_user = 1",
        "name it 'follow'",
    ),
    "EQ002": (
        "message FollowsEvent { int64 a = 1; }",
        "FollowsEvent follows = 1",
        "actor_action_object",
    ),
    "EQ005": (
        "message UserFollowedUserEvent { int64 followerId = 1; }",
        "UserFollowedUserEvent user_followed_user = 1",
        "'follower_id'",
    ),
    "EQ006": (
        "enum Tier { TIER_FREE = 0; } message UserFollowedUserEvent { Tier tier = 1; }",
        "UserFollowedUserEvent user_followed_user = 1",
        "TIER_UNSPECIFIED",
    ),
}


@pytest.mark.parametrize("rule", list(CONVENTIONS))
def test_conventions(make_project, tmp_path, rule):
    body, envelope, fragment = CONVENTIONS[rule]
    report = lint(make_project, tmp_path, proto(body, envelope))
    (finding,) = [f for f in report.findings if f.rule == rule]
    assert fragment in finding.message
    assert finding.location.path == "contracts/events.proto" and finding.location.line


def test_missing_metadata_and_unknown_owner(make_project, tmp_path):
    text = proto(FOLLOW).replace(
        'team_owner.value = "Foundations"', 'team_owner.value = "Foundation"'
    )
    report = lint(make_project, tmp_path, text)
    (owner,) = [f for f in report.findings if f.rule == "EQ004"]
    assert "did you mean 'Foundations'?" in owner.message
    text = proto(FOLLOW).replace('(acme.options.event_metadata).description.value = "Fires.", ', "")
    report = lint(make_project, tmp_path, text)
    assert [f.message for f in report.findings if f.rule == "EQ003"] == [
        "event 'user_followed_user' has no description"
    ]


def test_rules_can_be_turned_off_or_made_warnings(make_project, tmp_path):
    text = proto("message UserFollowedUserEvent { int64 followerId = 1; }")
    assert lint(make_project, tmp_path, text).exit_code == 1
    warn = lint(make_project, tmp_path, text, checks=CHECKS + "lint:\n  rules: {EQ005: warn}\n")
    assert [(f.rule, f.severity) for f in warn.findings] == [
        ("EQ005", "warn")
    ] and warn.exit_code == 0
    off = lint(make_project, tmp_path, text, checks=CHECKS + "lint:\n  rules: {EQ005: 'off'}\n")
    assert off.findings == []


def test_unknown_rule_in_checks_yaml_names_its_line(make_project, tmp_path):
    with pytest.raises(ConfigError) as error:
        lint(
            make_project,
            tmp_path,
            proto(FOLLOW),
            checks=CHECKS + "lint:\n  rules:\n    EQ05: warn\n",
        )
    assert str(error.value).startswith(
        "checks.yaml:7: lint.rules.EQ05: unknown rule 'EQ05'; did you mean 'EQ005'?"
    )


@pytest.mark.cli
def test_cli_lint_against_a_git_ref_with_json_output(make_project, tmp_path):
    root = make_project({"events.proto": proto(FOLLOW)}, CHECKS)

    def git(*args):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "v1")
    (root / "contracts" / "events.proto").write_text(
        proto(follow("google.protobuf.Int64Value follower_id = 1;"))
    )
    done = subprocess.run(
        [sys.executable, "-m", "eventqa", "lint", "--against", "HEAD", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["against"] == "HEAD" and document["errors"] == 1
    (finding,) = document["findings"]
    assert (finding["rule"], finding["kind"], finding["file"]) == (
        "BRK002",
        "breaking",
        "contracts/events.proto",
    )
    assert "Traceback" not in done.stderr


def test_the_repository_contracts_lint_without_errors():
    from tests.conftest import REPO

    report = Project(REPO / "checks.yaml").lint()
    assert report.errors == []
    assert [f.rule for f in report.findings] == ["EQ002"]  # payment_failed: no object, a warning
