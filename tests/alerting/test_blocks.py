"""Block Kit rendering is a pure function of a result: golden-tested.

Regenerate with `EVENTQA_UPDATE_GOLDEN=1 pytest tests/alerting/test_blocks.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eventqa.alerting.blocks import failure_message, resolved_message
from eventqa.results import Status
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
        ),
    )
    result = run("r1", failing)
    message = failure_message(
        "Foundations",
        [(failing, "broke its contract")],
        result,
        {"user_followed_user": {0: "WITH p AS (SELECT 1)\nSELECT * FROM p"}},
    )
    compare("failure", {"text": message.text, "blocks": message.blocks})


def test_resolved_message_golden():
    message = resolved_message("user_followed_user", run("r2"))
    compare("resolved", {"text": message.text, "blocks": message.blocks})
