"""The SQL fragments that differ between warehouses; each adapter owns one dialect.

JSON/VARIANT access is written by hand per dialect (transpiling it silently changes meaning), and
so is every literal: a string is escaped the way its warehouse reads it.
"""

from __future__ import annotations

from datetime import datetime

from eventqa.contracts.model import ValueType


class DialectSQL:
    """The few SQL fragments that differ between warehouses."""

    # Read row-grain object keys in the row table's scan (worth it where reading JSON parses it).
    keys_in_row_table = False

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

    def source(self, table: str, where: str) -> str:
        """event_id, event_timestamp, event_name, raw (payload text) and doc (parsed payload)."""
        raise NotImplementedError

    def payload_text(self, column: str) -> str:
        """The payload column as JSON text that starts with its value (no white space first).

        Kinds are read from the text's first character (`Projection.lexical_kind`).
        """
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

    def literal(self, text: str) -> str:
        """A string literal: standard SQL doubles single quotes, and nothing else is special."""
        return "'" + text.replace("'", "''") + "'"

    def cte(self, name: str, body: str, materialize: bool = False) -> str:
        """A common table expression; `materialize` when several references share its work."""
        return f"{name} AS ({body})"

    # The CTE with every row of a statement's window. Events' rows read `w`; the table's own
    # counts (undeclared names, volume) and unnested relations (elements, keys) read this one.
    every_row = "w"

    def window(self, rows: str, events: list[str], shared: bool = True) -> list[str]:
        """The CTEs a statement reads its window from: `w` and `every_row`.

        `rows` is the table's window; `events` the names the statement checks. `shared`: `w` is
        read by many branches as they stream (the table statement), not by a few that each
        store what they read (samples).
        """
        return [self.cte("w", rows)]

    def rows_materialized(self, events: list[str], shared: bool = True) -> bool:
        """Whether each event's row relation is materialised: parsed once for all its branches.

        Where the statement's window is a shared stream (`window`), a relation reading it
        cannot be materialised without the window being stored; one event alone has nothing
        to share the window with, and its own relation is the stream.
        """
        return False

    def epoch_us(self, value: str) -> str:
        """A timestamp as microseconds since the epoch (exact through JSON)."""
        raise NotImplementedError

    def bucket_start(self, value: str, seconds: int) -> str:
        """The start of the `seconds`-wide bucket holding `value`, in epoch seconds.

        Epochs are UTC, so a timestamp without time zone is read as UTC.
        """
        return f"CAST(FLOOR({self.epoch_us(value)} / {seconds * 1_000_000}) AS BIGINT) * {seconds}"

    def bucket_counts(self, table: str, since: datetime, until: datetime, seconds: int) -> str:
        """Events per name and bucket in [since, until) of `table` (a quoted name).

        Rows of (event_name, bucket start in epoch seconds, count, newest in epoch µs). Reads
        only `event_name` and `event_timestamp`, pruned by time: the volume history's backfill.
        """
        start = self.bucket_start("event_timestamp", seconds)
        return (
            f"SELECT event_name, {start} AS bucket, COUNT(*) AS n, "
            f"MAX({self.epoch_us('event_timestamp')}) AS newest FROM {table} "
            f"WHERE event_timestamp >= {self.timestamp_literal(since)} "
            f"AND event_timestamp < {self.timestamp_literal(until)} "
            f"AND event_name IS NOT NULL GROUP BY event_name, {start}"
        )

    def regex_search(self, text: str, pattern: str) -> str:
        """Whether `pattern` matches somewhere in `text` (as GX's engine reads a regex rule)."""
        raise NotImplementedError

    def json_array(self, values: list[str]) -> str:
        """A JSON array text of SQL expressions, nulls kept in place."""
        raise NotImplementedError

    def to_json(self, value: str) -> str:
        """Any SQL value as JSON text (samples keep their types)."""
        raise NotImplementedError

    def row_json(self, alias: str) -> str:
        """A whole row of the relation `alias` as a JSON object text."""
        raise NotImplementedError

    # Appended to every aggregate over a shared relation. DuckDB streams a materialised CTE to
    # its grouped consumers but stores (and past its memory limit, spills) the whole relation
    # for an ungrouped one: one constant group keeps the answer (no row over no rows, which the
    # runner reads as an empty relation) and lets the relation flow through.
    one_group = ""

    def count_in_list(self, values: str, condition: str) -> str | None:
        """How many elements of the list `values` meet `condition` (a row's count, to sum).

        `condition` is a predicate over `_k`, one element. None where lists are not read this way.
        """
        return None

    # -- one pipeline per table (`execution.fused`), where the warehouse runs it ----------------

    # Whether a table's events share one pipeline (`execution.fused`) rather than a branch each.
    fused = False

    def fused_extract(self, doc: str, paths: list[list[str] | None], guarded: bool) -> str:
        """The JSON texts at `paths` in `doc`, as one list, in one parse (None: nothing read).

        `guarded`: `doc` may not be JSON at all; the list is then NULL.
        """
        raise NotImplementedError

    def fused_keys(self, doc: str, guarded: bool) -> str:
        """The keys of the JSON text `doc` when it is an object; an empty list for other JSON."""
        raise NotImplementedError

    def fused_object_keys(self, text: str, keys: str | None = None) -> str:
        """The keys of a value's JSON text when it is an object, else NULL (as `key_list`).

        `keys`: the text's keys already read (`fused_keys`), when they were.
        """
        raise NotImplementedError

    def fused_root_kind(self, text: str, lexical: str) -> str:
        """The kind of a payload's valid JSON text, as `lexical` reads it (cheaper if it can)."""
        return lexical

    def fused_string(self, value: str) -> str:
        """A JSON value's string form (a JSON string without its quotes), as `string_value`."""
        raise NotImplementedError

    def fused_kind(self, text: str) -> str:
        """The JSON kind of a value's JSON text as `Projection.kind` reads it (valid JSON only)."""
        raise NotImplementedError

    def fused_elements(self, text: str) -> str:
        """The elements of the JSON text `text` when it is an array (a list of JSON), else NULL."""
        raise NotImplementedError

    def fused_values(self, doc: str) -> str:
        """The values of the JSON text `doc`'s top level, as a list in `fused_keys`' order."""
        raise NotImplementedError

    def fused_path(self, path: list[str]) -> str | None:
        """A path inside a value, as the string `fused_lookup` reads (None for the value)."""
        raise NotImplementedError

    def fused_lookup(self, keys: str | None, values: str, key: str | None, path: str) -> str:
        """The JSON text at `path` inside the value of `key` in the lists `keys`/`values`.

        `path` is a `fused_path` string, or NULL for the value itself; with no `keys`, the path
        is read inside the JSON text `values`.
        """
        raise NotImplementedError

    def fused_unit(self, number: str, doc: str, texts: str) -> str:
        """One unit of the pipeline: its number, its document and the JSON texts it reads."""
        raise NotImplementedError

    def key_hash(self, columns: list[str]) -> str | None:
        """A 64-bit hash of a key's columns, equal wherever GROUP BY finds the keys equal.

        None where uniqueness is grouped by the keys themselves. With one, a pipeline groups its
        keys by hash: a smaller state, and exact when no hash repeats (the usual case); a count
        above zero is only an upper bound, settled over the relation (`runner`).
        """
        return None

    def smallest(self, value: str, count: int) -> str | None:
        """An aggregate: the `count` smallest non-null values, in order, repeats kept (a list).

        None where the warehouse has no bounded one: samples then always come from a statement
        of their own (`runner.sample_statement`).
        """
        return None
