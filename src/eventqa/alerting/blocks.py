"""Slack Block Kit messages, as pure functions of results (golden-tested).

Everything that comes from the warehouse (sample values) or from users (descriptions) is escaped,
so data can never mention (`<!channel>`, `<@U123>`), link or format: `&`, `<` and `>` become
entities, and sample values sit in code spans with backticks replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventqa.results.models import CheckResult, EventResult, RunResult

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_SAMPLES = 5
INLINE_EVENTS = 3  # more failing events than this: the details go in the thread
_ICON = {"failed": ":red_circle:", "warned": ":large_yellow_circle:", "error": ":warning:"}


def escape(text: str) -> str:
    """Text safe in Slack mrkdwn: no mentions, links or entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(value: Any) -> str:
    """A value in an inline code span: escaped, and unable to close the span."""
    text = (
        value
        if isinstance(value, str)
        else repr(value)
        if not isinstance(value, dict)
        else str(value)
    )
    return "`" + escape(text).replace("`", "'").replace("\n", " ")[:200] + "`"


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    """Cut at a line boundary below `limit`, saying how many lines were left out."""
    if len(text) <= limit:
        return text
    lines, kept = text.split("\n"), list[str]()
    for line in lines:
        if len("\n".join([*kept, line])) > limit - 40:
            break
        kept.append(line)
    return "\n".join([*kept, f"_… and {len(lines) - len(kept)} more lines_"])


def section(text: str) -> dict[str, Any]:
    """A mrkdwn section block within Slack's text limit."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text)}}


def context(text: str) -> dict[str, Any]:
    """A context block (small grey text)."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text)}]}


def limit_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most MAX_BLOCKS, the last saying how many were left out."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    return [*kept, context(f"… and {len(blocks) - len(kept)} more blocks")]


@dataclass(frozen=True)
class Message:
    """A Slack message: notification text, blocks, and replies to post in its thread."""

    text: str
    blocks: list[dict[str, Any]]
    replies: list[Message] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        """What chat.postMessage receives (besides channel and thread)."""
        return {"text": self.text, "blocks": self.blocks}


def _window(run: RunResult) -> str:
    return f"{run.window.since:%Y-%m-%d %H:%M} to {run.window.until:%Y-%m-%d %H:%M} UTC"


def _observed(check: CheckResult) -> str:
    if check.error:
        return f"could not run: {code(check.error)}"
    if check.unexpected_count is not None and check.element_count:
        share = 100 * check.unexpected_count / check.element_count
        return f"{check.unexpected_count:,} of {check.element_count:,} failing ({share:.2f}%)"
    if check.unexpected_count is not None:
        return f"{check.unexpected_count:,} failing rows"
    expected = ", ".join(f"{k.removesuffix('_value')} {v}" for k, v in check.expected.items())
    return f"observed {code(check.observed_value)}" + (
        f", expected {escape(expected)}" if expected else ""
    )


def check_lines(checks: list[CheckResult], repro: dict[int, str] | None = None) -> str:
    """One bullet per failing check: what, how badly, samples, where the promise is made."""
    lines = []
    for position, check in enumerate(checks):
        if check.status.value == "passed":
            continue
        icon = _ICON.get(check.status.value, "")
        line = f"{icon} *{escape(check.description)}* — {_observed(check)}"
        if check.samples:
            shown = ", ".join(code(s) for s in check.samples[:MAX_SAMPLES])
            more = len(check.samples) - MAX_SAMPLES
            line += f"\n    samples: {shown}" + (f" and {more} more" if more > 0 else "")
        line += f"\n    _{escape(check.origin)}_"
        if repro and position in repro:
            line += f"\n```{escape(repro[position])}```"
        lines.append(line)
    return "\n".join(lines)


def reproduce(event: EventResult, run: RunResult) -> str:
    """The command that re-checks exactly this window."""
    return (
        f"eventqa run --event {event.event} --since {run.window.since.isoformat()} "
        f"--until {run.window.until.isoformat()}"
    )


def event_blocks(
    event: EventResult, run: RunResult, repro: dict[int, str] | None, label: str
) -> list[dict[str, Any]]:
    """Everything about one failing event."""
    failing = [c for c in event.checks if c.status.value != "passed"]
    worst = "error" if any(c.status.value in ("failed", "error") for c in failing) else "warning"
    return [
        section(
            f"{_ICON.get(event.status.value, '')} *{escape(event.event)}* {label} — "
            f"{len(failing)} of {len(event.checks)} checks, severity *{worst}*\n"
            f"table `{escape(event.table)}` · owner *{escape(event.owner or 'unknown')}* · "
            f"{_window(run)} · {event.row_count or 0:,} events"
        ),
        section(check_lines(event.checks)),
        section(f"*Reproduce*: `{escape(reproduce(event, run))}`"),
        *(
            section(
                f"*Failing rows* of check {position + 1} (paste into the warehouse):\n"
                f"```{escape(sql)}```"
            )
            for position, sql in (repro or {}).items()
        ),
    ]


def failure_message(
    team: str, events: list[tuple[EventResult, str]], run: RunResult,
    repro: dict[str, dict[int, str]],
) -> Message:  # fmt: skip
    """One message per team per run; with many events, a summary here and details in the thread."""
    names = ", ".join(e.event for e, _ in events)
    count = f"{len(events)} event{'s' if len(events) != 1 else ''}"
    text = f"{team}: {count} broke their contract ({names})"
    header = {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, 150), "emoji": True},
    }
    if len(events) <= INLINE_EVENTS:
        blocks: list[dict[str, Any]] = [header]
        for event, label in events:
            blocks += [
                *event_blocks(event, run, repro.get(event.event), label),
                {"type": "divider"},
            ]
        return Message(text, limit_blocks(blocks[:-1]))
    summary = "\n".join(
        f"{_ICON.get(e.status.value, '')} *{escape(e.event)}* {label} — "
        f"{sum(c.status.value != 'passed' for c in e.checks)} failing checks"
        for e, label in events
    )
    replies = [
        Message(
            f"{e.event}: details", limit_blocks(event_blocks(e, run, repro.get(e.event), label))
        )
        for e, label in events
    ]
    return Message(
        text,
        limit_blocks(
            [header, section(summary), context(f"{_window(run)} · details in the thread")]
        ),
        replies,
    )


def resolved_message(event: str, run: RunResult) -> Message:
    """The reply, in the failure's thread, when an event passes again."""
    text = f":white_check_mark: *{escape(event)}* passes again ({_window(run)})."
    return Message(f"{event} passes again", [section(text)])


def outage_message(error: str, events: list[str], recovered: bool = False) -> Message:
    """Eventqa could not run (once per outage), or runs again."""
    if recovered:
        text = ":white_check_mark: eventqa reaches the warehouse again; checks are running."
        return Message("eventqa runs again", [section(text)])
    shown = ", ".join(escape(e) for e in events[:10]) + (" …" if len(events) > 10 else "")
    text = f":warning: *eventqa could not run* — {code(error)}\nNot checked: {shown}"
    return Message("eventqa could not run", [section(text)])


def digest_message(events: list[EventResult], run: RunResult) -> Message:
    """Warnings, at most once a day per channel."""
    lines = [
        f"*{escape(e.event)}*: {sum(c.status.value == 'warned' for c in e.checks)} warnings"
        for e in events
    ]
    return Message(
        f"eventqa warnings digest ({len(events)} events)",
        limit_blocks([section(":large_yellow_circle: *Warnings digest*\n" + "\n".join(lines)),
                      context(_window(run))]),
    )  # fmt: skip
