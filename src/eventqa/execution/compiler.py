"""Compile Great Expectations expectations into SQL aggregates over an event's projection.

Each expectation eventqa emits becomes a few aggregates over its relation (one row per event, per
element or per key), a predicate selecting its failing rows (samples, reproduction SQL), and a
function that turns the aggregates into GX's own result fields. The arithmetic mirrors GX's
(`_format_map_output`, `_mostly_success`, `_validate_metric_value_between`); a differential test
holds the two engines to the same answers. Types the compiler does not know return None and run
through GX's engine instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from eventqa.execution.projection import is_timestamp
from eventqa.suites.columns import quote_identifier
from eventqa.warehouse.dialect import DialectSQL


@dataclass(frozen=True)
class Outcome:
    """What GX would report for an expectation: success and its SUMMARY result fields."""

    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None


@dataclass
class Compiled:
    """One expectation as SQL over its relation `r` (aggregates) and its rows (`failing`)."""

    position: int
    expectation: dict[str, Any]
    grain: str
    aggregates: list[str]
    judge: Callable[[list[Any]], Outcome]
    failing: str | None = None  # predicate over the relation's rows: the rows that fail
    sample: str | None = None  # what to show of a failing row (a column), when values help
    windows: list[str] = field(default_factory=list)  # window columns the relation must add


def _count(condition: str) -> str:
    return f"COUNT(CASE WHEN {condition} THEN 1 END)"


def _duplicates(columns: list[str]) -> str:
    """Rows whose (non-null) values occur more than once in the relation.

    A grouped subquery rather than a window over the relation: it reads only these columns, and
    its state is one entry per distinct value, not a copy of every row.
    """
    listed = ", ".join(columns)
    present = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    return (
        f"(SELECT COALESCE(SUM(n), 0) FROM (SELECT COUNT(*) AS n FROM {{relation}} "
        f"WHERE {present} GROUP BY {listed} HAVING COUNT(*) > 1) AS duplicated)"
    )


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


class Compiler:
    """Compiles one suite's expectations in a warehouse's dialect."""

    def __init__(self, suite: dict[str, Any], sql: DialectSQL, parameters: dict[str, datetime]):
        self.sql = sql
        self.parameters = parameters
        self.types: dict[str, str] = suite["meta"]["eventqa"]["columns"]

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

    def _is_timestamp(self, column: str) -> bool:
        return is_timestamp(column, self.types)

    def _observed(self, column: str, aggregate: str) -> str:
        """An aggregate that comes back through JSON: timestamps travel as epoch microseconds."""
        return self.sql.epoch_us(aggregate) if self._is_timestamp(column) else aggregate

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
        column = quote_identifier(condition["column"]["name"])
        return f"{column} {operator} {self.literal(condition['parameter'])}"

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
        return compiled

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
        column = quote_identifier(kwargs["column"])
        domain = self.domain(kwargs)
        mostly = float(kwargs.get("mostly", 1.0))
        failing = f"({domain}) AND ({unexpected})"
        if not nulls_count:
            failing = f"({domain}) AND {column} IS NOT NULL AND ({unexpected})"
        aggregates = [
            _count(domain),
            _count(f"({domain}) AND {column} IS NULL"),
            _count(failing),
        ]

        def judge(values: list[Any]) -> Outcome:
            total, nulls, bad = (int(v or 0) for v in values)
            considered = total if nulls_count else total - nulls
            success = total == 0 or considered == 0 or _mostly(considered, bad, mostly)
            percent = _percent(bad, considered) if total else None
            # GX's SUM over no rows is NULL: an empty window has no unexpected count at all.
            return Outcome(success, total, bad if total else empty, percent)

        return Compiled(
            position,
            expectation,
            grain,
            aggregates,
            judge,
            failing,
            kwargs["column"],
            windows or [],
        )

    def _expect_column_values_to_not_be_null(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        column = quote_identifier(kwargs["column"])
        compiled = self._map(position, expectation, grain, f"{column} IS NULL", nulls_count=True)
        compiled.sample = None  # the failing value is NULL by definition
        return compiled

    def _expect_column_values_to_be_in_set(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        column = quote_identifier(kwargs["column"])
        values = [self.literal(self.resolve(v)) for v in kwargs["value_set"]]
        unexpected = f"{column} NOT IN ({', '.join(values)})" if values else "TRUE"
        return self._map(position, expectation, grain, unexpected)

    def _expect_column_values_to_not_be_in_set(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        column = quote_identifier(kwargs["column"])
        values = [self.literal(self.resolve(v)) for v in kwargs["value_set"]]
        unexpected = f"{column} IN ({', '.join(values)})" if values else "FALSE"
        return self._map(position, expectation, grain, unexpected)

    def _expect_column_values_to_be_between(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        column = quote_identifier(kwargs["column"])
        low, high = self.resolve(kwargs.get("min_value")), self.resolve(kwargs.get("max_value"))
        if low is None and high is None:
            raise _Unsupported
        outside = []
        if low is not None:
            operator = "<=" if kwargs.get("strict_min") else "<"
            outside.append(f"{column} {operator} {self.literal(low)}")
        if high is not None:
            operator = ">=" if kwargs.get("strict_max") else ">"
            outside.append(f"{column} {operator} {self.literal(high)}")
        return self._map(position, expectation, grain, " OR ".join(outside))

    def _expect_column_values_to_match_regex(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        column = quote_identifier(kwargs["column"])
        unexpected = f"NOT ({self.sql.regex_search(column, str(kwargs['regex']))})"
        return self._map(position, expectation, grain, unexpected)

    def _expect_column_values_to_be_unique(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition"):
            raise _Unsupported  # GX counts duplicates over the whole batch; keep it exact there
        column = quote_identifier(kwargs["column"])
        name = f"_dup{position}"
        window = f"COUNT({column}) OVER (PARTITION BY {column}) AS {name}"
        # GX counts duplicates with a subquery: 0, not NULL, over an empty window.
        compiled = self._map(position, expectation, grain, f"{name} > 1", windows=[window], empty=0)
        compiled.aggregates[2] = _duplicates([column])
        return compiled

    def _expect_compound_columns_to_be_unique(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition") or kwargs.get("ignore_row_if", "all_values_are_missing") != (
            "all_values_are_missing"
        ):
            raise _Unsupported
        columns = [quote_identifier(c) for c in kwargs["column_list"]]
        name = f"_dup{position}"
        window = f"COUNT(*) OVER (PARTITION BY {', '.join(columns)}) AS {name}"
        all_missing = " AND ".join(f"{c} IS NULL" for c in columns)
        # GX joins each row to its group's count on equality, so rows with any NULL never match.
        failing = " AND ".join(f"{c} IS NOT NULL" for c in columns) + f" AND {name} > 1"
        mostly = float(kwargs.get("mostly", 1.0))
        aggregates = ["COUNT(*)", _count(all_missing), _duplicates(columns)]

        def judge(values: list[Any]) -> Outcome:
            total, missing, bad = (int(v or 0) for v in values)
            considered = total - missing
            success = total == 0 or considered == 0 or _mostly(considered, bad, mostly)
            percent = _percent(bad, considered) if total else None
            return Outcome(success, total, bad if total else None, percent)

        return Compiled(position, expectation, grain, aggregates, judge, failing, None, [window])

    def _aggregate_between(
        self,
        position: int,
        expectation: dict[str, Any],
        grain: str,
        aggregate: str,
        convert: Callable[[list[Any]], Any],
        extra: list[str] | None = None,
    ) -> Compiled:
        kwargs = expectation["kwargs"]
        low, high = self.resolve(kwargs.get("min_value")), self.resolve(kwargs.get("max_value"))

        def judge(values: list[Any]) -> Outcome:
            observed = convert(values)
            return Outcome(_between(observed, kwargs, low, high), observed_value=observed)

        return Compiled(position, expectation, grain, [aggregate, *(extra or [])], judge)

    def _expect_column_max_to_be_between(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition"):
            raise _Unsupported
        name = kwargs["column"]
        aggregate = self._observed(name, f"MAX({quote_identifier(name)})")
        return self._aggregate_between(
            position, expectation, grain, aggregate, lambda v: self._from_json(name, v[0])
        )

    def _expect_column_min_to_be_between(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition"):
            raise _Unsupported
        name = kwargs["column"]
        aggregate = self._observed(name, f"MIN({quote_identifier(name)})")
        return self._aggregate_between(
            position, expectation, grain, aggregate, lambda v: self._from_json(name, v[0])
        )

    def _expect_column_proportion_of_non_null_values_to_be_between(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition"):
            raise _Unsupported
        column = quote_identifier(kwargs["column"])

        def proportion(values: list[Any]) -> float:
            total, nonnull = int(values[0] or 0), int(values[1] or 0)
            return nonnull / total if total > 0 else 0

        return self._aggregate_between(
            position, expectation, grain, "COUNT(*)", proportion, [f"COUNT({column})"]
        )

    def _expect_table_row_count_to_be_between(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        if kwargs.get("row_condition"):
            raise _Unsupported
        return self._aggregate_between(
            position, expectation, grain, "COUNT(*)", lambda v: int(v[0] or 0)
        )

    def _unexpected_rows_expectation(
        self, position: int, expectation: dict[str, Any], grain: str, kwargs: dict[str, Any]
    ) -> Compiled:
        query = kwargs["unexpected_rows_query"]
        if not isinstance(query, str):
            raise _Unsupported
        # A scalar subquery over the same relation (`{batch}`), counted in the same statement.
        body = query.rstrip("; \t\r\n\v\f").replace("{batch}", "{relation}")
        aggregate = f"(SELECT COUNT(*) FROM ({body}) AS offending)"

        def judge(values: list[Any]) -> Outcome:
            count = int(values[0] or 0)
            return Outcome(count == 0, unexpected_count=count, observed_value=count)

        compiled = Compiled(position, expectation, grain, [aggregate], judge)
        compiled.failing = None  # its rows are its own query's (see `offending_rows`)
        return compiled


class _Unsupported(Exception):
    """Options outside what the compiler reproduces exactly: GX's engine runs the expectation."""


def offending_rows(expectation: dict[str, Any], relation: str) -> str:
    """The rows an `unexpected_rows_expectation` reports, over `relation`."""
    query: str = expectation["kwargs"]["unexpected_rows_query"]
    return query.rstrip("; \t\r\n\v\f").replace("{batch}", relation)
