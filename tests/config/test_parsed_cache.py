"""`.eventqa/config.parsed`: checks.yaml read back without ruamel.yaml while its text is the same."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from eventqa.config import load_config
from tests.conftest import REPO

LOAD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from eventqa.config import load_config
    from eventqa.errors import EventQAError
    try:
        config = load_config(Path(sys.argv[1]))
        shown = config.model_dump(mode="json")
    except EventQAError as error:
        shown = str(error)
    print(json.dumps([shown, "ruamel.yaml" in sys.modules]))
    """
)


def _load(checks: Path, module: str = "ruamel.yaml") -> tuple[object, bool]:
    """checks.yaml as loaded in a fresh interpreter, and whether that imported `module`."""
    code = LOAD.replace('"ruamel.yaml" in sys.modules', f"{module!r} in sys.modules")
    done = subprocess.run(
        [sys.executable, "-c", code, str(checks)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown, parsed = json.loads(done.stdout)
    return shown, parsed


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".eventqa").mkdir(exist_ok=True)  # a project that ran before
    checks = tmp_path / "checks.yaml"
    checks.write_text(text)
    return checks


def test_the_same_text_is_read_back_with_the_same_config_and_lines(tmp_path):
    checks = _project(tmp_path, (REPO / "checks.yaml").read_text())
    first, parsed = _load(checks)
    assert parsed
    again, parsed = _load(checks)
    assert not parsed and again == first
    # Every key and item is located on the line ruamel.yaml gives it.
    shutil.move(tmp_path / ".eventqa", tmp_path / "kept")
    fresh = load_config(checks)._source
    shutil.move(tmp_path / "kept", tmp_path / ".eventqa")
    kept = load_config(checks)._source
    assert fresh is not None and kept is not None
    assert not hasattr(kept.document, "lc")  # read back, not parsed
    assert kept.lines == fresh.lines and len(fresh.lines) > 50
    for at in fresh.lines:
        assert kept.locate((*at, "absent")).line == fresh.locate((*at, "absent")).line


def test_a_changed_text_is_parsed_again_and_errors_still_name_their_line(tmp_path):
    checks = _project(tmp_path, "defaults:\n  window: 2h\n")
    assert _load(checks)[1] and not _load(checks)[1]
    checks.write_text("defaults:\n  window: 2h\n  severty: warning\n")
    shown, parsed = _load(checks)
    assert parsed and "checks.yaml:3: defaults.severty: unknown key 'severty'" in str(shown)
    assert _load(checks)[1]  # an invalid document is never kept


def test_what_json_would_not_give_back_is_parsed_every_time(tmp_path):
    # Valid documents holding YAML timestamps or binary: JSON would return something else.
    exclusion = "      - start: 2026-01-01T00:00:00Z\n        end: 2026-01-02\n        reason: x\n"
    for text in (
        f"defaults:\n  volume:\n    exclusions:\n{exclusion}",
        "tables:\n  BackendEvent: !!binary YmFja2VuZA==\n",
    ):
        checks = _project(tmp_path, text)
        first = _load(checks)
        assert first[1] and not isinstance(first[0], str), first  # valid, and parsed
        assert _load(checks) == first
    quoted = exclusion.replace("2026-01-01T00:00:00Z", "'2026-01-01T00:00:00Z'")
    checks = _project(
        tmp_path,
        f"defaults:\n  volume:\n    exclusions:\n{quoted}".replace("2026-01-02", "'2026-01-02'"),
    )
    first = _load(checks)
    assert first[1] and _load(checks) == (first[0], False)  # strings: kept


def test_a_damaged_file_is_parsed_again(tmp_path):
    checks = _project(tmp_path, "defaults:\n  window: 2h\n")
    first = _load(checks)
    (tmp_path / ".eventqa" / "config.parsed").write_text("{not json")
    assert _load(checks) == first
    assert not _load(checks)[1]  # and written again


def test_loading_never_creates_the_folder(tmp_path):
    checks = tmp_path / "checks.yaml"
    checks.write_text("defaults:\n  window: 2h\n")
    assert _load(checks)[1] and _load(checks)[1]
    assert not (tmp_path / ".eventqa").exists()


def test_without_a_schedule_no_command_imports_apscheduler(tmp_path):
    """The default schedule is a constant: only a schedule checks.yaml writes is checked by it."""
    checks = _project(tmp_path, "version: 1\ntables: {BackendEvent: backend__events}\n")
    shown, imported = _load(checks, "apscheduler")
    assert shown["defaults"]["schedule"] == {"timezone": "UTC", "cron": "0 * * * *"}
    assert not imported


def test_a_kept_schedule_is_not_checked_by_apscheduler_again(tmp_path):
    """A kept document passed APScheduler's check: only a new text or a new APScheduler checks
    it again, and a schedule APScheduler refuses is refused every time."""
    text = "defaults:\n  schedule: {cron: '*/30 * * * *', timezone: Europe/Paris}\n"
    checks = _project(tmp_path, text)
    first, imported = _load(checks, "apscheduler")
    assert imported and first["defaults"]["schedule"]["cron"] == "*/30 * * * *"
    assert _load(checks, "apscheduler") == (first, False)
    kept = tmp_path / ".eventqa" / "config.parsed"
    document = json.loads(kept.read_text())
    kept.write_text(json.dumps({**document, "key": "from another APScheduler"}))
    assert _load(checks, "apscheduler") == (first, True)
    checks.write_text(text.replace("*/30", "*/61"))
    refused = "checks.yaml:2: defaults.schedule.cron: '*/61 * * * *' is not a cron"
    for _ in range(2):
        shown, imported = _load(checks, "apscheduler")
        assert imported and refused in str(shown)


def test_the_kept_document_depends_on_apschedulers_version(tmp_path, monkeypatch):
    from eventqa.config import loader

    checks = _project(tmp_path, "defaults:\n  schedule: {cron: '0 6 * * *'}\n")
    key = loader.ParsedCache(tmp_path, checks.read_text()).key
    monkeypatch.setattr(loader, "_version", lambda distribution: "99.0")
    assert loader.ParsedCache(tmp_path, checks.read_text()).key != key
