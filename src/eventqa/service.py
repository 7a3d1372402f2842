"""The one facade the CLI (and later the scheduler) calls: load, derive, write, check."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from eventqa.config import Config, load_config
from eventqa.contracts import ContractSet, load_contracts
from eventqa.contracts.model import Diagnostic
from eventqa.errors import StaleSuitesError
from eventqa.suites import DerivedSuite, SuiteDiff, derive_suites, diff_suites, write_suites

EXPECTATIONS_DIR = "expectations"


@dataclass(frozen=True)
class GenerateResult:
    """What `generate` did (or, with --check, found)."""

    changes: SuiteDiff
    suites: list[DerivedSuite]
    diagnostics: tuple[Diagnostic, ...]
    directory: Path


class Project:
    """An eventqa project: checks.yaml, the contracts it points at, and expectations/."""

    def __init__(self, config_path: Path):
        self.config_path = config_path

    @cached_property
    def config(self) -> Config:
        """checks.yaml, validated."""
        return load_config(self.config_path)

    @property
    def directory(self) -> Path:
        """Where checks.yaml lives; its relative paths start here."""
        return self.config.project_dir

    @cached_property
    def contracts(self) -> ContractSet:
        """The compiled contracts."""
        settings = self.config.contracts
        return load_contracts(
            self.directory, settings.root, settings.include, envelopes=set(self.config.tables)
        )

    @cached_property
    def suites(self) -> list[DerivedSuite]:
        """Every event's derived suite."""
        return derive_suites(self.contracts, self.config)

    @property
    def expectations_dir(self) -> Path:
        """expectations/ next to checks.yaml."""
        return self.directory / EXPECTATIONS_DIR

    def generate(self, *, check: bool = False) -> GenerateResult:
        """Write suites to expectations/; with `check`, only compare and fail when stale."""
        if check:
            changes = diff_suites(self.expectations_dir, self.suites)
            if not changes.clean:
                lines = [f"{EXPECTATIONS_DIR}/ is out of date with the contracts and checks.yaml:"]
                for label, paths in (
                    ("stale", changes.stale),
                    ("missing", changes.missing),
                    ("orphaned", changes.orphaned),
                ):
                    lines += [f"  {label}: {EXPECTATIONS_DIR}/{path}" for path in paths]
                raise StaleSuitesError("\n".join(lines))
        else:
            changes = write_suites(self.expectations_dir, self.suites)
        return GenerateResult(
            changes, self.suites, self.contracts.diagnostics, self.expectations_dir
        )
