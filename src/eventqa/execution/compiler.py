"""Compile Great Expectations expectations into SQL aggregates over an event's projection.

Each expectation eventqa emits becomes a few aggregates over its relation (one row per event, per
element or per key), a predicate selecting its failing rows (samples, reproduction SQL), and a
function that turns the aggregates into GX's own result fields. The arithmetic mirrors GX's
(`_format_map_output`, `_mostly_success`, `_validate_metric_value_between`); a differential test
holds the two engines to the same answers. Types the compiler does not know return None and run
through GX's engine instead.

Where the dialect has a bounded "smallest n values" aggregate, a check also carries its samples in
its own aggregates (`Compiled.inline`): the table statement then returns them with the counts, and
the samples statement runs only for the checks whose inline values cannot be known to be complete.

Each aggregate is kept as data (`Aggregate`: a function, its argument, the rendered SQL), so the
same check runs either as its own SQL over its relation or, where the warehouse fuses a table's
events into one pipeline (`fused`), as a field of that pipeline. Column references go through
`Compiler.ref`, which is where the two differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from eventqa.execution.projection import is_timestamp
from eventqa.suites.columns import quote_identifier, relation_of
from eventqa.warehouse.dialect import DialectSQL

SAMPLE_SIZE = 20
# Failing values a check reads in the table statement itself (with repeats, smallest first):
# enough that repeated values rarely hide the 20 distinct ones a sample shows.
INLINE_VALUES = 100


@dataclass(frozen=True)
class Outcome:
    """What GX would report for an expectation: success and its SUMMARY result fields."""

    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None


@dataclass(frozen=True)
class Aggregate:
    """One value a check reads from its relation: `sql`, and what it is made of.

    `function` is COUNT (non-null `argument`s, or rows for `*`), COUNT_IF (rows where the
    condition `argument` holds), SUM, MIN, MAX or SMALLEST (the `limit` smallest values, a list),
    each over an expression of the relation's columns; `family` names the SQL type of MIN, MAX
    and SMALLEST arguments (integer, double, text, boolean). DUPLICATES (rows whose `keys` occur
    more than once, with `sampled`: the JSON of a duplicated value) and ROWS (a row rule's
    subquery, `argument` its query over `{relation}`) read the relation again.
    """

    sql: str
    function: str
    argument: str = "*"
    family: str = ""
    limit: int | None = None
    keys: tuple[str, ...] = ()
    sampled: str | None = None


@dataclass
class Compiled:
    """One expectation as SQL over its relation `r` (aggregates) and its rows (`failing`)."""

    position: int
    expectation: dict[str, Any]
    grain: str
    parts: list[Aggregate]
    judge: Callable[[list[Any]], Outcome]
    failing: str | None = None  # predicate over the relation's rows: the rows that fail
    sample: str | None = None  # what to show of a failing row (a column), when values help
    windows: list[str] = field(default_factory=list)  # window columns the relation must add
    columns: list[str] = field(default_factory=list)  # projection columns its samples read
    # The samples carried by its own aggregates: (JSON texts, complete), where complete means they
    # are exactly the SAMPLE_SIZE smallest distinct failing values a samples statement would fetch.
    inline: Callable[[list[Any]], tuple[list[str], bool]] | None = None

    @property
    def aggregates(self) -> list[str]:
        """The SQL of each aggregate, over `{relation}`."""
        return [part.sql for part in self.parts]


def _count(condition: str) -> Aggregate:
    return Aggregate(f"COUNT(CASE WHEN {condition} THEN 1 END)", "COUNT_IF", condition)


def _count_star() -> Aggregate:
    return Aggregate("COUNT(*)", "COUNT")


def _of(function: str, argument: str, family: str = "") -> Aggregate:
    return Aggregate(f"{function}({argument})", function, argument, family)


def _duplicates(columns: list[str], sampled: tuple[str, str] | None = None) -> Aggregate:
    """Rows whose (non-null) values occur more than once in the relation.

    A grouped subquery rather than a window over the relation: it reads only these columns, and
    its state is one entry per distinct value, not a copy of every row. With `sampled` (the JSON
    of a group's value, as `v`, and what to select over the groups), the same grouping also
    returns the duplicated values: `[count, samples]`.
    """
    listed = ", ".join(columns)
    present = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    grouped = f"FROM {{relation}} WHERE {present} GROUP BY {listed} HAVING COUNT(*) > 1"
    if sampled is None:
        text = f"(SELECT COALESCE(SUM(n), 0) FROM (SELECT COUNT(*) AS n {grouped}) AS duplicated)"
        return Aggregate(text, "DUPLICATES", keys=tuple(columns))
    value, selected = sampled
    text = f"(SELECT {selected} FROM (SELECT COUNT(*) AS n, {value} AS v {grouped}) AS duplicated)"
    return Aggregate(text, "DUPLICATES", keys=tuple(columns), sampled=value)


def _unpacked(judge: Callable[[list[Any]], Outcome], at: int) -> Callable[[list[Any]], Outcome]:
    """`judge` for aggregates whose value at `at` packs a count with samples: it sees the count."""

    def unpacked(values: list[Any]) -> Outcome:
        return judge([*values[:at], _pack(values[at])[0], *values[at + 1 :]])

    return unpacked


def _complete(found: list[str], largest: Any) -> bool:
    """Whether the INLINE_VALUES smallest failing values (repeats kept) hold the sample exactly.

    They do when they are all the failing values, when they hold SAMPLE_SIZE distinct ones, or
    when the largest failing value is among them (every smaller one is then there too).
    """
    return len(found) < INLINE_VALUES or len(set(found)) >= SAMPLE_SIZE or found[-1] == largest


def _smallest(at: int, values: list[Any]) -> tuple[list[str], bool]:
    """Inline samples from two aggregates: the smallest failing values and the largest."""
    found = [str(v) for v in values[at] or []]
    return found, _complete(found, values[at + 1])


def _pack(value: Any) -> list[Any]:
    """A subquery's `[count, samples...]` (JSON text, as a dialect's json_array returns it)."""
    return json.loads(value) if isinstance(value, str) else [value, None]


def _packed(at: int, values: list[Any]) -> tuple[list[str], bool]:
    """Inline samples from a `[count, smallest, largest]` (or `[count, samples]`) aggregate."""
    packed = _pack(values[at])
    found = [str(v) for v in packed[1] or []]
    return found, len(packed) < 3 or _complete(found, packed[2])


def sample_json(
    column: str, types: dict[str, str], sql: DialectSQL, ref: Callable[[str], str] | None = None
) -> str:
    """A column's value as the JSON text a sample carries (timestamps as epoch microseconds)."""
    value = (ref or quote_identifier)(column)
    return sql.to_json(sql.epoch_us(value) if is_timestamp(column, types) else value)


def _mostly(considered: int, unexpected: int, mostly: float) -> bool:
    return (considered - unexpected) / considered >= mostly


def _percent(part: int, whole: int | None) -> float | None:
    return part / whole * 100 if whole else None


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _between(value: Any, kwargs: dict[str, Any], low: Any, high: Any) -> bool:
    """GX's `_validate_metric_value_between`, for values already in comparable types."""
    if value is None:
        return False
    above = low is None or (value > low if kwargs.get("strict_min") else value >= low)
    below = high is None or (value < high if kwargs.get("strict_max") else value <= high)
    return bool(above and below)


# The SQL type family of a typed column's values, by proto value type (`Aggregate.family`).
_FAMILIES = {
    "int32": "integer", "int64": "integer", "uint32": "integer", "uint64": "integer",
    "float": "double", "double": "double", "bool": "boolean", "timestamp": "integer",
}  # fmt: skip


class Compiler:
    """Compiles one suite's expectations in a warehouse's dialect.

    `ref` turns a projection column's name into SQL: the quoted name of a column of the event's
    relation by default, or an expression of a fused pipeline's columns. `constant`, where given,
    stands in for each constant a check compares with (a value, a bound, a set as a list), given
    its SQL literal and value: a fused pipeline evaluates one expression for every event whose
    checks differ only in their constants, reading each event's own.
    """

    def __init__(
        self,
        suite: dict[str, Any],
        sql: DialectSQL,
        parameters: dict[str, datetime],
        ref: Callable[[str], str] | None = None,
        constant: Callable[[str, Any], str] | None = None,
    ):
        self.sql = sql
        self.parameters = parameters
        self.types: dict[str, str] = suite["meta"]["eventqa"]["columns"]
        self.sensitive = set(suite["meta"]["eventqa"].get("sensitive", []))
        self.ref: Callable[[str], str] = ref or quote_identifier
        self.constant = constant

    # -- values --------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """A kwarg's value with suite parameters (`{"$PARAMETER": "until_plus_5m"}`) filled in."""
        if isinstance(value, dict) and "$PARAMETER" in value:
            return self.parameters[value["$PARAMETER"]]
        return value

    def literal(self, value: Any) -> str:
        """A Python value as a SQL literal of this dialect."""
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, datetime):
            return self.sql.timestamp_literal(value)
        return self.sql.literal(str(value))

    def value(self, value: Any) -> str:
        """A constant a check compares with: its literal, or the fused pipeline's stand-in."""
        literal = self.literal(value)
        return self.constant(literal, value) if self.constant else literal

    def membership(self, column: str, value_set: list[Any], inside: bool) -> str:
        """Whether `column` is (`inside`) or is not in a set of values, as SQL.

        Standard `IN`; a fused pipeline reads the set as one list constant instead (the same
        answer for a non-null value when the set holds no null).
        """
        values = [self.resolve(v) for v in value_set]
        if not values:
            return "FALSE" if inside else "TRUE"
        if self.constant and None not in values:
            listed = "[" + ", ".join(self.literal(v) for v in values) + "]"
            found = f"list_contains({self.constant(listed, values)}, {column})"
            return found if inside else f"NOT {found}"
        listed = ", ".join(self.literal(v) for v in values)
        return f"{column} {'IN' if inside else 'NOT IN'} ({listed})"

    def _is_timestamp(self, column: str) -> bool:
        return is_timestamp(column, self.types)

    def _family(self, column: str) -> str:
        """The SQL type family of a column's values, as they come back (`_observed`)."""
        if self._is_timestamp(column):
            return "integer"
        return _FAMILIES.get(self.types.get(column, ""), "text")

    def _observed(self, column: str) -> str:
        """A column's values as an aggregate returns them through JSON: timestamps as epoch µs."""
        value = self.ref(column)
        return self.sql.epoch_us(value) if self._is_timestamp(column) else value

    def _from_json(self, column: str, value: Any) -> Any:
        if value is not None and self._is_timestamp(column):
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(value))
        return _number(value)

    # -- domain --------------------------------------------------------------------------------

    def domain(self, kwargs: dict[str, Any]) -> str:
        """The rows an expectation considers: all, or those its `row_condition` selects."""
        condition = kwargs.get("row_condition")
        if not condition:
            return "TRUE"
        if not (isinstance(condition, dict) and condition.get("type") == "comparison"):
            raise _Unsupported
        operator = {"==": "=", "!=": "<>"}.get(condition["operator"], condition["operator"])
        if operator not in ("=", "<>", "<", "<=", ">", ">="):
            raise _Unsupported
        column = self.ref(condition["column"]["name"])
        return f"{column} {operator} {self.value(condition['parameter'])}"

    # -- expectations --------------------------------------------------------------------------

    def compile(self, position: int, expectation: dict[str, Any], grain: str) -> Compiled | None:
        """The expectation as SQL, or None when GX's engine must run it."""
        method = getattr(self, "_" + expectation["type"], None)
        if method is None:
            return None
        try:
            compiled: Compiled = method(position, expectation, grain, expectation["kwargs"])
        except _Unsupported:
            return None
        self._inline(compiled)
        return compiled

    def _inline(self, compiled: Compiled) -> None:
        """Carry a map check's samples in its own aggregates, where the dialect can bound them.

        The values are those the samples statement would fetch: the column's (never a sensitive
        one), or for a failed type check of a top-level field, the JSON text its type rejects.
        Checks with window columns (uniqueness) and row rules carry theirs in their own subquery.
        """
        kwargs, meta = compiled.expectation["kwargs"], compiled.expectation.get("meta") or {}
        columns = {kwargs.get("column"), *kwargs.get("column_list", [])} - {None}
        if compiled.inline or compiled.failing is None or compiled.windows:
            return
        if columns & self.sensitive:
            return
        reads: list[str] = []
        if compiled.sample is not None:
            value = sample_json(compiled.sample, self.types, self.sql, self.ref)
        elif meta.get("check") == "type" and relation_of(kwargs.get("column", "")) == "":
            reads = [f"nonconforming({kwargs['column']})"]
            value = self.sql.to_json(self.ref(reads[0]))
        else:
            return
        chosen = f"CASE WHEN {compiled.failing} THEN {value} END"
        smallest = self.sql.smallest(chosen, INLINE_VALUES)
        if smallest is None:
            return
        compiled.columns += reads
        compiled.inline = partial(_smallest, len(compiled.parts))
        compiled.parts += [
            Aggregate(smallest, "SMALLEST", chosen, "text", INLINE_VALUES),
            _of("MAX", chosen, "text"),
        ]

    def _map(
        self,
        position: int,
        expectation: dict[str, Any],
        grain: str,
        unexpected: str,
        *,
        nulls_count: bool = False,
        windows: list[str] | None = None,
        empty: int | None = None,
    ) -> Compiled:
        """A column map expectation: GX ignores nulls unless the check is about nulls."""
        kwargs = expectation["kwargs"]
        column = self.ref(kwargs["column"])
        domain = self.domain(kwargs)
        mostly = float(kwargs.get("mostly", 1.0))
        failing = f"({domain}) AND ({unexpected})"
        if not nulls_count:
            failing = f"({domain}) AND {column} IS NOT NULL AND ({unexpected})"
        parts = [
            _count(domain),
            _count(f"({domain}) AND {column} IS NULL"),
            _count(failing),
        ]

        def judge(values: list[Any]) -> Outcome:
            total, nulls, bad = (int(v or 0) for v in values[:3])
            considered = total if nulls_count else total - nulls
            success = total == 0 or considered == 0 or _mostly(considered, bad, mostly)
            percent = _percent(bad, considered) if total else None
            # GX's SUM over no rows is NULL: an empty window has no unexpected count at all.
            return Outcome(success, total, bad if total else empty, percent)

        return Compiled(
            position,
            expectation,
            grain,
            parts,
            judge,
            failing,
            kwargs["column"],
            windows or [],
        )

    def _expect_column_values_to_not_be_null(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        column = self.ref(kwargs["column"])
        compiled = self._map(position, expectation, grain, f"{column} IS NULL", nulls_count=True)
        compiled.sample = None  # the failing value is NULL by definition
        compiled.parts[2] = compiled.parts[1]  # its failing rows are its nulls: one count
        return compiled

    def _expect_column_values_to_be_in_set(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        column = self.ref(kwargs["column"])
        unexpected = self.membership(column, kwargs["value_set"], inside=False)
        return self._map(position, expectation, grain, unexpected)

    def _expect_column_values_to_not_be_in_set(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        column = self.ref(kwargs["column"])
        unexpected = self.membership(column, kwargs["value_set"], inside=True)
        return self._map(position, expectation, grain, unexpected)

    def _expect_column_values_to_be_between(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        column = self.ref(kwargs["column"])
        low, high = self.resolve(kwargs.get("min_value")), self.resolve(kwargs.get("max_value"))
        if low is None and high is None:
            raise _Unsupported
        outside = []
        if low is not None:
            operator = "<=" if kwargs.get("strict_min") else "<"
            outside.append(f"{column} {operator} {self.value(low)}")
        if high is not None:
            operator = ">=" if kwargs.get("strict_max") else ">"
            outside.append(f"{column} {operator} {self.value(high)}")
        return self._map(position, expectation, grain, " OR ".join(outside))

    def _expect_column_values_to_match_regex(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        column = self.ref(kwargs["column"])
        unexpected = f"NOT ({self.sql.regex_search(column, str(kwargs['regex']))})"
        return self._map(position, expectation, grain, unexpected)

    def _expect_column_values_to_be_unique(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition"):
            raise _Unsupported  # GX counts duplicates over the whole batch; keep it exact there
        column = self.ref(kwargs["column"])
        name = f"_dup{position}"
        window = f"COUNT({column}) OVER (PARTITION BY {column}) AS {name}"
        # GX counts duplicates with a subquery: 0, not NULL, over an empty window.
        compiled = self._map(position, expectation, grain, f"{name} > 1", windows=[window], empty=0)
        compiled.parts[2] = _duplicates([column])
        smallest = self.sql.smallest("v", SAMPLE_SIZE)
        if smallest is not None and kwargs["column"] not in self.sensitive:
            # The duplicated values come from the same grouping: distinct by construction.
            value = sample_json(kwargs["column"], self.types, self.sql, self.ref)
            selected = self.sql.json_array(["COALESCE(SUM(n), 0)", smallest])
            compiled.parts[2] = _duplicates([column], (value, selected))
            compiled.judge = _unpacked(compiled.judge, 2)
            compiled.inline = partial(_packed, 2)
        return compiled

    def _expect_compound_columns_to_be_unique(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition") or kwargs.get("ignore_row_if", "all_values_are_missing") != (
            "all_values_are_missing"
        ):
            raise _Unsupported
        columns = [self.ref(c) for c in kwargs["column_list"]]
        name = f"_dup{position}"
        window = f"COUNT(*) OVER (PARTITION BY {', '.join(columns)}) AS {name}"
        all_missing = " AND ".join(f"{c} IS NULL" for c in columns)
        # GX joins each row to its group's count on equality, so rows with any NULL never match.
        failing = " AND ".join(f"{c} IS NOT NULL" for c in columns) + f" AND {name} > 1"
        mostly = float(kwargs.get("mostly", 1.0))
        parts = [_count_star(), _count(all_missing), _duplicates(columns)]

        def judge(values: list[Any]) -> Outcome:
            total, missing, bad = (int(v or 0) for v in values)
            considered = total - missing
            success = total == 0 or considered == 0 or _mostly(considered, bad, mostly)
            percent = _percent(bad, considered) if total else None
            return Outcome(success, total, bad if total else None, percent)

        return Compiled(position, expectation, grain, parts, judge, failing, None, [window])

    def _aggregate_between(
        self,
        position: int,
        expectation: dict[str, Any],
        grain: str,
        parts: list[Aggregate],
        convert: Callable[[list[Any]], Any],
    ) -> Compiled:
        kwargs = expectation["kwargs"]
        low, high = self.resolve(kwargs.get("min_value")), self.resolve(kwargs.get("max_value"))

        def judge(values: list[Any]) -> Outcome:
            observed = convert(values)
            return Outcome(_between(observed, kwargs, low, high), observed_value=observed)

        return Compiled(position, expectation, grain, parts, judge)

    def _expect_column_max_to_be_between(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition"):
            raise _Unsupported
        name = kwargs["column"]
        aggregate = _of("MAX", self._observed(name), self._family(name))
        return self._aggregate_between(
            position, expectation, grain, [aggregate], lambda v: self._from_json(name, v[0])
        )

    def _expect_column_min_to_be_between(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition"):
            raise _Unsupported
        name = kwargs["column"]
        aggregate = _of("MIN", self._observed(name), self._family(name))
        return self._aggregate_between(
            position, expectation, grain, [aggregate], lambda v: self._from_json(name, v[0])
        )

    def _expect_column_proportion_of_non_null_values_to_be_between(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition"):
            raise _Unsupported
        column = self.ref(kwargs["column"])

        def proportion(values: list[Any]) -> float:
            total, nonnull = int(values[0] or 0), int(values[1] or 0)
            return nonnull / total if total > 0 else 0

        parts = [_count_star(), _of("COUNT", column)]
        return self._aggregate_between(position, expectation, grain, parts, proportion)

    def _expect_table_row_count_to_be_between(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition"):
            raise _Unsupported
        return self._aggregate_between(
            position, expectation, grain, [_count_star()], lambda v: int(v[0] or 0)
        )

    def _unexpected_rows_expectation(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        query = kwargs["unexpected_rows_query"]
        if not isinstance(query, str):
            raise _Unsupported
        # A scalar subquery over the same relation (`{batch}`), counted in the same statement.
        body = query.rstrip("; \t\r\n\v\f").replace("{batch}", "{relation}")
        text = f"(SELECT COUNT(*) FROM ({body}) AS offending)"

        def judge(values: list[Any]) -> Outcome:
            count = int(values[0] or 0)
            return Outcome(count == 0, unexpected_count=count, observed_value=count)

        compiled = Compiled(position, expectation, grain, [Aggregate(text, "ROWS", body)], judge)
        compiled.failing = None  # its rows are its own query's (see `offending_rows`)
        row = self.sql.row_json("offending")
        smallest = self.sql.smallest(row, INLINE_VALUES)
        if smallest is not None:  # the offending rows, in the same subquery
            selected = self.sql.json_array(["COUNT(*)", smallest, f"MAX({row})"])
            text = f"(SELECT {selected} FROM ({body}) AS offending{self.sql.one_group})"
            compiled.parts = [Aggregate(text, "ROWS", body, sampled=selected)]
            compiled.judge = _unpacked(judge, 0)
            compiled.inline = partial(_packed, 0)
        return compiled

    def over_list(self, compiled: Compiled) -> list[Aggregate] | None:
        """A set check's counts over the row relation's lists of values (an object's keys).

        The same counts the unnested relation gives; None when not this kind of check. Reading
        the list where it is saves unnesting it, which DuckDB cannot stream from a shared
        relation. Samples and reproduction still read the unnested relation.
        """
        kind, kwargs = compiled.expectation["type"], compiled.expectation["kwargs"]
        sets = ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set")
        if kind not in sets or kwargs.get("row_condition"):
            return None
        unexpected = self.membership("_k", kwargs["value_set"], inside=kind == sets[1])
        listed = self.ref(kwargs["column"])
        counts = [
            self.sql.count_in_list(listed, "TRUE"),
            self.sql.count_in_list(listed, "_k IS NULL"),
            self.sql.count_in_list(listed, f"_k IS NOT NULL AND ({unexpected})"),
        ]
        return [_of("SUM", count) for count in counts if count] if all(counts) else None


class _Unsupported(Exception):
    """Options outside what the compiler reproduces exactly: GX's engine runs the expectation."""


def offending_rows(expectation: dict[str, Any], relation: str) -> str:
    """The rows an `unexpected_rows_expectation` reports, over `relation`."""
    query: str = expectation["kwargs"]["unexpected_rows_query"]
    return query.rstrip("; \t\r\n\v\f").replace("{batch}", relation)
