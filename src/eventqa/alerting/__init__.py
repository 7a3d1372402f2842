"""Alerting: what to say to whom after a run, said once, and never lost.

Results are stored before anything here runs. `Alerter.after_run` decides from the run and the
stored alert state (per event, and per table and channel: fingerprint of its failing checks,
thread, last alert) what each team hears: a new or changed failure, a reminder after
`remind_after`, a "resolved" reply in the failure's thread. A state change and the message that
says it are written to the outbox in one transaction, then delivered; what cannot be delivered
stays there and goes out with the next run. Runs over a past window (backfills) are stored but
leave the live alert state alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eventqa.alerting.blocks import (
    Message,
    digest_message,
    failure_message,
    outage_message,
    passing_message,
    resolved_message,
    table_message,
)
from eventqa.alerting.delivery import Notifier, deliver_pending
from eventqa.config.models import Config
from eventqa.results.models import AlertSummary, CheckResult, EventResult, RunResult, Status
from eventqa.results.store import OutboxEntry

__all__ = ["AlertSummary", "Alerter", "Notifier", "deliver_pending"]

# Failing-rows SQL of an event's failing checks, keyed by `CheckResult.key`.
Repro = Callable[[EventResult, RunResult], dict[str, str]]
NEW = "broke its contract"


def fingerprint(subject: str, checks: list[CheckResult], statuses: set[Status]) -> str:
    """What identifies a failure: the subject and which checks fail (by id, not their counts)."""
    failing = sorted(c.key for c in checks if c.status in statuses)
    return hashlib.sha256("\n".join([subject, *failing]).encode()).hexdigest()[:16]


class Alerter:
    """Plans alerts into the outbox and delivers them."""

    def __init__(self, config: Config, store: Any, notifier: Notifier, repro: Repro | None = None):
        self.config = config
        self.store = store
        self.notifier = notifier
        self.repro = repro or (lambda event, run: {})
        self._unchanged: list[str] = []  # subjects this run kept quiet: said before, unchanged

    def channel_for(self, event: str, owner: str | None) -> str | None:
        """The event's own channel, else its owner's, else the fallback."""
        settings = self.config.events.get(event)
        if settings and settings.slack_channel:
            return settings.slack_channel
        team = self.config.teams.get(owner or "")
        return team.slack_channel if team else self.config.alerts.fallback_channel

    def _alerting(self) -> set[Status]:
        statuses = {Status.FAILED, Status.ERROR}
        return statuses | {Status.WARNED} if self.config.alerts.warnings == "alert" else statuses

    def is_live(self, run: RunResult, now: datetime) -> bool:
        """Whether a run judges the present: its window ends within `misfire_grace` of `now`.

        The scheduler runs late by up to that grace; anything older is a backfill, whose findings
        are stored but must not resolve or re-open what the latest runs said.
        """
        return now - run.window.until <= self.config.defaults.misfire_grace

    def after_run(self, run: RunResult, now: datetime | None = None) -> AlertSummary:
        """Queue what this run should say, clear an outage, then deliver everything pending.

        Returns what happened: each message delivered (or kept for later), and the failures
        kept quiet because they were said before and have not changed.
        """
        now = now or datetime.now(UTC)
        self._unchanged = []
        self._recovered(run)
        live = self.is_live(run, now)
        if live:
            self._alert_events(run, now)
            self._alert_tables(run, now)
            if self.config.alerts.warnings == "digest":
                self._digest(run, now)
        deliveries = deliver_pending(self.store, self.notifier)
        unchanged = list(dict.fromkeys(self._unchanged))  # a table is decided once per channel
        return AlertSummary(deliveries=deliveries, unchanged=unchanged, backfill=not live)

    def _alert_events(self, run: RunResult, now: datetime) -> None:
        """One message per team and channel, listing that team's newly failing events."""
        groups: dict[tuple[str, str | None], list[tuple[EventResult, str, dict[str, Any]]]] = {}
        for event in run.events:
            channel = self.channel_for(event.event, event.owner)
            if channel is None:
                continue
            decided = self._decide(event.event, event.event, event.checks, channel, run, now)
            if decided:
                groups.setdefault((channel, event.owner), []).append((event, *decided))
        for (channel, owner), found in groups.items():
            alert_id = f"{run.run_id}:{channel}:{owner or 'unowned'}"
            events = [(event, label) for event, label, _ in found]
            repro = {event.event: self.repro(event, run) for event, _ in events}
            message = failure_message(
                owner or channel, events, run, repro, self.config.alerts.report_url
            )
            states = {e.event: {**state, "thread_alert_id": alert_id} for e, _, state in found}
            self._record(alert_id, channel, "failure", message, states)

    def _alert_tables(self, run: RunResult, now: datetime) -> None:
        """Table-level findings (event names no contract declares) to the fallback channel.

        Without a fallback channel they go to the channels of the teams whose events share the
        table; each channel has its own state, so each hears a finding once and its resolution.
        """
        fallback = self.config.alerts.fallback_channel
        for table in run.tables:
            owners = [e for e in run.events if e.table == table.table]
            channels = (
                {fallback}
                if fallback
                else {c for e in owners if (c := self.channel_for(e.event, e.owner))}
            )
            for channel in sorted(channels):
                key = f"table:{table.table}:{channel}"
                decided = self._decide(key, f"table {table.table}", table.checks, channel, run, now)
                if decided:
                    label, state = decided
                    alert_id = f"{run.run_id}:{key}"
                    message = table_message(table, label, run, self.config.alerts.report_url)
                    self._record(
                        alert_id, channel, "failure", message,
                        {key: {**state, "thread_alert_id": alert_id}},
                    )  # fmt: skip

    def _decide(
        self, key: str, subject: str, checks: list[CheckResult], channel: str, run: RunResult,
        now: datetime,
    ) -> tuple[str, dict[str, Any]] | None:  # fmt: skip
        """A failure worth saying now: its label and the alert state to record with the message.

        A subject that passes again gets its "resolved" reply here; the same failure already said
        stays quiet until `remind_after`.
        """
        alerting = self._alerting()
        state = self.store.alert_state(key)
        failing_before = state is not None and state["status"] == "failing"
        if not any(c.status in alerting for c in checks):
            if state is not None and failing_before:
                self._resolve(key, subject, state, run, channel)
            return None
        print_ = fingerprint(key, checks, alerting)
        if state is None or not failing_before or state["fingerprint"] != print_:
            label = NEW
        elif (
            state["last_alerted_at"] is None
            or now - state["last_alerted_at"] >= self.config.alerts.remind_after
        ):
            label = f"is still failing (since {state['first_failed_at']:%Y-%m-%d %H:%M} UTC)"
        else:
            self._unchanged.append(subject)
            return None
        first = state["first_failed_at"] if state is not None and failing_before else now
        return label, {
            "status": "failing", "fingerprint": print_, "channel": channel,
            "first_failed_at": first, "last_alerted_at": now,
        }  # fmt: skip

    def _resolve(
        self, key: str, subject: str, state: dict[str, Any], run: RunResult, channel: str
    ) -> None:
        self._record(
            f"{run.run_id}:{key}:resolved", state["channel"] or channel, "resolved",
            resolved_message(subject, run), {key: {"status": "passing", "fingerprint": None}},
            thread_of=state["thread_alert_id"],
        )  # fmt: skip

    def _digest(self, run: RunResult, now: datetime) -> None:
        warned: dict[str, list[EventResult]] = {}
        for event in run.events:
            if any(c.status == Status.WARNED for c in event.checks):
                channel = self.channel_for(event.event, event.owner)
                if channel:
                    warned.setdefault(channel, []).append(event)
        for channel, events in warned.items():
            key = f"digest:{channel}"
            state = self.store.alert_state(key)
            last = state["last_alerted_at"] if state else None
            if last is None or now - last >= self.config.alerts.remind_after:
                self._record(
                    f"{run.run_id}:{key}", channel, "digest",
                    digest_message(events, run, self.config.alerts.report_url),
                    {key: {"status": "sent", "channel": channel, "last_alerted_at": now}},
                )  # fmt: skip

    def preview(self, event: EventResult, run: RunResult) -> Message:
        """What the event's run says in Slack: its failure, its warnings digest, or "passes"."""
        if any(c.status in self._alerting() for c in event.checks):
            repro = {event.event: self.repro(event, run)}
            return failure_message(
                event.owner or "unknown", [(event, NEW)], run, repro, self.config.alerts.report_url
            )
        if any(c.status == Status.WARNED for c in event.checks):
            return digest_message([event], run, self.config.alerts.report_url)
        return passing_message(event, run)

    def outage(
        self, error: str, events: list[tuple[str, str | None]], warehouse: str,
        now: datetime | None = None,
    ) -> AlertSummary:  # fmt: skip
        """The run could not complete: say so once per outage, then deliver what is pending."""
        key = f"outage:{warehouse}"
        state = self.store.alert_state(key)
        if state is None or state["status"] != "failing":
            fallback = self.config.alerts.fallback_channel
            channels: set[str] = (
                {fallback}
                if fallback
                else {c for e, owner in events if (c := self.channel_for(e, owner))}
            )
            stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
            message = outage_message(error, [e for e, _ in events])
            entries = [
                OutboxEntry(f"outage:{warehouse}:{stamp}:{c}", c, "outage", message.payload())
                for c in sorted(channels)
            ]
            self.store.record_alerts(
                {key: {"status": "failing", "channel": ",".join(sorted(channels))}}, entries
            )
            unchanged = []
        else:
            unchanged = [f"outage of {warehouse}"]
        return AlertSummary(
            deliveries=deliver_pending(self.store, self.notifier), unchanged=unchanged
        )

    def _recovered(self, run: RunResult) -> None:
        for key in ("outage:duckdb", "outage:snowflake"):
            state = self.store.alert_state(key)
            if state and state["status"] == "failing":
                message = outage_message("", [], recovered=True)
                entries = [
                    OutboxEntry(f"{run.run_id}:{key}:{c}:recovered", c, "recovered",
                                message.payload())
                    for c in (state["channel"] or "").split(",")
                    if c
                ]  # fmt: skip
                self.store.record_alerts({key: {"status": "passing"}}, entries)

    def _record(
        self, alert_id: str, channel: str, kind: str, message: Message,
        states: dict[str, dict[str, Any]], thread_of: str | None = None,
    ) -> None:  # fmt: skip
        """Queue a message (and its thread replies) together with the states it changes."""
        entries = [
            OutboxEntry(alert_id, channel, kind, message.payload(), thread_of),
            *(
                OutboxEntry(
                    f"{alert_id}:reply:{n}", channel, f"{kind}-detail", r.payload(), alert_id
                )
                for n, r in enumerate(message.replies)
            ),
        ]
        self.store.record_alerts(states, entries)
