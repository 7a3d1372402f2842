"""`eventqa export dbt`: a dbt source per event and a typed staging view flattening its payload.

- `sources.yml`: one source (`eventqa`) in the warehouse's database and schema, with one table
  entry per event: the shared event table (`identifier`) narrowed to the event's rows for
  freshness, `loaded_at_field: event_timestamp`, and freshness from the event's `freshness` rule.
- `stg_eventqa__<event>.sql`: a view of the event's rows with one typed column per scalar
  payload field (nested fields as `parent__child`) and the JSON text of objects, arrays and maps.
  Its SQL is the execution projection's, in the warehouse's dialect: the view reads values
  exactly as `eventqa run` checks them (NULL when absent, null or not valid for the proto type).
- `schema.yml`: the models, column descriptions from the contracts, and dbt tests for the
  promises dbt can hold the view to: not-null (required fields, `event_id`, `event_timestamp`,
  `max_null_fraction: 0` rules) and accepted values (enums, `in_set` rules), each with the
  severity of the eventqa check it mirrors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from eventqa.config.models import Config, DuckDBWarehouse, Freshness, Severity
from eventqa.contracts.model import ContractSet, EventContract, Field, ValueType
from eventqa.errors import ContractError
from eventqa.execution.projection import Projection, Relation
from eventqa.export.files import GeneratedFile
from eventqa.export.text import dump_yaml, jinja_literal
from eventqa.suites.columns import field_column, parse_column, quote_identifier, relation_of
from eventqa.suites.derive import DerivedSuite
from eventqa.warehouse.dialect import DialectSQL

SOURCE = "eventqa"
_DUCKDB_SCHEMA = "main"  # where `eventqa demo` and most DuckDB loaders create tables
_PERIODS = (("day", 86_400), ("hour", 3_600), ("minute", 60))
ENVELOPE_DESCRIPTIONS = {
    "event_id": "The event's id, unique among the events of a window.",
    "event_name": "The event's name: always {event} in this model.",
    "event_timestamp": "When the event happened (UTC).",
    "payload": "The event's payload: a JSON object of the contract's fields.",
}


def model_name(event: str) -> str:
    """The staging model of an event: `stg_eventqa__user_followed_user`."""
    return f"stg_{SOURCE}__{event}"


@dataclass
class _Column:
    """A column of a staging view: what it holds and the tests it carries."""

    name: str  # the view's column: `shipping_address__city`
    path: str  # the projection's column: `shipping_address.city`
    description: str
    sensitive: bool = False
    document: bool = False  # the JSON text of an object, array or map
    tests: dict[tuple[str, str], tuple[Severity, dict[str, Any], list[str]]] = field(
        default_factory=dict
    )

    def test(self, kind: str, severity: Severity, arguments: dict[str, Any], check: str) -> None:
        """Add a dbt test; the same test twice keeps the stricter severity and both check ids."""
        key = (kind, repr(sorted(arguments.items())))
        known = self.tests.get(key)
        if known is None:
            self.tests[key] = (severity, arguments, [check])
            return
        stricter = Severity.ERROR if Severity.ERROR in (severity, known[0]) else severity
        self.tests[key] = (stricter, arguments, sorted({*known[2], check}))


def dbt_files(
    contracts: ContractSet, config: Config, suites: list[DerivedSuite], dialect: DialectSQL
) -> list[GeneratedFile]:
    """Every file of the export: sources.yml, schema.yml and one staging model per event."""
    ordered = sorted(suites, key=lambda s: (s.table, s.event))
    files = [GeneratedFile("sources.yml", dump_yaml(_sources(contracts, config, ordered)))]
    models = []
    for suite in ordered:
        event = contracts.events[suite.event]
        columns = _columns(event, suite, config)
        sql = _model_sql(event, suite, columns, dialect)
        files.append(GeneratedFile(f"{model_name(event.name)}.sql", sql, comment="--"))
        models.append(_model(event, suite, columns))
    files.append(GeneratedFile("schema.yml", dump_yaml({"version": 2, "models": models})))
    return files


# -- sources -----------------------------------------------------------------------------------


def _sources(contracts: ContractSet, config: Config, suites: list[DerivedSuite]) -> dict[str, Any]:
    warehouse = config.warehouse
    source: dict[str, Any] = {
        "name": SOURCE,
        "description": "Event tables checked by eventqa: one entry per event, its rows of the "
        "shared table (the event_name column names the event).",
    }
    if isinstance(warehouse, DuckDBWarehouse):
        source["schema"] = _DUCKDB_SCHEMA
    else:
        if warehouse.database:
            source["database"] = warehouse.database
        # Without a schema in checks.yaml the connection's default applies; dbt's would be the
        # source name, so name the target's instead.
        source["schema"] = warehouse.schema_name or "{{ target.schema }}"
    source["tables"] = [_source_table(contracts.events[s.event], s, config) for s in suites]
    return {"version": 2, "sources": [source]}


def _source_table(event: EventContract, suite: DerivedSuite, config: Config) -> dict[str, Any]:
    table: dict[str, Any] = {
        "name": event.name,
        "identifier": suite.table,
        "description": jinja_literal(
            f"{event.description or event.name} Rows of {suite.table} where event_name = "
            f"'{event.name}'."
        ),
        "loaded_at_field": "event_timestamp",
    }
    freshness = _freshness(event, config)
    if freshness:
        table["freshness"] = freshness
    table["config"] = {"meta": _meta(event, suite)}
    table["columns"] = [
        {"name": name, "description": text.format(event=event.name)}
        for name, text in ENVELOPE_DESCRIPTIONS.items()
    ]
    return table


def _freshness(event: EventContract, config: Config) -> dict[str, Any] | None:
    """The dbt freshness of the event's `freshness` rule on event_timestamp (the first, if many)."""
    settings = config.events.get(event.name)
    if settings is None:
        return None
    for rule in settings.rules:
        spec = rule.spec
        if isinstance(spec, Freshness) and spec.field is None:
            severity = rule.severity or settings.severity or config.defaults.severity
            after = "error_after" if severity == Severity.ERROR else "warn_after"
            return {
                after: _period(int(spec.max_age.total_seconds())),
                "filter": f"event_name = '{event.name}'",
            }
    return None


def _period(seconds: int) -> dict[str, Any]:
    """A duration in dbt's units; seconds that are no whole minute round up to one."""
    for period, size in _PERIODS:
        if seconds % size == 0:
            return {"count": seconds // size, "period": period}
    return {"count": -(-seconds // 60), "period": "minute"}


def _meta(event: EventContract, suite: DerivedSuite) -> dict[str, Any]:
    meta = suite.suite["meta"]["eventqa"]
    found = {"owner": event.owner, "contract": meta["contract"], "table": suite.table}
    return {"eventqa": {k: v for k, v in found.items() if v}}


# -- staging models -----------------------------------------------------------------------------


def _columns(event: EventContract, suite: DerivedSuite, config: Config) -> list[_Column]:
    """The staging view's columns, in contract order, with their tests."""
    sensitive = set(suite.suite["meta"]["eventqa"]["sensitive"])
    columns = [
        _Column(name, name, text.format(event=event.name))
        for name, text in ENVELOPE_DESCRIPTIONS.items()
        if name != "payload"
    ]
    for path, item in _row_fields(event.fields, ""):
        column = field_column(path)
        document = item.repeated or not item.value_type.is_scalar
        described = _describe(item, path, document)
        columns.append(
            _Column(column.replace(".", "__"), column, described, column in sensitive, document)
        )
    names = [c.name for c in columns]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash:
        raise ContractError(
            f"event {event.name}: two payload fields both become the column {clash!r} of "
            f"{model_name(event.name)} (nested fields are named parent__child)",
            location=event.message_location,
        )
    _add_tests(columns, suite, omits_defaults=config.payload.omits_defaults)
    return columns


def _row_fields(fields: tuple[Field, ...], prefix: str) -> Iterator[tuple[str, Field]]:
    """Fields with one value per event: top-level ones and those of nested (unrepeated) messages.

    A message yields itself (its JSON text) and then its fields.
    """
    for item in fields:
        path = f"{prefix}{item.name}"
        yield path, item
        if item.value_type == ValueType.MESSAGE and not item.repeated:
            yield from _row_fields(item.fields, f"{path}.")


def _describe(item: Field, path: str, document: bool) -> str:
    kind = f"repeated {item.proto_type}" if item.repeated else item.proto_type
    if document:
        shape = "JSON text of the array" if item.repeated else "JSON text of the object"
        what = f"`{path}` ({kind}), as {shape}"
    else:
        what = f"`{path}` ({kind}); NULL when absent, null or not a valid {item.proto_type}"
    parts = [item.description, what + ("" if item.nullable else ". Required") + "."]
    if item.sensitive:
        parts.append("Sensitive: personal or secret data.")
    return jinja_literal(" ".join(p for p in parts if p))


def _add_tests(columns: list[_Column], suite: DerivedSuite, *, omits_defaults: bool) -> None:
    """The dbt tests for the not-null and accepted-values checks of the event's suite."""
    by_path = {c.path: c for c in columns if not c.document}
    documents = {c.path: c for c in columns if c.document}
    for expectation in suite.suite["expectations"]:
        meta, kwargs = expectation["meta"], expectation["kwargs"]
        check, severity = meta["check"], Severity(meta["severity"])
        function, name = parse_column(kwargs.get("column", ""))
        target = by_path.get(name)
        if target is None or relation_of(name) != "":
            continue
        if check in ("event_id", "event_timestamp") and function is None:
            if expectation["type"] == "expect_column_values_to_not_be_null":
                target.test("not_null", severity, {}, meta["id"])
        elif check == "not_null" and function == "json_type" and not omits_defaults:
            # A required value is present and valid wherever its parent object is.
            parent = name.rpartition(".")[0]
            where = {}
            if parent and parent in documents:
                where = {"where": f"substr({documents[parent].name}, 1, 1) = '{{'"}
            target.test("not_null", severity, where, meta["id"])
        elif check in ("enum", "rule:in_set") and function is None:
            values = list(kwargs["value_set"])
            arguments: dict[str, Any] = {"values": values}
            if not all(isinstance(v, str) for v in values):
                arguments["quote"] = False
            target.test("accepted_values", severity, arguments, meta["id"])
        elif check == "rule:max_null_fraction" and kwargs.get("min_value") == 1:
            target.test("not_null", severity, {}, meta["id"])


def _model_sql(
    event: EventContract, suite: DerivedSuite, columns: list[_Column], dialect: DialectSQL
) -> str:
    """The staging view: the projection's row relation of the event, columns renamed."""
    projection = Projection(suite.suite, dialect)
    envelope = {"event_id", "event_name", "event_timestamp"}  # the projection carries these
    typed = {c.path for c in columns if not c.document} - envelope
    relation = Relation("", "", columns=typed)
    documents = {quote_identifier(f"{c.path}:json"): c.path for c in columns if c.document}
    source = dialect.source(
        f"{{{{ source('{SOURCE}', '{event.name}') }}}}",
        f"event_name = {dialect.literal(event.name)}",
    )
    inner = projection.select(relation, source, documents)
    selected = []
    for column in columns:
        projected = quote_identifier(f"{column.path}:json" if column.document else column.path)
        alias = quote_identifier(column.name)
        selected.append(projected if projected == alias else f"{projected} AS {alias}")
    return (
        "{{ config(materialized='view') }}\n\n"
        f"-- {event.name} ({suite.table}): one row per event, the payload as typed columns.\n"
        "SELECT\n    " + ",\n    ".join(selected) + f"\nFROM ({inner}) AS typed\n"
    )


def _model(event: EventContract, suite: DerivedSuite, columns: list[_Column]) -> dict[str, Any]:
    model: dict[str, Any] = {
        "name": model_name(event.name),
        "description": jinja_literal(
            f"{event.description or event.name} Typed view of the {event.name} events of "
            f"{suite.table}, as eventqa checks them."
        ),
        "config": {"meta": _meta(event, suite)},
        "columns": [_column(c) for c in columns],
    }
    return model


def _column(column: _Column) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": column.name, "description": column.description}
    if quote_identifier(column.name) != column.name:
        entry["quote"] = True
    if column.sensitive:
        entry["config"] = {"meta": {"eventqa": {"sensitive": True}}}
    tests = []
    for (kind, _), (severity, arguments, checks) in sorted(column.tests.items()):
        config: dict[str, Any] = {"severity": severity.value}
        test: dict[str, Any] = {}
        where = arguments.get("where")
        if where:
            config["where"] = where
        rest = {k: v for k, v in arguments.items() if k != "where"}
        if rest:
            test["arguments"] = rest
        config["meta"] = {"eventqa": {"checks": checks}}
        test["config"] = config
        tests.append({kind: test})
    if tests:
        entry["data_tests"] = tests
    return entry
