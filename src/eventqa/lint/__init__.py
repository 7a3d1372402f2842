"""Contract lint: conventions and backward compatibility, on the descriptors suites come from."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from eventqa.config.models import Config
from eventqa.contracts.model import ContractSet
from eventqa.errors import ConfigError
from eventqa.lint.compat import compare
from eventqa.lint.conventions import conventions
from eventqa.lint.model import RULES, Finding, Kind

__all__ = ["RULES", "Finding", "Kind", "LintReport", "lint"]


@dataclass(frozen=True)
class LintReport:
    """Findings, worst first within each file, and what they add up to."""

    findings: list[Finding]
    against: str | None

    @property
    def errors(self) -> list[Finding]:
        """Findings that fail lint (exit 1)."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def exit_code(self) -> int:
        """1 when any finding is an error, else 0."""
        return 1 if self.errors else 0


def _settings(config: Config) -> dict[str, str]:
    for rule in config.lint.rules:
        if rule not in RULES:
            close = difflib.get_close_matches(rule, sorted(RULES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"lint.rules.{rule}: unknown rule {rule!r}{hint} (rules: {', '.join(RULES)})",
                location=config.locate("lint", "rules", rule),
            )
    return dict(config.lint.rules)


def lint(
    contracts: ContractSet,
    config: Config,
    previous: ContractSet | None = None,
    against: str | None = None,
) -> LintReport:
    """Conventions of `contracts`, and with `previous`, what changed since and what breaks."""
    settings = _settings(config)
    found = list(conventions(contracts, set(config.teams)))
    if previous is not None:
        found += list(compare(previous, contracts))
    kept = []
    for finding in found:
        setting = settings.get(finding.rule)
        if setting == "off":
            continue
        if setting and finding.severity != "info":
            finding = Finding(finding.rule, setting, finding.location, finding.message)
        kept.append(finding)
    kept.sort(key=lambda f: (f.location.path, f.location.line or 0, f.location.column or 0, f.rule))
    return LintReport(kept, against)
