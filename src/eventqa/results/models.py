"""What a run found, as typed models (the `--format json` document is their JSON form)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field


class Status(StrEnum):
    """A check's (or event's, or run's) outcome, worst last."""

    PASSED = "passed"
    WARNED = "warned"
    FAILED = "failed"
    ERROR = "error"

    @staticmethod
    def worst(statuses: list[Status]) -> Status:
        """The most severe of `statuses` (passed when empty)."""
        order = list(Status)
        return max(statuses, key=order.index, default=Status.PASSED)


# Checks the volume monitoring adds; their observed value is the detector's finding and their
# description an explanation written anew each run.
VOLUME_TYPE = "eventqa_volume"
FRESHNESS_TYPE = "eventqa_freshness"
MONITORING_TYPES = frozenset({VOLUME_TYPE, FRESHNESS_TYPE})
# What history (terminal and report) calls them, since their descriptions change every run.
MONITORING_LABELS = {
    VOLUME_TYPE: "volume against its own history",
    FRESHNESS_TYPE: "freshness at its usual rate",
}


def monitoring_figures(expectation_type: str, found: Any) -> str:
    """A volume or freshness finding in a few figures (its description is the explanation)."""
    found = found if isinstance(found, dict) else {}
    if found.get("status") == "learning":
        return "learning"
    if expectation_type == FRESHNESS_TYPE:
        probability = found.get("probability")
        chance = f", probability {probability:.2g}" if isinstance(probability, int | float) else ""
        return f"last seen {found.get('last_seen') or 'never'}{chance}"
    if not all(
        isinstance(found.get(k), int | float) for k in ("observed", "expected", "low", "high")
    ):
        return str(found.get("status", ""))
    return (
        f"{found['observed']:,} events, expected {found['expected']:,.0f} "
        f"(band {found['low']:,.0f}\u2013{found['high']:,.0f})"
    )


class Result(BaseModel):
    """Base of result models: immutable."""

    model_config = ConfigDict(frozen=True)


class CheckResult(Result):
    """One expectation's outcome over the window."""

    expectation_type: str
    column: str | None
    # Stable id of the expectation (its `meta.id`): survives reordering and edits elsewhere.
    check_id: str = ""
    status: Status
    severity: str
    check: str
    description: str
    origin: str
    unexpected_count: int | None = None
    element_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None
    expected: dict[str, Any] = Field(default_factory=dict)
    samples: list[Any] = Field(default_factory=list)
    error: str | None = None
    # The query that lists the failing rows, exactly as the compiler wrote it (failed checks).
    reproduction_sql: str | None = None

    @property
    def key(self) -> str:
        """What identifies the check across runs: its id, else its kind, type and column."""
        return check_key(self.check_id, self.check, self.expectation_type, self.column)


def check_key(check_id: str | None, check: str, expectation_type: str, column: str | None) -> str:
    """`CheckResult.key` from its parts (the store computes it from columns, without a model)."""
    return check_id or f"{check}|{expectation_type}|{column or ''}"


class EventResult(Result):
    """All checks of one event."""

    event: str
    table: str
    owner: str | None
    status: Status
    checks: list[CheckResult]
    row_count: int | None = None
    duration_seconds: float = 0.0
    error: str | None = None


class TableResult(Result):
    """Table-level findings, such as event names no contract declares."""

    table: str
    status: Status
    checks: list[CheckResult]


class Window(Result):
    """The half-open interval [since, until) a run checks."""

    since: datetime
    until: datetime
    # Decided once per run: in a live run, rows dated after this are "in the future" and read too.
    # (kept out of the JSON document, whose `window` is documented as {since, until}).
    future_after: datetime | None = Field(default=None, exclude=True)
    # The real clock when the run started plus the skew (decided once): rows dated after it are
    # reported by every run, also a re-run of a past window.
    after_clock: datetime | None = Field(default=None, exclude=True)


class Delivered(StrEnum):
    """What became of one alert message."""

    SENT = "sent"  # posted to Slack (bot token or webhook)
    WRITTEN = "written"  # no Slack configured: appended to the local outbox file
    PENDING = "pending"  # delivery failed: kept in the outbox, the next run sends it


class Delivery(Result):
    """One alert message this run delivered (or tried to), replies in threads not counted."""

    channel: str
    kind: str  # failure, resolved, digest, outage, recovered
    text: str
    outcome: Delivered
    destination: str  # "Slack", "Slack webhook", or the outbox file's path
    error: str | None = None


class AlertSummary(Result):
    """What alerting did after a run: messages delivered, failures kept quiet as unchanged."""

    deliveries: list[Delivery] = Field(default_factory=list)
    # Subjects (events, `table T`) still failing the same way, already said: quiet until a reminder.
    unchanged: list[str] = Field(default_factory=list)
    # A run over a past window: stored, but it neither alerts nor resolves.
    backfill: bool = False

    def count(self, outcome: Delivered) -> int:
        """How many messages ended this way."""
        return sum(d.outcome == outcome for d in self.deliveries)


class RunResult(Result):
    """One `eventqa run`: every event and table it checked."""

    run_id: str
    window: Window
    events: list[EventResult]
    tables: list[TableResult] = Field(default_factory=list)
    # What alerting did with this run; None when it did not alert (`--no-alert`).
    alerts: AlertSummary | None = None

    @computed_field  # type: ignore[prop-decorator]  # in the JSON document, after `alerts`
    @property
    def status(self) -> Status:
        """The worst status of any event or table."""
        return Status.worst([e.status for e in self.events] + [t.status for t in self.tables])

    @property
    def exit_code(self) -> int:
        """0 passed or warned, 1 an error-severity check failed, 3 a check could not run."""
        return {Status.PASSED: 0, Status.WARNED: 0, Status.FAILED: 1, Status.ERROR: 3}[self.status]
