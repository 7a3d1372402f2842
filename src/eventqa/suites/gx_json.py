"""An expectation's kwargs in Great Expectations' own JSON form, without importing GX if we can.

`import great_expectations` costs seconds, and `generate` runs on every commit. The kwargs that
eventqa itself emits have a handful of shapes whose GX form is known (GX's pydantic models store
`min_value` of a column expectation as a float, a table row count as an int, and so on), so those
are written directly. Anything else, typically a user's `expectation:` rule with kwargs outside
those shapes, is validated and normalised by GX itself. tests/suites/test_gx_json.py holds this
module to GX's results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Kwargs = dict[str, Any]
# Returns the GX form of one kwarg value, or None when GX must decide.
_Shape = Callable[[Any], Any]


def _text(value: Any) -> Any:
    return value if isinstance(value, str) else None


def _float_bound(value: Any) -> Any:
    """GX keeps column bounds as floats (`1` -> `1.0`), or a `{"$PARAMETER": name}` reference."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return _parameter(value)


def _int_bound(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _parameter(value)


def _parameter(value: Any) -> Any:
    if isinstance(value, dict) and list(value) == ["$PARAMETER"]:
        return value if isinstance(value["$PARAMETER"], str) else None
    return None


def _flag(value: Any) -> Any:
    return value if isinstance(value, bool) else None


def _value_set(value: Any) -> Any:
    plain = (str, int, float)
    if isinstance(value, list) and value and all(type(v) in plain for v in value):
        return value
    return None


def _column_list(value: Any) -> Any:
    if isinstance(value, list) and len(value) >= 2 and all(isinstance(v, str) for v in value):
        return value
    return None


def _comparison(value: Any) -> Any:
    """A row condition in the one form eventqa writes: `column <op> literal`."""
    shape = {"type", "column", "operator", "parameter"}
    if not (isinstance(value, dict) and set(value) == shape and value["type"] == "comparison"):
        return None
    column = value["column"]
    fits = (
        isinstance(column, dict)
        and list(column) == ["name"]
        and isinstance(column["name"], str)
        and value["operator"] in ("==", "!=")
        and isinstance(value["parameter"], str)
    )
    return value if fits else None


def _one_of(*choices: str) -> _Shape:
    return lambda value: value if value in choices else None


_PAIR_MISSING = _one_of("both_values_are_missing", "either_value_is_missing", "neither")
_COLUMN: dict[str, _Shape] = {"column": _text, "row_condition": _comparison}
_BOUNDS: dict[str, _Shape] = {"min_value": _float_bound, "max_value": _float_bound}

# Per expectation type: the kwargs written directly, each with its shape.
_KNOWN: dict[str, dict[str, _Shape]] = {
    "expect_column_values_to_not_be_null": _COLUMN,
    "expect_column_values_to_be_unique": _COLUMN,
    "expect_column_values_to_be_between": {**_COLUMN, **_BOUNDS},
    "expect_column_values_to_be_in_set": {**_COLUMN, "value_set": _value_set},
    "expect_column_values_to_not_be_in_set": {**_COLUMN, "value_set": _value_set},
    "expect_column_values_to_match_regex": {**_COLUMN, "regex": _text},
    "expect_column_pair_values_to_be_equal": {
        "column_A": _text,
        "column_B": _text,
        "ignore_row_if": _PAIR_MISSING,
    },
    "expect_column_pair_values_a_to_be_greater_than_b": {
        "column_A": _text,
        "column_B": _text,
        "or_equal": _flag,
        "ignore_row_if": _PAIR_MISSING,
    },
    "expect_compound_columns_to_be_unique": {
        "column_list": _column_list,
        "ignore_row_if": _one_of("all_values_are_missing", "any_value_is_missing", "never"),
    },
    "expect_column_proportion_of_non_null_values_to_be_between": {**_COLUMN, **_BOUNDS},
    "expect_column_max_to_be_between": {**_COLUMN, **_BOUNDS},
    "expect_table_row_count_to_be_between": {"min_value": _int_bound, "max_value": _int_bound},
    "unexpected_rows_expectation": {"unexpected_rows_query": _text},
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "expect_column_pair_values_to_be_equal": ("column_A", "column_B"),
    "expect_column_pair_values_a_to_be_greater_than_b": ("column_A", "column_B"),
    "expect_compound_columns_to_be_unique": ("column_list",),
    "expect_table_row_count_to_be_between": (),
    "unexpected_rows_expectation": ("unexpected_rows_query",),
    "expect_column_values_to_be_in_set": ("column", "value_set"),
    "expect_column_values_to_not_be_in_set": ("column", "value_set"),
}
# GX leaves out a kwarg given at its default value.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "expect_column_values_to_match_regex": {"regex": "(?s).*"},
    "expect_column_pair_values_to_be_equal": {"ignore_row_if": "both_values_are_missing"},
    "expect_column_pair_values_a_to_be_greater_than_b": {
        "ignore_row_if": "both_values_are_missing"
    },
    "expect_compound_columns_to_be_unique": {"ignore_row_if": "all_values_are_missing"},
}
# GX rejects these types when both bounds are missing.
_NEEDS_A_BOUND = {"expect_column_values_to_be_between"}


def _empty_range(low: Any, high: Any) -> bool:
    numbers = isinstance(low, int | float) and isinstance(high, int | float)
    return numbers and bool(low > high)


def known_kwargs(type_: str, kwargs: Kwargs) -> Kwargs | None:
    """The GX form of `kwargs`, or None when only GX can tell (unknown type, shape or name)."""
    shapes = _KNOWN.get(type_)
    if shapes is None or not set(_REQUIRED.get(type_, ("column",))) <= set(kwargs):
        return None
    written: Kwargs = {}
    for name, value in kwargs.items():
        shape = shapes.get(name)
        normal = shape(value) if shape else None
        if normal is None:
            return None
        if normal != _DEFAULTS.get(type_, {}).get(name):
            written[name] = normal
    if type_ in _NEEDS_A_BOUND and not ({"min_value", "max_value"} & set(written)):
        return None
    bounds = (written.get("min_value"), written.get("max_value"))
    if _empty_range(*bounds):  # GX decides which types accept an empty range
        return None
    return written


def gx_kwargs(type_: str, kwargs: Kwargs, description: str) -> Kwargs:
    """The GX form of `kwargs`, validated by GX itself (imports great_expectations).

    Raises whatever GX raises for an unknown type or invalid kwargs.
    """
    from great_expectations.expectations.registry import get_expectation_impl

    impl = get_expectation_impl(type_)
    expectation = impl(**kwargs, meta={}, description=description)
    written = expectation.configuration.to_json_dict()["kwargs"]
    assert isinstance(written, dict)
    return written


def canonical_kwargs(type_: str, kwargs: Kwargs, description: str) -> Kwargs:
    """`kwargs` as GX writes them: directly when the shape is known, else through GX."""
    known = known_kwargs(type_, kwargs)
    return known if known is not None else gx_kwargs(type_, kwargs, description)
