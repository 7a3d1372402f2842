"""Build an event window's flattened, typed projection in the warehouse, once per run.

A suite names columns such as `follower_id`, `json_type(items[])` or `keys(payload)` (see
`eventqa.suites.columns`). Here those names become SQL: one temporary table per *relation* (one row
per event, one row per element of a repeated field, one row per key of an object), each created by
a single scan of the event's window, so the JSON is parsed once per window and every expectation
then runs as a cheap aggregate over the temporary table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eventqa.suites.columns import ROOT, parse_column, relation_of

# RFC 3339 as proto3 JSON writes Timestamps: 2024-05-01T12:00:00Z, fractions and offsets allowed.
RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})"
BASE64 = r"([A-Za-z0-9+/_-]{4})*([A-Za-z0-9+/_-]{2}(==)?|[A-Za-z0-9+/_-]{3}=?)?"
DURATION = r"-?\d+(\.\d{1,9})?s"
_SQL_INTEGER = {"int32": "INTEGER", "int64": "BIGINT", "uint32": "UINTEGER", "uint64": "UBIGINT"}
_ROW_COLUMNS = ("event_id", "event_timestamp", "event_name")


@dataclass
class Relation:
    """One temp table: its grain (`''`, `items[]`, `keys(payload)`) and the columns it needs."""

    grain: str
    table: str
    columns: set[str] = field(default_factory=set)


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


def plan_relations(suite: dict[str, Any], prefix: str) -> dict[str, Relation]:
    """Group the suite's columns by relation; the row relation always exists."""
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
    return relations


def expectation_grain(expectation: dict[str, Any]) -> str:
    """The relation an expectation runs against (table-level ones run on the row relation)."""
    grains = {grain_of(c) for c in referenced_columns(expectation)}
    return grains.pop() if len(grains) == 1 else ""


class DuckDBProjection:
    """Projection SQL for DuckDB (payload stored as JSON or VARCHAR)."""

    def __init__(self, suite: dict[str, Any], quote: Any):
        meta = suite["meta"]["eventqa"]
        self.types: dict[str, str] = meta["columns"]
        self.int64_as_string = meta["payload"]["int64_encoding"] == "string"
        self.quote = quote

    # -- paths --------------------------------------------------------------------------------

    @staticmethod
    def _json_path(path: str) -> str:
        """`a.b` (relative to the relation's document) as a DuckDB JSON path literal."""
        if not path:
            return "'$'"
        keys = "".join('."' + part.replace('"', '\\"') + '"' for part in path.split("."))
        return "'$" + keys.replace("'", "''") + "'"

    @staticmethod
    def _relative(column_path: str, grain: str) -> str:
        """The path of a column inside its relation's document: `items[].sku` in `items[]`."""
        path = column_path.removeprefix(f"{ROOT}.") if column_path != ROOT else ""
        if grain:
            path = path.removeprefix(grain).lstrip(".")
        return path

    # -- expressions --------------------------------------------------------------------------

    def kind(self, doc: str, path: str) -> str:
        """The JSON kind of the value at `path` (NULL when absent)."""
        p = self._json_path(path)
        raw, text = f"json_type({doc}, {p})", f"json_extract_string({doc}, {p})"
        return (
            f"CASE {raw} WHEN 'NULL' THEN 'null' WHEN 'VARCHAR' THEN 'string' "
            f"WHEN 'BOOLEAN' THEN 'boolean' WHEN 'OBJECT' THEN 'object' WHEN 'ARRAY' THEN 'array' "
            f"WHEN 'BIGINT' THEN 'integer' WHEN 'UBIGINT' THEN 'integer' "
            f"WHEN 'HUGEINT' THEN 'integer' "
            f"WHEN 'DOUBLE' THEN CASE WHEN TRY_CAST({text} AS DOUBLE) = "
            f"floor(TRY_CAST({text} AS DOUBLE)) THEN 'integer' ELSE 'number' END "
            f"ELSE lower({raw}) END"
        )

    def typed(self, doc: str, path: str, value_type: str) -> str:
        """The value in its proto type, NULL when absent, null or not conforming."""
        p = self._json_path(path)
        kind, text = self.kind(doc, path), f"json_extract_string({doc}, {p})"
        if value_type in _SQL_INTEGER:
            kinds = "('integer', 'string')" if self._string_allowed(value_type) else "('integer')"
            target = _SQL_INTEGER[value_type]
            return f"CASE WHEN {kind} IN {kinds} THEN TRY_CAST({text} AS {target}) END"
        if value_type in ("float", "double"):
            limit = (
                " AND abs(TRY_CAST({t} AS DOUBLE)) <= 3.4028234663852886e38"
                if value_type == "float"
                else ""
            )
            return (
                f"CASE WHEN {kind} IN ('integer', 'number'){limit.format(t=text)} "
                f"THEN TRY_CAST({text} AS DOUBLE) "
                f"WHEN {kind} = 'string' AND {text} IN ('NaN', 'Infinity', '-Infinity') "
                f"THEN TRY_CAST({text} AS DOUBLE) END"
            )
        if value_type == "bool":
            return f"CASE WHEN {kind} = 'boolean' THEN TRY_CAST({text} AS BOOLEAN) END"
        pattern = {"bytes": BASE64, "timestamp": RFC3339, "duration": DURATION}.get(value_type)
        if pattern is None:  # string, enum
            return f"CASE WHEN {kind} = 'string' THEN {text} END"
        conforming = f"{kind} = 'string' AND regexp_full_match({text}, '{pattern}')"
        if value_type == "timestamp":
            return f"CASE WHEN {conforming} THEN TRY_CAST({text} AS TIMESTAMPTZ) END"
        return f"CASE WHEN {conforming} THEN {text} END"

    def _string_allowed(self, value_type: str) -> bool:
        return self.int64_as_string and value_type in ("int64", "uint64")

    def column(self, column: str, grain: str, doc: str) -> str:
        """SQL for one projection column at its relation's grain."""
        function, inner = parse_column(column)
        if function == "json_type" and inner == ROOT:
            return (
                f"CASE WHEN raw IS NULL THEN 'null' WHEN doc IS NULL THEN 'invalid' "
                f"ELSE {self.kind('doc', '')} END"
            )
        if function == "json_type":
            return self.kind(doc, self._relative(inner, grain))
        value_type = self.types.get(column)
        if value_type is None:
            raise KeyError(f"suite has no type for column {column!r}")
        return self.typed(doc, self._relative(column, grain), value_type)

    # -- relations ----------------------------------------------------------------------------

    def source(self, table: str) -> str:
        """The event's window: parsed once into `doc`, `raw` kept to tell invalid JSON apart."""
        return (
            "SELECT event_id, event_timestamp, event_name, raw, "
            "CASE WHEN json_valid(raw) THEN CAST(raw AS JSON) END AS doc FROM ("
            "SELECT event_id, event_timestamp, event_name, CAST(payload AS VARCHAR) AS raw "
            f"FROM {self.quote(table)} "
            "WHERE event_name = $event_name AND ("
            "(event_timestamp >= $since AND event_timestamp < $until) "
            "OR event_timestamp > $future_after))"
        )

    def element_source(self, grain: str, table: str) -> str:
        """One row per element of the repeated field `grain` (`a[]`, or nested `a[].b[]`)."""
        parent_grain, _, _ = grain.removesuffix("[]").rpartition("[]")
        parent_grain = parent_grain + "[]" if parent_grain else ""
        parent = self.element_source(parent_grain, table) if parent_grain else self.source(table)
        path = self._json_path(self._relative(grain.removesuffix("[]"), parent_grain))
        return (
            f"SELECT s.event_id, s.event_timestamp, s.event_name, e.value AS raw, "
            f"CAST(e.value AS JSON) AS doc FROM ({parent}) AS s, json_each(s.doc, {path}) AS e "
            f"WHERE json_type(s.doc, {path}) = 'ARRAY'"
        )

    def raw_samples(self, column: str, relation_table: str, table: str, limit: int) -> str:
        """Raw JSON text of a row-grain column where its typed value failed to conform."""
        path = self._json_path(self._relative(column, ""))
        typed, kind = self.quote(column), self.quote(f"json_type({column})")
        failing = (
            f"SELECT event_id FROM {self.quote(relation_table)} "
            f"WHERE {typed} IS NULL AND {kind} IS NOT NULL AND {kind} <> 'null' LIMIT {limit}"
        )
        return (
            f"SELECT json_extract(doc, {path})::VARCHAR FROM ({self.source(table)}) "
            f"WHERE event_id IN ({failing}) ORDER BY event_id LIMIT {limit}"
        )

    def create(self, relation: Relation, table: str) -> str:
        """CREATE TEMP TABLE for a relation of the event window."""
        target = self.quote(relation.table)
        if relation.grain.startswith("keys("):
            _, inner = parse_column(relation.grain)
            owner = relation_of(inner)
            base = self.element_source(owner, table) if owner else self.source(table)
            path = self._json_path(self._relative(inner, owner) if inner != ROOT else "")
            return (
                f"CREATE OR REPLACE TEMP TABLE {target} AS "
                f"SELECT unnest(json_keys(doc, {path})) AS {self.quote(relation.grain)} "
                f"FROM ({base}) WHERE json_type(doc, {path}) = 'OBJECT'"
            )
        base = self.element_source(relation.grain, table) if relation.grain else self.source(table)
        columns = [*_ROW_COLUMNS] if not relation.grain else ["event_id"]
        selected = [self.quote(c) for c in columns] + [
            f"{self.column(c, relation.grain, 'doc')} AS {self.quote(c)}"
            for c in sorted(relation.columns - set(_ROW_COLUMNS))
        ]
        return (
            f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT {', '.join(selected)} FROM ({base})"
        )


# Compared with $future_after when a run is not live: no event is dated after it.
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


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
