"""Build an event window's flattened, typed projection in the warehouse, once per run.

A suite names columns such as `follower_id`, `json_type(items[])` or `keys(payload)` (see
`eventqa.suites.columns`). Here those names become SQL: one temporary table per *relation* (one row
per event, one row per element of a repeated field, one row per key of an object), each created by
a single scan of the event's window, so the JSON is parsed once per window and every expectation
then runs as a cheap aggregate over the temporary table.

The SQL is the same for every warehouse except for the few hooks each adapter's dialect supplies
(`eventqa.warehouse.dialect`): how to read a value's JSON text, unnest an array, list an object's
keys, cast, and write literals. JSON kinds
are read lexically from the value's JSON text, so both warehouses classify every value alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eventqa.contracts.model import INTEGER_RANGES, ValueType
from eventqa.results.models import Window
from eventqa.suites.columns import ROOT, parse_column, quote_identifier, relation_of
from eventqa.warehouse.dialect import DialectSQL

# Patterns avoid backslashes: Snowflake string literals treat them as escapes, DuckDB's do not.
# RFC 3339 as proto3 JSON writes Timestamps: 2024-05-01T12:00:00Z, fractions and offsets allowed.
RFC3339 = (
    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
BASE64 = "([A-Za-z0-9+/_-]{4})*([A-Za-z0-9+/_-]{2}(==)?|[A-Za-z0-9+/_-]{3}=?)?"
DURATION = "-?[0-9]+([.][0-9]{1,9})?s"
FLOAT_MAX = "3.4028234663852886e38"
_ROW_COLUMNS = ("event_id", "event_timestamp", "event_name")


@dataclass
class Relation:
    """One relation of the projection: grain, temp table and the columns it needs.

    The grain is `''` (one row per event), `items[]` or `keys(payload)`. Keys of row-grain objects
    may be read into a list column of the row table instead; their relation is then a query over
    it (`query`) rather than a table of its own.
    """

    grain: str
    table: str
    columns: set[str] = field(default_factory=set)
    query: str | None = None


def referenced_columns(expectation: dict[str, Any]) -> list[str]:
    """Every projection column an expectation reads (kwargs and row condition)."""
    kwargs = expectation["kwargs"]
    found = [kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs]
    found += list(kwargs.get("column_list", []))
    condition = kwargs.get("row_condition")
    if isinstance(condition, dict) and "column" in condition:
        found.append(condition["column"]["name"])
    return found


def grain_of(column: str) -> str:
    """The relation a column belongs to: `keys(x)` columns are their own grain."""
    function, _ = parse_column(column)
    return column if function == "keys" else relation_of(column)


def plan_relations(
    suite: dict[str, Any], prefix: str, keys_in_row_table: bool = False
) -> dict[str, Relation]:
    """Group the suite's columns by relation; the row relation always exists.

    With `keys_in_row_table`, keys of objects at row grain (`keys(payload)`, `keys(address)`) are
    read in the same scan as the row relation, into a list column of it; their relation then only
    unnests that list.
    """
    relations: dict[str, Relation] = {"": Relation("", f"{prefix}_rows")}
    row_columns = {c for c in suite["meta"]["eventqa"]["columns"] if relation_of(c) == ""}
    for expectation in suite["expectations"]:
        if expectation["type"] == "unexpected_rows_expectation":
            # Custom SQL sees the whole row relation: every typed column of the event.
            relations[""].columns |= row_columns
        for column in referenced_columns(expectation):
            grain = grain_of(column)
            if grain not in relations:
                name = re.sub(r"[^a-z0-9]+", "_", grain.lower()).strip("_")
                relations[grain] = Relation(grain, f"{prefix}_{name}_{len(relations)}")
            relations[grain].columns.add(column)
    for grain, relation in relations.items():
        folded = keys_in_row_table and grain.startswith("keys(")
        if folded and relation_of(parse_column(grain)[1]) == "":
            relations[""].columns.add(grain)  # the row table carries the key list
            relation.table = relations[""].table
            relation.query = ""  # filled in by Projection.relation_query
    return relations


def expectation_grain(expectation: dict[str, Any]) -> str:
    """The relation an expectation runs against (table-level ones run on the row relation)."""
    grains = {grain_of(c) for c in referenced_columns(expectation)}
    return grains.pop() if len(grains) == 1 else ""


def is_timestamp(column: str, types: dict[str, str]) -> bool:
    """Whether a projection column holds timestamps: the envelope's, or a Timestamp field."""
    return column == "event_timestamp" or types.get(column) == "timestamp"


def window_predicate(window: Window, sql: DialectSQL) -> str:
    """The rows of a run's window, written with literals (the SQL shown is the SQL that ran).

    The window is [since, until). In a live run it also takes the events dated after
    `future_after` (until plus the allowed skew): they are what the "not in the future" check
    exists to catch. A re-run of an old window leaves them out, since events dated after an old
    `until` are simply later events.
    """
    since, until = sql.timestamp_literal(window.since), sql.timestamp_literal(window.until)
    within = f"event_timestamp >= {since} AND event_timestamp < {until}"
    if window.future_after is None:
        return f"({within})"
    return f"(({within}) OR event_timestamp > {sql.timestamp_literal(window.future_after)})"


def event_rows(
    table: str, event: str, window: Window, sql: DialectSQL, only: str | None = None
) -> str:
    """One event's rows of the window, payload parsed (the projection's source).

    `only`: a further condition on the raw rows, applied before any payload is parsed.
    """
    where = f"event_name = {sql.literal(event)} AND {window_predicate(window, sql)}"
    return sql.source(table, f"{where} AND {only}" if only else where)


class Projection:
    """The SQL that materialises a suite's relations for one event window."""

    def __init__(self, suite: dict[str, Any], dialect: DialectSQL):
        meta = suite["meta"]["eventqa"]
        self.types: dict[str, str] = meta["columns"]
        self.int64_as_string = meta["payload"]["int64_encoding"] == "string"
        self.sql = dialect

    def is_timestamp(self, column: str) -> bool:
        """Whether a column holds timestamps (they travel through JSON as epoch microseconds)."""
        return is_timestamp(column, self.types)

    # -- paths --------------------------------------------------------------------------------

    @staticmethod
    def relative(column_path: str, grain: str) -> list[str]:
        """The path of a column inside its relation's document: `items[].sku` in `items[]`."""
        path = column_path.removeprefix(f"{ROOT}.") if column_path != ROOT else ""
        if grain:
            path = path.removeprefix(grain).lstrip(".")
        return [part for part in path.split(".") if part]

    # -- expressions --------------------------------------------------------------------------

    def kind(self, text: str) -> str:
        """The JSON kind of a value from its JSON text (NULL when absent)."""
        return self.lexical_kind(text)

    @staticmethod
    def lexical_kind(text: str) -> str:
        """The JSON kind of a value from its JSON text, read the same way by every dialect.

        The text is valid JSON starting with its value (`DialectSQL.payload_text`); it may end
        in white space (DuckDB keeps a payload as written), so only the first character is read:
        `null ` is null, not a number.
        """
        return (
            f"CASE WHEN {text} IS NULL THEN NULL WHEN substr({text}, 1, 1) = 'n' THEN 'null' "
            f"WHEN substr({text}, 1, 1) IN ('t', 'f') THEN 'boolean' "
            f"WHEN substr({text}, 1, 1) = '\"' THEN 'string' "
            f"WHEN substr({text}, 1, 1) = '{{' THEN 'object' "
            f"WHEN substr({text}, 1, 1) = '[' THEN 'array' "
            # What is left is a number: an integer when it has no fraction or exponent.
            f"WHEN position('.' IN {text}) = 0 AND position('e' IN lower({text})) = 0 "
            f"THEN 'integer' ELSE 'number' END"
        )

    def typed(
        self,
        kind: str,
        text: str,
        string: str,
        value_type: str,
        int64_as_string: bool | None = None,
    ) -> str:
        """The value in its proto type, NULL when absent, null or not conforming.

        `kind`, `text` and `string` name the value's JSON kind, JSON text and string form;
        `int64_as_string`, the payload encoding when not the suite's own.
        """
        sql = self.sql
        vt = ValueType(value_type)
        as_string = self.int64_as_string if int64_as_string is None else int64_as_string
        if vt in INTEGER_RANGES:
            if as_string and vt in (ValueType.INT64, ValueType.UINT64):
                digits = f"CASE WHEN {kind} = 'string' THEN {string} ELSE {text} END"
                return (
                    f"CASE WHEN {kind} IN ('integer', 'string') "
                    f"THEN {sql.to_integer(digits, vt)} END"
                )
            return f"CASE WHEN {kind} = 'integer' THEN {sql.to_integer(text, vt)} END"
        if vt in (ValueType.FLOAT, ValueType.DOUBLE):
            limit = (
                f" AND abs({sql.to_double(text)}) <= {FLOAT_MAX}" if vt == ValueType.FLOAT else ""
            )
            return (
                f"CASE WHEN {kind} IN ('integer', 'number'){limit} THEN {sql.to_double(text)} "
                f"WHEN {kind} = 'string' AND {string} IN ('NaN', 'Infinity', '-Infinity') "
                f"THEN {sql.to_double(string)} END"
            )
        if vt == ValueType.BOOL:
            return f"CASE WHEN {kind} = 'boolean' THEN {text} = 'true' END"
        pattern = {ValueType.BYTES: BASE64, ValueType.TIMESTAMP: RFC3339}.get(vt)
        pattern = DURATION if vt == ValueType.DURATION else pattern
        if pattern is None:  # string, enum
            return f"CASE WHEN {kind} = 'string' THEN {string} END"
        conforming = f"{kind} = 'string' AND {sql.full_match(string, pattern)}"
        value = sql.to_timestamp(string) if vt == ValueType.TIMESTAMP else string
        return f"CASE WHEN {conforming} THEN {value} END"

    # -- relations ----------------------------------------------------------------------------

    def _base(self, grain: str, source: str) -> str:
        """The rows of a grain: the window's events, or the elements of a repeated field."""
        if not grain:
            return source
        parent_grain, _, _ = grain.removesuffix("[]").rpartition("[]")
        parent_grain = parent_grain + "[]" if parent_grain else ""
        path = self.relative(grain.removesuffix("[]"), parent_grain)
        return self.sql.elements(self._base(parent_grain, source), path)

    def select(
        self, relation: Relation, source: str, documents: Mapping[str, str] | None = None
    ) -> str:
        """The SELECT of a relation of the event window; `source` is `event_rows(...)`.

        `documents` adds, as `alias: column`, the JSON text of values that have no typed column
        (objects, arrays, maps), read in the same parse as the typed values.
        """
        if relation.grain.startswith("keys("):
            _, target = parse_column(relation.grain)
            owner = relation_of(target)
            path = self.relative(target, owner) if target != ROOT else []
            alias = quote_identifier(relation.grain)
            return self.sql.keys(self._base(owner, source), path, alias)
        # Four levels, so each expression is computed once per row: extraction (the JSON text
        # and string of every path, in as few parses as the dialect allows), their plain columns
        # (t, s), their kinds (k), and the projection's columns.
        envelope = list(_ROW_COLUMNS) if not relation.grain else ["event_id"]
        carried = ["raw", "doc"] if not relation.grain else []
        paths: list[list[str]] = []  # each distinct path once: a value and its kind share it
        plain, kinds, outer = [*envelope, *carried], ["*"], [quote_identifier(c) for c in envelope]

        def slot(path: list[str]) -> int:
            if path not in paths:
                paths.append(path)
                kinds.append(f"{self.kind(f't{len(paths) - 1}')} AS k{len(paths) - 1}")
            return paths.index(path)

        for column in sorted(relation.columns - set(_ROW_COLUMNS)):
            function, name = parse_column(column)
            alias = quote_identifier(column)
            if function == "keys":  # a key list carried by the row table (see plan_relations)
                path = self.relative(name, "") if name != ROOT else []
                plain.append(f"{self.sql.key_list('doc', path)} AS {alias}")
                outer.append(alias)
                continue
            if function == "json_type" and name == ROOT:
                outer.append(
                    f"CASE WHEN raw IS NULL THEN 'null' WHEN doc IS NULL THEN 'invalid' "
                    f"ELSE {self.kind(self.sql.json_text('doc', []))} END AS {alias}"
                )
                continue
            index = slot(self.relative(name, relation.grain))
            if function == "json_type":
                outer.append(f"k{index} AS {alias}")
                continue
            value_type = self.types.get(name)
            if value_type is None:
                raise KeyError(f"suite has no type for column {name!r}")
            typed = self.typed(f"k{index}", f"t{index}", f"s{index}", value_type)
            if function == "nonconforming":  # the JSON text of a value its type rejects
                outer.append(
                    f"CASE WHEN k{index} <> 'null' AND ({typed}) IS NULL THEN t{index} END "
                    f"AS {alias}"
                )
                continue
            outer.append(f"{typed} AS {alias}")
        for alias, column in sorted((documents or {}).items()):
            outer.append(f"t{slot(self.relative(column, relation.grain))} AS {alias}")
        extracted, refs = self.sql.extract("doc", paths)
        plain += [f"{text} AS t{i}, {string} AS s{i}" for i, (text, string) in enumerate(refs)]
        rows = self._base(relation.grain, source)
        if extracted:
            rows = f"SELECT *, {', '.join(extracted)} FROM ({rows}) AS w"
        return (
            f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(kinds)} FROM "
            f"(SELECT {', '.join(plain)} FROM ({rows}) AS e) AS x) AS v"
        )

    def relation_query(self, relation: Relation) -> str:
        """What GX validates for a relation: its temp table, or a query over the row table."""
        if relation.query is None:
            return f"SELECT * FROM {quote_identifier(relation.table)}"
        column = quote_identifier(relation.grain)
        return self.sql.unnest_keys(quote_identifier(relation.table), column, column)

    def create(self, relation: Relation, source: str) -> str:
        """CREATE TEMPORARY TABLE for a relation of the event window."""
        return (
            f"CREATE OR REPLACE TEMPORARY TABLE {quote_identifier(relation.table)} AS "
            f"{self.select(relation, source)}"
        )
