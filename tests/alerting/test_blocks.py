"""Block Kit rendering is a pure function of a result: golden-tested.

Regenerate with `make golden` (it sets EVENTQA_UPDATE_GOLDEN=1 for this file) and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eventqa.alerting.blocks import (
    MAX_BLOCKS,
    MAX_TEXT,
    Message,
    digest_message,
    failure_message,
    passing_message,
    resolved_message,
    table_message,
)
from eventqa.results import EventResult, Status, TableResult
from tests.alerting.test_slack import BROKEN, FINE, check, event, run

GOLDEN = Path(__file__).parent / "golden"


def compare(name: str, document: dict) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if os.environ.get("EVENTQA_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.read_text() == text, f"{path} differs; regenerate with EVENTQA_UPDATE_GOLDEN=1"


def test_failure_message_golden():
    failing = event(
        "user_followed_user",
        "Foundations",
        BROKEN,
        FINE,
        check(
            "nobody follows themselves",
            Status.FAILED,
            origin="checks.yaml:47",
            samples=[{"event_id": "evt_1", "follower_id": 7, "followee_id": 7}],
            check_id="no-self-follow",
        ),
    )
    result = run("r1", failing)
    message = failure_message(
        "Foundations",
        [(failing, "broke its contract")],
        result,
        # Keyed by check id: the second listed check (the passing one in between is not listed).
        {"user_followed_user": {"no-self-follow": "WITH p AS (SELECT 1)\nSELECT * FROM p"}},
    )
    compare("failure", {"text": message.text, "blocks": message.blocks})


REPORT_URL = "https://data.example.com/eventqa/report.html"


def test_failure_message_links_the_report_at_the_event_when_report_url_is_set_golden():
    failing = event(
        "user_followed_user", "Foundations", BROKEN,
        check("nobody follows themselves", Status.FAILED, origin="checks.yaml:47",
              check_id="no-self-follow"),
    )  # fmt: skip
    message = failure_message(
        "Foundations", [(failing, "broke its contract")], run("r1"), {}, REPORT_URL
    )
    compare("failure_report_link", {"text": message.text, "blocks": message.blocks})
    assert message.blocks[-1]["elements"][0]["text"] == (
        f":bar_chart: <{REPORT_URL}#event=user_followed_user|Open the report>"
    )


def test_a_message_about_many_events_links_the_report_itself_and_keeps_the_link_last():
    many = [
        (event(f"event_{n}", "Foundations", BROKEN, check("a is valid", Status.FAILED)), "new")
        for n in range(5)
    ]
    message = failure_message("Foundations", many, run("r1"), {}, REPORT_URL)
    assert (
        message.blocks[-1]["elements"][0]["text"] == f":bar_chart: <{REPORT_URL}|Open the report>"
    )
    table = TableResult(table="backend__events", status=Status.FAILED,
                        checks=[check("names are declared", Status.FAILED)] * 60)  # fmt: skip
    long = table_message(table, "broke its contract", run("r1"), REPORT_URL)
    assert len(long.blocks) <= MAX_BLOCKS and "Open the report" in json.dumps(long.blocks[-1])
    digest = digest_message([event("e", "Foundations", FINE)], run("r1"), REPORT_URL)
    assert "Open the report" in json.dumps(digest.blocks[-1])


def test_messages_link_no_report_when_report_url_is_not_set():
    failing = event("user_followed_user", "Foundations", BROKEN)
    messages = [
        failure_message("Foundations", [(failing, "broke its contract")], run("r1"), {}),
        digest_message([failing], run("r1")),
    ]
    for message in messages:
        assert "Open the report" not in json.dumps(message.blocks)


def test_resolved_message_golden():
    message = resolved_message("user_followed_user", run("r2"))
    compare("resolved", {"text": message.text, "blocks": message.blocks})


def test_table_message_golden():
    undeclared = check(
        "every event_name in backend__events is declared by a contract",
        Status.FAILED,
        samples=["user_teleported", "user_teleported"],
        origin="contracts/backend.proto:12",
        check_id="undeclared-events",
        column="event_name",
    )
    table = TableResult(table="backend__events", status=Status.FAILED, checks=[undeclared])
    message = table_message(table, "broke its contract", run("r1"))
    compare("table", {"text": message.text, "blocks": message.blocks})


def test_passing_message_golden():
    message = passing_message(event("user_followed_user", "Foundations", FINE), run("r1"))
    compare("passing", {"text": message.text, "blocks": message.blocks})


def blocks_slack_accepts(message: Message) -> None:
    """What Slack rejects a whole message for: an empty text, too many blocks, too long a text."""
    for document in [message, *message.replies]:
        assert document.text and 0 < len(document.blocks) <= MAX_BLOCKS
        for block in document.blocks:
            texts = [block.get("text")] if "text" in block else block.get("elements", [])
            assert texts, block
            for text in texts:
                assert text["text"].strip() and len(text["text"]) <= MAX_TEXT, block


def test_no_message_has_an_empty_block():
    could_not_run = EventResult(
        event="user_followed_user", table="backend__events", owner=None,
        status=Status.ERROR, checks=[], error="the payload is not JSON",
    )  # fmt: skip
    passing = event("user_followed_user", "Foundations", FINE)
    messages = [
        failure_message("Foundations", [(could_not_run, "broke its contract")], run("r1"), {}),
        failure_message("Foundations", [(passing, "broke its contract")] * 5, run("r1"), {}),
        passing_message(passing, run("r1")),
        resolved_message("user_followed_user", run("r1")),
        digest_message([passing], run("r1")),
        table_message(TableResult(table="t", status=Status.PASSED, checks=[]), "x", run("r1")),
    ]
    for message in messages:
        blocks_slack_accepts(message)


def test_failing_rows_are_named_by_the_number_the_check_has_in_the_list():
    first = check("a is valid", Status.FAILED, check_id="a-valid", column="a")
    second = check("b is valid", Status.WARNED, check_id="b-valid", column="b")
    failing = event("user_followed_user", "Foundations", FINE, first, FINE, second)
    sql = "SELECT *\nFROM backend__events\nWHERE b IS NULL"
    message = failure_message(
        "Foundations", [(failing, "broke its contract")], run("r1"),
        {"user_followed_user": {"b-valid": sql}},
    )  # fmt: skip
    texts = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    listed = next(t for t in texts if "a is valid" in t)
    assert listed.startswith("1. ") and "\n2. :large_yellow_circle: *b is valid*" in listed
    (rows,) = [t for t in texts if t.startswith("*Failing rows*")]
    assert rows.startswith("*Failing rows* of check 2, *b is valid*")
    assert rows.endswith(f"```\n{sql}\n```")  # the SQL on its own lines
