"""A local HTTP server speaking the Slack Web API methods eventqa uses, for the real WebClient.

It records every accepted message, and can be told to answer the next requests with a 429 and a
Retry-After header, a 500, or a dropped connection.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class SlackServer:
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, float]] = field(default_factory=list)
    faults: deque[str] = field(default_factory=deque)  # "429", "500", "reset", "accept-then-reset"
    retry_after: int = 1
    url: str = ""

    def post(
        self, method: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        self.requests.append((method, time.monotonic()))
        fault = self.faults.popleft() if self.faults and method == "chat.postMessage" else None
        if fault == "429":
            return (
                429,
                {"Retry-After": str(self.retry_after)},
                {"ok": False, "error": "ratelimited"},
            )
        if fault == "500":
            return 500, {}, {"ok": False, "error": "internal_error"}
        if fault == "reset":
            return 0, {}, None
        if method == "auth.test":
            return 200, {}, {"ok": True, "user_id": "UEVENTQA"}
        if method == "chat.postMessage":
            if not body.get("channel"):
                return 200, {}, {"ok": False, "error": "channel_not_found"}
            ts = f"{1700000000 + len(self.messages)}.000100"
            blocks = body.get("blocks")
            message = {
                "ts": ts,
                "channel": body["channel"],
                "text": body.get("text"),
                "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
                "thread_ts": body.get("thread_ts"),
                "metadata": json.loads(body["metadata"])
                if isinstance(body.get("metadata"), str)
                else body.get("metadata"),
            }
            self.messages.append(message)
            if fault == "accept-then-reset":
                return 0, {}, None
            return 200, {}, {"ok": True, "channel": body["channel"], "ts": ts}
        if method == "conversations.history":
            found = [m for m in reversed(self.messages) if m["channel"] == body.get("channel")]
            return 200, {}, {"ok": True, "messages": found, "has_more": False}
        return 200, {}, {"ok": False, "error": "unknown_method"}

    def in_channel(self, channel: str, top_level: bool = True) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if m["channel"] == channel and (m["thread_ts"] is None or not top_level)
        ]


def start() -> tuple[SlackServer, ThreadingHTTPServer]:
    state = SlackServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                body = json.loads(raw or "{}")
            else:
                body = {k: v[0] for k, v in parse_qs(raw).items()}
            status, headers, payload = state.post(self.path.rsplit("/", 1)[-1], body)
            if payload is None:  # drop the connection without answering
                self.close_connection = True
                self.connection.shutdown(2)
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    threading.Thread(target=server.serve_forever, name="slack test server", daemon=True).start()
    return state, server
