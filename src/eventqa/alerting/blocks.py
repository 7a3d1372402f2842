"""Slack Block Kit messages, as pure functions of results (golden-tested).

Everything that comes from the warehouse (sample values) or from users (descriptions) is escaped,
so data can never mention (`<!channel>`, `<@U123>`), link or format: `&`, `<` and `>` become
entities, and sample values sit in code spans with backticks replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from eventqa.results.models import CheckResult, EventResult, RunResult, Status, TableResult

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_SAMPLES = 5
INLINE_EVENTS = 3  # more failing events than this: the details go in the thread
_ICON = {
    Status.FAILED: ":red_circle:",
    Status.WARNED: ":large_yellow_circle:",
    Status.ERROR: ":warning:",
}


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


def _empty(block: dict[str, Any]) -> bool:
    """A section or context without text (Slack rejects the whole message for one)."""
    texts = [block.get("text")] if block["type"] == "section" else block.get("elements", [])
    return block["type"] in ("section", "context") and not any(
        (t or {}).get("text", "").strip() for t in texts
    )


def limit_blocks(
    blocks: list[dict[str, Any]], footer: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The non-empty blocks, at most MAX_BLOCKS, the last saying how many were left out.

    `footer` blocks (the report link) come last and are never the ones left out.
    """
    footer = footer or []
    room = MAX_BLOCKS - len(footer)
    blocks = [block for block in blocks if not _empty(block)]
    if len(blocks) <= room:
        return [*blocks, *footer]
    kept = blocks[: room - 1]
    return [*kept, context(f"… and {len(blocks) - len(kept)} more blocks"), *footer]


def report_link(report_url: str | None, event: str | None = None) -> list[dict[str, Any]]:
    """A link to `eventqa report`'s page when `alerts.report_url` is set, at the event if one.

    The URL was validated with the config (http(s), none of Slack's link delimiters).
    """
    if not report_url:
        return []
    if event is not None and "#" not in report_url:
        report_url = f"{report_url}#event={quote(event)}"
    return [context(f":bar_chart: <{report_url}|Open the report>")]


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


def _monitoring(check: CheckResult) -> str | None:
    """A volume or freshness finding's figures (its description is the explanation)."""
    found = check.observed_value
    if check.error or not isinstance(found, dict) or "status" not in found:
        return None
    if check.expectation_type == "eventqa_freshness":
        return f"last seen {escape(str(found.get('last_seen') or 'never'))}"
    if check.expectation_type != "eventqa_volume" or "expected" not in found:
        return None
    anomalous = found.get("anomalous_buckets") or []
    return (
        f"{found.get('observed', 0):,} events, expected {found['expected']:,.0f} "
        f"(band {found.get('low', 0):,.0f}\u2013{found.get('high', 0):,.0f})"
        + (f" in {len(anomalous)} anomalous bucket{'s' if len(anomalous) != 1 else ''}"
           if anomalous else "")
    )  # fmt: skip


def _observed(check: CheckResult) -> str:
    if (figures := _monitoring(check)) is not None:
        return figures
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


def failing_checks(checks: list[CheckResult]) -> list[CheckResult]:
    """The checks a message lists, in order; "check 2" in a message is the second of these."""
    return [check for check in checks if check.status != Status.PASSED]


def check_lines(checks: list[CheckResult]) -> str:
    """One numbered bullet per failing check: what, how badly, samples, where it is promised."""
    lines = []
    for number, check in enumerate(failing_checks(checks), start=1):
        icon = _ICON.get(check.status, "")
        line = f"{number}. {icon} *{escape(check.description)}* — {_observed(check)}"
        if check.samples:
            distinct = list(dict.fromkeys(code(s) for s in check.samples))  # GX repeats values
            more = len(distinct) - MAX_SAMPLES
            line += f"\n    samples: {', '.join(distinct[:MAX_SAMPLES])}" + (
                f" and {more} more" if more > 0 else ""
            )
        line += f"\n    _{escape(check.origin)}_"
        lines.append(line)
    return "\n".join(lines)


def failing_rows_blocks(checks: list[CheckResult], repro: dict[str, str]) -> list[dict[str, Any]]:
    """The failing-rows SQL of listed checks, named by their number and description."""
    blocks = []
    for number, check in enumerate(failing_checks(checks), start=1):
        sql = repro.get(check.key)
        if sql:
            title = (
                f"*Failing rows* of check {number}, *{escape(check.description)}* "
                "(paste into the warehouse):\n"
            )
            room = MAX_TEXT - len(title) - len("```\n\n```")
            blocks.append(section(f"{title}```\n{truncate(escape(sql.strip()), room)}\n```"))
    return blocks


def reproduce(event: EventResult, run: RunResult) -> str:
    """The command that re-checks exactly this window."""
    return (
        f"eventqa run --event {event.event} --since {run.window.since.isoformat()} "
        f"--until {run.window.until.isoformat()}"
    )


def event_blocks(
    event: EventResult, run: RunResult, repro: dict[str, str] | None, label: str
) -> list[dict[str, Any]]:
    """Everything about one failing event."""
    failing = failing_checks(event.checks)
    worst = (
        "error" if any(c.status in (Status.FAILED, Status.ERROR) for c in failing) else "warning"
    )
    return [
        section(
            f"{_ICON.get(event.status, '')} *{escape(event.event)}* {label} — "
            f"{len(failing)} of {len(event.checks)} checks, severity *{worst}*\n"
            f"table `{escape(event.table)}` · owner *{escape(event.owner or 'unknown')}* · "
            f"{_window(run)} · {event.row_count or 0:,} events"
        ),
        section(check_lines(event.checks)),
        section(f"*Reproduce*: `{escape(reproduce(event, run))}`"),
        *failing_rows_blocks(event.checks, repro or {}),
    ]


def _headline(team: str, labels: list[str]) -> str:
    """`Team: 2 events broke their contract`, or `... is still failing` when nothing is new."""
    one = len(labels) == 1
    count = f"{len(labels)} event{'' if one else 's'}"
    if all(label.startswith("is still failing") for label in labels):
        return f"{team}: {count} {'is' if one else 'are'} still failing"
    return f"{team}: {count} broke {'its' if one else 'their'} contract"


def failure_message(
    team: str, events: list[tuple[EventResult, str]], run: RunResult,
    repro: dict[str, dict[str, str]], report_url: str | None = None,
) -> Message:  # fmt: skip
    """One message per team per run; with many events, a summary here and details in the thread.

    `repro` holds each event's failing-rows SQL keyed by check (`CheckResult.key`); with
    `report_url`, the message ends with a link to the report (at the event when there is one).
    """
    link = report_link(report_url, events[0][0].event if len(events) == 1 else None)
    names = ", ".join(e.event for e, _ in events)
    text = f"{_headline(team, [label for _, label in events])} ({names})"
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
        return Message(text, limit_blocks(blocks[:-1], link))
    summary = "\n".join(
        f"{_ICON.get(e.status, '')} *{escape(e.event)}* {label} — "
        f"{len(failing_checks(e.checks))} failing checks"
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
            [header, section(summary), context(f"{_window(run)} · details in the thread")], link
        ),
        replies,
    )


def table_message(
    table: TableResult, label: str, run: RunResult, report_url: str | None = None
) -> Message:
    """Table-level findings (event names no contract declares) for whoever watches the table."""
    failing = failing_checks(table.checks)
    text = f"table {table.table} {label}: {len(failing)} table-level finding" + (
        "" if len(failing) == 1 else "s"
    )
    return Message(
        text,
        limit_blocks([
            section(
                f"{_ICON.get(table.status, '')} table `{escape(table.table)}` {label} — "
                f"{len(failing)} of {len(table.checks)} table-level checks\n{_window(run)}"
            ),
            section(check_lines(table.checks)),
        ], report_link(report_url)),
    )  # fmt: skip


def passing_message(event: EventResult, run: RunResult) -> Message:
    """What a passing event's run says (`alerts preview`): nothing is wrong."""
    text = (
        f":white_check_mark: *{escape(event.event)}* passes its {len(event.checks)} "
        f"check{'' if len(event.checks) == 1 else 's'} "
        f"({_window(run)}, {event.row_count or 0:,} events): no alert is sent."
    )
    return Message(f"{event.event} passes", limit_blocks([section(text)]))


def resolved_message(subject: str, run: RunResult) -> Message:
    """The reply, in the failure's thread, when an event (or table) passes again."""
    text = f":white_check_mark: *{escape(subject)}* passes again ({_window(run)})."
    return Message(f"{subject} passes again", limit_blocks([section(text)]))


def outage_message(error: str, events: list[str], recovered: bool = False) -> Message:
    """Eventqa could not run (once per outage), or runs again."""
    if recovered:
        text = ":white_check_mark: eventqa reaches the warehouse again; checks are running."
        return Message("eventqa runs again", [section(text)])
    shown = ", ".join(escape(e) for e in events[:10]) + (" …" if len(events) > 10 else "")
    text = f":warning: *eventqa could not run* — {code(error)}\nNot checked: {shown}"
    return Message("eventqa could not run", [section(text)])


def digest_message(
    events: list[EventResult], run: RunResult, report_url: str | None = None
) -> Message:
    """Warnings, at most once a day per channel."""
    lines = [
        f"*{escape(e.event)}*: {sum(c.status == Status.WARNED for c in e.checks)} warnings"
        for e in events
    ]
    return Message(
        f"eventqa warnings digest ({len(events)} events)",
        limit_blocks([section(":large_yellow_circle: *Warnings digest*\n" + "\n".join(lines)),
                      context(_window(run))], report_link(report_url)),
    )  # fmt: skip
