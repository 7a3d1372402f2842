"""`eventqa report` as users meet it: a real subprocess, its output, its exit code, its file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.cli.test_cli import assert_clean_error, eventqa

pytestmark = pytest.mark.cli


def test_an_empty_store_says_so_exits_0_and_writes_a_page_that_says_so(example_project):
    done = eventqa(example_project, "report")
    assert done.returncode == 0, done.stderr
    assert "The results store has no runs yet" in done.stdout
    page = example_project / ".eventqa" / "report.html"  # the default, next to checks.yaml
    assert "No runs stored yet" in page.read_text(encoding="utf-8")
    assert f"Report: {page.relative_to(example_project)}" in done.stdout


def test_output_to_a_missing_folder_exits_2_before_doing_anything(example_project):
    done = eventqa(example_project, "report", "--output", "nowhere/report.html")
    assert_clean_error(
        done, 2, "nowhere/report.html cannot be created: folder nowhere does not exist"
    )
    assert not (example_project / "nowhere").exists()
    assert not (example_project / ".eventqa").exists()  # the results store was not even opened


def test_report_after_a_run_counts_the_latest_run_of_each_event(example_project):
    assert eventqa(example_project, "demo", "--rows", "3000").returncode == 0
    ran = eventqa(example_project, "run", "--event", "user_followed_user", "--no-alert")
    assert ran.returncode in (0, 1), ran.stderr
    failed = ran.returncode  # exit 1: an error-severity check failed
    done = eventqa(example_project, "report", "--output", "out.html")
    assert done.returncode == 0, done.stderr
    assert f"1 event: {failed} failed, 0 warned (latest run of each; 1 run stored)." in done.stdout
    assert "user_followed_user" in (example_project / "out.html").read_text(encoding="utf-8")


def test_open_hands_the_written_page_to_the_web_browser(example_project):
    # webbrowser runs $BROWSER with the page's URL: here, a script that writes down what it got.
    opened = example_project / "opened.txt"
    script = example_project / "browser.py"
    script.write_text(
        f"import sys, pathlib\npathlib.Path({str(opened)!r}).write_text(sys.argv[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "eventqa", "report", "--open"], cwd=example_project,
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "BROWSER": f"{sys.executable} {script} %s"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    page = (example_project / ".eventqa" / "report.html").resolve()
    assert opened.read_text() == page.as_uri()
