"""Lint rules and findings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from eventqa.errors import Location


class Kind(StrEnum):
    """What a finding is about."""

    CONVENTION = "convention"
    BREAKING = "breaking"
    ADDITIVE = "additive"


@dataclass(frozen=True)
class Rule:
    """A lint rule: its id, what it checks, and how much it matters by default."""

    id: str
    name: str
    kind: Kind
    summary: str
    severity: str = "error"  # error | warn


RULES = {
    rule.id: rule
    for rule in (
        Rule("EQ001", "event-name-matches-message", Kind.CONVENTION,
             "the event field is the snake_case of its message name without `Event`"),
        Rule("EQ002", "actor-action-object", Kind.CONVENTION,
             "the event name reads actor_action_object, the action in the past tense", "warn"),
        Rule("EQ003", "event-metadata", Kind.CONVENTION,
             "every event has (event_metadata).description and .team_owner"),
        Rule("EQ004", "known-owner", Kind.CONVENTION,
             "the team_owner is a team of checks.yaml `teams`"),
        Rule("EQ005", "snake-case-fields", Kind.CONVENTION, "field names are snake_case"),
        Rule("EQ006", "enum-zero-unspecified", Kind.CONVENTION,
             "the zero value of an enum ends in _UNSPECIFIED"),
        Rule("BRK001", "event-removed", Kind.BREAKING,
             "an event is removed without reserving its tag and name"),
        Rule("BRK002", "field-removed", Kind.BREAKING,
             "a field is removed without reserving its number and name"),
        Rule("BRK003", "number-reused", Kind.BREAKING,
             "a field or envelope tag number now names something else"),
        Rule("BRK004", "type-changed", Kind.BREAKING, "a field's type changed"),
        Rule("BRK005", "nullability-changed", Kind.BREAKING,
             "a field moved between a wrapper or `optional` and a plain scalar"),
        Rule("BRK006", "enum-value-removed-or-renumbered", Kind.BREAKING,
             "an enum value is removed without reserving it, or renumbered"),
        Rule("BRK007", "event-renamed", Kind.BREAKING, "an event's name changed for the same tag"),
        Rule("BRK008", "field-renamed", Kind.BREAKING,
             "a field's name changed for the same number (its JSON key changes)"),
        Rule("ADD001", "additive", Kind.ADDITIVE,
             "a new event, field or enum value (compatible)", "info"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One thing lint found, where, and how it counts."""

    rule: str
    severity: str  # error | warn | info
    location: Location
    message: str

    @property
    def kind(self) -> Kind:
        """Convention, breaking or additive (from the rule)."""
        return RULES[self.rule].kind

    def __str__(self) -> str:
        return f"{self.location}: {self.rule} {self.severity}: {self.message}"
