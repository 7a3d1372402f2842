"""Alerting: what to say to whom after a run, said once, and never lost.

Results are stored before anything here runs. `Alerter.after_run` decides from the run and the
stored alert state (per event: fingerprint of its failing checks, thread, last alert) what each
team hears: a new or changed failure, a reminder after `remind_after`, a "resolved" reply in the
failure's thread. Every message first goes to the outbox in the results store, then is delivered;
what cannot be delivered stays there and goes out with the next run.
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
    resolved_message,
)
from eventqa.alerting.delivery import Notifier, deliver_pending
from eventqa.config.models import Config
from eventqa.results.models import EventResult, RunResult, Status

__all__ = ["Alerter", "Notifier", "deliver_pending"]

Repro = Callable[[EventResult, RunResult], dict[int, str]]


def fingerprint(event: EventResult, statuses: set[Status]) -> str:
    """What identifies a failure: the event and the set of checks failing (not their counts)."""
    failing = sorted(f"{c.origin}|{c.description}" for c in event.checks if c.status in statuses)
    return hashlib.sha256("\n".join([event.event, *failing]).encode()).hexdigest()[:16]


class Alerter:
    """Plans alerts into the outbox and delivers them."""

    def __init__(self, config: Config, store: Any, notifier: Notifier, repro: Repro | None = None):
        self.config = config
        self.store = store
        self.notifier = notifier
        self.repro = repro or (lambda event, run: {})

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

    def after_run(self, run: RunResult, now: datetime | None = None) -> None:
        """Queue what this run should say, clear an outage, then deliver everything pending."""
        now = now or datetime.now(UTC)
        self._recovered(run, now)
        alerting = self._alerting()
        to_send: dict[str, list[tuple[EventResult, str]]] = {}
        for event in run.events:
            channel = self.channel_for(event.event, event.owner)
            if channel is None:
                continue
            state = self.store.alert_state(event.event)
            failing = any(c.status in alerting for c in event.checks)
            if not failing:
                if state and state["status"] == "failing":
                    self._resolve(event.event, state, run, channel)
                continue
            print_ = fingerprint(event, alerting)
            remind = self.config.alerts.remind_after
            if state is None or state["status"] != "failing" or state["fingerprint"] != print_:
                label = "broke its contract"
            elif state["last_alerted_at"] is None or now - state["last_alerted_at"] >= remind:
                label = f"is still failing (since {state['first_failed_at']:%Y-%m-%d %H:%M} UTC)"
            else:
                continue  # the same failure, already said: stay quiet until remind_after
            to_send.setdefault(channel, []).append((event, label))
            first = state["first_failed_at"] if state and state["status"] == "failing" else now
            self.store.put_alert_state(
                event.event, status="failing", fingerprint=print_, channel=channel,
                first_failed_at=first, last_alerted_at=now,
                thread_alert_id=f"{run.run_id}:{channel}",
            )  # fmt: skip
        for channel, events in to_send.items():
            team = next((e.owner for e, _ in events if e.owner), None) or channel
            repro = {e.event: self.repro(e, run) for e, _ in events}
            self._enqueue(
                f"{run.run_id}:{channel}", channel, "failure",
                failure_message(team, events, run, repro),
            )  # fmt: skip
        if self.config.alerts.warnings == "digest":
            self._digest(run, now)
        deliver_pending(self.store, self.notifier)

    def _resolve(self, event: str, state: dict[str, Any], run: RunResult, channel: str) -> None:
        self._enqueue(
            f"{run.run_id}:{event}:resolved", state["channel"] or channel, "resolved",
            resolved_message(event, run), thread_of=state["thread_alert_id"],
        )  # fmt: skip
        self.store.put_alert_state(event, status="passing", fingerprint=None)

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
                self._enqueue(f"{run.run_id}:{key}", channel, "digest", digest_message(events, run))
                self.store.put_alert_state(key, status="sent", channel=channel, last_alerted_at=now)

    def outage(self, error: str, events: list[tuple[str, str | None]], warehouse: str) -> None:
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
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            for channel in sorted(channels):
                self._enqueue(
                    f"outage:{warehouse}:{stamp}:{channel}", channel, "outage",
                    outage_message(error, [e for e, _ in events]),
                )  # fmt: skip
            self.store.put_alert_state(key, status="failing", channel=",".join(sorted(channels)))
        deliver_pending(self.store, self.notifier)

    def _recovered(self, run: RunResult, now: datetime) -> None:
        for key in {"outage:duckdb", "outage:snowflake"}:
            state = self.store.alert_state(key)
            if state and state["status"] == "failing":
                for channel in (state["channel"] or "").split(","):
                    if channel:
                        self._enqueue(
                            f"{run.run_id}:{key}:{channel}:recovered", channel, "recovered",
                            outage_message("", [], recovered=True),
                        )  # fmt: skip
                self.store.put_alert_state(key, status="passing")

    def _enqueue(
        self, alert_id: str, channel: str, kind: str, message: Message, thread_of: str | None = None
    ) -> None:
        self.store.enqueue(alert_id, channel, kind, message.payload(), thread_of)
        for number, reply in enumerate(message.replies):
            self.store.enqueue(
                f"{alert_id}:reply:{number}", channel, f"{kind}-detail", reply.payload(), alert_id
            )
