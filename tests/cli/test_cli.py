"""The command line as users meet it: a real subprocess, its output and its exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import events_proto

pytestmark = pytest.mark.cli

HEAVY = (
    "great_expectations",
    "pandas",
    "duckdb",
    "snowflake",
    "sqlalchemy",
    "slack_sdk",
    "apscheduler",
)


def eventqa(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventqa", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_clean_error(done: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr


def test_help_is_instant_because_nothing_heavy_is_imported():
    probe = (
        "import sys, click\n"
        "from eventqa.cli.main import cli\n"
        "try:\n    cli(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        f"print([m for m in sys.modules if m.split('.')[0] in {HEAVY!r}])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("[]"), done.stdout
    assert "Exit codes" in done.stdout and "generate" in done.stdout


def test_generate_writes_then_check_passes_and_catches_every_kind_of_drift(example_project):
    expectations = example_project / "expectations"
    done = eventqa(example_project, "generate", "--check")
    assert done.returncode == 0, done.stderr
    assert "expectations/ is current: 13 suites for 2 tables" in done.stdout

    (expectations / "backend__events" / "user_followed_user.json").write_text("{}\n")
    (expectations / "backend__events" / "payment_failed.json").unlink()
    (expectations / "frontend__events" / "user_left_forever.json").write_text("{}\n")
    done = eventqa(example_project, "generate", "--check")
    assert_clean_error(
        done,
        1,
        "stale: expectations/backend__events/user_followed_user.json",
        "missing: expectations/backend__events/payment_failed.json",
        "orphaned: expectations/frontend__events/user_left_forever.json",
        "hint: run `eventqa generate`",
    )

    done = eventqa(example_project, "generate")
    assert done.returncode == 0, done.stderr
    assert "wrote 2, 11 unchanged, removed 1 orphaned" in done.stdout
    assert not (expectations / "frontend__events" / "user_left_forever.json").exists()
    suite = json.loads((expectations / "backend__events" / "user_followed_user.json").read_text())
    assert suite["name"] == "backend__events.user_followed_user"
    assert eventqa(example_project, "generate", "--check").returncode == 0


def test_missing_metadata_is_a_warning_not_a_failure(make_project):
    text = events_proto("message A { int64 a = 1; }", {"a_happened": "A"})
    text = text.replace(
        '(acme.options.event_metadata).team_owner.value = "Foundations"',
        '(acme.options.event_metadata).team_owner.value = ""',
    )
    done = eventqa(make_project({"events.proto": text}), "generate")
    assert done.returncode == 0, done.stderr
    assert "warning: contracts/events.proto:" in done.stderr
    assert "has no (event_metadata).team_owner" in done.stderr


BAD_PROTOS = {
    "syntax error": (
        'syntax = "proto3";\nmessage A {\n  int64 a = 1\n}\n',
        'contracts/events.proto:4:1: Expected ";".',
    ),
    "missing import": (
        events_proto("message A { int64 a = 1; }", {"a_happened": "A"}, ("nope.proto",)),
        'contracts/events.proto:6:1: Import "nope.proto" was not found or had errors.',
    ),
    "unknown option": (
        events_proto("message A { int64 a = 1 [(acme.options.colour) = 1]; }", {"a_happened": "A"}),
        "contracts/events.proto:7:",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PROTOS))
def test_broken_contracts_exit_2_with_protocs_location(make_project, case):
    text, fragment = BAD_PROTOS[case]
    done = eventqa(make_project({"events.proto": text}), "generate")
    assert_clean_error(done, 2, fragment)


GOOD_PROTO = events_proto("message A { int64 follower_id = 1; }", {"a_happened": "A"})
BAD_CHECKS = {
    "yaml does not parse": (
        "events:\n  a_happened: {rules: [\n",
        "error: checks.yaml:4:1: could not parse YAML",
    ),
    "misspelled key": (
        "warehouse:\n  type: duckdb\n  pth: x.duckdb\n",
        "error: checks.yaml:4: warehouse.pth: unknown key 'pth'; did you mean 'path'?",
    ),
    "wrong type": (
        "events:\n  a_happened:\n    rules:\n      - between: {field: follower_id, min: lots}\n",
        "error: checks.yaml:5: events.a_happened.rules[0].between.min: must be a number",
    ),
    "unknown event": (
        "events:\n  a_hapened:\n    rules: []\n",
        "error: checks.yaml:3: events.a_hapened: unknown event 'a_hapened'; did you mean 'a_happened'?",
    ),
    "cron out of range": (
        "defaults:\n  schedule: {cron: '99 * * * *'}\n",
        "error: checks.yaml:3: defaults.schedule.cron: '99 * * * *' is not a cron expression",
    ),
    "cron not a cron": (
        "defaults:\n  schedule:\n    cron: a b c d e\n",
        "error: checks.yaml:4: defaults.schedule.cron: 'a b c d e' is not a cron expression",
    ),
    "event cron": (
        "events:\n  a_happened:\n    schedule: {cron: '0 25 * * *', timezone: Europe/Paris}\n",
        "error: checks.yaml:4: events.a_happened.schedule.cron: '0 25 * * *' is not a cron",
    ),
    "time zone": (
        "table_schedules:\n  backend__events: {cron: '0 * * * *', timezone: Mars/Olympus}\n",
        "error: checks.yaml:3: table_schedules.backend__events.timezone: unknown time zone",
    ),
    "unknown field": (
        "events:\n  a_happened:\n    rules:\n      - between: {field: folower_id, min: 1}\n",
        "error: checks.yaml:5: events.a_happened.rules[0].between.field: unknown field 'folower_id'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CHECKS))
def test_bad_checks_yaml_exits_2_naming_line_and_field(make_project, case):
    text, fragment = BAD_CHECKS[case]
    root = make_project(
        {"events.proto": GOOD_PROTO}, "tables: {BackendEvent: backend__events}\n" + text
    )
    done = eventqa(root, "generate")
    assert_clean_error(done, 2, fragment)  # line numbers count the `tables:` line above


def test_missing_config_exits_2_and_says_where_it_looked(tmp_path):
    done = eventqa(tmp_path, "generate")
    assert_clean_error(done, 2, "checks.yaml not found", str(tmp_path))


def test_debug_shows_the_traceback(tmp_path):
    done = eventqa(tmp_path, "--debug", "generate")
    assert "Traceback" in done.stderr


def test_config_option_reads_another_project(example_project, tmp_path):
    done = eventqa(
        tmp_path, "--config", str(example_project / "checks.yaml"), "generate", "--check"
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.duckdb
def test_demo_then_run_shows_a_real_failure_with_samples(example_project):
    built = eventqa(example_project, "demo", "--rows", "20000")
    assert built.returncode == 0, built.stderr
    assert "Planted defects" in built.stdout

    done = eventqa(example_project, "run", "--event", "user_followed_user")
    assert done.returncode == 1, done.stderr
    assert "nobody follows themselves" in done.stdout
    assert "failed" in done.stdout
    # No progress bars, warnings or leak reports: only the alert, written to the local outbox.
    assert done.stderr.splitlines() == [
        "alert for #foundations-alerts: Foundations: 1 event broke its contract "
        "(user_followed_user) (no SLACK_BOT_TOKEN: written to .eventqa/outbox.jsonl)"
    ]

    done = eventqa(example_project, "run", "--owner", "Foundations", "--format", "json")
    document = json.loads(done.stdout)
    assert set(document) >= {"run_id", "window", "events", "tables", "status"}
    (event,) = document["events"]
    assert (event["event"], event["table"], event["owner"], event["status"]) == (
        "user_followed_user",
        "backend__events",
        "Foundations",
        "failed",
    )
    check = event["checks"][0]
    assert set(check) >= {
        "expectation_type",
        "column",
        "status",
        "severity",
        "unexpected_count",
        "element_count",
        "observed_value",
        "origin",
    }
    failing = [c for c in event["checks"] if c["status"] == "failed"]
    (self_follow,) = [c for c in failing if c["check"] == "rule:compare"]
    assert self_follow["origin"] == "checks.yaml#events.user_followed_user.rules[0]"
    sample = self_follow["samples"][0]
    assert sample["follower_id"] == sample["followee_id"] and sample["event_id"].startswith("evt_")

    done = eventqa(example_project, "history", "--event", "user_followed_user")
    assert done.returncode == 0, done.stderr
    assert "user_followed_user: last 2 runs" in done.stdout
    assert "nobody follows themselves" in done.stdout and "FAIL" in done.stdout

    # A document written to a file prints nothing on the terminal: rich is never imported.
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "eventqa", "run", "--event",
         "user_followed_user", "--format", "json", "--output", "run.json", "--no-alert"],
        cwd=example_project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert json.loads((example_project / "run.json").read_text())["status"] == "failed"
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "duckdb" in imported and not [m for m in imported if m.split(".")[0] == "rich"]


@pytest.mark.duckdb
def test_run_usage_and_warehouse_errors_are_one_line(example_project):
    done = eventqa(example_project, "run", "--event", "user_followed_usr")
    assert_clean_error(
        done, 2, "unknown event 'user_followed_usr'; did you mean 'user_followed_user'?"
    )
    done = eventqa(example_project, "run")
    assert_clean_error(done, 2, "choose exactly one of --event, --table, --owner or --all")
    done = eventqa(example_project, "run", "--event", "user_followed_user", "--until", "yesterday")
    assert_clean_error(done, 2, "is not an ISO 8601 timestamp")
    done = eventqa(example_project, "run", "--all")
    assert_clean_error(
        done, 3, ".eventqa/warehouse.duckdb does not exist", "hint: run `eventqa demo`"
    )
    alert, error, hint = done.stderr.strip().splitlines()  # one error line, its hint, the alert
    assert alert.startswith("alert for #data-quality: eventqa could not run")
    assert error.startswith("error: ") and hint.startswith("hint: ")
    assert (
        eventqa(example_project, "run", "--all").stderr.count("alert for") == 0
    )  # once per outage
