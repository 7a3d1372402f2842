"""expectations/: suites as stable GX JSON, written by `generate` and compared by `--check`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventqa.suites.derive import DerivedSuite


def render_suite(derived: DerivedSuite) -> str:
    """The suite as GX JSON, byte-for-byte stable: sorted keys, no GX version stamp, no GX ids."""
    return json.dumps(derived.suite, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass
class SuiteDiff:
    """How expectations/ differs from what the contracts and checks.yaml derive."""

    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when expectations/ is current."""
        return not (self.stale or self.missing or self.orphaned)


def _existing(directory: Path) -> set[str]:
    if not directory.is_dir():
        return set()
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*.json")}


def diff_suites(directory: Path, suites: list[DerivedSuite]) -> SuiteDiff:
    """Compare the suites on disk with freshly derived ones."""
    result = SuiteDiff()
    wanted = {s.relative_path: render_suite(s) for s in suites}
    for path, text in sorted(wanted.items()):
        target = directory / path
        if not target.is_file():
            result.missing.append(path)
        elif target.read_text(encoding="utf-8") != text:
            result.stale.append(path)
    result.orphaned = sorted(_existing(directory) - set(wanted))
    return result


def write_suites(directory: Path, suites: list[DerivedSuite]) -> SuiteDiff:
    """Bring expectations/ up to date; return what changed (orphaned suites are removed)."""
    changes = diff_suites(directory, suites)
    rendered = {s.relative_path: render_suite(s) for s in suites}
    for path in [*changes.missing, *changes.stale]:
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rendered[path], encoding="utf-8")
    for path in changes.orphaned:
        (directory / path).unlink()
        if not any((directory / path).parent.iterdir()):
            (directory / path).parent.rmdir()
    return changes


def load_suite(path: Path) -> Any:
    """Read a suite file back as a GX ExpectationSuite."""
    from great_expectations.core import ExpectationSuite

    return ExpectationSuite(**json.loads(path.read_text(encoding="utf-8")))
