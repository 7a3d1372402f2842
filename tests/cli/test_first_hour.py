"""A new user's first hour: init, list, and what `run` prints (real subprocesses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import assert_clean_error, eventqa

pytestmark = pytest.mark.cli


@pytest.mark.duckdb
def test_init_then_generate_check_passes_and_run_works_after_demo(tmp_path):
    done = eventqa(tmp_path, "init", "shop")
    assert done.returncode == 0, done.stderr
    project = tmp_path / "shop"
    assert "Next steps:" in done.stdout and "eventqa demo" in done.stdout
    assert "cd shop" in done.stdout
    assert "expectations/backend__events/user_signed_up.json (generated)" in done.stdout
    checks = (project / "checks.yaml").read_text()
    assert checks.count("#") > 20  # commented, so it explains itself
    options = (project / "contracts" / "options" / "event_options.proto").read_text()
    assert "event_metadata" in options
    events = (project / "contracts" / "events" / "backend_events.proto").read_text()
    assert "event_metadata).team_owner" in events

    check = eventqa(project, "generate", "--check")
    assert check.returncode == 0, check.stderr
    assert "expectations/ is current: 1 suite for 1 table" in check.stdout

    listed = eventqa(project, "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    (event,) = json.loads(listed.stdout)
    assert (event["event"], event["table"], event["owner"]) == (
        "user_signed_up", "backend__events", "Growth",
    )  # fmt: skip
    assert event["description"] == "Fires when a user account is created."
    suite = json.loads((project / "expectations/backend__events/user_signed_up.json").read_text())
    assert event["checks"] == len(suite["expectations"]) > 10

    assert eventqa(project, "demo", "--rows", "3000").returncode == 0
    run = eventqa(project, "run", "--all")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.rstrip().splitlines()[-1] == (
        "passed: 0 of 1 event failed; 0 checks failed; alerts: none"
    )
    assert run.stderr == ""  # the fresh expectations/ is current: no warning


@pytest.mark.parametrize(
    ("existing", "named"),
    [
        ({"checks.yaml": "version: 1\n"}, "checks.yaml"),
        ({"contracts/a.proto": "// mine\n"}, "contracts/"),
        ({"expectations/x.json": "{}", "checks.yaml": "x: 1\n"}, "checks.yaml, expectations/"),
    ],
)
def test_init_refuses_an_existing_project_and_names_what_exists(tmp_path, existing, named):
    for name, text in existing.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    before = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    done = eventqa(tmp_path, "init")
    assert_clean_error(done, 2, f"already holds a project: {named} exist")
    assert {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_init_into_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("")
    assert_clean_error(eventqa(tmp_path, "init", "taken"), 2)


def test_list_filters_by_owner_and_table_and_suggests_names(example_project):
    done = eventqa(example_project, "list", "--owner", "Growth", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert {e["event"] for e in json.loads(done.stdout)} == {
        "user_signed_up", "user_opened_app", "user_shared_clip",
    }  # fmt: skip
    done = eventqa(example_project, "list", "--table", "frontend__events", "--owner", "Growth")
    assert done.returncode == 0, done.stderr
    assert "user_opened_app" in done.stdout and "user_signed_up" not in done.stdout
    assert "2 events" in done.stdout
    done = eventqa(example_project, "list")
    assert "13 events" in done.stdout and "Fires when a user starts following" in done.stdout
    assert_clean_error(
        eventqa(example_project, "list", "--owner", "Growt"),
        2,
        "unknown owner 'Growt'; did you mean 'Growth'?",
    )


def test_run_help_says_a_selector_is_required_and_shows_examples(tmp_path):
    done = eventqa(tmp_path, "run", "--help")
    assert done.returncode == 0
    assert "exactly one selector (required)" in done.stdout
    assert "Examples:" in done.stdout and "eventqa run --event user_followed_user" in done.stdout


@pytest.mark.duckdb
def test_run_says_what_happened_to_alerts_and_writes_text_to_output(example_project):
    assert eventqa(example_project, "demo", "--rows", "20000").returncode == 0
    out = example_project / "run.txt"
    week = ("--event", "user_followed_user", "--since", "2020-01-01T00:00:00Z")  # the whole demo
    done = eventqa(example_project, "run", *week, "--output", str(out))
    assert done.returncode == 1, done.stderr
    summary = "failed: 1 of 1 event failed; 3 checks failed; alerts: 1 written to the outbox file"
    assert done.stdout.splitlines() == [summary]  # the report went to the file
    assert done.stderr.splitlines() == [
        "alert for #foundations-alerts: Foundations: 1 event broke its contract "
        "(user_followed_user) (no SLACK_BOT_TOKEN: written to .eventqa/outbox.jsonl)"
    ]
    text = out.read_text()
    assert not text.lstrip().startswith("{")  # text, as asked, not JSON
    assert "nobody follows themselves" in text and text.rstrip().endswith(summary)
    assert "null or missing" in text and "observed 0.99" not in text

    again = eventqa(example_project, "run", *week)
    assert again.stdout.rstrip().splitlines()[-1].endswith("alerts: 1 unchanged")
    assert again.stderr.splitlines() == [
        "alerts suppressed as unchanged (said before; reminded after alerts.remind_after): "
        "user_followed_user"
    ]


@pytest.mark.duckdb
def test_run_warns_once_when_expectations_are_stale(example_project):
    assert eventqa(example_project, "demo", "--rows", "2000").returncode == 0
    checks = example_project / "checks.yaml"
    checks.write_text(
        checks.read_text().replace(
            "      - row_count: {min: 1}\n", "      - row_count: {min: 2}\n", 1
        )
    )
    done = eventqa(example_project, "run", "--owner", "Discovery", "--no-alert")
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: expectations/ is out of date with the contracts and checks.yaml (1 stale "
        "suites): this run checks the committed suites; run `eventqa generate`"
    ]
    assert done.returncode == 0, done.stderr  # the run still runs what was reviewed
    assert eventqa(example_project, "generate").returncode == 0
    done = eventqa(example_project, "run", "--owner", "Discovery", "--no-alert")
    assert done.stderr == "" and done.returncode == 0
    # A current project is remembered: a contract that no longer compiles is not even read...
    marker = example_project / ".eventqa" / "expectations.checked"
    assert marker.is_file()
    # ...until a file changes: then it is compared again, and a broken contract is a warning.
    (example_project / "contracts" / "backend" / "backend_events.proto").write_text("syntax = ")
    done = eventqa(example_project, "run", "--owner", "Discovery", "--no-alert")
    assert done.returncode == 0
    assert done.stderr.startswith("warning: could not compare expectations/: "), done.stderr


def test_output_to_a_missing_folder_exits_2_before_any_work(example_project):
    done = eventqa(example_project, "run", "--all", "--output", "nowhere/run.txt")
    assert_clean_error(done, 2, "nowhere/run.txt cannot be created: folder nowhere does not exist")
    assert not (example_project / ".eventqa").exists()  # nothing read, stored or alerted


def test_demo_into_snowflake_needs_snowflake_configured(example_project):
    done = eventqa(example_project, "demo", "--warehouse", "snowflake")
    assert_clean_error(done, 2, "checks.yaml's warehouse is duckdb")
    assert not Path(example_project / ".eventqa").exists()


@pytest.mark.duckdb
def test_the_progress_bar_knows_its_total_before_anything_runs(example_project):
    from eventqa.service import Project, Selection

    project = Project(example_project / "checks.yaml")
    steps: list[tuple[str, int, int]] = []
    project.demo(500, progress=lambda *step: steps.append(step))
    assert steps[0] == ("generating events", 0, 500) and steps[-1] == (
        "generating events",
        500,
        500,
    )
    steps.clear()
    project.run(Selection(all=True), progress=lambda *step: steps.append(step), alert=False)
    assert steps[0] == ("", 0, 13)  # the total, at once
    assert [done for _, done, _ in steps] == sorted(done for _, done, _ in steps)
    assert steps[-1][1:] == (13, 13)
