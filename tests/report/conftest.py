"""A real headless chromium for the report's browser test: Debian's, installed when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# No profile sync, component updates or background requests: the test watches every request.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _cannot_have_chromium(reason: str) -> None:
    """In CI a missing browser fails the run; on a developer's machine the test is skipped."""
    message = f"the browser test needs Debian's chromium at {CHROMIUM}: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _install_chromium() -> None:
    """`apt-get install -y chromium` (as root, the way CI runs)."""
    if shutil.which("apt-get") is None:
        _cannot_have_chromium("it is missing and there is no apt-get to install it")
    if os.geteuid() != 0:
        _cannot_have_chromium("it is missing; install it with `sudo apt-get install -y chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            _cannot_have_chromium(f"`{' '.join(command)}` failed: {' / '.join(tail)}")
    if not CHROMIUM.exists():
        _cannot_have_chromium("apt-get installed chromium, but not at that path")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless chromium driven by Playwright (never `playwright install`: Debian's build)."""
    if not CHROMIUM.exists():
        _install_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where browser tests keep screenshots: $EVENTQA_TEST_ARTIFACTS, else tests/artifacts/."""
    folder = Path(os.environ.get("EVENTQA_TEST_ARTIFACTS") or ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
