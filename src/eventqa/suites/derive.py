"""Derive a Great Expectations suite from an event contract and the user's rules (a pure function).

Every expectation carries `meta.origin` (the .proto or checks.yaml line it comes from),
`meta.severity` (`error` or `warn`) and `meta.check` (what kind of promise it enforces), so a
failure can always be traced back to the line that made the promise.
"""

from __future__ import annotations

import difflib
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
from eventqa.contracts.model import ContractSet, EventContract, Field, ValueType
from eventqa.errors import ConfigError, ConfigErrors, Location
from eventqa.suites.columns import (
    ROOT,
    field_column,
    json_type_column,
    keys_column,
    quote_identifier,
    relation_of,
)

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
class Expectation:
    """One expectation before it becomes a GX object: its type, kwargs and provenance."""

    type: str
    kwargs: dict[str, Any]
    origin: Location
    severity: Severity
    check: str
    description: str
    loc: tuple[str | int, ...] = ()  # where in checks.yaml a rule's expectation comes from

    def to_gx(self) -> Any:
        """Build the Great Expectations expectation (GX validates the kwargs)."""
        from great_expectations.expectations.metadata_types import FailureSeverity
        from great_expectations.expectations.registry import get_expectation_impl

        impl = get_expectation_impl(self.type)
        meta = {
            "origin": f"{self.origin.path}:{self.origin.line}",
            "severity": self.severity.value,
            "check": self.check,
        }
        return impl(
            **self.kwargs,
            meta=meta,
            description=self.description,
            severity=FailureSeverity(_GX_SEVERITY[self.severity]),
        )


@dataclass(frozen=True)
class DerivedSuite:
    """An event's suite, ready to be written to `expectations/<table>/<event>.json`."""

    table: str
    event: str
    suite: Any  # great_expectations.core.ExpectationSuite

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
        origin: Location,
        check: str,
        description: str,
        severity: Severity | None = None,
        loc: tuple[str | int, ...] = (),
        **kwargs: Any,
    ) -> None:
        self.expectations.append(
            Expectation(type_, kwargs, origin, severity or self.severity, check, description, loc)
        )

    # -- what every event promises -------------------------------------------------------------

    def envelope_checks(self) -> None:
        event, here = self.event, self.event.location
        skew = self.config.defaults.future_skew
        skew_origin = (
            self.config.locate("defaults", "future_skew")
            if "future_skew" in self.config.defaults.model_fields_set
            else here
        )
        self.add(
            "expect_column_values_to_not_be_null", here, "event_id",
            "every event has an event_id", column="event_id",
        )  # fmt: skip
        self.add(
            "expect_column_values_to_be_unique", here, "event_id",
            "event_id is unique in the window", column="event_id",
        )  # fmt: skip
        self.add(
            "expect_column_values_to_not_be_null", here, "event_timestamp",
            "every event has an event_timestamp", column="event_timestamp",
        )  # fmt: skip
        self.add(
            "expect_column_values_to_be_between",
            skew_origin,
            "event_timestamp",
            f"event_timestamp is not later than the end of the window plus {format_duration(skew)}",
            column="event_timestamp",
            max_value={"$PARAMETER": f"until_plus_{format_duration(skew)}"},
        )
        self.add(
            "expect_column_values_to_be_in_set", event.message_location, "payload",
            f"the payload is a JSON object ({event.message.rsplit('.', 1)[-1]})",
            column=json_type_column_of_payload(), value_set=["object"],
        )  # fmt: skip
        self.add(
            "expect_column_values_to_be_in_set",
            event.message_location,
            "undeclared_keys",
            f"payload keys are declared in {event.message.rsplit('.', 1)[-1]} (schema drift)",
            column=keys_column(None),
            value_set=sorted(f.name for f in event.fields),
        )

    # -- what the contract promises, field by field --------------------------------------------

    def field_checks(self, fields: tuple[Field, ...], prefix: str, parent: str | None) -> None:
        for field in fields:
            self.field(field, f"{prefix}{field.name}", parent)

    def _condition(self, parent: str | None) -> Any:
        """Row condition for fields inside an object: only where the parent is an object."""
        if parent is None:
            return None
        from great_expectations.expectations.row_conditions import Column

        return Column(json_type_column(parent)) == "object"

    def field(self, field: Field, path: str, parent: str | None) -> None:
        here = field.location
        kind = json_type_column(path)
        required = not field.nullable
        proto = field.proto_type
        extra = {"row_condition": self._condition(parent)} if parent else {}
        if required and not self.omits_defaults:
            self.add(
                "expect_column_values_to_not_be_null", here, "present",
                f"{path} is present" + (f" whenever {parent} is" if parent else ""),
                column=kind, **extra,
            )  # fmt: skip
        if required:
            self.add(
                "expect_column_values_to_not_be_in_set", here, "not_null",
                f"{path} is never null ({proto} is not nullable)",
                column=kind, value_set=["null"],
            )  # fmt: skip
        if field.repeated:
            self.add(
                "expect_column_values_to_be_in_set", here, "type",
                f"{path} is an array (repeated {proto})", column=kind, value_set=["array"],
            )  # fmt: skip
            element = f"{path}[]"
            self.add(
                "expect_column_values_to_not_be_in_set", here, "not_null",
                f"elements of {path} are never null",
                column=json_type_column(element), value_set=["null"],
            )  # fmt: skip
            self.value(field, element, here)
            return
        self.value(field, path, here)

    def value(self, field: Field, path: str, here: Location) -> None:
        """Checks on one value (a field, or one element of a repeated field)."""
        proto, value_type = field.proto_type, field.value_type
        kind = json_type_column(path)
        if value_type.is_scalar:
            from great_expectations.expectations.row_conditions import Column

            self.add(
                "expect_column_values_to_not_be_null", here, "type",
                f"{path} is a valid {proto} when set",
                column=field_column(path), row_condition=Column(kind) != "null",
            )  # fmt: skip
            if value_type == ValueType.ENUM:
                self.add(
                    "expect_column_values_to_be_in_set", here, "enum",
                    f"{path} is a value name of {proto}",
                    column=field_column(path), value_set=list(field.enum_values),
                )  # fmt: skip
            return
        kinds = _KINDS.get(value_type) or _JSON_KINDS.get(proto)
        if kinds:
            allowed = [*kinds, "null"] if field.nullable and not field.repeated else list(kinds)
            self.add(
                "expect_column_values_to_be_in_set", here, "type",
                f"{path} is a JSON {' or '.join(kinds)} ({proto})",
                column=kind, value_set=allowed,
            )  # fmt: skip
        if value_type == ValueType.MESSAGE:
            self.add(
                "expect_column_values_to_be_in_set", here, "undeclared_keys",
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
            where = self.config.locate(*loc)
            self.rule(rule, paths, where, loc)

    def rule(self, rule: Rule, paths: _Paths, where: Location, loc: tuple[str | int, ...]) -> None:
        severity = rule.severity or self.severity
        spec = rule.spec
        check = f"rule:{rule.kind}"

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

        def add(type_: str, description: str, **kwargs: Any) -> None:
            self.add(type_, where, check, rule.description or description, severity, loc, **kwargs)

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
            if spec.op == "!=":
                add(
                    "unexpected_rows_expectation", text,
                    unexpected_rows_query=(
                        f"SELECT * FROM {{batch}} WHERE {quote_identifier(left)} = "
                        f"{quote_identifier(right)}"
                    ),
                )  # fmt: skip
            elif spec.op == "==":
                add(
                    "expect_column_pair_values_to_be_equal", text, column_A=left, column_B=right,
                    ignore_row_if="either_value_is_missing",
                )  # fmt: skip
            else:
                a, b = (left, right) if spec.op in (">", ">=") else (right, left)
                add(
                    "expect_column_pair_values_a_to_be_greater_than_b", text,
                    column_A=a, column_B=b, or_equal=spec.op in (">=", "<="),
                    ignore_row_if="either_value_is_missing",
                )  # fmt: skip
        elif isinstance(spec, Between):
            target = column(spec.field, "field", _NUMERIC)
            add(
                "expect_column_values_to_be_between",
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
                f"{spec.field} is one of {', '.join(map(str, spec.values))}",
                column=target, value_set=list(spec.values),
            )  # fmt: skip
        elif isinstance(spec, Matches):
            textual = {ValueType.STRING, ValueType.ENUM, ValueType.BYTES, ValueType.DURATION}
            add(
                "expect_column_values_to_match_regex", f"{spec.field} matches {spec.pattern}",
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
                    "expect_column_values_to_be_unique", f"{spec.fields[0]} is unique",
                    column=targets[0],
                )  # fmt: skip
            else:
                add(
                    "expect_compound_columns_to_be_unique",
                    f"({', '.join(spec.fields)}) is unique in the window",
                    column_list=targets,
                )  # fmt: skip
        elif isinstance(spec, MaxNullFraction):
            add(
                "expect_column_proportion_of_non_null_values_to_be_between",
                f"at most {spec.max:.0%} of {spec.field} is null or missing",
                column=column(spec.field, "field"), min_value=_number(round(1 - spec.max, 12)),
            )  # fmt: skip
        elif isinstance(spec, RowCount):
            add(
                "expect_table_row_count_to_be_between",
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
                f"the newest {spec.field or 'event'} is at most {age} old at the end of the window",
                column=target, min_value={"$PARAMETER": f"until_minus_{age}"},
            )  # fmt: skip
        elif isinstance(spec, GXExpectation):
            kwargs = dict(spec.kwargs)
            for key in ("column", "column_A", "column_B"):
                if isinstance(kwargs.get(key), str) and kwargs[key] not in (
                    "event_id", "event_timestamp", "event_name",
                ):  # fmt: skip
                    kwargs[key] = column(kwargs[key], "kwargs")
            if isinstance(kwargs.get("column_list"), list):
                kwargs["column_list"] = [column(c, "kwargs") for c in kwargs["column_list"]]
            add(spec.type, spec.type.removeprefix("expect_").replace("_", " "), **kwargs)
        elif isinstance(spec, CustomSQL):
            add(
                "unexpected_rows_expectation", "custom SQL returns no rows",
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


def derive_suite(
    event: EventContract, config: Config, table: str, envelope: Location | None = None
) -> DerivedSuite:
    """The Great Expectations suite for one event: contract checks first, then the user's rules."""
    from great_expectations.core import ExpectationSuite

    deriver = _Deriver(event, config, table)
    paths = _Paths(event)
    deriver.envelope_checks()
    deriver.field_checks(event.fields, "", None)
    deriver.rule_checks(paths)
    expectations = []
    for expectation in deriver.expectations:
        try:
            expectations.append(expectation.to_gx())
        except Exception as error:  # GX validates kwargs with pydantic; report, never crash
            if not expectation.loc:
                raise
            first = str(error).strip().splitlines()
            raise ConfigError(
                f"{dotted(expectation.loc)}: Great Expectations rejects {expectation.type}: "
                + " ".join(line.strip() for line in first[:4]),
                location=expectation.origin,
            ) from None
    meta = {
        "eventqa": {
            "event": event.name,
            "table": table,
            "envelope": event.envelope,
            "message": event.message,
            "owner": event.owner,
            "description": event.description,
            "contract": f"{event.location.path}:{event.location.line}",
            "envelope_location": f"{envelope.path}:{envelope.line}" if envelope else None,
            "columns": _typed_columns(event.fields, "", {}),
            "sensitive": deriver.sensitive_columns(paths),
            "future_skew": format_duration(config.defaults.future_skew),
            "payload": config.payload.model_dump(mode="json"),
        }
    }
    suite = ExpectationSuite(name=f"{table}.{event.name}", expectations=expectations, meta=meta)
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
    suites = []
    for event in contracts.events.values():
        try:
            envelope = contracts.envelopes[event.envelope]
            table = config.table_for(event.envelope)
            suites.append(derive_suite(event, config, table, envelope.location))
        except ConfigError as error:
            problems.append(error)
    if problems:
        problems.sort(key=lambda p: (p.location.line or 0) if p.location else 0)
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
    return suites
