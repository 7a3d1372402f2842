"""Embedded DuckDB: the zero-setup default, a file named in checks.yaml.

Checks open the file read-only (their projections are temporary tables), so any number of eventqa
runs share it; a process writing to it (a loader, `eventqa demo`) holds DuckDB's file lock, which
is reported as WarehouseBusyError: retried, and not an outage.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from typing_extensions import override

from eventqa.contracts.model import ValueType
from eventqa.suites.columns import quote_identifier
from eventqa.warehouse.base import (
    SQL_LOG,
    OutOfMemoryError,
    TerminalWarehouseError,
    Warehouse,
    WarehouseBusyError,
    WarehouseError,
    driver_error,
)
from eventqa.warehouse.dialect import DialectSQL

_DUCKDB_INTEGERS = {
    ValueType.INT32: "INTEGER",
    ValueType.INT64: "BIGINT",
    ValueType.UINT32: "UINTEGER",
    ValueType.UINT64: "UBIGINT",
}


# Times a statement that runs out of memory under its limit is retried with twice as much.
OOM_DOUBLINGS = 4
_UNITS = {"KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
# The memory budget of a statement when checks.yaml sets none: a base, and an allowance for each
# event it checks (a fused pipeline's working memory grows with its events: the lists and
# vectors of their checks). Hash tables (uniqueness) spill past it: it never grows with rows.
# Measured on the 200-event benchmark at 20M rows (100 events a table): with uniqueness keys
# grouped by hash, each table's statement runs under 184MB, no split (150MB ran out of memory
# with the keys themselves grouped); whatever the budget leaves free, DuckDB fills with blocks
# of the table it has read, so a larger one is memory the run holds for nothing.
BASE_BUDGET = 64_000_000
EVENT_BUDGET = 1_200_000


def _bytes(limit: str | None) -> int | None:
    """A `memory_limit` setting in bytes (None when unset or a share of RAM)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B)\s*", limit or "", re.IGNORECASE)
    if found is None:
        return None
    unit = found.group(2).upper()
    return int(float(found.group(1)) * (_UNITS[unit] if unit != "B" else 1))


class _Instance:
    """What eventqa asked of one DuckDB database in this process (its connections share it).

    DuckDB keeps one database per file and settings in a process, and `memory_limit` is that
    database's, whichever connection sets it: statements in flight at once add their budgets.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.needs: dict[int, int] = {}  # per connection, the statement's budget in bytes
        self.limit = 0  # the limit last set, in bytes


_INSTANCES: dict[str, _Instance] = {}
_INSTANCES_LOCK = threading.Lock()


class DuckDB(Warehouse):
    """A DuckDB database file."""

    name = "duckdb"
    # In eventqa's process, on its cores: one statement at a time uses them all already.
    in_process = True

    def __init__(self, path: Path, memory_limit: str | None = None, threads: int | None = None):
        self.path = path
        self.settings: dict[str, Any] = {"temp_directory": f"{path}.tmp"}
        self.memory_limit = memory_limit
        self.settings["memory_limit"] = memory_limit or f"{BASE_BUDGET}B"
        if threads:
            self.settings["threads"] = threads
        with _INSTANCES_LOCK:
            self._instance = _INSTANCES.setdefault(str(path.resolve()), _Instance())

    @staticmethod
    def budget(events: int) -> int:
        """The memory a statement checking `events` events may use, when checks.yaml sets none."""
        return BASE_BUDGET + EVENT_BUDGET * events

    @property
    def sql(self) -> DialectSQL:  # type: ignore[override]
        """DuckDB's SQL."""
        return DuckDBSQL()

    def connect(self) -> Any:
        """A read-only connection to the file: checks never write, and other readers may share."""
        import duckdb

        if not self.path.is_file():
            raise TerminalWarehouseError(
                f"DuckDB warehouse {self.path} does not exist",
                hint="run `eventqa demo` to build the sample warehouse, or fix `warehouse.path`",
            )
        try:
            connection = duckdb.connect(str(self.path), read_only=True, config=dict(self.settings))
            connection.execute("SET TimeZone = 'UTC'")
        except Exception as error:
            raise self.translate(error) from error
        return connection

    def _set_limit(self, connection: Any, limit: int) -> bool:
        """Set the database's limit (the caller holds the instance lock); False if refused.

        DuckDB refuses a lower limit while it holds more memory than that (buffers not evictable
        yet): the larger one then stays.
        """
        import duckdb

        if limit == self._instance.limit:
            return True
        try:
            connection.execute(f"SET memory_limit = '{limit}B'")
        except duckdb.OutOfMemoryException:
            SQL_LOG.debug("DuckDB kept its memory limit of %d bytes", self._instance.limit)
            return False
        self._instance.limit = limit
        return True

    def _need(self, connection: Any, need: int | None) -> None:
        """Record this connection's statement's budget (None: done) and set the sum of all."""
        instance = self._instance
        with instance.lock:
            if need is None:
                instance.needs.pop(id(connection), None)
            else:
                instance.needs[id(connection)] = need
            wanted = max(sum(instance.needs.values()), BASE_BUDGET)
            self._set_limit(connection, wanted)

    def _execute(
        self, connection: Any, statement: str, divisible: bool = False, events: int = 0
    ) -> list[tuple[Any, ...]]:
        """Run a statement under its budget; out of memory, again with twice the budget.

        The limit keeps a run's memory flat (hash tables spill past it), but a statement can need
        more memory than it can spill: DuckDB then refuses it ("failed to pin block"). A
        `divisible` statement is given back to its caller to split (the limit holds); any other
        is run again with the budget doubled, up to OOM_DOUBLINGS times. With `memory_limit`
        set, that is the budget of every statement at once; unset, each statement's budget
        follows the events it checks (`budget`), and statements in flight add theirs.
        """
        import duckdb

        fixed = _bytes(self.memory_limit) if self.memory_limit is not None else None
        if self.memory_limit is not None and fixed is None:  # a share of RAM: DuckDB's own
            rows: list[tuple[Any, ...]] = connection.execute(statement).fetchall()
            return rows
        if fixed is None:
            need = self.budget(events)
            self._need(connection, need)
        else:
            need = fixed
            with self._instance.lock:
                self._set_limit(connection, fixed)
        doubled = 0
        try:
            while True:
                try:
                    rows = connection.execute(statement).fetchall()
                    return rows
                except duckdb.OutOfMemoryException:
                    if divisible or doubled == OOM_DOUBLINGS:
                        raise
                    doubled += 1
                    SQL_LOG.info("DuckDB out of memory: retried under %d bytes", need << doubled)
                    if fixed is None:
                        self._need(connection, need << doubled)
                    else:
                        with self._instance.lock:
                            self._set_limit(connection, fixed << doubled)
        finally:
            if fixed is None:
                self._need(connection, None)
            elif doubled:
                with self._instance.lock:
                    self._set_limit(connection, fixed)

    def check_table_exists(self, connection: Any, table: str) -> None:
        """Fail with exit 3 and a hint when the events table is missing."""
        found = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchone()
        if not found or not found[0]:
            raise TerminalWarehouseError(
                f"table {quote_identifier(table)} does not exist in {self.path}",
                hint="check `tables:` in checks.yaml, or run `eventqa demo`",
            )

    def add_gx_datasource(self, context: Any, name: str) -> Any:
        """An `eventqa_duckdb` datasource over the file, one connection for its life."""
        from sqlalchemy.pool import StaticPool

        import eventqa.warehouse.engines  # noqa: F401 (registers the GX datasource types)

        if not self.path.is_file():
            raise TerminalWarehouseError(
                f"DuckDB warehouse {self.path} does not exist",
                hint="run `eventqa demo` to build the sample warehouse, or fix `warehouse.path`",
            )
        connect_args = {"read_only": True, "config": dict(self.settings)}
        try:  # GX opens a connection here to test it
            return context.data_sources.add_eventqa_duckdb(
                name=name,
                connection_string=f"duckdb:///{self.path}",
                kwargs={"poolclass": StaticPool, "connect_args": connect_args},
            )
        except Exception as error:
            raise self.translate(error) from error

    def translate(self, error: BaseException) -> WarehouseError:
        """A lock held by another process is transient (busy); anything else terminal."""
        import duckdb

        original = driver_error(error, duckdb.Error) or error
        message = str(original).splitlines()[0] if str(original) else type(original).__name__
        if isinstance(original, duckdb.OutOfMemoryException):
            return OutOfMemoryError(f"DuckDB {self.path}: {message}")
        if isinstance(original, duckdb.IOException) and "Could not set lock" in message:
            return WarehouseBusyError(
                f"DuckDB {self.path} is in use by another process: {message}",
                hint="a process writing to the file holds its lock (eventqa retried): try later",
            )
        return TerminalWarehouseError(f"DuckDB {self.path}: {message}")


class DuckDBSQL(DialectSQL):
    """DuckDB: payload stored as JSON (or VARCHAR), JSON paths, json_each and json_keys."""

    keys_in_row_table = True
    every_row = "w_all"
    one_group = " GROUP BY 'eventqa'"

    @override
    def timestamp_literal(self, value: datetime) -> str:
        return f"TIMESTAMPTZ '{value.isoformat()}'"

    def _path(self, path: list[str]) -> str:
        return self.literal("$" + "".join('."' + part.replace('"', '\\"') + '"' for part in path))

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
        return f"regexp_full_match({text}, {self.literal(pattern)})"

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
    def source(self, table: str, where: str) -> str:
        return (
            # TRY_CAST parses once: NULL for text that is not JSON.
            "SELECT event_id, event_timestamp, event_name, raw, TRY_CAST(raw AS JSON) AS doc FROM ("
            f"SELECT event_id, event_timestamp, event_name, {self.payload_text('payload')} AS raw "
            f"FROM {table} WHERE {where})"
        )

    @override
    def payload_text(self, column: str) -> str:
        # DuckDB's JSON keeps the text as written: ' {"a": 1}' is an object whose first
        # character is a space. Trimmed only then, a test of one byte on every other row.
        text = f"CAST({column} AS VARCHAR)"
        return (
            f"CASE WHEN ascii({text}) IN (9, 10, 13, 32) "
            f"THEN trim({text}, chr(9) || chr(10) || chr(13) || chr(32)) ELSE {text} END"
        )

    @override
    def elements(self, parent: str, path: list[str]) -> str:
        # Unnest, not a lateral json_each: a join would hold the statement's shared window until
        # its build side is done; an unnest streams. The array is read once from `doc`, and only
        # its own text is parsed again for the elements.
        return (
            "SELECT event_id, event_timestamp, event_name, unnest(json_extract(a, '$[*]')) AS doc "
            f"FROM (SELECT event_id, event_timestamp, event_name, json_extract(doc, "
            f"{self._path(path)}) AS a FROM ({parent}) AS s) AS s "
            "WHERE substr(CAST(a AS VARCHAR), 1, 1) = '['"
        )

    @override
    def keys(self, base: str, path: list[str], alias: str) -> str:
        return (
            f"SELECT unnest(json_keys(doc, {self._path(path)})) AS {alias} FROM ({base}) AS b "
            f"WHERE substr({self.json_text('doc', path)}, 1, 1) = '{{'"
        )

    @override
    def cte(self, name: str, body: str, materialize: bool = False) -> str:
        return f"{name} AS {'' if materialize else 'NOT '}MATERIALIZED ({body})"

    @override
    def window(self, rows: str, events: list[str], shared: bool = True) -> list[str]:
        # One scan of the table for the events' rows: DuckDB streams a materialised CTE to every
        # pipeline that reads it straight into an aggregate (each event's checks parse their own
        # rows as they pass), where an inlined window scans the table once per event. A pipeline
        # with an unnest cannot be fed that way and would make DuckDB store the whole CTE: those
        # read `w_all`, inlined, as do the table's own counts (their scan reads no payload).
        names = ", ".join(self.literal(event) for event in events) or "NULL"
        events_rows = f"SELECT * FROM w_all WHERE event_name IN ({names})"
        streamed = shared and not self.rows_materialized(events, shared)
        return [self.cte("w_all", rows), self.cte("w", events_rows, materialize=streamed)]

    @override
    def rows_materialized(self, events: list[str], shared: bool = True) -> bool:
        # DuckDB stores a materialised CTE read by another one. A shared window must feed its
        # branches directly, so each branch parses its event's rows; one event's statement
        # streams its parsed rows instead (its duplicates and rules would parse them again:
        # at 20M rows, 4.2 s instead of 2.0 s for user_followed_user's three such branches).
        return shared and len(events) == 1

    @override
    def epoch_us(self, value: str) -> str:
        return f"epoch_us({value})"

    @override
    def regex_search(self, text: str, pattern: str) -> str:
        return f"regexp_matches({text}, {self.literal(pattern)})"

    @override
    def json_array(self, values: list[str]) -> str:
        return f"CAST(json_array({', '.join(values)}) AS VARCHAR)"

    @override
    def to_json(self, value: str) -> str:
        return f"CAST(to_json({value}) AS VARCHAR)"

    @override
    def row_json(self, alias: str) -> str:
        return f"CAST(to_json({alias}) AS VARCHAR)"

    @override
    def count_in_list(self, values: str, condition: str) -> str | None:
        return f"len(list_filter({values}, lambda _k: {condition}))"

    fused = True

    @override
    def fused_extract(self, doc: str, paths: list[list[str] | None], guarded: bool) -> str:
        if not paths:
            return "NULL"
        # An index into an object finds nothing without looking at its keys: a cheap filler.
        listed = ", ".join("'$[0]'" if path is None else self._path(path) for path in paths)
        extract = f"json_extract({doc}, [{listed}])"
        return f"try({extract})" if guarded else extract  # try: NULL for text that is not JSON

    @override
    def fused_keys(self, doc: str, guarded: bool) -> str:
        return f"try(json_keys({doc}))" if guarded else f"json_keys({doc})"

    @override
    def fused_object_keys(self, text: str, keys: str | None = None) -> str:
        return f"CASE WHEN ascii({text}) = 123 THEN {keys or f'json_keys({text})'} END"

    @override
    def fused_root_kind(self, text: str, lexical: str) -> str:
        # A text starting with `{`, `"` or `[` reads the same lexically: only those start so.
        return (
            f"CASE ascii({text}) WHEN 123 THEN 'object' WHEN 34 THEN 'string' "
            f"WHEN 91 THEN 'array' ELSE {lexical} END"
        )

    @override
    def fused_string(self, value: str) -> str:
        return f"json_extract_string({value}, '$')"

    @override
    def fused_kind(self, text: str) -> str:
        # Valid JSON text tells its kind by its first character; numbers by their digits.
        return (
            f"CASE ascii({text}) WHEN 34 THEN 'string' WHEN 123 THEN 'object' "
            "WHEN 91 THEN 'array' WHEN 110 THEN 'null' WHEN 116 THEN 'boolean' "
            f"WHEN 102 THEN 'boolean' ELSE CASE WHEN position('.' IN {text}) = 0 "
            f"AND position('e' IN {text}) = 0 AND position('E' IN {text}) = 0 THEN 'integer' "
            f"WHEN {text} IS NOT NULL THEN 'number' END END"
        )

    @override
    def fused_elements(self, text: str) -> str:
        return f"CASE WHEN substr({text}, 1, 1) = '[' THEN json_extract({text}, '$[*]') END"

    @override
    def fused_values(self, doc: str) -> str:
        return f"try(json_extract({doc}, '$.*'))"

    @override
    def fused_path(self, path: list[str]) -> str | None:
        return self._path(path)[1:-1].replace("''", "'") if path else None

    @override
    def fused_lookup(self, keys: str | None, values: str, key: str | None, path: str) -> str:
        value = values if keys is None else f"{values}[list_position({keys}, {key})]"
        if keys is None:
            return f"json_extract({value}, {path})"
        return f"CASE WHEN {path} IS NULL THEN {value} ELSE json_extract({value}, {path}) END"

    @override
    def fused_unit(self, number: str, doc: str, texts: str) -> str:
        return f"{{'u': {number}, 'doc': CAST({doc} AS JSON), 'texts': CAST({texts} AS JSON[])}}"

    @override
    def key_hash(self, columns: list[str]) -> str | None:
        # The hash DuckDB's own grouping uses (-0.0 and 0.0, and every NaN, hash alike): a
        # grouping state of 8 bytes a key, whatever its values, spills less under the budget.
        return f"hash({', '.join(columns)})"

    @override
    def smallest(self, value: str, count: int) -> str | None:
        return f"min({value}, {count})"  # a bounded heap per group: memory is count values
