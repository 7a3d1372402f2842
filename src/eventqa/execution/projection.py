"""Build an event window's flattened, typed projection in the warehouse, once per run.

A suite names columns such as `follower_id`, `json_type(items[])` or `keys(payload)` (see
`eventqa.suites.columns`). Here those names become SQL: one temporary table per *relation* (one row
per event, one row per element of a repeated field, one row per key of an object), each created by
a single scan of the event's window, so the JSON is parsed once per window and every expectation
then runs as a cheap aggregate over the temporary table.

The SQL is the same for every warehouse except for a few hooks (`DuckDBSQL`, `SnowflakeSQL`):
how to read a value's JSON text, unnest an array, list an object's keys, cast, and bind. JSON kinds
are read lexically from the value's JSON text, so both warehouses classify every value alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from typing_extensions import override

from eventqa.contracts.model import INTEGER_RANGES, ValueType
from eventqa.suites.columns import ROOT, parse_column, quote_identifier, relation_of

# Patterns avoid backslashes: Snowflake string literals treat them as escapes, DuckDB's do not.
# RFC 3339 as proto3 JSON writes Timestamps: 2024-05-01T12:00:00Z, fractions and offsets allowed.
RFC3339 = (
    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
BASE64 = "([A-Za-z0-9+/_-]{4})*([A-Za-z0-9+/_-]{2}(==)?|[A-Za-z0-9+/_-]{3}=?)?"
DURATION = "-?[0-9]+([.][0-9]{1,9})?s"
FLOAT_MAX = "3.4028234663852886e38"
_DUCKDB_INTEGERS = {
    ValueType.INT32: "INTEGER",
    ValueType.INT64: "BIGINT",
    ValueType.UINT32: "UINTEGER",
    ValueType.UINT64: "UBIGINT",
}
_ROW_COLUMNS = ("event_id", "event_timestamp", "event_name")
# Compared with $future_after when a run is not live: no event is dated after it.
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


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


def window_parameters(
    event: str, since: datetime, until: datetime, future_after: datetime | None = None
) -> dict[str, Any]:
    """Bound parameters of every projection query (never formatted into SQL).

    The window is [since, until). In a live run (`until` is about now) it also takes the events
    dated after `future_after` (until plus the allowed skew): they are what the "not in the
    future" check exists to catch. A re-run of an old window leaves them out (`NEVER`), since
    events dated after an old `until` are simply later events.
    """
    return {
        "event_name": event,
        "since": since,
        "until": until,
        "future_after": future_after or NEVER,
    }


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DialectSQL:
    """The few SQL fragments that differ between warehouses."""

    # Read row-grain object keys in the row table's scan (worth it where reading JSON parses it).
    keys_in_row_table = False

    def param(self, name: str) -> str:
        """A bound parameter placeholder."""
        raise NotImplementedError

    def json_text(self, doc: str, path: list[str]) -> str:
        """The JSON text of the value at `path` in `doc` (NULL when absent)."""
        raise NotImplementedError

    def string_value(self, doc: str, path: list[str]) -> str:
        """The value at `path` as text, a JSON string without its quotes."""
        raise NotImplementedError

    def full_match(self, text: str, pattern: str) -> str:
        """Whether `text` matches the regular expression as a whole."""
        raise NotImplementedError

    def to_integer(self, text: str, value_type: ValueType) -> str:
        """Text to an integer of the proto width, NULL when it is not one or out of range."""
        raise NotImplementedError

    def extract(self, doc: str, paths: list[list[str]]) -> tuple[list[str], list[tuple[str, str]]]:
        """Read many values from `doc` at once.

        Returns the expressions of a SELECT over the relation's rows, and for each path the
        (JSON text, string) expressions that a SELECT over that one reads them with.
        """
        selected, refs = [], []
        for index, path in enumerate(paths):
            selected += [
                f"{self.json_text(doc, path)} AS t{index}",
                f"{self.string_value(doc, path)} AS s{index}",
            ]
            refs.append((f"t{index}", f"s{index}"))
        return selected, refs

    def key_list(self, doc: str, path: list[str]) -> str:
        """The keys of the object at `path`, as a list (NULL when it is not an object)."""
        raise NotImplementedError

    def unnest_keys(self, table: str, column: str, alias: str) -> str:
        """One row per key in a key-list column of `table`."""
        raise NotImplementedError

    def to_double(self, text: str) -> str:
        """Text to a double, NULL when it is not one."""
        raise NotImplementedError

    def to_timestamp(self, text: str) -> str:
        """RFC 3339 text to a timestamp with time zone, NULL when it is not one."""
        raise NotImplementedError

    def source(self, table: str) -> str:
        """event_id, event_timestamp, event_name, raw (payload text) and doc (parsed payload)."""
        raise NotImplementedError

    def elements(self, parent: str, path: list[str]) -> str:
        """One row per element of the array at `path` in each parent row's doc."""
        raise NotImplementedError

    def keys(self, base: str, path: list[str], alias: str) -> str:
        """One row per key of the object at `path` in each row's doc."""
        raise NotImplementedError

    def timestamp_literal(self, value: datetime) -> str:
        """A timestamp with time zone written into SQL."""
        raise NotImplementedError

    def window_filter(self) -> str:
        """The event's rows in the window (and, in live runs, those dated in the future)."""
        p = self.param
        return (
            f"event_name = {p('event_name')} AND ("
            f"(event_timestamp >= {p('since')} AND event_timestamp < {p('until')}) "
            f"OR event_timestamp > {p('future_after')})"
        )


class DuckDBSQL(DialectSQL):
    """DuckDB: payload stored as JSON (or VARCHAR), JSON paths, json_each and json_keys."""

    keys_in_row_table = True

    @override
    def timestamp_literal(self, value: datetime) -> str:
        return f"TIMESTAMPTZ '{value.isoformat()}'"

    @override
    def param(self, name: str) -> str:
        return f"${name}"

    @staticmethod
    def _path(path: list[str]) -> str:
        return _literal("$" + "".join('."' + part.replace('"', '\\"') + '"' for part in path))

    @override
    def json_text(self, doc: str, path: list[str]) -> str:
        if not path:
            return f"CAST({doc} AS VARCHAR)"
        return f"CAST(json_extract({doc}, {self._path(path)}) AS VARCHAR)"

    @override
    def string_value(self, doc: str, path: list[str]) -> str:
        return f"json_extract_string({doc}, {self._path(path)})"

    @override
    def full_match(self, text: str, pattern: str) -> str:
        return f"regexp_full_match({text}, {_literal(pattern)})"

    @override
    def to_integer(self, text: str, value_type: ValueType) -> str:
        # The exact width: TRY_CAST is NULL out of range, no separate range check needed.
        return f"TRY_CAST({text} AS {_DUCKDB_INTEGERS[value_type]})"

    @override
    def extract(self, doc: str, paths: list[list[str]]) -> tuple[list[str], list[tuple[str, str]]]:
        # One parse of each document for all paths: DuckDB's list form of json_extract.
        if not paths:
            return [], []
        # JSON is stored as text and every JSON function parses its document again, so take all
        # values in one parse, then read each value's string form from that small value.
        listed = ", ".join(self._path(path) for path in paths)
        selected = [f"json_extract({doc}, [{listed}]) AS texts"]
        refs = [
            (f"CAST(texts[{i}] AS VARCHAR)", f"json_extract_string(texts[{i}], '$')")
            for i in range(1, len(paths) + 1)
        ]
        return selected, refs

    @override
    def key_list(self, doc: str, path: list[str]) -> str:
        # The object test reads the value's first character, not its parsed type: no extra parse.
        return (
            f"CASE WHEN substr({self.json_text(doc, path)}, 1, 1) = '{{' "
            f"THEN json_keys({doc}, {self._path(path)}) END"
        )

    @override
    def unnest_keys(self, table: str, column: str, alias: str) -> str:
        return f"SELECT unnest({column}) AS {alias} FROM {table}"

    @override
    def to_double(self, text: str) -> str:
        return f"TRY_CAST({text} AS DOUBLE)"

    @override
    def to_timestamp(self, text: str) -> str:
        return f"TRY_CAST({text} AS TIMESTAMPTZ)"

    @override
    def source(self, table: str) -> str:
        return (
            # TRY_CAST parses once: NULL for text that is not JSON.
            "SELECT event_id, event_timestamp, event_name, raw, TRY_CAST(raw AS JSON) AS doc FROM ("
            "SELECT event_id, event_timestamp, event_name, CAST(payload AS VARCHAR) AS raw "
            f"FROM {table} WHERE {self.window_filter()})"
        )

    @override
    def elements(self, parent: str, path: list[str]) -> str:
        return (
            f"SELECT s.event_id, s.event_timestamp, s.event_name, e.value AS doc "
            f"FROM ({parent}) AS s, json_each(s.doc, {self._path(path)}) AS e "
            f"WHERE substr({self.json_text('s.doc', path)}, 1, 1) = '['"
        )

    @override
    def keys(self, base: str, path: list[str], alias: str) -> str:
        return (
            f"SELECT unnest(json_keys(doc, {self._path(path)})) AS {alias} FROM ({base}) AS b "
            f"WHERE substr({self.json_text('doc', path)}, 1, 1) = '{{'"
        )


class SnowflakeSQL(DialectSQL):
    """Snowflake: payload stored as VARIANT, bracket paths, LATERAL FLATTEN and OBJECT_KEYS."""

    @override
    def timestamp_literal(self, value: datetime) -> str:
        return f"'{value.isoformat()}'::TIMESTAMP_TZ"

    @override
    def param(self, name: str) -> str:
        return f"%({name})s"

    @staticmethod
    def _get(doc: str, path: list[str]) -> str:
        return doc + "".join(f"[{_literal(part)}]" for part in path)

    @override
    def json_text(self, doc: str, path: list[str]) -> str:
        return f"TO_JSON({self._get(doc, path)})"

    @override
    def string_value(self, doc: str, path: list[str]) -> str:
        if not path:  # an element itself: cast where FLATTEN produced it (see `elements`)
            return "element_string"
        return f"CAST({self._get(doc, path)} AS VARCHAR)"

    @override
    def full_match(self, text: str, pattern: str) -> str:
        return f"REGEXP_LIKE({text}, {_literal(pattern)})"  # Snowflake anchors the whole string

    @override
    def to_integer(self, text: str, value_type: ValueType) -> str:
        low, high = INTEGER_RANGES[value_type]
        number = f"TRY_CAST({text} AS NUMBER(38, 0))"
        return f"CASE WHEN {number} BETWEEN {low} AND {high} THEN {number} END"

    @override
    def key_list(self, doc: str, path: list[str]) -> str:
        target = self._get(doc, path)
        return f"CASE WHEN substr(TO_JSON({target}), 1, 1) = '{{' THEN OBJECT_KEYS({target}) END"

    @override
    def unnest_keys(self, table: str, column: str, alias: str) -> str:
        return (
            f"SELECT CAST(k.value AS VARCHAR) AS {alias} FROM {table} AS r, "
            f"LATERAL FLATTEN(input => r.{column}) AS k"
        )

    @override
    def to_double(self, text: str) -> str:
        return f"TRY_CAST({text} AS DOUBLE)"

    @override
    def to_timestamp(self, text: str) -> str:
        return f"TRY_CAST({text} AS TIMESTAMP_TZ)"

    @override
    def source(self, table: str) -> str:
        return (
            "SELECT event_id, event_timestamp, event_name, TO_JSON(payload) AS raw, "
            f"payload AS doc FROM {table} WHERE {self.window_filter()}"
        )

    @override
    def elements(self, parent: str, path: list[str]) -> str:
        return (
            f"SELECT s.event_id, s.event_timestamp, s.event_name, e.value AS doc, "
            # Cast FLATTEN's value directly: a string element becomes its text, unquoted.
            f"CAST(e.value AS VARCHAR) AS element_string "
            f"FROM ({parent}) AS s, LATERAL FLATTEN(input => {self._get('s.doc', path)}) AS e "
            f"WHERE substr({self.json_text('s.doc', path)}, 1, 1) = '['"
        )

    @override
    def keys(self, base: str, path: list[str], alias: str) -> str:
        return (
            f"SELECT CAST(k.value AS VARCHAR) AS {alias} FROM ({base}) AS b, "
            f"LATERAL FLATTEN(input => OBJECT_KEYS({self._get('b.doc', path)})) AS k "
            f"WHERE substr({self.json_text('b.doc', path)}, 1, 1) = '{{'"
        )


class Projection:
    """The SQL that materialises a suite's relations for one event window."""

    def __init__(self, suite: dict[str, Any], dialect: DialectSQL):
        meta = suite["meta"]["eventqa"]
        self.types: dict[str, str] = meta["columns"]
        self.int64_as_string = meta["payload"]["int64_encoding"] == "string"
        self.sql = dialect

    # -- paths --------------------------------------------------------------------------------

    @staticmethod
    def _relative(column_path: str, grain: str) -> list[str]:
        """The path of a column inside its relation's document: `items[].sku` in `items[]`."""
        path = column_path.removeprefix(f"{ROOT}.") if column_path != ROOT else ""
        if grain:
            path = path.removeprefix(grain).lstrip(".")
        return [part for part in path.split(".") if part]

    # -- expressions --------------------------------------------------------------------------

    def kind(self, text: str) -> str:
        """The JSON kind of a value from its JSON text (NULL when absent)."""
        return (
            f"CASE WHEN {text} IS NULL THEN NULL WHEN {text} = 'null' THEN 'null' "
            f"WHEN {text} IN ('true', 'false') THEN 'boolean' "
            f"WHEN substr({text}, 1, 1) = '\"' THEN 'string' "
            f"WHEN substr({text}, 1, 1) = '{{' THEN 'object' "
            f"WHEN substr({text}, 1, 1) = '[' THEN 'array' "
            # What is left is a number: an integer when it has no fraction or exponent.
            f"WHEN position('.' IN {text}) = 0 AND position('e' IN lower({text})) = 0 "
            f"THEN 'integer' ELSE 'number' END"
        )

    def typed(self, kind: str, text: str, string: str, value_type: str) -> str:
        """The value in its proto type, NULL when absent, null or not conforming.

        `kind`, `text` and `string` name the value's JSON kind, JSON text and string form.
        """
        sql = self.sql
        vt = ValueType(value_type)
        if vt in INTEGER_RANGES:
            if self.int64_as_string and vt in (ValueType.INT64, ValueType.UINT64):
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

    def _base(self, grain: str, table: str) -> str:
        """The rows of a grain: the window's events, or the elements of a repeated field."""
        if not grain:
            return self.sql.source(table)
        parent_grain, _, _ = grain.removesuffix("[]").rpartition("[]")
        parent_grain = parent_grain + "[]" if parent_grain else ""
        path = self._relative(grain.removesuffix("[]"), parent_grain)
        return self.sql.elements(self._base(parent_grain, table), path)

    def select(self, relation: Relation, table: str) -> str:
        """The SELECT that materialises a relation of the event window."""
        if relation.grain.startswith("keys("):
            _, target = parse_column(relation.grain)
            owner = relation_of(target)
            path = self._relative(target, owner) if target != ROOT else []
            alias = quote_identifier(relation.grain)
            return self.sql.keys(self._base(owner, table), path, alias)
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
                path = self._relative(name, "") if name != ROOT else []
                plain.append(f"{self.sql.key_list('doc', path)} AS {alias}")
                outer.append(alias)
                continue
            if function == "json_type" and name == ROOT:
                outer.append(
                    f"CASE WHEN raw IS NULL THEN 'null' WHEN doc IS NULL THEN 'invalid' "
                    f"ELSE {self.kind(self.sql.json_text('doc', []))} END AS {alias}"
                )
                continue
            index = slot(self._relative(name, relation.grain))
            if function == "json_type":
                outer.append(f"k{index} AS {alias}")
                continue
            value_type = self.types.get(column)
            if value_type is None:
                raise KeyError(f"suite has no type for column {column!r}")
            typed = self.typed(f"k{index}", f"t{index}", f"s{index}", value_type)
            outer.append(f"{typed} AS {alias}")
        extracted, refs = self.sql.extract("doc", paths)
        plain += [f"{text} AS t{i}, {string} AS s{i}" for i, (text, string) in enumerate(refs)]
        rows = self._base(relation.grain, table)
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

    def create(self, relation: Relation, table: str) -> str:
        """CREATE TEMPORARY TABLE for a relation of the event window."""
        return (
            f"CREATE OR REPLACE TEMPORARY TABLE {quote_identifier(relation.table)} AS "
            f"{self.select(relation, table)}"
        )

    def raw_samples(self, column: str, relation_table: str, table: str, limit: int) -> str:
        """JSON text of a row-grain column where its typed value failed to conform."""
        path = self._relative(column, "")
        typed, kind = quote_identifier(column), quote_identifier(f"json_type({column})")
        failing = (
            f"SELECT event_id FROM {quote_identifier(relation_table)} "
            f"WHERE {typed} IS NULL AND {kind} IS NOT NULL AND {kind} <> 'null'"
        )
        return (
            f"SELECT {self.sql.json_text('doc', path)} AS sample FROM ({self.sql.source(table)}) "
            f"AS w WHERE event_id IN ({failing}) ORDER BY event_id LIMIT {limit}"
        )


def _sql_value(value: Any, sql: DialectSQL) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return sql.timestamp_literal(value)
    return _literal(str(value))


def failing_rows_sql(
    suite: dict[str, Any], position: int, table: str, window: dict[str, Any], sql: DialectSQL
) -> str | None:
    """SQL listing the rows that fail the suite's `position`-th expectation, ready to paste.

    The window is written in as literals. None for checks about the whole window (row counts,
    proportions, maxima), which have no failing rows to list.
    """
    expectation = suite["expectations"][position]
    kwargs, kind = expectation["kwargs"], expectation["type"]
    grain = expectation_grain(expectation)
    relation = Relation(grain, "p", set(referenced_columns(expectation)))
    if kind == "unexpected_rows_expectation":
        relation.columns |= {c for c in suite["meta"]["eventqa"]["columns"] if relation_of(c) == ""}
    projection = Projection(suite, sql)
    column = quote_identifier(kwargs.get("column", ""))
    values = ", ".join(_sql_value(v, sql) for v in kwargs.get("value_set", []))
    condition: str | None = {
        "expect_column_values_to_not_be_null": f"{column} IS NULL",
        "expect_column_values_to_be_null": f"{column} IS NOT NULL",
        "expect_column_values_to_be_in_set": f"{column} NOT IN ({values})",
        "expect_column_values_to_not_be_in_set": f"{column} IN ({values})",
        "expect_column_values_to_be_unique": (
            f"{column} IN (SELECT {column} FROM p GROUP BY {column} HAVING count(*) > 1)"
        ),
    }.get(kind)
    if kind == "expect_column_values_to_be_between":
        bounds = []
        for key, operator in (("min_value", "<"), ("max_value", ">")):
            bound = kwargs.get(key)
            if isinstance(bound, dict):  # a suite parameter such as until_plus_5m
                from eventqa.execution.runner import suite_parameters

                bound = suite_parameters(suite, window["until"]).get(bound["$PARAMETER"])
            if bound is not None:
                bounds.append(f"{column} {operator} {_sql_value(bound, sql)}")
        condition = " OR ".join(bounds) or None
    if kind == "unexpected_rows_expectation":
        body = kwargs["unexpected_rows_query"].replace("{batch}", "p")
    elif condition is None:
        return None
    else:
        where = f"({condition})"
        row_condition = kwargs.get("row_condition")
        if isinstance(row_condition, dict) and "column" in row_condition:
            compare = {"==": "=", "!=": "<>"}.get(
                row_condition["operator"], row_condition["operator"]
            )
            where += (
                f" AND {quote_identifier(row_condition['column']['name'])} {compare} "
                f"{_sql_value(row_condition['parameter'], sql)}"
            )
        body = f"SELECT * FROM p WHERE {where}"
    select = projection.select(relation, table)  # keys relations included
    for name, value in window.items():
        select = select.replace(sql.param(name), _sql_value(value, sql))
    return f"WITH p AS ({select})\n{body}\nLIMIT 100"
