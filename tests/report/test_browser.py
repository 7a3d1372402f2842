"""The report in a real headless chromium: charts drawn, filters working, no request elsewhere.

The store holds real runs of the demo project (DuckDB), volume results in the documented format
(`eventqa_volume`, buckets of observed and expected counts) and an event whose strings try to break
out of the page. A screenshot is kept under $EVENTQA_TEST_ARTIFACTS or tests/artifacts/.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from eventqa.results import Status
from eventqa.service import Project, Selection
from tests.conftest import REPO
from tests.report.helpers import HOSTILE, bucket, check, event_run, volume_check

pytestmark = [pytest.mark.browser, pytest.mark.duckdb]

VOLUME_RUNS = 3  # each with 24 hourly buckets, overlapping the previous run's by 12
VOLUME_POINTS = 24 + 12 * (VOLUME_RUNS - 1)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The demo project after three runs and a few stored volume results; its report written."""
    root = tmp_path_factory.mktemp("report") / "shop"
    root.mkdir()
    for name in ("contracts", "expectations"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "checks.yaml", root / "checks.yaml")
    project = Project(root / "checks.yaml")
    until = project.demo(rows=4000).until
    for hours in (12, 6, 0):
        project.run(Selection(all=True), until=until - timedelta(hours=hours), alert=False)
    store = project.result_store()
    try:
        for n in range(VOLUME_RUNS):  # older than the real runs: the latest run stays a real one
            end = until - timedelta(hours=48 - 12 * n)
            buckets = [
                bucket(end - timedelta(hours=24 - h), 90 + (h * 7) % 30, 100.0,
                       "drop" if n == VOLUME_RUNS - 1 and h >= 22 else None)
                for h in range(24)
            ]  # fmt: skip
            store.save(
                event_run(f"volume{n}", end, volume_check(buckets), event="user_followed_user")
            )
        store.save(
            event_run(
                "hostile", until,
                check(HOSTILE, Status.FAILED, "x", samples=[HOSTILE], reproduction_sql=HOSTILE),
                event="user_reported_listing", owner=HOSTILE,
            )
        )  # fmt: skip
    finally:
        store.close()
    summary = project.report(root / ".eventqa" / "report.html")
    text = summary.path.read_text(encoding="utf-8")
    (data,) = re.findall(r'<script type="application/json" id="eventqa-data">(.*?)</script>', text)
    return summary, json.loads(data)


@pytest.fixture
def page(chromium):
    page = chromium.new_page(viewport={"width": 1360, "height": 1000})
    page.requests = []
    page.errors = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    yield page
    page.close()


def shown_events(page) -> list[str]:
    return page.locator("tr.event-row:not(.hidden)").evaluate_all(
        "rows => rows.map(row => row.dataset.event)"
    )


def test_the_report_draws_its_charts_filters_and_asks_no_other_host(page, written, artifacts):
    summary, document = written
    page.goto(summary.path.resolve().as_uri() + "#event=user_followed_user")
    page.wait_for_selector("body[data-rendered]", timeout=10_000)
    assert page.errors == []

    # The summary header counts each event's latest run.
    events = document["events"]
    assert page.locator('[data-summary="events"]').inner_text() == str(len(events))
    failed = sum(e["status"] in ("failed", "error") for e in events)
    assert page.locator('[data-summary="failed"]').inner_text() == str(failed)

    # The volume chart: one point per distinct bucket, a band, anomalies marked.
    detail = page.locator('[data-detail="user_followed_user"]')
    observed = detail.locator("svg.chart path.observed")
    (follows,) = [e for e in events if e["event"] == "user_followed_user"]
    points = follows["volume"]["points"]
    # The stored volume results, and the real runs' own complete hourly buckets.
    assert len(points) >= VOLUME_POINTS + 24
    assert observed.get_attribute("data-points") == str(len(points))
    assert observed.get_attribute("d").count("L") == len(points) - 1
    assert detail.locator("svg.chart path.band").count() == 1
    drops = sum(point[5] == "drop" for point in points)
    assert drops >= 2 and detail.locator("svg.chart circle.anomaly.drop").count() == drops
    # History: one cell per stored run of the event (3 real runs, 3 with volume results).
    strips = detail.locator(".history svg.strip")
    assert strips.count() >= 2
    assert strips.first.locator("rect").count() == 3 + VOLUME_RUNS
    # The latest run's failing checks, their samples and SQL, origins as file#Message.field.
    assert detail.locator(".check.failed").count() >= 1
    assert detail.locator("pre.sql").first.inner_text().lstrip().startswith("WITH")
    origin = detail.locator("a.origin").first
    assert re.fullmatch(r"\S+\.(proto|yaml)#\S+", origin.inner_text())
    assert origin.get_attribute("href").startswith("../")
    copy = detail.locator("button.copy").first
    copy.click()
    # The copy settles asynchronously (a clipboard promise): wait for it, not for a time.
    expect(copy).to_have_attribute("data-copied", "1")

    # An event without volume results (only stored by hand here) says so.
    page.locator('tr.event-row[data-event="user_reported_listing"]').click()
    other = page.locator('[data-detail="user_reported_listing"]')
    assert other.locator(".volume").inner_text().endswith("volume monitoring has no data yet")
    page.screenshot(path=str(artifacts / "report.png"), full_page=True)

    # Filters hide exactly the rows that do not match.
    everything = shown_events(page)
    assert sorted(everything) == sorted(e["event"] for e in events)
    page.select_option("#filter-owner", "Growth")
    growth = [e["event"] for e in events if e["owner"] == "Growth"]
    assert 0 < len(growth) < len(events) and sorted(shown_events(page)) == sorted(growth)
    assert not page.locator('[data-detail="user_followed_user"]').is_visible()
    assert page.locator("#shown").inner_text() == f"showing {len(growth)} of {len(events)} events"
    page.select_option("#filter-owner", "")
    page.select_option("#filter-status", "failed")
    assert sorted(shown_events(page)) == sorted(
        e["event"] for e in events if e["status"] == "failed"
    )
    page.select_option("#filter-status", "")
    page.select_option("#filter-table", "frontend__events")
    frontend = [e["event"] for e in events if e["table"] == "frontend__events"]
    assert 0 < len(frontend) < len(events) and sorted(shown_events(page)) == sorted(frontend)

    # Every request was for the file itself: nothing from any other host.
    assert page.requests and all(url.startswith(("file://", "data:")) for url in page.requests)


def test_strings_from_the_warehouse_stay_text(page, written):
    summary, _ = written
    page.goto(summary.path.resolve().as_uri() + "#event=user_reported_listing")
    page.wait_for_selector("body[data-rendered]", timeout=10_000)
    detail = page.locator('[data-detail="user_reported_listing"]')
    assert detail.locator(".check-title").inner_text() == HOSTILE
    assert json.loads(detail.locator("pre.samples").inner_text()) == [HOSTILE]
    assert detail.locator("pre.sql").inner_text() == HOSTILE
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None
    owners = page.locator("#filter-owner option").all_inner_texts()
    assert HOSTILE in owners
    assert page.errors == []


def test_the_written_page_is_one_file(written):
    summary, _ = written
    text = Path(summary.path).read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text
