"""The Dagster integration, run by Dagster itself (in-process) against the demo warehouse."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from eventqa.errors import EventQAError
from eventqa.integrations import MissingExtraError
from eventqa.integrations.dagster import (
    check_kind,
    event_asset_key,
    eventqa_asset_checks,
    eventqa_asset_specs,
    eventqa_definitions,
)
from eventqa.results import Status
from eventqa.service import Project
from tests.conftest import REPO

FOLLOWS = event_asset_key("backend__events", "user_followed_user")
BIDS = event_asset_key("backend__events", "buyer_placed_bid")


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The repository's example project with its demo warehouse built, once per session."""
    root = tmp_path_factory.mktemp("dagster") / "example"
    root.mkdir()
    for name in ("contracts", "expectations"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "checks.yaml", root / "checks.yaml")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "EVENTQA_RESULTS_URL"):
            patch.delenv(name, raising=False)  # alerts go to the project's local outbox
        Project(root / "checks.yaml").demo(rows=20000)
        yield root


def downstream(*keys: dg.AssetKey) -> dg.AssetsDefinition:
    """A user's asset built from events: it records that it ran."""

    @dg.asset(name=f"model_of_{keys[0].path[-1]}", deps=list(keys))
    def model() -> None:
        return None

    return model


def run_job(defs: dg.Definitions, checks: set[dg.AssetCheckKey] | None = None):
    job = defs.resolve_implicit_global_asset_job_def()
    if checks is not None:
        job = job.get_subset(asset_selection=set(), asset_check_selection=checks)
    return job.execute_in_process(raise_on_error=False)


def evaluations(result) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}


def materialized(result) -> set[dg.AssetKey]:
    return {event.asset_key for event in result.get_asset_materialization_events()}


# -- definitions ------------------------------------------------------------------------------


def test_one_asset_per_event_with_owner_table_and_column_schema(example_project):
    project = Project(example_project / "checks.yaml")
    specs = {spec.key: spec for spec in eventqa_asset_specs(project)}

    assert len(specs) == len(project.contracts.events) == 13
    follows = specs[FOLLOWS]
    assert follows.key.path == ["events", "backend__events", "user_followed_user"]
    assert follows.description == "Fires when a user starts following other user."
    assert follows.owners == ["team:Foundations"]
    assert follows.kinds == {"duckdb"} and follows.group_name == "backend__events"
    assert follows.metadata["dagster/table_name"] == "backend__events"
    assert follows.metadata["eventqa/row_filter"] == "event_name = 'user_followed_user'"

    columns = {c.name: c for c in follows.metadata["dagster/column_schema"].columns}
    assert list(columns) == ["event_id", "event_timestamp", "follower_id", "followee_id"]
    assert columns["event_id"].constraints.unique and not columns["event_id"].constraints.nullable
    # A wrapper may be null (checks.yaml's max_null_fraction rule says it must not be).
    assert (columns["follower_id"].type, columns["follower_id"].constraints.nullable) == (
        "google.protobuf.Int64Value",
        True,
    )
    # A nested message's fields, repeated fields and enums: as checks.yaml paths name them.
    order = {
        c.name: c
        for c in specs[event_asset_key("backend__events", "buyer_placed_order")]
        .metadata["dagster/column_schema"]
        .columns
    }
    assert (order["order_id"].type, order["order_id"].constraints.nullable) == ("int64", False)
    assert order["items"].type.startswith("repeated ")
    assert order["items"].constraints.other == ["may be empty, never null"]
    assert "items[].quantity" in order and "shipping_address.country_code" in order
    assert order["shipping_address"].constraints.nullable
    signed_up = {
        c.name: c
        for c in specs[event_asset_key("backend__events", "user_signed_up")]
        .metadata["dagster/column_schema"]
        .columns
    }
    assert signed_up["platform"].constraints.other[0].startswith("one of PLATFORM_")

    # Dagster accepts them as a whole code location.
    defs = eventqa_definitions(project)
    assert {s.key for s in defs.resolve_all_asset_specs()} == set(specs)
    owners = {s.key: s.owners for s in defs.resolve_all_asset_specs()}
    assert owners[event_asset_key("frontend__events", "user_opened_app")] == ["team:Growth"]


def test_checks_per_event_and_kind_block_only_on_error_severity(example_project):
    project = Project(example_project / "checks.yaml")
    checks = eventqa_asset_checks(project)
    # One multi-asset check (one step, one warehouse query) per table.
    assert sorted(c.node_def.name for c in checks) == [
        "eventqa_backend__events",
        "eventqa_frontend__events",
    ]
    specs = {(spec.asset_key.path[-1], spec.name): spec for c in checks for spec in c.check_specs}
    assert {name for event, name in specs if event == "user_followed_user"} == {
        "contract",
        "rules",
        "volume",
    }
    # No rules in checks.yaml: no rules check.
    assert ("user_opened_app", "rules") not in specs
    assert specs[("user_followed_user", "contract")].blocking
    assert specs[("user_followed_user", "rules")].blocking
    assert not specs[("user_followed_user", "volume")].blocking
    # payment_failed is warn by default in checks.yaml, but its `sql` rule is an error.
    assert not specs[("payment_failed", "contract")].blocking
    assert specs[("payment_failed", "rules")].blocking
    assert "nobody follows themselves" in specs[("user_followed_user", "rules")].description


# -- runs ---------------------------------------------------------------------------------------


@pytest.mark.dagster
@pytest.mark.duckdb
def test_planted_failures_fail_their_checks_and_block_downstream(demo_project):
    project = Project(demo_project / "checks.yaml")
    model = downstream(FOLLOWS)
    defs = dg.Definitions.merge(eventqa_definitions(project), dg.Definitions(assets=[model]))

    result = run_job(defs)

    found = evaluations(result)
    # The demo's planted self-follows (the same failure `eventqa run` reports, see tests/cli).
    rules = found[("user_followed_user", "rules")]
    assert not rules.passed and rules.severity == dg.AssetCheckSeverity.ERROR
    assert "nobody follows themselves" in rules.description
    failures = rules.metadata["failures"].value
    (self_follow,) = [f for f in failures if f["check"] == "rule:compare"]
    assert self_follow["unexpected_count"] >= 1
    sample = self_follow["samples"][0]
    assert sample["follower_id"] == sample["followee_id"]
    assert "SELECT" in self_follow["reproduction_sql"].upper()
    assert "nobody follows themselves" in rules.metadata["failing_checks"].value
    assert rules.metadata["rows"].value > 0
    # Every event and kind of check says what eventqa's own runs found (one run per table).
    run_id = rules.metadata["eventqa/run_id"].value
    run_ids = {evaluation.metadata["eventqa/run_id"].value for evaluation in found.values()}
    store = project.result_store()
    try:
        stored = [store.load_run(run) for run in sorted(run_ids)]
    finally:
        store.close()
    failing = {
        (event.event, check_kind(check.expectation_type, check.check))
        for run in stored
        for event in run.events
        for check in event.checks
        if check.status in (Status.FAILED, Status.WARNED, Status.ERROR)
    }
    assert {key for key, evaluation in found.items() if not evaluation.passed} == failing
    assert len(failing) >= 3  # the self-follows and other planted defects, not only agreement
    # Volume and freshness are judged in the same run, as their own kind of check.
    assert found[("user_followed_user", "volume")].metadata["rows"].value > 0

    # Blocking: the model downstream of the broken event did not build.
    assert model.key not in materialized(result)
    assert not result.success

    # An eventqa run like the CLI's: stored with its history, and the team alerted.
    (latest, *_) = project.history("user_followed_user", 1)
    assert latest.run_id == run_id
    outbox = (demo_project / ".eventqa" / "outbox.jsonl").read_text().splitlines()
    assert any("user_followed_user" in line for line in outbox)


@pytest.mark.dagster
@pytest.mark.duckdb
def test_a_subset_of_checks_runs_only_those_events(demo_project):
    project = Project(demo_project / "checks.yaml")
    defs = eventqa_definitions(project)
    chosen = {
        dg.AssetCheckKey(BIDS, "contract"),
        dg.AssetCheckKey(BIDS, "rules"),
        dg.AssetCheckKey(event_asset_key("frontend__events", "user_shared_clip"), "contract"),
    }

    result = run_job(defs, chosen)

    assert result.success
    assert set(evaluations(result)) == {
        ("buyer_placed_bid", "contract"),
        ("buyer_placed_bid", "rules"),
        ("user_shared_clip", "contract"),
    }
    run_ids = {e.metadata["eventqa/run_id"].value for e in result.get_asset_check_evaluations()}
    store = project.result_store()
    try:
        stored = {event.event for run_id in run_ids for event in store.load_run(run_id).events}
    finally:
        store.close()
    assert stored == {"buyer_placed_bid", "user_shared_clip"}


@pytest.mark.dagster
@pytest.mark.duckdb
def test_one_step_per_event_blocks_only_what_is_downstream_of_the_broken_event(demo_project):
    project = Project(demo_project / "checks.yaml")
    follows, bids = downstream(FOLLOWS), downstream(BIDS)
    events = ["user_followed_user", "buyer_placed_bid"]
    defs = dg.Definitions.merge(
        eventqa_definitions(project, events, one_step_per="event"),
        dg.Definitions(assets=[follows, bids]),
    )

    result = run_job(defs)

    built = materialized(result)
    assert bids.key in built and follows.key not in built
    # The table-wide default holds back both: the step of backend__events failed.
    table_wide = dg.Definitions.merge(
        eventqa_definitions(project, events), dg.Definitions(assets=[follows, bids])
    )
    assert materialized(run_job(table_wide)) == set()


@pytest.mark.dagster
@pytest.mark.duckdb
def test_readme_example_runs(demo_project, monkeypatch):
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Dagster\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    (demo_project / "definitions.py").write_text(code)
    monkeypatch.chdir(demo_project)

    defs = _load(demo_project / "definitions.py").defs
    result = run_job(defs)

    assert dg.AssetKey("daily_follows") not in materialized(result)
    assert not evaluations(result)[("user_followed_user", "rules")].passed
    # The job that runs every check (what users schedule).
    scheduled = defs.resolve_job_def("eventqa_checks").execute_in_process(raise_on_error=False)
    assert not evaluations(scheduled)[("user_followed_user", "rules")].passed
    assert len(evaluations(scheduled)) == len(evaluations(result))


def _load(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("eventqa_readme_definitions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.dagster
@pytest.mark.duckdb
def test_a_run_that_cannot_complete_fails_the_step_with_eventqa_s_message(example_project):
    project = Project(example_project / "checks.yaml")  # no demo built: no warehouse file

    result = run_job(eventqa_definitions(project, ["user_followed_user"]))

    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert ".eventqa/warehouse.duckdb does not exist" in message
    assert "eventqa demo" in message
    assert "\n" not in message


def test_unknown_events_are_named():
    project = Project(REPO / "checks.yaml")
    with pytest.raises(EventQAError, match="unknown events 'user_followed_usr'"):
        eventqa_definitions(project, ["user_followed_usr"])
    with pytest.raises(EventQAError, match="one_step_per must be 'table' or 'event', not 'tables'"):
        eventqa_asset_checks(project, one_step_per="tables")


def test_without_dagster_the_import_says_how_to_install_it():
    script = """
import sys
sys.modules["dagster"] = None  # as if Dagster were not installed
from eventqa.errors import EventQAError
try:
    import eventqa.integrations.dagster
except ImportError as error:
    print(type(error).__name__, isinstance(error, EventQAError), error.exit_code)
    print(error)
    print(error.hint)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ}
    )
    assert done.returncode == 0, done.stderr
    kind, message, hint = done.stdout.splitlines()
    assert kind == "MissingExtraError True 2"
    assert message.startswith("eventqa.integrations.dagster needs the optional `dagster`")
    assert message.endswith("pip install 'eventqa[dagster]'")
    assert hint == "pip install 'eventqa[dagster]'"
    assert issubclass(MissingExtraError, ImportError)


def test_results_map_statuses_to_dagster_severities():
    from datetime import UTC, datetime

    from eventqa.integrations.dagster import _check_result
    from eventqa.results.models import CheckResult, EventResult, RunResult, Status, Window

    def check(status: Status, severity: str, kind: str = "rule:unique") -> CheckResult:
        return CheckResult(
            expectation_type="expect_column_values_to_be_unique", column="user_id",
            status=status, severity=severity, check=kind, description="a | *pipe*",
            origin="checks.yaml#events.e.rules[0]", unexpected_count=2, element_count=9,
            samples=[{"user_id": 1}] * 8,
        )  # fmt: skip

    def outcome(*checks: CheckResult, error: str | None = None, kind: str = "rules"):
        event = EventResult(
            event="e", table="t", owner="Growth", status=Status.PASSED, checks=list(checks),
            row_count=9, error=error,
        )  # fmt: skip
        at = datetime(2026, 1, 1, tzinfo=UTC)
        run = RunResult(run_id="r1", window=Window(since=at, until=at), events=[event])
        return _check_result(dg.AssetCheckKey(event_asset_key("t", "e"), kind), event, run)

    warned = outcome(check(Status.PASSED, "error"), check(Status.WARNED, "warn"))
    assert (warned.passed, warned.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert warned.description == "1 of 2 rule checks failed: a | *pipe*"
    assert warned.metadata["warned"].value == 1 and warned.metadata["failed"].value == 0
    (listed,) = warned.metadata["failures"].value
    assert len(listed["samples"]) == 5  # capped
    # User text stays literal inside the Markdown table.
    assert r"a \| \*pipe\*" in warned.metadata["failing_checks"].value

    failed = outcome(check(Status.WARNED, "warn"), check(Status.ERROR, "error"))
    assert (failed.passed, failed.severity) == (False, dg.AssetCheckSeverity.ERROR)
    passed = outcome(check(Status.PASSED, "error"))
    assert passed.passed and passed.description == "1 rule check passed over 9 events"
    broken = outcome(error="payload is not JSON", kind="contract")
    assert (broken.passed, broken.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert "could not run: payload is not JSON" in broken.description
    # Nothing of a kind in the run (volume monitoring not there yet): no result at all.
    assert outcome(check(Status.PASSED, "error"), kind="volume") is None
