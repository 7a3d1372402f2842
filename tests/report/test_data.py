"""The report's data and page, built from a real results store (SQLite in a temporary folder)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from importlib.resources import files
from pathlib import Path

import pytest

from eventqa.report import build_report
from eventqa.report.html import embedded_json
from eventqa.results import Status
from eventqa.results.store import ResultStore
from tests.report.helpers import HOSTILE, UNTIL, bucket, check, event_run, volume_check


@pytest.fixture
def store(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    yield store
    store.close()


def report(store, tmp_path: Path, **options):
    project = tmp_path / "project"
    return build_report(
        store, project="shop", project_dir=project, output_dir=project / ".eventqa", now=UNTIL,
        **options,
    )  # fmt: skip


def embedded(html: str) -> dict:
    (text,) = re.findall(r'<script type="application/json" id="eventqa-data">(.*?)</script>', html)
    return json.loads(text)


def test_the_latest_run_of_each_event_with_what_failed_samples_sql_and_origin(store, tmp_path):
    store.save(event_run("r1", UNTIL - timedelta(hours=1), check("a is set", Status.PASSED, "a")))
    failing = check(
        "a is set", Status.FAILED, "a", unexpected_count=3, element_count=100,
        samples=[{"event_id": "e1", "a": None}], reproduction_sql="SELECT *\nFROM w\nWHERE a IS NULL",
    )  # fmt: skip
    passing = check("b is an integer", Status.PASSED, "b", column="b", origin="checks.yaml#x")
    store.save(event_run("r2", UNTIL, failing, passing))
    store.save(event_run("r3", UNTIL, check("c", Status.PASSED, "c"), event="other", owner=None))
    document = report(store, tmp_path).document

    assert document["summary"] == {
        "events": 2, "failed": 1, "warned": 0, "passed": 1, "error": 0, "stored_runs": 3,
        "last_run": document["summary"]["last_run"],
    }  # fmt: skip
    first, second = document["events"]
    assert (first["event"], first["status"], first["run_id"]) == ("thing_happened", "failed", "r2")
    assert second["event"] == "other" and second["owner"] is None  # worst status first
    shown_failing, shown_passing = first["checks"]
    assert shown_failing["samples"] == [{"event_id": "e1", "a": None}]
    assert shown_failing["sql"] == "SELECT *\nFROM w\nWHERE a IS NULL"
    assert (shown_failing["unexpected_count"], shown_failing["element_count"]) == (3, 100)
    # Origins link to their files, relative to the report's folder.
    assert shown_failing["origin"] == "contracts/backend.proto#ThingHappened.a"
    assert shown_failing["origin_href"] == "../contracts/backend.proto"
    assert shown_passing == {
        "description": "b is an integer", "status": "passed", "column": "b",
        "origin": "checks.yaml#x", "origin_href": "../checks.yaml",
    }  # fmt: skip


def test_origin_links_never_carry_a_scheme(store, tmp_path):
    sneaky = check("x", Status.FAILED, "x", origin="javascript:alert(1)#M.f")
    store.save(event_run("r1", UNTIL, sneaky))
    project = tmp_path / "project"
    built = build_report(store, project="p", project_dir=project, output_dir=project, now=UNTIL)
    assert built.document["events"][0]["checks"][0]["origin_href"] == "./javascript%3Aalert%281%29"


def test_history_strips_follow_each_check_oldest_first_and_are_capped(store, tmp_path):
    statuses = [Status.PASSED, Status.FAILED, Status.WARNED, Status.PASSED, Status.FAILED]
    for n, status in enumerate(statuses):
        checks = [check("a is set", status, "a")]
        if n >= 3:  # a check added later has no status in the older runs
            checks.append(check("b is new", Status.PASSED, "b", column="b"))
        store.save(event_run(f"r{n}", UNTIL - timedelta(hours=5 - n), *checks))
    history = report(store, tmp_path, history_runs=4).document["events"][0]["history"]
    assert [run["run_id"] for run in history["runs"]] == ["r1", "r2", "r3", "r4"]
    assert history["checks"] == [
        {"key": "a", "description": "a is set", "statuses": "fwpf"},
        {"key": "b", "description": "b is new", "statuses": "--pp"},
    ]


def test_the_volume_series_joins_the_buckets_of_runs_the_latest_winning(store, tmp_path):
    hour = timedelta(hours=1)
    older = [bucket(UNTIL - 3 * hour + n * hour, 100 + n, 100.0) for n in range(2)]
    newer = [
        bucket(UNTIL - 2 * hour, 7, 100.0, "drop"),  # the same hour, seen again later
        bucket(UNTIL - hour, 0, 100.0, "stop"),
    ]
    store.save(event_run("r1", UNTIL - hour, volume_check(older)))
    store.save(event_run("r2", UNTIL, volume_check(newer, Status.FAILED)))
    store.save(event_run("r3", UNTIL, check("x", Status.PASSED, "x"), event="unwatched"))
    events = {e["event"]: e for e in report(store, tmp_path).document["events"]}
    volume = events["thing_happened"]["volume"]
    assert volume["columns"] == ["start", "observed", "expected", "low", "high", "anomaly"]
    assert [(p[1], p[5]) for p in volume["points"]] == [(100, None), (7, "drop"), (0, "stop")]
    assert volume["points"][0] == ["2026-03-01T09:00:00Z", 100.0, 100.0, 70.0, 130.0, None]
    assert volume["latest"]["kind"] == "stop"
    assert events["unwatched"]["volume"] is None
    # The finding reads as figures (its description explains it); the buckets are charted.
    (volume_entry,) = events["thing_happened"]["checks"]
    assert volume_entry["observed_value"] == "0 events, expected 100 (band 70\u2013130)"
    assert "expected" not in volume_entry
    # A monitoring check's strip is named by what it watches, not by this run's explanation.
    strips = events["thing_happened"]["history"]["checks"]
    assert [c["description"] for c in strips] == ["volume against its own history"]


def test_malformed_volume_buckets_are_left_out(store, tmp_path):
    value = volume_check([bucket(UNTIL, 1, 1.0)])
    odd = value.model_copy(update={"observed_value": {
        **value.observed_value,
        "buckets": [{"start": 5}, "x", {"start": "2026-03-01T10:00:00Z", "observed": "many"}],
    }})  # fmt: skip
    store.save(event_run("r1", UNTIL, odd))
    (event,) = report(store, tmp_path).document["events"]
    assert event["volume"]["points"] == [["2026-03-01T10:00:00Z", None, None, None, None, None]]


def test_hostile_strings_cannot_leave_the_data_block(store, tmp_path):
    store.save(
        event_run(
            "r1", UNTIL,
            check(HOSTILE, Status.FAILED, "x", samples=[HOSTILE, {"k": "]]>\u2028"}],
                  observed_value=float("nan")),
            owner=HOSTILE,
        )
    )  # fmt: skip
    built = report(store, tmp_path)
    assert built.html.count("</script>") == 2  # the data block's and the script's own
    assert "<img" not in built.html and "<!--" not in built.html
    document = embedded(built.html)
    (check_,) = document["events"][0]["checks"]
    assert check_["description"] == HOSTILE and check_["samples"][0] == HOSTILE
    assert check_["observed_value"] == "nan"  # JSON has no NaN: the page would not parse
    assert document["events"][0]["owner"] == HOSTILE
    # The title is autoescaped too.
    assert (
        "&lt;/script&gt;"
        in build_report(
            store, project=HOSTILE, project_dir=tmp_path, output_dir=tmp_path, now=UNTIL
        ).html
    )


def test_embedded_json_escapes_what_html_would_read():
    text = embedded_json({"a": "</script><!-- & ]]> \u2028"})
    assert not set("<>&") & set(text) and json.loads(text) == {"a": "</script><!-- & ]]> \u2028"}


def test_the_page_script_and_style_cannot_close_their_own_elements():
    assets = files("eventqa.report") / "templates"
    for name in ("report.js", "report.css"):
        assert "</" not in (assets / name).read_text(encoding="utf-8"), name


def test_an_empty_store_gives_a_page_that_says_so(store, tmp_path):
    built = report(store, tmp_path)
    assert built.document["events"] == [] and built.document["summary"]["stored_runs"] == 0
    assert "No runs stored yet" in built.html
    assert built.summary(tmp_path / "r.html").empty
