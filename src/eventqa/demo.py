"""`eventqa demo`: an embedded DuckDB warehouse with realistic events for every contract.

Payloads follow the contracts (proto field names, 64-bit integers as numbers, enums by name,
RFC 3339 Timestamps) and are seeded, so two builds are identical. A few realistic defects are
planted so that a first `eventqa run` has something true to report; `DEFECTS` documents them.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventqa.contracts.model import ContractSet, EventContract, Field, ValueType

DAYS = 7
# Weeks of clean history before the last DAYS (same rates and seasonality, payloads reused), so
# the volume monitoring has a baseline from the first run.
HISTORY_DAYS = 35
# The planted volume incident: an app release loses most bid calls for a few hours, late in the
# last day (its buckets are complete in a run's default 24-hour window).
INCIDENT_EVENT = "buyer_placed_bid"
INCIDENT_HOURS = (10, 7)  # from `until` minus 10 hours to `until` minus 7 hours
INCIDENT_LOSS = 0.8
_INCIDENT = "a release loses 80% of buyer_placed_bid calls for 3 hours (volume drop)"
# Events per event type relative to the others (follows and bids are the busiest).
WEIGHTS = {"user_followed_user": 4, "buyer_placed_bid": 3}


# The rhythm is laid out as if every build ended at this moment (a Friday, 04:00), so a build made
# at any hour holds the same events relative to its end: tests and the README read the same. The
# planted volume drop (10 to 7 hours before the end) then falls in the busy evening hours.
RHYTHM_UNTIL = datetime(2026, 11, 20, 4, tzinfo=UTC)


def hourly_profile(at: datetime, until: datetime) -> float:
    """Relative event rate at an hour: quiet nights, busy evenings, busier weekends.

    Hours are counted back from `until`, the build's end, laid out as before RHYTHM_UNTIL.
    """
    import math

    clock = RHYTHM_UNTIL - (until - at)
    diurnal = 0.25 + 0.75 * (1 + math.cos(2 * math.pi * (clock.hour - 19) / 24)) / 2
    weekly = (0.95, 1.0, 1.0, 1.05, 1.1, 1.3, 1.2)[clock.weekday()]
    return diurnal * weekly


@dataclass(frozen=True)
class Defect:
    """A planted data problem: which event, how often, what it does and what should catch it."""

    event: str
    rate: float
    description: str
    apply: Callable[[dict[str, Any], random.Random], dict[str, Any] | str]


def _self_follow(payload: dict[str, Any], _: random.Random) -> dict[str, Any]:
    return {**payload, "followee_id": payload["follower_id"]}


def _string_id(payload: dict[str, Any], _: random.Random) -> dict[str, Any]:
    return {**payload, "followee_id": str(payload["followee_id"])}


def _coupon(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {**payload, "coupon_code": f"SPRING{rng.randint(10, 99)}"}


def _negative_duration(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {**payload, "duration_seconds": -rng.randint(1, 600)}


def _missing_processor_code(payload: dict[str, Any], _: random.Random) -> dict[str, Any]:
    return {**payload, "reason": "FAILURE_REASON_PROCESSOR_ERROR", "processor_code": None}


def _double_encoded(payload: dict[str, Any], _: random.Random) -> str:
    return json.dumps(json.dumps(payload))  # a JSON string holding JSON, not an object


def _unknown_platform(payload: dict[str, Any], _: random.Random) -> dict[str, Any]:
    return {**payload, "platform": "PLATFORM_VISIONOS"}


DEFECTS = (
    Defect("user_followed_user", 0.004, "a user follows themselves (follower_id = followee_id)",
           _self_follow),
    Defect("user_followed_user", 0.003, "a new producer sends followee_id as a JSON string",
           _string_id),
    Defect("buyer_placed_order", 0.01, "checkout adds an undeclared `coupon_code` key (drift)",
           _coupon),
    Defect("seller_ended_livestream", 0.005, "duration_seconds is negative after a clock jump",
           _negative_duration),
    Defect("payment_failed", 0.02, "processor errors arrive without the processor's code",
           _missing_processor_code),
    Defect("user_opened_app", 0.002, "a producer double-encodes the payload (a JSON string)",
           _double_encoded),
    Defect("user_opened_app", 0.003, "an app build sends an enum value the contract lacks",
           _unknown_platform),
)  # fmt: skip

_TYPO = "an app build misspells an event name (user_taped_buy_now)"
_WORDS = ("vintage", "pokemon", "sneakers", "comics", "funko", "cards", "watches", "vinyl")
_BY_NAME: dict[str, Callable[[random.Random], Any]] = {
    "email": lambda r: f"user{r.randint(1, 10**6)}@example.com",
    "referral_code": lambda r: "".join(r.choices(string.ascii_uppercase + string.digits, k=8)),
    "country_code": lambda r: r.choice(("US", "CA", "GB", "DE")),
    "category_slugs": lambda r: r.choice(_WORDS) + "-" + r.choice(_WORDS),
    "app_version": lambda r: f"5.{r.randint(0, 40)}.{r.randint(0, 9)}",
    "http_status": lambda r: r.choice((402, 429, 500, 502, 503)),
    "discount_rate": lambda r: round(r.random() * 0.3, 2),
    "quantity": lambda r: r.randint(1, 5),
    "max_viewers": lambda r: r.randint(10, 5000),
    "duration_seconds": lambda r: r.randint(300, 14400),
    "watch_seconds": lambda r: r.randint(5, 7200),
    "amount_cents": lambda r: r.randint(100, 250_000),
    "gmv_usd": lambda r: round(r.uniform(0, 20_000), 2),
}


def _scalar(field: Field, rng: random.Random, at: datetime) -> Any:
    hint = _BY_NAME.get(field.name)
    if hint is not None:
        return hint(rng)
    value_type = field.value_type
    if value_type in (ValueType.INT64, ValueType.UINT64):
        return rng.randint(1, 10**12) if field.name.endswith("_id") else rng.randint(0, 10**6)
    if value_type in (ValueType.INT32, ValueType.UINT32):
        return rng.randint(0, 10_000)
    if value_type in (ValueType.FLOAT, ValueType.DOUBLE):
        return round(rng.uniform(0, 100), 3)
    if value_type == ValueType.BOOL:
        return rng.random() < 0.5
    if value_type == ValueType.BYTES:
        return base64.b64encode(rng.randbytes(12)).decode()
    if value_type == ValueType.ENUM:
        return rng.choice(field.enum_values[1:] or field.enum_values)
    if value_type == ValueType.TIMESTAMP:
        moment = at - timedelta(seconds=rng.randint(0, 86_400))
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    if value_type == ValueType.DURATION:
        return f"{rng.randint(1, 600)}s"
    return " ".join(rng.choices(_WORDS, k=2))


def _value(field: Field, rng: random.Random, at: datetime) -> Any:
    if field.value_type == ValueType.MESSAGE:
        return {f.name: v for f in field.fields if (v := _present(f, rng, at)) is not _ABSENT}
    if field.value_type == ValueType.MAP and field.map_value is not None:
        return {
            rng.choice(_WORDS): _value(field.map_value, rng, at) for _ in range(rng.randint(0, 3))
        }
    if field.value_type == ValueType.JSON:
        return {}
    return _scalar(field, rng, at)


_ABSENT = object()


def _present(field: Field, rng: random.Random, at: datetime) -> Any:
    """A field's JSON value, or _ABSENT for unset proto3 `optional` fields."""
    if field.repeated:
        return [_value(field, rng, at) for _ in range(rng.randint(1, 3))]
    optional_scalar = field.nullable and field.value_type.is_scalar
    if optional_scalar and not field.proto_type.startswith("google.") and rng.random() < 0.3:
        return _ABSENT
    return _value(field, rng, at)


def payload_for(event: EventContract, rng: random.Random, at: datetime) -> dict[str, Any]:
    """A contract-conforming payload for one event."""
    payload = {f.name: v for f in event.fields if (v := _present(f, rng, at)) is not _ABSENT}
    if event.name == "user_followed_user":
        while payload["followee_id"] == payload["follower_id"]:
            payload["followee_id"] = rng.randint(1, 10**12)
    return payload


@dataclass(frozen=True)
class DemoSummary:
    """What `demo` built."""

    path: Path | str  # the DuckDB file, or where `load` put the rows
    rows: dict[str, int]
    defects: dict[str, int]
    since: datetime
    until: datetime


# Demo rows per table: (event_id, event_name, event_timestamp, payload as JSON text).
DemoRows = dict[str, list[tuple[str, str, datetime, str]]]
Progress = Callable[[str, int, int], None]


def build_demo(
    contracts: ContractSet,
    tables: dict[str, str],
    path: Path | str,
    rows: int,
    now: datetime | None = None,
    *,
    load: Callable[[DemoRows], None] | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Write `rows` events over the last 7 days into a fresh DuckDB file at `path`.

    The 7 days carry the planted defects; HISTORY_DAYS of clean history come before them, at the
    same rates and with the same daily and weekly rhythm, for the volume monitoring to learn from.

    `load` puts the rows somewhere else instead (`Snowflake.load_events`); `path` then only
    names where they went. `progress(step, done, total)` hears how generation goes.
    """
    until = (now or datetime.now(UTC)).replace(microsecond=0)
    since = until - timedelta(days=DAYS)
    rng = random.Random(20231102)
    events = list(contracts.events.values())
    weights = [WEIGHTS.get(e.name, 1) for e in events]
    records: DemoRows = {table: [] for table in set(tables.values())}
    counts: dict[str, int] = {}
    planted: dict[str, int] = {}
    defects = {d.event: [x for x in DEFECTS if x.event == d.event] for d in DEFECTS}
    hours = [since + timedelta(hours=h) for h in range(DAYS * 24)]
    profile = [hourly_profile(hour, until) for hour in hours]
    incident = (
        until - timedelta(hours=INCIDENT_HOURS[0]),
        until - timedelta(hours=INCIDENT_HOURS[1]),
    )
    for number, event in enumerate(rng.choices(events, weights=weights, k=rows)):
        if progress and number % 2000 == 0:
            progress("generating events", number, rows)
        (hour,) = rng.choices(hours, weights=profile)
        at = min(hour + timedelta(seconds=rng.random() * 3600), until - timedelta(seconds=1))
        dropped = event.name == INCIDENT_EVENT and incident[0] <= at < incident[1]
        if dropped and rng.random() < INCIDENT_LOSS:
            planted[_INCIDENT] = planted.get(_INCIDENT, 0) + 1
            continue
        payload: dict[str, Any] | str = payload_for(event, rng, at)
        for defect in defects.get(event.name, []):
            if isinstance(payload, dict) and rng.random() < defect.rate:
                payload = defect.apply(payload, rng)
                planted[defect.description] = planted.get(defect.description, 0) + 1
        if event.name == "user_opened_app" and rng.random() < 0.002:
            at = until + timedelta(hours=rng.randint(1, 48))  # a phone with its clock in the future
            planted["client clock in the future"] = planted.get("client clock in the future", 0) + 1
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        table = tables[event.envelope]
        name = event.name
        if name == "user_tapped_buy_now" and rng.random() < 0.01:
            name = "user_taped_buy_now"  # a typo in a new app build's event name
            planted[_TYPO] = planted.get(_TYPO, 0) + 1
        records[table].append((f"evt_{number:010d}", name, at, text))
        counts[event.name] = counts.get(event.name, 0) + 1
    for event_id, name, at, text in _history(events, weights, rows, since, progress):
        records[tables[contracts.events[name].envelope]].append((event_id, name, at, text))
        counts[name] = counts.get(name, 0) + 1

    if progress:
        progress("generating events", rows, rows)
    (load or (lambda records: _write_duckdb(Path(path), records)))(records)
    return DemoSummary(path, counts, planted, since - timedelta(days=HISTORY_DAYS), until)


def _write_duckdb(path: Path, records: DemoRows) -> None:
    """A fresh DuckDB file holding one table per envelope, payloads as JSON."""
    import duckdb
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".wal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    connection = duckdb.connect(str(path))
    try:
        connection.execute("SET TimeZone = 'UTC'")
        for table, table_rows in sorted(records.items()):
            frame = pd.DataFrame(
                table_rows, columns=["event_id", "event_name", "event_timestamp", "payload"]
            )
            connection.register("frame", frame)
            connection.execute(
                f'CREATE TABLE "{table}" (event_id VARCHAR, event_name VARCHAR, '
                "event_timestamp TIMESTAMPTZ, payload JSON)"
            )
            connection.execute(
                f'INSERT INTO "{table}" SELECT event_id, event_name, event_timestamp, '
                "CAST(payload AS JSON) FROM frame ORDER BY event_timestamp"
            )
            connection.unregister("frame")
    finally:
        connection.close()


def _history(
    events: list[EventContract],
    weights: list[int],
    rows: int,
    since: datetime,
    progress: Progress | None = None,
) -> list[tuple[str, str, datetime, str]]:
    """Clean events for HISTORY_DAYS before `since`: Poisson counts per hour at the 7 days' rates.

    Each has a payload of its own, so any window of the demo, history included, reads true.
    """
    import numpy as np

    rng = random.Random(20231103)
    noise = np.random.default_rng(20231103)
    total = sum(weights)
    mean_profile = sum(
        hourly_profile(since + timedelta(hours=h), since + timedelta(days=DAYS))
        for h in range(DAYS * 24)
    ) / (DAYS * 24)
    hours = [since - timedelta(hours=h + 1) for h in range(HISTORY_DAYS * 24)]
    found: list[tuple[str, str, datetime, str]] = []
    for number, (event, weight) in enumerate(zip(events, weights, strict=True)):
        if progress:
            progress(f"generating {HISTORY_DAYS} days of history", number, len(events))
        per_hour = rows * weight / total / (DAYS * 24) / mean_profile
        means = [per_hour * hourly_profile(hour, since + timedelta(days=DAYS)) for hour in hours]
        for hour, count in zip(hours, noise.poisson(means), strict=True):
            for _ in range(int(count)):
                at = hour + timedelta(seconds=rng.random() * 3600)
                text = json.dumps(payload_for(event, rng, at), separators=(",", ":"))
                found.append((f"hst_{len(found):010d}", event.name, at, text))
    if progress:
        progress(f"generating {HISTORY_DAYS} days of history", len(events), len(events))
    return found
