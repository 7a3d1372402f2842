"""Delivery: Slack's Web API (bot token), an incoming webhook, or a local outbox file.

Each outbox entry is posted at most once: it carries its id in Slack message metadata, and an entry
whose earlier attempt may have reached Slack (a timeout after sending) is first looked up in the
channel's recent history. Rate limits (429 with Retry-After), server errors and dropped connections
are retried by slack-sdk's own retry handlers; what still fails stays in the outbox for next time.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from eventqa.results.models import Delivered, Delivery

METADATA_TYPE = "eventqa_alert"


class DeliveryError(Exception):
    """A message could not be delivered now; it stays in the outbox."""


class Notifier(ABC):
    """Somewhere alerts go."""

    # Where delivered messages end up, as the run's summary names it.
    destination = "Slack"
    delivered = Delivered.SENT

    @abstractmethod
    def send(
        self, alert_id: str, channel: str, payload: dict[str, Any], thread_ts: str | None,
        attempted: bool,
    ) -> str | None:  # fmt: skip
        """Post a message; return its Slack ts when there is one. Raise DeliveryError."""


def _alert_id(request: Any) -> str | None:
    """The eventqa alert id a chat.postMessage request carries in its metadata."""
    body = request.body_params or {}
    if not body and request.data:
        try:
            body = json.loads(request.data)
        except ValueError:
            return None
    metadata = body.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return (metadata.get("event_payload") or {}).get("alert_id")


def _idempotent(handler_class: Any, notifier: SlackNotifier) -> Any:
    """A slack-sdk retry handler that retries a post only when Slack does not have it yet.

    A 5xx or a dropped connection may come after Slack stored the message; retrying blindly
    would post it twice. Before such a retry, the alert is looked up by its metadata.
    """

    class Idempotent(handler_class):  # type: ignore[misc]
        def _can_retry(self, *, state: Any, request: Any, response: Any = None,
                       error: Any = None) -> bool:  # fmt: skip
            if not super()._can_retry(state=state, request=request, response=response, error=error):
                return False
            alert_id = _alert_id(request) if request.url.endswith("chat.postMessage") else None
            channel = (request.body_params or {}).get("channel") or (
                json.loads(request.data).get("channel") if request.data else None
            )
            # When it arrived, `send` finds its ts instead of posting again.
            return not (alert_id and channel and notifier.posted(alert_id, channel))

    return Idempotent


class SlackNotifier(Notifier):
    """chat.postMessage with a bot token, through slack-sdk's WebClient."""

    def __init__(self, token: str, base_url: str | None = None, retries: int = 3):
        from slack_sdk import WebClient
        from slack_sdk.http_retry.builtin_handlers import (
            ConnectionErrorRetryHandler,
            RateLimitErrorRetryHandler,
            ServerErrorRetryHandler,
        )

        handlers = [
            RateLimitErrorRetryHandler(max_retry_count=retries),  # honours Retry-After
            _idempotent(ServerErrorRetryHandler, self)(max_retry_count=retries),
            _idempotent(ConnectionErrorRetryHandler, self)(max_retry_count=retries),
        ]
        options: dict[str, Any] = {"token": token, "timeout": 15}
        if base_url:
            options["base_url"] = base_url.rstrip("/") + "/"
        self.client = WebClient(**options, retry_handlers=handlers)
        # Look-ups go through a client of their own: a look-up must not trigger these handlers.
        self.lookup = WebClient(**options, retry_handlers=[])

    def posted(self, alert_id: str, channel: str) -> str | None:
        """The ts of an earlier post of this alert, found by its metadata."""
        from slack_sdk.errors import SlackApiError, SlackRequestError

        try:
            history = self.lookup.conversations_history(
                channel=channel, limit=100, include_all_metadata=True
            )
        except (SlackApiError, SlackRequestError, OSError):
            return None
        messages: list[dict[str, Any]] = history.get("messages", [])
        for message in messages:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_TYPE and payload.get("alert_id") == alert_id:
                return str(message["ts"])
        return None

    def send(
        self, alert_id: str, channel: str, payload: dict[str, Any], thread_ts: str | None,
        attempted: bool,
    ) -> str | None:  # fmt: skip
        """Post with metadata naming the alert; look it up first if tried before."""
        from slack_sdk.errors import SlackApiError, SlackRequestError

        if attempted and (ts := self.posted(alert_id, channel)):
            return ts
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=payload["text"],
                blocks=payload["blocks"],
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": METADATA_TYPE, "event_payload": {"alert_id": alert_id}},
            )
        except SlackApiError as error:
            if error.response.status_code >= 500 and (ts := self.posted(alert_id, channel)):
                return ts
            raise DeliveryError(f"Slack answered {error.response.get('error', error)}") from error
        except (SlackRequestError, OSError) as error:
            if ts := self.posted(alert_id, channel):  # the retry handler found it had arrived
                return ts
            raise DeliveryError(f"Slack is unreachable: {error}") from error
        return str(response["ts"])


class WebhookNotifier(Notifier):
    """An incoming webhook: one channel, no threads (replies are posted as messages)."""

    destination = "Slack webhook"

    def __init__(self, url: str):
        from slack_sdk.webhook import WebhookClient

        self.client = WebhookClient(url, timeout=15)

    def send(
        self, alert_id: str, channel: str, payload: dict[str, Any], thread_ts: str | None,
        attempted: bool,
    ) -> str | None:  # fmt: skip
        """Post to the webhook's channel."""
        try:
            response = self.client.send(text=payload["text"], blocks=payload["blocks"])
        except OSError as error:
            raise DeliveryError(f"Slack webhook unreachable: {error}") from error
        if response.status_code != 200:
            raise DeliveryError(f"Slack webhook answered {response.status_code} {response.body}")
        return None


class FileNotifier(Notifier):
    """No Slack configured: append each alert to a JSON-lines file (the run's summary says so).

    Idempotent by alert id, like the Slack notifier: an alert tried before (the process may have
    died after writing it) is looked up in the file first, and a line cut short by a crash is
    dropped before the next record is written.
    """

    delivered = Delivered.WRITTEN

    def __init__(self, path: Path):
        self.path = path
        self.destination = str(path)

    def written(self, alert_id: str) -> bool:
        """Whether the file holds a complete record of this alert."""
        if not self.path.is_file():
            return False
        with self.path.open(encoding="utf-8") as file:
            for line in file:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if isinstance(record, dict) and record.get("id") == alert_id:
                    return True
        return False

    def _drop_partial_line(self) -> None:
        """Cut a last line that a crash left without its newline (it is not valid JSON)."""
        with self.path.open("rb+") as file:
            size = file.seek(0, 2)
            if size == 0 or (file.seek(size - 1), file.read(1))[1] == b"\n":
                return
            file.seek(0)
            end = file.read().rfind(b"\n") + 1
            file.truncate(end)

    def send(
        self, alert_id: str, channel: str, payload: dict[str, Any], thread_ts: str | None,
        attempted: bool,
    ) -> str | None:  # fmt: skip
        """Append the alert to the outbox file, unless an earlier attempt already did."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        # An attempt is counted before it is made: an alert never tried cannot be in the file.
        if attempted and self.written(alert_id):
            return alert_id
        self._drop_partial_line()
        record = {"id": alert_id, "channel": channel, "thread_of": thread_ts, **payload}
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
        return alert_id  # stands in for a ts, so replies can name their thread


def deliver_pending(store: Any, notifier: Notifier) -> list[Delivery]:
    """Send every undelivered alert, oldest first; return what became of each message.

    Thread replies that carry a message's details (`*-detail`) go with it and are not listed.
    """
    deliveries: list[Delivery] = []

    def note(item: dict[str, Any], outcome: Delivered, error: str | None = None) -> None:
        if not item["kind"].endswith("-detail"):
            deliveries.append(
                Delivery(
                    channel=item["channel"], kind=item["kind"],
                    text=str(item["payload"].get("text", "")), outcome=outcome,
                    destination=notifier.destination, error=error,
                )
            )  # fmt: skip

    for item in store.pending():
        thread_ts = None
        if item["thread_of"]:
            parent = store.outbox_item(item["thread_of"])
            if parent is None or parent["ts"] is None:
                if parent is not None and parent["delivered_at"] is None:
                    # wait for the message whose thread this replies in
                    note(item, Delivered.PENDING, "its thread's first message is not delivered")
                    continue
            else:
                thread_ts = parent["ts"]
        earlier = store.start_attempt(item["id"])
        try:
            ts = notifier.send(item["id"], item["channel"], item["payload"], thread_ts, earlier > 0)
        except DeliveryError as error:
            store.mark_attempt(item["id"], error=str(error))
            note(item, Delivered.PENDING, str(error))
            continue
        store.mark_attempt(item["id"], ts=ts)
        note(item, notifier.delivered)
    return deliveries
