"""Derive a Great Expectations suite from an event contract and the user's rules (a pure function).

The suite is written as GX's JSON document directly (GX itself is imported only to validate a
user's raw `expectation:` rule whose kwargs eventqa does not know). Every expectation carries
`meta.id` (a readable id, stable across reordering and unrelated edits), `meta.origin` (the
.proto symbol or checks.yaml key that made the promise, without line numbers, so that editing a
comment rewrites no suite), `meta.severity` (`error` or `warn`) and `meta.check` (what kind of
promise it enforces).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eventqa.config.loader import dotted
from eventqa.config.models import (
    Between,
    Compare,
    Config,
    CustomSQL,
    Freshness,
    GXExpectation,
    InSet,
    Matches,
    MaxNullFraction,
    RowCount,
    Rule,
    Severity,
    Unique,
    format_duration,
)
from eventqa.contracts.model import ContractSet, Envelope, EventContract, Field, ValueType
from eventqa.errors import ConfigError, ConfigErrors, Location
from eventqa.suites.columns import (
    ROOT,
    field_column,
    json_type_column,
    keys_column,
    quote_identifier,
    relation_of,
)
from eventqa.suites.gx_json import canonical_kwargs

# Only a literal `null` is excluded for required values; the kinds below are the JSON form of each.
_KINDS: dict[ValueType, tuple[str, ...]] = {
    ValueType.MESSAGE: ("object",),
    ValueType.MAP: ("object",),
}
_JSON_KINDS: dict[str, tuple[str, ...]] = {
    "google.protobuf.Struct": ("object",),
    "google.protobuf.Any": ("object",),
    "google.protobuf.ListValue": ("array",),
}
_NUMERIC = {
    ValueType.INT32,
    ValueType.INT64,
    ValueType.UINT32,
    ValueType.UINT64,
    ValueType.FLOAT,
    ValueType.DOUBLE,
}
_GX_SEVERITY = {Severity.ERROR: "critical", Severity.WARN: "warning"}


@dataclass(frozen=True)
class Origin:
    """Where a promise is made: line-free text for the suite, the line for error messages."""

    text: str  # `contracts/x.proto#Thing.a`, `checks.yaml#events.x.rules[0]`
    location: Location


@dataclass(frozen=True)
class Expectation:
    """One expectation before it is written: its type, kwargs, provenance and readable id."""

    type: str
    kwargs: dict[str, Any]
    origin: Origin
    severity: Severity
    check: str
    description: str
    key: str  # the readable id (`follower_id.type`); a hash is appended when two collide
    loc: tuple[str | int, ...] = ()  # where in checks.yaml a rule's expectation comes from

    def canonical(self) -> str:
        """The expectation's type and kwargs as sorted JSON: what its id hash is made of."""
        return json.dumps({"type": self.type, "kwargs": self.kwargs}, sort_keys=True)

    def to_json(self, check_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The expectation in GX's JSON form (what `ExpectationSuite.to_json_dict` writes)."""
        return {
            "type": self.type,
            "kwargs": kwargs,
            "meta": {
                "id": check_id,
                "origin": self.origin.text,
                "severity": self.severity.value,
                "check": self.check,
            },
            "description": self.description,
            "severity": _GX_SEVERITY[self.severity],
        }


@dataclass(frozen=True)
class DerivedSuite:
    """An event's suite, ready to be written to `expectations/<table>/<event>.json`."""

    table: str
    event: str
    suite: dict[str, Any]  # the GX ExpectationSuite JSON document

    @property
    def relative_path(self) -> str:
        """Where the suite lives under expectations/."""
        return f"{self.table}/{self.event}.json"


class _Paths:
    """Resolves user-written field paths (`items[].quantity`) against a contract."""

    def __init__(self, event: EventContract):
        self.event = event
        self.fields: dict[str, Field] = {}
        self._collect(event.fields, "")

    def _collect(self, fields: tuple[Field, ...], prefix: str) -> None:
        for field in fields:
            path = f"{prefix}{field.name}"
            self.fields[path] = field
            if field.repeated:
                self.fields[f"{path}[]"] = field
            inner = f"{path}[]." if field.repeated else f"{path}."
            self._collect(field.fields, inner)

    def resolve(self, path: str, where: Location, loc: tuple[str | int, ...]) -> Field:
        if path in self.fields:
            return self.fields[path]
        close = difflib.get_close_matches(path, list(self.fields), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(
            f"{dotted(loc)}: unknown field {path!r} in event {self.event.name!r}{hint}",
            location=where,
        )


def _typed_columns(
    fields: tuple[Field, ...], prefix: str, columns: dict[str, str]
) -> dict[str, str]:
    """Every typed column of the projection, with the value type the execution layer casts to."""
    for field in fields:
        path = f"{prefix}{field.name}"
        element = f"{path}[]" if field.repeated else path
        if field.value_type.is_scalar:
            columns[field_column(element)] = field.value_type.value
        inner = f"{element}." if field.value_type == ValueType.MESSAGE else None
        if inner:
            _typed_columns(field.fields, inner, columns)
    return columns


def _sensitive(fields: tuple[Field, ...], prefix: str) -> Iterator[str]:
    for field in fields:
        path = f"{prefix}{field.name}"
        if field.sensitive:
            yield path
        yield from _sensitive(field.fields, f"{path}[]." if field.repeated else f"{path}.")


class _Deriver:
    def __init__(self, event: EventContract, config: Config, table: str):
        self.event = event
        self.config = config
        self.table = table
        settings = config.events.get(event.name)
        self.settings = settings
        self.severity = (settings.severity if settings else None) or config.defaults.severity
        self.omits_defaults = config.payload.omits_defaults
        self.expectations: list[Expectation] = []

    def add(
        self,
        type_: str,
        origin: Origin,
        check: str,
        key: str,
        description: str,
        severity: Severity | None = None,
        loc: tuple[str | int, ...] = (),
        **kwargs: Any,
    ) -> None:
        self.expectations.append(
            Expectation(
                type_, kwargs, origin, severity or self.severity, check, description, key, loc
            )
        )

    def config_origin(self, *loc: str | int) -> Origin:
        """A checks.yaml key as an origin: `checks.yaml#events.x.rules[0]`."""
        where = self.config.locate(*loc)
        return Origin(f"{where.path}#{dotted(loc)}", where)

    # -- what every event promises -------------------------------------------------------------

    def envelope_checks(self) -> None:
        event = self.event
        here = _contract_origin(event.location, event.symbol)
        message = _contract_origin(event.message_location, event.message_symbol)
        skew = self.config.defaults.future_skew
        skew_origin = (
            self.config_origin("defaults", "future_skew")
            if "future_skew" in self.config.defaults.model_fields_set
            else here
        )
        self.add(
            "expect_column_values_to_not_be_null", here, "event_id", "event_id.not_null",
            "every event has an event_id", column="event_id",
        )  # fmt: skip
        self.add(
            "expect_column_values_to_be_unique", here, "event_id", "event_id.unique",
            "event_id is unique in the window", column="event_id",
        )  # fmt: skip
        self.add(
            "expect_column_values_to_not_be_null", here, "event_timestamp",
            "event_timestamp.not_null", "every event has an event_timestamp",
            column="event_timestamp",
        )  # fmt: skip
        self.add(
            "expect_column_values_to_be_between",
            skew_origin,
            "event_timestamp",
            "event_timestamp.not_future",
            f"event_timestamp is not later than the end of the window plus {format_duration(skew)}",
            column="event_timestamp",
            max_value={"$PARAMETER": f"until_plus_{format_duration(skew)}"},
        )
        self.add(
            "expect_column_values_to_be_in_set", message, "payload", "payload.json_object",
            f"the payload is a JSON object ({event.message.rsplit('.', 1)[-1]})",
            column=json_type_column_of_payload(), value_set=["object"],
        )  # fmt: skip
        self.add(
            "expect_column_values_to_be_in_set",
            message,
            "undeclared_keys",
            "payload.undeclared_keys",
            f"payload keys are declared in {event.message.rsplit('.', 1)[-1]} (schema drift)",
            column=keys_column(None),
            value_set=sorted(f.name for f in event.fields),
        )

    # -- what the contract promises, field by field --------------------------------------------

    def field_checks(self, fields: tuple[Field, ...], prefix: str, parent: str | None) -> None:
        for field in fields:
            self.field(field, f"{prefix}{field.name}", parent)

    def field(self, field: Field, path: str, parent: str | None) -> None:
        here = _contract_origin(field.location, field.symbol)
        kind = json_type_column(path)
        name = field_column(path)  # ids name a field like its column: `payload.event_id`
        required = not field.nullable
        proto = field.proto_type
        # Fields inside an object are checked only where the parent is an object.
        extra: dict[str, Any] = (
            {"row_condition": _comparison(json_type_column(parent), "==", "object")}
            if parent
            else {}
        )
        if required and not self.omits_defaults:
            self.add(
                "expect_column_values_to_not_be_null", here, "present", f"{name}.present",
                f"{path} is present" + (f" whenever {parent} is" if parent else ""),
                column=kind, **extra,
            )  # fmt: skip
        if required:
            self.add(
                "expect_column_values_to_not_be_in_set", here, "not_null", f"{name}.not_null",
                f"{path} is never null ({proto} is not nullable)",
                column=kind, value_set=["null"],
            )  # fmt: skip
        if field.repeated:
            self.add(
                "expect_column_values_to_be_in_set", here, "type", f"{name}.type",
                f"{path} is an array (repeated {proto})", column=kind, value_set=["array"],
            )  # fmt: skip
            element = f"{path}[]"
            self.add(
                "expect_column_values_to_not_be_in_set", here, "not_null",
                f"{field_column(element)}.not_null", f"elements of {path} are never null",
                column=json_type_column(element), value_set=["null"],
            )  # fmt: skip
            self.value(field, element, here)
            return
        self.value(field, path, here)

    def value(self, field: Field, path: str, here: Origin) -> None:
        """Checks on one value (a field, or one element of a repeated field)."""
        proto, value_type = field.proto_type, field.value_type
        kind = json_type_column(path)
        name = field_column(path)
        if value_type.is_scalar:
            self.add(
                "expect_column_values_to_not_be_null", here, "type", f"{name}.type",
                f"{path} is a valid {proto} when set",
                column=field_column(path), row_condition=_comparison(kind, "!=", "null"),
            )  # fmt: skip
            if value_type == ValueType.ENUM:
                self.add(
                    "expect_column_values_to_be_in_set", here, "enum", f"{name}.in_enum",
                    f"{path} is a value name of {proto}",
                    column=field_column(path), value_set=list(field.enum_values),
                )  # fmt: skip
            return
        kinds = _KINDS.get(value_type) or _JSON_KINDS.get(proto)
        if kinds:
            allowed = [*kinds, "null"] if field.nullable and not field.repeated else list(kinds)
            self.add(
                "expect_column_values_to_be_in_set", here, "type", f"{name}.type",
                f"{path} is a JSON {' or '.join(kinds)} ({proto})",
                column=kind, value_set=allowed,
            )  # fmt: skip
        if value_type == ValueType.MESSAGE:
            self.add(
                "expect_column_values_to_be_in_set", here, "undeclared_keys",
                f"{name}.undeclared_keys",
                f"keys of {path} are declared in {proto.rsplit('.', 1)[-1]} (schema drift)",
                column=keys_column(path), value_set=sorted(f.name for f in field.fields),
            )  # fmt: skip
            self.field_checks(field.fields, f"{path}.", path)

    # -- what the user's rules promise ---------------------------------------------------------

    def rule_checks(self, paths: _Paths) -> None:
        if self.settings is None:
            return
        for index, rule in enumerate(self.settings.rules):
            loc: tuple[str | int, ...] = ("events", self.event.name, "rules", index, rule.kind)
            self.rule(rule, paths, self.config_origin(*loc[:-1]), loc)

    def rule(self, rule: Rule, paths: _Paths, origin: Origin, loc: tuple[str | int, ...]) -> None:
        severity = rule.severity or self.severity
        spec = rule.spec
        check = f"rule:{rule.kind}"
        where = self.config.locate(*loc)

        def column(path: str, key: str, allowed: set[ValueType] | None = None) -> str:
            field = paths.resolve(path, self.config.locate(*loc, key), (*loc, key))
            element = path.endswith("[]")
            if field.repeated and not element:
                raise ConfigError(
                    f"{dotted((*loc, key))}: {path!r} is repeated; write {path + '[]'!r} "
                    "to check its elements",
                    location=self.config.locate(*loc, key),
                )
            if allowed is not None and field.value_type not in allowed:
                names = ", ".join(sorted(v.value for v in allowed))
                raise ConfigError(
                    f"{dotted((*loc, key))}: {path!r} is {field.proto_type}; "
                    f"this rule needs one of: {names}",
                    location=self.config.locate(*loc, key),
                )
            return field_column(path)

        def add(type_: str, about: str, description: str, **kwargs: Any) -> None:
            """Add the rule's expectation; `about` names what it checks, for its id."""
            key = f"rule.{rule.kind}.{about}" if about else f"rule.{rule.kind}"
            description = rule.description or description
            self.add(type_, origin, check, key, description, severity, loc, **kwargs)

        scalar = {v for v in ValueType if v.is_scalar}
        if isinstance(spec, Compare):
            left, right = column(spec.left, "left", scalar), column(spec.right, "right", scalar)
            if relation_of(left) != relation_of(right):
                raise ConfigError(
                    f"{dotted(loc)}: {spec.left!r} and {spec.right!r} are in different "
                    "repeated fields and cannot be compared row by row",
                    location=where,
                )
            text = f"{spec.left} {spec.op} {spec.right}"
            about = f"{spec.left}{spec.op}{spec.right}"
            if spec.op == "!=":
                add(
                    "unexpected_rows_expectation", about, text,
                    unexpected_rows_query=(
                        f"SELECT * FROM {{batch}} WHERE {quote_identifier(left)} = "
                        f"{quote_identifier(right)}"
                    ),
                )  # fmt: skip
            elif spec.op == "==":
                add(
                    "expect_column_pair_values_to_be_equal", about, text,
                    column_A=left, column_B=right,
                    ignore_row_if="either_value_is_missing",
                )  # fmt: skip
            else:
                a, b = (left, right) if spec.op in (">", ">=") else (right, left)
                add(
                    "expect_column_pair_values_a_to_be_greater_than_b", about, text,
                    column_A=a, column_B=b, or_equal=spec.op in (">=", "<="),
                    ignore_row_if="either_value_is_missing",
                )  # fmt: skip
        elif isinstance(spec, Between):
            target = column(spec.field, "field", _NUMERIC)
            add(
                "expect_column_values_to_be_between",
                spec.field,
                f"{spec.field} between {spec.min if spec.min is not None else '-inf'} "
                f"and {spec.max if spec.max is not None else 'inf'}",
                column=target, **_bounds(spec.min, spec.max),
            )  # fmt: skip
        elif isinstance(spec, InSet):
            field = paths.resolve(spec.field, where, (*loc, "field"))
            target = column(spec.field, "field", scalar)
            if field.value_type == ValueType.ENUM:
                unknown = [v for v in spec.values if v not in field.enum_values]
                if unknown:
                    close = difflib.get_close_matches(str(unknown[0]), field.enum_values, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise ConfigError(
                        f"{dotted((*loc, 'values'))}: {unknown[0]!r} is not a value of "
                        f"{field.proto_type}{hint}",
                        location=self.config.locate(*loc, "values"),
                    )
            add(
                "expect_column_values_to_be_in_set",
                spec.field,
                f"{spec.field} is one of {', '.join(map(str, spec.values))}",
                column=target, value_set=list(spec.values),
            )  # fmt: skip
        elif isinstance(spec, Matches):
            textual = {ValueType.STRING, ValueType.ENUM, ValueType.BYTES, ValueType.DURATION}
            add(
                "expect_column_values_to_match_regex", spec.field,
                f"{spec.field} matches {spec.pattern}",
                column=column(spec.field, "field", textual), regex=spec.pattern,
            )  # fmt: skip
        elif isinstance(spec, Unique):
            targets = [column(p, "fields", scalar) for p in spec.fields]
            if len({relation_of(t) for t in targets}) > 1:
                raise ConfigError(
                    f"{dotted(loc)}: fields of different repeated fields cannot be unique together",
                    location=where,
                )
            if len(targets) == 1:
                add(
                    "expect_column_values_to_be_unique", spec.fields[0],
                    f"{spec.fields[0]} is unique",
                    column=targets[0],
                )  # fmt: skip
            else:
                add(
                    "expect_compound_columns_to_be_unique",
                    "+".join(spec.fields),
                    f"({', '.join(spec.fields)}) is unique in the window",
                    column_list=targets,
                )  # fmt: skip
        elif isinstance(spec, MaxNullFraction):
            add(
                "expect_column_proportion_of_non_null_values_to_be_between",
                spec.field,
                f"at most {spec.max:.0%} of {spec.field} is null or missing",
                column=column(spec.field, "field"), min_value=_number(round(1 - spec.max, 12)),
            )  # fmt: skip
        elif isinstance(spec, RowCount):
            add(
                "expect_table_row_count_to_be_between",
                "",
                f"the window holds {spec.min if spec.min is not None else 0} to "
                f"{spec.max if spec.max is not None else 'any number of'} events",
                **_bounds(spec.min, spec.max),
            )  # fmt: skip
        elif isinstance(spec, Freshness):
            target = (
                column(spec.field, "field", {ValueType.TIMESTAMP})
                if spec.field
                else "event_timestamp"
            )
            age = format_duration(spec.max_age)
            add(
                "expect_column_max_to_be_between",
                spec.field or "",
                f"the newest {spec.field or 'event'} is at most {age} old at the end of the window",
                column=target, min_value={"$PARAMETER": f"until_minus_{age}"},
            )  # fmt: skip
        elif isinstance(spec, GXExpectation):
            kwargs = dict(spec.kwargs)
            named = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
            if isinstance(kwargs.get("column_list"), list):
                named += kwargs["column_list"]
            about = ".".join([spec.type, *(str(c) for c in named if c is not None)])
            for key in ("column", "column_A", "column_B"):
                if isinstance(kwargs.get(key), str) and kwargs[key] not in (
                    "event_id", "event_timestamp", "event_name",
                ):  # fmt: skip
                    kwargs[key] = column(kwargs[key], "kwargs")
            if isinstance(kwargs.get("column_list"), list):
                kwargs["column_list"] = [column(c, "kwargs") for c in kwargs["column_list"]]
            add(spec.type, about, spec.type.removeprefix("expect_").replace("_", " "), **kwargs)
        elif isinstance(spec, CustomSQL):
            add(
                "unexpected_rows_expectation", "", "custom SQL returns no rows",
                unexpected_rows_query=spec.query.strip(),
            )  # fmt: skip

    def sensitive_columns(self, paths: _Paths) -> list[str]:
        declared = set(_sensitive(self.event.fields, ""))
        if self.settings:
            for index, path in enumerate(self.settings.sensitive_fields):
                loc = ("events", self.event.name, "sensitive_fields", index)
                paths.resolve(path, self.config.locate(*loc), loc)
                declared.add(path)
        return sorted(field_column(p) for p in declared)


def json_type_column_of_payload() -> str:
    """`json_type(payload)`: `invalid` for text that is not JSON, `null` for a missing payload."""
    return f"json_type({ROOT})"


def _bounds(low: float | None, high: float | None) -> dict[str, int | float]:
    """GX `min_value`/`max_value` kwargs for the bounds that are set."""
    pairs = (("min_value", low), ("max_value", high))
    return {key: _number(value) for key, value in pairs if value is not None}


def _number(value: float) -> int | float:
    """Whole numbers stay integers in suite JSON (`1`, not `1.0`)."""
    return int(value) if float(value).is_integer() else value


def _contract_origin(location: Location, symbol: str) -> Origin:
    """A .proto declaration as an origin: `contracts/x.proto#Thing.a` (no line: comments move)."""
    return Origin(f"{location.path}#{symbol}" if symbol else location.path, location)


def _comparison(column: str, operator: str, value: str) -> dict[str, Any]:
    """A GX row condition `column <operator> value`, in GX's JSON form."""
    return {
        "type": "comparison",
        "column": {"name": column},
        "operator": operator,
        "parameter": value,
    }


def _check_ids(expectations: list[Expectation]) -> list[str]:
    """Each expectation's id: its readable key, made unique within the suite.

    Keys that two expectations share get a short hash of the expectation's type and kwargs, so
    ids never depend on order; a rule that repeats another exactly is a config error.
    """
    repeated = {key for key, n in Counter(e.key for e in expectations).items() if n > 1}
    ids = [
        f"{e.key}@{hashlib.sha256(e.canonical().encode()).hexdigest()[:8]}"
        if e.key in repeated
        else e.key
        for e in expectations
    ]
    seen: dict[str, Expectation] = {}
    for check_id, expectation in zip(ids, expectations, strict=True):
        other = seen.setdefault(check_id, expectation)
        if other is not expectation:
            if not expectation.loc:  # two contract checks alike would be a derivation bug
                raise AssertionError(f"two expectations share the id {check_id!r}")
            raise ConfigError(
                f"{dotted(expectation.loc[:-1])}: repeats {dotted(other.loc[:-1])} "
                "(the same check twice); remove one",
                location=expectation.origin.location,
            )
    return ids


def _written(expectation: Expectation, check_id: str) -> dict[str, Any]:
    """The expectation as written, its kwargs in GX's form (GX validates unusual ones)."""
    try:
        kwargs = canonical_kwargs(expectation.type, expectation.kwargs, expectation.description)
    except Exception as error:  # GX validates kwargs with pydantic; report, never crash
        if not expectation.loc:
            raise
        first = str(error).strip().splitlines()
        raise ConfigError(
            f"{dotted(expectation.loc)}: Great Expectations rejects {expectation.type}: "
            + " ".join(line.strip() for line in first[:4]),
            location=expectation.origin.location,
        ) from None
    return expectation.to_json(check_id, kwargs)


def derive_suite(
    event: EventContract, config: Config, table: str, envelope: Envelope | None = None
) -> DerivedSuite:
    """The Great Expectations suite for one event: contract checks first, then the user's rules.

    The suite is GX's JSON document (`ExpectationSuite.to_json_dict()` without ids), so
    deriving it never imports great_expectations unless a user's raw expectation needs GX.
    """
    deriver = _Deriver(event, config, table)
    paths = _Paths(event)
    deriver.envelope_checks()
    deriver.field_checks(event.fields, "", None)
    deriver.rule_checks(paths)
    ids = _check_ids(deriver.expectations)
    expectations = [_written(e, i) for e, i in zip(deriver.expectations, ids, strict=True)]
    meta = {
        "eventqa": {
            "event": event.name,
            "table": table,
            "envelope": event.envelope,
            "message": event.message,
            "owner": event.owner,
            "description": event.description,
            "contract": _contract_origin(event.location, event.symbol).text,
            "envelope_location": (
                _contract_origin(envelope.location, envelope.name).text if envelope else None
            ),
            "columns": _typed_columns(event.fields, "", {}),
            "sensitive": deriver.sensitive_columns(paths),
            "future_skew": format_duration(config.defaults.future_skew),
            "payload": config.payload.model_dump(mode="json"),
        }
    }
    suite = {
        "name": f"{table}.{event.name}",
        "expectations": expectations,
        "meta": meta,
        "notes": None,
    }
    return DerivedSuite(table=table, event=event.name, suite=suite)


def derive_suites(contracts: ContractSet, config: Config) -> list[DerivedSuite]:
    """Every event's suite, after checking that checks.yaml only names events that exist."""
    problems: list[ConfigError] = []
    for name in config.events:
        if name not in contracts.events:
            close = difflib.get_close_matches(name, list(contracts.events), n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            problems.append(
                ConfigError(
                    f"events.{name}: unknown event {name!r}{hint}",
                    location=config.locate("events", name),
                )
            )
    problems += config.volume_event_errors(set(contracts.events))
    suites = []
    for event in contracts.events.values():
        try:
            envelope = contracts.envelopes[event.envelope]
            table = config.table_for(event.envelope)
            suites.append(derive_suite(event, config, table, envelope))
        except ConfigError as error:
            problems.append(error)
    if problems:
        problems.sort(key=lambda p: (p.location.line or 0) if p.location else 0)
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
    return suites
