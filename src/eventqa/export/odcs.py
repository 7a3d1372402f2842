"""`eventqa export odcs`: one Open Data Contract Standard v3 document per event.

Each document describes the event as a schema object located in its shared table
(`physicalName`) and narrowed by a `filter` custom property (`event_name = '...'`), with the
envelope columns and the payload's fields as nested properties: logical types (integer widths,
enums, maps, arrays), the proto type as the physical type, `required` from the contract's
nullability, and `classification: restricted` for sensitive fields. checks.yaml's rules become
quality rules: ODCS library metrics where one means the same thing, else the exact Great
Expectations expectation eventqa runs (`type: custom`, `engine: great-expectations`). The
owning team is the document's team, its Slack channel the support channel. Every document is
validated with the `open-data-contract-standard` package's model before it is written.
"""

from __future__ import annotations

import re
from typing import Any

from eventqa.config.models import (
    Between,
    Config,
    DuckDBWarehouse,
    InSet,
    Matches,
    MaxNullFraction,
    RowCount,
    Rule,
    Severity,
    Unique,
    format_duration,
)
from eventqa.contracts.model import ContractSet, EventContract, Field, ValueType
from eventqa.export.files import GeneratedFile
from eventqa.export.text import dump_yaml
from eventqa.suites.columns import field_column
from eventqa.suites.derive import DerivedSuite

API_VERSION = "v3.2.0"
# The standard's own values; checks.yaml says `warn`.
_SEVERITY = {Severity.ERROR: "error", Severity.WARN: "warning"}
_INTEGER_FORMATS = {
    ValueType.INT32: "i32",
    ValueType.INT64: "i64",
    ValueType.UINT32: "u32",
    ValueType.UINT64: "u64",
}
_DURATION_PATTERN = r"^-?[0-9]+(\.[0-9]{1,9})?s$"
_JSON_LOGICAL = {
    "google.protobuf.Struct": "object",
    "google.protobuf.Any": "object",
    "google.protobuf.ListValue": "array",
}
# Envelope columns: (name, logical type, DuckDB type, Snowflake type, description).
_ENVELOPE = (
    ("event_id", "string", "VARCHAR", "VARCHAR",
     "The event's id, unique among the events of a window."),
    ("event_name", "string", "VARCHAR", "VARCHAR",
     "The event's name: always {event} for this contract."),
    ("event_timestamp", "timestamp", "TIMESTAMPTZ", "TIMESTAMP_TZ",
     "When the event happened (UTC)."),
)  # fmt: skip


def odcs_files(
    contracts: ContractSet, config: Config, suites: list[DerivedSuite]
) -> list[GeneratedFile]:
    """One validated ODCS document per event, at `<table>/<event>.odcs.yaml`."""
    from open_data_contract_standard.model import OpenDataContractStandard

    files = []
    for suite in sorted(suites, key=lambda s: (s.table, s.event)):
        document = odcs_document(contracts.events[suite.event], suite, config)
        # The standard's model validates what is written; a failure is a bug of this module.
        OpenDataContractStandard.model_validate(document)
        files.append(GeneratedFile(f"{suite.table}/{suite.event}.odcs.yaml", dump_yaml(document)))
    return files


def odcs_document(event: EventContract, suite: DerivedSuite, config: Config) -> dict[str, Any]:
    """The ODCS document of one event, as plain data in the standard's key order."""
    meta = suite.suite["meta"]["eventqa"]
    duckdb = isinstance(config.warehouse, DuckDBWarehouse)
    where = f"event_name = '{event.name}'"
    properties: list[dict[str, Any]] = [
        {
            "name": name,
            "logicalType": logical,
            "physicalType": duck if duckdb else snow,
            "required": True,
            "description": text.format(event=event.name),
        }
        for name, logical, duck, snow, text in _ENVELOPE
    ]
    sensitive = set(meta["sensitive"])
    payload = {
        "name": "payload",
        "logicalType": "object",
        "physicalType": "JSON" if duckdb else "VARIANT",
        "required": True,
        "description": f"The event's payload: {event.message} as JSON ({_encoding(config)}).",
        "properties": [_property(f, f.name, sensitive) for f in event.fields],
    }
    properties.append(payload)
    schema: dict[str, Any] = {
        "name": event.name,
        "physicalName": suite.table,
        "physicalType": "table",
        "logicalType": "object",
        "description": f"{event.description or event.name} The rows of {suite.table} where "
        f"{where}.",
        "dataGranularityDescription": "One row per event.",
        "customProperties": [
            {
                "property": "filter",
                "value": where,
                "description": f"The rows of {suite.table} that are {event.name} events.",
            },
            {
                "property": "window",
                "value": format_duration(config.defaults.window),
                "description": "eventqa checks each window of this length: row counts, "
                "uniqueness and freshness hold per window.",
            },
        ],
        "properties": properties,
    }
    quality = _quality(event, suite, config, payload)
    if quality:
        schema["quality"] = quality
    document: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": f"{suite.table}.{event.name}",
        "name": event.name,
        "version": "1.0.0",
        "status": "active",
        "description": {
            "purpose": event.description or f"The {event.name} event.",
            "usage": f"Events of {suite.table} where {where}; the payload follows the "
            f"protobuf contract {meta['contract']}.",
        },
        "tags": ["eventqa", suite.table],
    }
    server = _server(config)
    if server:
        document["servers"] = [server]
    document["schema"] = [schema]
    if event.owner:
        document["team"] = {"name": event.owner, "description": "Owns the event's contract."}
        channel = _channel(event, config)
        if channel:
            document["support"] = [{"channel": channel, "tool": "slack", "scope": "issues"}]
    document["customProperties"] = [
        {"property": "generatedBy", "value": "eventqa export odcs"},
        {"property": "contract", "value": meta["contract"]},
    ]
    return document


def _encoding(config: Config) -> str:
    payload = config.payload
    numbers = (
        "64-bit integers as strings"
        if payload.int64_encoding == "string"
        else ("64-bit integers as numbers")
    )
    defaults = (
        "fields holding their default value omitted"
        if payload.omits_defaults
        else ("every declared plain field present")
    )
    return f"proto field names as keys, enums by name, {numbers}, {defaults}"


def _server(config: Config) -> dict[str, Any] | None:
    """The warehouse as an ODCS server, when checks.yaml says enough about it."""
    warehouse = config.warehouse
    if isinstance(warehouse, DuckDBWarehouse):
        return {
            "server": "warehouse",
            "type": "duckdb",
            "database": warehouse.path.as_posix(),
            "schema": "main",
        }
    known = {
        "account": warehouse.account,
        "database": warehouse.database,
        "schema": warehouse.schema_name,
    }
    if not all(known.values()):  # the rest is in connections.toml or the environment
        return None
    server = {"server": "warehouse", "type": "snowflake", **known}
    if warehouse.warehouse:
        server["warehouse"] = warehouse.warehouse
    return server


def _channel(event: EventContract, config: Config) -> str | None:
    settings = config.events.get(event.name)
    if settings and settings.slack_channel:
        return settings.slack_channel
    team = config.teams.get(event.owner or "")
    return team.slack_channel if team else None


# -- properties --------------------------------------------------------------------------------


def _property(item: Field, path: str, sensitive: set[str]) -> dict[str, Any]:
    """A payload field as an ODCS property (an array of its element type when repeated)."""
    prop: dict[str, Any] = {"name": item.name}
    if item.repeated:
        prop["logicalType"] = "array"
        prop["physicalType"] = f"repeated {item.proto_type}"
        element = _value(item, f"{path}[]", sensitive)
        prop["items"] = element
    else:
        prop.update(_value(item, path, sensitive))
    prop["required"] = not item.nullable
    if item.description:
        prop["description"] = item.description
    if field_column(path) in sensitive or item.sensitive:
        prop["classification"] = "restricted"
    # What a reader looks for first, then what is nested.
    nested = ("enum", "properties", "items", "map")
    return {k: v for k, v in prop.items() if k not in nested} | {
        k: prop[k] for k in nested if k in prop
    }


def _value(item: Field, path: str, sensitive: set[str]) -> dict[str, Any]:
    """The logical and physical type of one value of a field, nested properties included."""
    value_type = item.value_type
    value: dict[str, Any] = {}
    if value_type in _INTEGER_FORMATS:
        value["logicalType"] = "integer"
        value["logicalTypeOptions"] = {"format": _INTEGER_FORMATS[value_type]}
    elif value_type in (ValueType.FLOAT, ValueType.DOUBLE):
        value["logicalType"] = "number"
        value["logicalTypeOptions"] = {"format": "f32" if value_type == ValueType.FLOAT else "f64"}
    elif value_type == ValueType.BOOL:
        value["logicalType"] = "boolean"
    elif value_type == ValueType.BYTES:
        value["logicalType"] = "string"
        value["logicalTypeOptions"] = {"format": "byte"}  # base64, as OpenAPI names it
    elif value_type == ValueType.TIMESTAMP:
        value["logicalType"] = "timestamp"
        value["logicalTypeOptions"] = {"timezone": True}
    elif value_type == ValueType.DURATION:
        value["logicalType"] = "string"
        value["logicalTypeOptions"] = {"pattern": _DURATION_PATTERN}
    elif value_type in (ValueType.STRING, ValueType.ENUM):
        value["logicalType"] = "string"
    elif value_type == ValueType.MESSAGE:
        value["logicalType"] = "object"
    elif value_type == ValueType.MAP:
        value["logicalType"] = "map"
    elif item.proto_type in _JSON_LOGICAL:
        value["logicalType"] = _JSON_LOGICAL[item.proto_type]
    value["physicalType"] = item.proto_type
    if value_type == ValueType.ENUM:
        value["enum"] = [{"value": name} for name in item.enum_values]
    if value_type == ValueType.MESSAGE:
        value["properties"] = [_property(f, f"{path}.{f.name}", sensitive) for f in item.fields]
    if value_type == ValueType.MAP and item.map_value is not None:
        key_type = item.proto_type.removeprefix("map<").partition(",")[0]
        value["map"] = {
            "key": {"logicalType": "string", "physicalType": key_type},
            "value": _value(item.map_value, f"{path}.*", sensitive),
        }
    return value


# -- quality -----------------------------------------------------------------------------------


def _quality(
    event: EventContract, suite: DerivedSuite, config: Config, payload: dict[str, Any]
) -> list[dict[str, Any]]:
    """checks.yaml's rules: property-level ones attached to their property, the rest returned."""
    settings = config.events.get(event.name)
    rules = settings.rules if settings else ()
    expectations = [
        e for e in suite.suite["expectations"] if e["meta"]["check"].startswith("rule:")
    ]
    table_level = []
    for rule, expectation in zip(rules, expectations, strict=True):
        quality, target = _rule_quality(rule, expectation)
        if target is None:
            table_level.append(quality)
        else:
            _find(payload, target).setdefault("quality", []).append(quality)
    return table_level


def _rule_quality(rule: Rule, expectation: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """One rule as an ODCS quality rule, and the payload path it belongs to (None: the table)."""
    meta = expectation["meta"]
    common: dict[str, Any] = {
        "id": re.sub(r"[^A-Za-z0-9_-]+", "_", meta["id"]),  # ODCS ids: letters, digits, _ and -
        "name": meta["id"],
        "description": expectation["description"],
        "severity": _SEVERITY[Severity(meta["severity"])],
    }
    spec = rule.spec
    if isinstance(spec, InSet):
        return {
            **common, "type": "library", "dimension": "conformity", "metric": "invalidValues",
            "arguments": {"validValues": list(spec.values)}, "mustBe": 0,
        }, spec.field  # fmt: skip
    if isinstance(spec, Matches):
        return {
            **common, "type": "library", "dimension": "conformity", "metric": "invalidValues",
            "arguments": {"pattern": spec.pattern}, "mustBe": 0,
        }, spec.field  # fmt: skip
    if isinstance(spec, MaxNullFraction):
        bound: dict[str, Any] = (
            {"mustBe": 0}
            if spec.max == 0
            else {"unit": "percent", "mustBeLessOrEqualTo": round(spec.max * 100, 10)}
        )
        return {
            **common, "type": "library", "dimension": "completeness", "metric": "nullValues",
            **bound,
        }, spec.field  # fmt: skip
    if isinstance(spec, Unique):
        unique = {**common, "type": "library", "dimension": "uniqueness"}
        unique["metric"] = "duplicateValues"
        if len(spec.fields) == 1:
            return {**unique, "mustBe": 0}, spec.fields[0]
        together = [f"payload.{field}" for field in spec.fields]  # property paths
        return {**unique, "arguments": {"properties": together}, "mustBe": 0}, None
    if isinstance(spec, RowCount):
        count = {**common, "type": "library", "dimension": "completeness", "metric": "rowCount"}
        if spec.min is not None and spec.max is not None and spec.min != spec.max:
            return {**count, "mustBeBetween": [spec.min, spec.max]}, None
        if spec.min is not None and spec.min == spec.max:
            return {**count, "mustBe": spec.min}, None
        if spec.min is not None:
            return {**count, "mustBeGreaterOrEqualTo": spec.min}, None
        return {**count, "mustBeLessOrEqualTo": spec.max}, None
    # Everything else is stated exactly as the expectation eventqa runs, over the columns of
    # the event's projection (README "How suites address the payload").
    custom = {
        **common,
        "type": "custom",
        "engine": "great-expectations",
        "implementation": {"type": expectation["type"], "kwargs": expectation["kwargs"]},
    }
    target = spec.field if isinstance(spec, Between) else None
    return custom, target


def _find(payload: dict[str, Any], path: str) -> dict[str, Any]:
    """The property at a checks.yaml field path (`items[].quantity`) under the payload."""
    node = payload
    for part in path.split("."):
        name = part.removesuffix("[]")
        node = next(p for p in node["properties"] if p["name"] == name)
        if part.endswith("[]"):
            node = node["items"]
    return node
