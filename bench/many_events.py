"""The "many events" benchmark project: 200 event contracts and their warehouse.

Everything is deterministic from a seed:

- `write_project`: real .proto files (two envelopes with `event_metadata` options, shared messages
  and enums), and a checks.yaml with a few rules; `eventqa generate` then writes the suites.
- `build_warehouse`: `backend__events` and `frontend__events` with N rows over 7 days, spread over
  the 200 events with a skewed (Zipf-like) mix, each payload built by DuckDB itself from hashes of
  the row number (`range()` + `json_object`), so 20M rows build without a Python loop. A few
  defects are planted (see `DEFECTS`) so that failing checks and their sampling run too.

The hand-written scan of each table is in `many_scan.py` (so that changing it keeps the cached
warehouses, whose key is this file's source).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

EVENTS = 200
BACKEND = 100  # events 0..99 land in backend__events, the rest in frontend__events
WORDS = ("vintage", "pokemon", "sneakers", "comics", "funko", "cards", "watches", "vinyl")
BASE64 = "([A-Za-z0-9+/_-]{4})*([A-Za-z0-9+/_-]{2}(==)?|[A-Za-z0-9+/_-]{3}=?)?"
RFC3339 = (
    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
TEAMS = ("Foundations", "Growth", "Livestream", "Marketplace", "Payments", "Discovery")
ENUMS = {
    "Currency": ("CURRENCY_UNSPECIFIED", "CURRENCY_USD", "CURRENCY_CAD", "CURRENCY_GBP"),
    "Platform": ("PLATFORM_UNSPECIFIED", "PLATFORM_IOS", "PLATFORM_ANDROID", "PLATFORM_WEB"),
    "Surface": ("SURFACE_UNSPECIFIED", "SURFACE_HOME", "SURFACE_SEARCH", "SURFACE_LIVE"),
    "Reason": ("REASON_UNSPECIFIED", "REASON_USER", "REASON_FRAUD", "REASON_TIMEOUT"),
}


@dataclass(frozen=True)
class Scalar:
    """A JSON scalar: its proto type, how DuckDB makes a value from a hash `{h}`, what is valid."""

    proto: str
    value: str
    valid: str  # SQL over `{v}`, the value's JSON text (neither absent nor JSON null)
    wrapper: str | None = None


def _integer(proto: str, duck: str, value: str, wrapper: str | None) -> Scalar:
    valid = (
        f"json_type({{v}}) IN ('BIGINT', 'UBIGINT') AND TRY_CAST({{v}}::VARCHAR AS {duck}) "
        "IS NOT NULL"
    )
    return Scalar(proto, value, valid, wrapper)


SCALARS = {
    "int64": _integer("int64", "BIGINT", "{h}", "Int64Value"),
    "sint64": _integer("sint64", "BIGINT", "{h} - 500000000000", None),
    "fixed64": _integer("fixed64", "UBIGINT", "{h}", "UInt64Value"),
    "int32": _integer("int32", "INTEGER", "{h} % 100000", "Int32Value"),
    "uint32": _integer("uint32", "UINTEGER", "{h} % 100000", "UInt32Value"),
    "double": Scalar(
        "double",
        "round(({h} % 1000000) / 100.0, 2)",
        "json_type({v}) IN ('BIGINT', 'UBIGINT', 'DOUBLE')",
        "DoubleValue",
    ),
    "float": Scalar(
        "float", "({h} % 1000) / 10.0", "json_type({v}) IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
    ),
    "bool": Scalar("bool", "{h} % 2 = 0", "json_type({v}) = 'BOOLEAN'", "BoolValue"),
    "string": Scalar(
        "string",
        f"{list(WORDS)}[1 + {{h}} % {len(WORDS)}] || '-' || ({{h}} % 1000)",
        "json_type({v}) = 'VARCHAR'",
        "StringValue",
    ),
    "bytes": Scalar(
        "bytes",
        "to_base64(('b' || ({h} % 100000))::BLOB)",
        f"json_type({{v}}) = 'VARCHAR' AND regexp_full_match({{v}}->>'$', '{BASE64}')",
    ),
    "timestamp": Scalar(
        "google.protobuf.Timestamp",
        "strftime(event_timestamp - to_seconds({h} % 86400), '%Y-%m-%dT%H:%M:%SZ')",
        f"json_type({{v}}) = 'VARCHAR' AND regexp_full_match({{v}}->>'$', '{RFC3339}')",
    ),
}
for _enum, _names in ENUMS.items():
    SCALARS[_enum] = Scalar(
        f"bench.common.v1.{_enum}",
        f"{list(_names[1:])}[1 + {{h}} % {len(_names) - 1}]",
        f"json_type({{v}}) = 'VARCHAR' AND {{v}}->>'$' IN {_names}",
    )


@dataclass(frozen=True)
class Field:
    """A payload field. `shape`: required, wrapper, optional, message, repeated or map."""

    name: str
    shape: str
    scalar: str | None = None  # a SCALARS key
    message: str | None = None  # a MESSAGES key


MESSAGES: dict[str, tuple[Field, ...]] = {
    "Money": (
        Field("amount_cents", "required", "int64"),
        Field("currency", "required", "Currency"),
    ),
    "Address": (
        Field("line1", "required", "string"),
        Field("line2", "optional", "string"),
        Field("city", "required", "string"),
        Field("country_code", "required", "string"),
    ),
    "Device": (
        Field("platform", "required", "Platform"),
        Field("model", "required", "string"),
        Field("app_version", "required", "string"),
    ),
    "GeoPoint": (Field("latitude", "required", "double"), Field("longitude", "required", "double")),
    "LineItem": (
        Field("listing_id", "required", "int64"),
        Field("quantity", "required", "uint32"),
        Field("unit_price", "message", message="Money"),
    ),
}


@dataclass
class Event:
    """One generated event contract."""

    index: int
    name: str
    fields: list[Field]
    owner: str
    weight: float
    rules: list[dict[str, object]] = field(default_factory=list)

    @property
    def message(self) -> str:
        return "".join(part.title() for part in self.name.split("_")) + "Event"

    @property
    def table(self) -> str:
        return "backend__events" if self.index < BACKEND else "frontend__events"


_VERBS: tuple[str, ...]  # each is two lines of names
_OBJECTS: tuple[str, ...]
_NOUNS: tuple[str, ...]
_ACTORS = ("user", "buyer", "seller", "admin", "app", "system", "moderator", "courier")
_VERBS = ("viewed", "created", "updated", "deleted", "shared", "saved", "opened", "closed")
_VERBS += ("started", "ended", "placed", "cancelled", "refunded", "reported", "rated", "joined")
_OBJECTS = ("listing", "livestream", "order", "bid", "clip", "profile", "cart", "coupon", "review")
_OBJECTS += ("message", "payout", "shipment", "auction", "search", "notification", "wishlist")
_NOUNS = ("user", "listing", "seller", "order", "session", "item", "stream", "bid", "coupon")
_NOUNS += ("request", "device", "campaign", "shipment", "review", "parent", "target")
# (shape, scalar or message, weight): a realistic mix, scalars first.
_PALETTE: tuple[tuple[str, str, int], ...] = (
    *(("required", s, w) for s, w in (("int64", 10), ("int32", 3), ("uint32", 3), ("sint64", 1))),
    *(("required", s, w) for s, w in (("fixed64", 1), ("double", 3), ("float", 1), ("bool", 3))),
    *(("required", s, w) for s, w in (("string", 8), ("bytes", 1), ("timestamp", 5))),
    *(("required", e, 2) for e in ENUMS),
    *(("wrapper", s, 2) for s in ("int64", "int32", "uint32", "fixed64", "double", "bool")),
    ("wrapper", "string", 3),
    ("optional", "int64", 2),
    ("optional", "string", 2),
    *(("message", m, 2) for m in ("Money", "Address", "Device", "GeoPoint")),
    ("repeated", "string", 3),
    ("repeated", "int64", 2),
    ("repeated_message", "LineItem", 2),
    ("repeated_message", "Money", 1),
    ("map", "string", 2),
    ("map", "int64", 1),
)


def _field_name(shape: str, kind: str, rng: random.Random) -> str:
    noun = rng.choice(_NOUNS)
    suffix = {
        "int64": "id", "fixed64": "key", "sint64": "delta", "int32": "count", "uint32": "rank",
        "double": "amount", "float": "ratio", "bool": "enabled", "string": "label",
        "bytes": "signature", "timestamp": "at", "Money": "price", "Address": "address",
        "Device": "device", "GeoPoint": "location", "LineItem": "items",
    }.get(kind, kind.lower())  # fmt: skip
    name = f"{noun}_{suffix}"
    return {"repeated": f"{name}s", "map": f"{noun}_attributes"}.get(shape, name)


def make_events(seed: int) -> list[Event]:
    """The 200 events: names, fields, owners, weights and a few rules, all from `seed`."""
    rng = random.Random(seed)
    names = sorted({f"{a}_{v}_{o}" for a in _ACTORS for v in _VERBS for o in _OBJECTS})
    chosen = rng.sample(names, EVENTS)
    ranks = list(range(EVENTS))
    rng.shuffle(ranks)
    shapes = [(s, k) for s, k, _ in _PALETTE]
    weights = [w for _, _, w in _PALETTE]
    events = []
    for index, name in enumerate(chosen):
        fields: dict[str, Field] = {}
        for _ in range(rng.randint(3, 12)):
            shape, kind = rng.choices(shapes, weights)[0]
            field_name = _field_name(shape, kind, rng)
            if field_name in fields:
                continue
            if shape in ("message", "repeated_message"):
                fields[field_name] = Field(field_name, shape, message=kind)
            else:
                fields[field_name] = Field(field_name, shape, scalar=kind)
        weight = 1 / (ranks[index] + 1) ** 0.8
        events.append(Event(index, name, list(fields.values()), rng.choice(TEAMS), weight))
    _add_rules(events, rng)
    return events


def _add_rules(events: list[Event], rng: random.Random) -> None:
    """A rule or two on a fifth of the events, of the kinds checks.yaml users write most."""
    for event in rng.sample(events, EVENTS // 5):
        for f in event.fields:
            if f.shape == "required" and f.scalar in ("int32", "uint32"):
                event.rules.append({"between": {"field": f.name, "min": 0, "max": 99_000}})
            elif f.shape == "required" and f.scalar == "int64" and not event.rules:
                event.rules.append({"unique": {"fields": [f.name]}, "severity": "warn"})
            elif f.shape == "required" and f.scalar == "string":
                event.rules.append({"matches": {"field": f.name, "pattern": "^[a-z]+-[0-9]+$"}})
            elif f.shape == "wrapper":
                event.rules.append({"max_null_fraction": {"field": f.name, "max": 0.2}})
            if len(event.rules) == 2:
                break


# ---------------------------------------------------------------------------------------------
# The project: .proto files and checks.yaml
# ---------------------------------------------------------------------------------------------

OPTIONS_PROTO = """\
// Options that turn envelope fields into documented, owned events.
syntax = "proto3";
package bench.options.v1;
import "google/protobuf/descriptor.proto";
import "google/protobuf/wrappers.proto";
message EventMetadata {
  google.protobuf.StringValue description = 1;
  google.protobuf.StringValue team_owner = 2;
}
extend google.protobuf.FieldOptions {
  EventMetadata event_metadata = 50001;
  bool sensitive = 50002;
}
"""


def _common_proto() -> str:
    lines = ['syntax = "proto3";', "package bench.common.v1;", ""]
    for enum, names in ENUMS.items():
        lines.append(f"enum {enum} {{")
        lines += [f"  {n} = {number};" for number, n in enumerate(names)]
        lines.append("}")
    for message, fields in MESSAGES.items():
        lines.append(f"message {message} {{")
        lines += [
            f"  {_declaration(f, 'bench.common.v1.')} = {n};" for n, f in enumerate(fields, 1)
        ]
        lines.append("}")
    return "\n".join(lines) + "\n"


def _declaration(f: Field, package: str) -> str:
    if f.message is not None:
        repeated = "repeated " if f.shape == "repeated_message" else ""
        return f"{repeated}{package}{f.message} {f.name}"
    assert f.scalar is not None
    scalar = SCALARS[f.scalar]
    if f.shape == "wrapper":
        return f"google.protobuf.{scalar.wrapper} {f.name}"
    if f.shape == "map":
        return f"map<string, {scalar.proto}> {f.name}"
    prefix = {"optional": "optional ", "repeated": "repeated "}.get(f.shape, "")
    return f"{prefix}{scalar.proto} {f.name}"


def _events_proto(events: list[Event], envelope: str) -> str:
    lines = [
        'syntax = "proto3";',
        "package bench.events.v1;",
        'import "common/common.proto";',
        'import "google/protobuf/timestamp.proto";',
        'import "google/protobuf/wrappers.proto";',
        'import "options/event_options.proto";',
        "",
    ]
    for event in events:
        lines.append(f"message {event.message} {{")
        lines += [
            f"  {_declaration(f, 'bench.common.v1.')} = {n};" for n, f in enumerate(event.fields, 1)
        ]
        lines.append("}")
    lines.append(f"message {envelope} {{\n  oneof event {{")
    for number, event in enumerate(events, 1):
        lines += [
            f"    {event.message} {event.name} = {number} [",
            f'      (bench.options.v1.event_metadata).description.value = "Fires when {event.name}.",',
            f'      (bench.options.v1.event_metadata).team_owner.value = "{event.owner}"',
            "    ];",
        ]
    lines.append("  }\n}")
    return "\n".join(lines) + "\n"


def _checks_yaml(events: list[Event], warehouse: Path) -> str:
    import json

    lines = [
        "version: 1",
        "contracts: {root: contracts}",
        f"warehouse: {{type: duckdb, path: {json.dumps(str(warehouse))}}}",
        "tables: {BackendEvent: backend__events, FrontendEvent: frontend__events}",
        "defaults: {window: 24h, severity: error, future_skew: 5m}",
        "teams:",
        *(f'  {team}: {{slack_channel: "#{team.lower()}-data"}}' for team in TEAMS),
        'alerts: {fallback_channel: "#data-quality"}',
        "events:",
    ]
    for event in events:
        if event.rules:
            lines.append(f"  {event.name}:\n    rules:")
            lines += [f"      - {json.dumps(rule)}" for rule in event.rules]
    return "\n".join(lines) + "\n"


def write_project(directory: Path, events: list[Event], warehouse: Path) -> None:
    """The contracts and checks.yaml of the many-events project (suites: `eventqa generate`)."""
    files = {
        "contracts/options/event_options.proto": OPTIONS_PROTO,
        "contracts/common/common.proto": _common_proto(),
        "contracts/backend/backend_events.proto": _events_proto(
            [e for e in events if e.table == "backend__events"], "BackendEvent"
        ),
        "contracts/frontend/frontend_events.proto": _events_proto(
            [e for e in events if e.table == "frontend__events"], "FrontendEvent"
        ),
        "checks.yaml": _checks_yaml(events, warehouse),
    }
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# ---------------------------------------------------------------------------------------------
# The warehouse, built by DuckDB
# ---------------------------------------------------------------------------------------------


def _salt(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode()) % 100_000


def _value_sql(f: Field, key: str, path: str, depth: int) -> str:
    """DuckDB SQL for the JSON value of `f` in the row or element identified by `key`."""
    salt = _salt(path, f.name)
    h = f"h({key}, {salt})"
    if f.shape in ("message", "repeated_message"):
        assert f.message is not None
        element = _object_sql(MESSAGES[f.message], f"({key} * 4 + j{depth})", f"{path}.{f.name}",
                              depth + 1)  # fmt: skip
        if f.shape == "repeated_message":
            return f"list_transform(range(1 + {h} % 3), lambda j{depth}: {element})"
        single = _object_sql(MESSAGES[f.message], key, f"{path}.{f.name}", depth + 1)
        return f"CASE WHEN {h} % 20 = 0 THEN NULL ELSE {single} END"
    assert f.scalar is not None
    scalar = SCALARS[f.scalar]
    if f.shape == "repeated":
        element = scalar.value.replace("{h}", f"h({key} * 4 + j{depth}, {salt})")
        return f"list_transform(range({h} % 4), lambda j{depth}: {element})"
    if f.shape == "map":
        value = scalar.value.replace("{h}", f"h({key} * 4 + j{depth}, {salt})")
        entries = f"list_transform(range({h} % 4), lambda j{depth}: {{'k': 'attr_' || j{depth}, 'v': {value}}})"
        return f"to_json(map_from_entries({entries}))"
    value = scalar.value.replace("{h}", f"h({key}, {salt + 1})")
    if f.shape in ("wrapper", "optional"):
        return f"CASE WHEN {h} % 10 = 0 THEN NULL ELSE {value} END"
    return value


def _object_sql(fields: tuple[Field, ...] | list[Field], key: str, path: str, depth: int) -> str:
    """A JSON object of `fields`; unset `optional` fields are left out (merge patch drops null)."""
    present = [f for f in fields if f.shape != "optional"]
    optional = [f for f in fields if f.shape == "optional"]
    obj = "json_object(" + ", ".join(
        f"'{f.name}', {_value_sql(f, key, path, depth)}" for f in present
    ) + ")"  # fmt: skip
    if not optional:
        return obj
    patch = ", ".join(f"'{f.name}', {_value_sql(f, key, path, depth)}" for f in optional)
    return f"json_merge_patch({obj}, json_object({patch}))"


DEFECTS = {
    "string_id": "an integer field sent as a JSON string",
    "drift": "an undeclared key `coupon_code` (schema drift)",
    "missing": "a required field missing",
    "double_encoded": "a double-encoded payload (a JSON string, not an object)",
    "unknown_enum": "an enum value the contract lacks",
    "duplicate_id": "a duplicated event_id",
}
EVERY = 500  # about one row in EVERY of an event with a defect has it


def _first(event: Event, scalars: tuple[str, ...]) -> Field | None:
    return next((f for f in event.fields if f.shape == "required" and f.scalar in scalars), None)


def planted(events: list[Event]) -> dict[int, tuple[str, str]]:
    """Which event gets which defect, on which field: the first events that have such a field."""
    wanted = {
        "string_id": ("int64",), "missing": ("string",), "unknown_enum": tuple(ENUMS),
        "drift": (), "double_encoded": (), "duplicate_id": (),
    }  # fmt: skip
    chosen: dict[int, tuple[str, str]] = {}
    busiest = sorted(events, key=lambda e: -e.weight)  # so that even small builds have some
    for defect, scalars in wanted.items():
        for event in busiest:
            target = _first(event, scalars) if scalars else event.fields[0]
            if target is not None and event.index not in chosen:
                chosen[event.index] = (defect, target.name)
                break
    return chosen


def _payload_sql(event: Event, defect: tuple[str, str] | None) -> str:
    """The event's payload for row `i`, with its planted defect when it has one."""
    payload = _object_sql(event.fields, "i", event.name, 0)
    if defect is None or defect[0] == "duplicate_id":
        return payload
    kind, name = defect
    hit = f"h(i, 7) % {EVERY} = 0"
    patch = {
        "string_id": f"json_object('{name}', 'x' || i)",
        "drift": "json_object('coupon_code', 'SPRING' || (i % 90))",
        "missing": f"json_object('{name}', NULL)",
        "unknown_enum": f"json_object('{name}', 'UNKNOWN_VALUE')",
    }.get(kind)
    if patch is not None:
        return f"CASE WHEN {hit} THEN json_merge_patch({payload}, {patch}) ELSE {payload} END"
    return f"CASE WHEN {hit} THEN to_json({payload}::VARCHAR) ELSE {payload} END"


def _event_column(events: list[Event]) -> str:
    """Row `i`'s event index: a hash into 4096 buckets shared out by the events' weights."""
    total = sum(e.weight for e in events)
    buckets: list[int] = []
    for event in events:
        buckets += [event.index] * max(1, round(event.weight / total * 4096))
    return f"{buckets}[1 + h(i, 1) % {len(buckets)}]"


def build_warehouse(
    path: Path, events: list[Event], rows: int, since: datetime, span: timedelta
) -> dict[str, int]:
    """Write both tables into a fresh DuckDB file; return each table's row count."""
    import duckdb

    assert all(e.index == n for n, e in enumerate(events))
    seconds = int(span.total_seconds())
    defects = planted(events)
    duplicated = next(index for index, (kind, _) in defects.items() if kind == "duplicate_id")
    whens = "\n".join(
        f"WHEN {e.index} THEN {_payload_sql(e, defects.get(e.index))}" for e in events
    )
    names = [e.name for e in events]
    with duckdb.connect(str(path)) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("CREATE MACRO h(a, b) AS (hash(a * 100003 + b) % 1000000000000)::BIGINT")
        connection.execute(
            f"""
            CREATE TEMPORARY TABLE numbered AS
            SELECT i, {_event_column(events)} AS ev,
                   TIMESTAMPTZ '{since.isoformat()}' + to_seconds((i * {seconds}) // {rows})
                     AS event_timestamp
            FROM range({rows}) AS t(i)
            """
        )
        for table, condition in (("backend__events", f"ev < {BACKEND}"),
                                 ("frontend__events", f"ev >= {BACKEND}")):  # fmt: skip
            connection.execute(
                f"""
                CREATE TABLE {table} AS
                SELECT CASE WHEN ev = {duplicated} AND h(i, 7) % {EVERY} = 0
                            THEN 'evt_dup' ELSE 'evt_' || i END AS event_id,
                       CASE WHEN ev = {BACKEND - 1} AND h(i, 7) % 1000 = 0
                            THEN 'user_viewd_listing' ELSE {names}[ev + 1] END AS event_name,
                       event_timestamp,
                       (CASE ev {whens} END)::JSON AS payload
                FROM numbered WHERE {condition}
                ORDER BY i
                """
            )
        counts = connection.execute(
            "SELECT (SELECT count(*) FROM backend__events), (SELECT count(*) FROM frontend__events)"
        ).fetchone()
    assert counts is not None
    return {"backend__events": counts[0], "frontend__events": counts[1]}
