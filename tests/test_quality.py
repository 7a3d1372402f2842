"""Static checks run with the tests, so the one CI command enforces them too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / tool
    if not executable.exists():
        found = shutil.which(tool)
        if found is None:
            pytest.fail(
                f"{tool} is not installed; install the test extra: pip install -e '.[test]'"
            )
        executable = Path(found)
    return subprocess.run([str(executable), *args], cwd=REPO, capture_output=True, text=True)


def test_ruff_lint():
    done = run("ruff", "check", "src", "tests", "bench", "scripts")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format():
    done = run("ruff", "format", "--check", "src", "tests", "bench", "scripts")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict():
    done = run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr


def test_imports_flow_one_way():
    done = run("lint-imports")
    assert done.returncode == 0, done.stdout + done.stderr
