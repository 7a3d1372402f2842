"""Custom SQL rules are one read-only query over `{batch}`, checked when checks.yaml loads.

The query runs inside the warehouse session that holds the window's projection, embedded as a
subquery. So it must be exactly one SELECT (or set operation, or WITH ... SELECT) reading only
`{batch}` and its own WITH names: a second statement, DDL or DML would change the warehouse, and
a trailing `-- comment` or `;` would swallow the SQL it is embedded in.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

BATCH = "{batch}"
_NAMES = {"duckdb": "DuckDB", "snowflake": "Snowflake"}
# Same length as `{batch}`, so token offsets in the parsed text are offsets in the user's text.
_SENTINEL = "__eqb__"

# Statement kinds that change something; any of them anywhere in the tree is refused. Looked up
# by name, since sqlglot adds and moves expression classes between releases.
_WRITES = (
    "DDL", "DML", "Create", "Insert", "Update", "Delete", "Drop", "Merge", "Command", "Alter",
    "AlterTable", "TruncateTable", "Copy", "Pragma", "Set", "Use", "Attach", "Detach",
    "Transaction", "Commit", "Rollback", "Into", "LoadData", "Grant", "Revoke", "Install",
    "Cache", "Uncache", "Refresh", "Kill", "Export", "Analyze", "Describe",
)  # fmt: skip


class CheckedQueries:
    """Queries that passed `read_only_query`, remembered in `.eventqa/sql.checked` by hash.

    Parsing needs SQLGlot, a fifth of a second to import: a project whose rules did not change
    since the last run checks them from this file instead. The hash covers the dialect, the
    query and this module's own source, so a query is checked again whenever the checker changes.
    """

    def __init__(self, directory: Path | None):
        self.path = directory / ".eventqa" / "sql.checked" if directory is not None else None
        self.known: dict[str, str] = {}
        self.changed = False
        if self.path is not None:
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                self.known = {str(k): str(v) for k, v in loaded.items()}
            except (OSError, ValueError, AttributeError):
                pass  # never written, or damaged: check every query again

    @staticmethod
    def key(text: str, dialect: str) -> str:
        """What a query's check depends on: the checker's source, the dialect and the query."""
        digest = hashlib.sha256(Path(__file__).read_bytes())
        digest.update(f"\0{dialect}\0{text}".encode())
        return digest.hexdigest()

    def check(self, text: str, dialect: str) -> str:
        """`read_only_query(text, dialect)`, from memory when this query passed before."""
        key = self.key(text, dialect)
        if key not in self.known:
            self.known[key] = read_only_query(text, dialect)
            self.changed = True
        return self.known[key]

    def save(self) -> None:
        """Remember the queries checked, in a project that has its `.eventqa/` (best effort).

        Loading checks.yaml never creates the folder: a command that fails leaves nothing behind.
        """
        if self.path is None or not self.changed or not self.path.parent.is_dir():
            return
        with contextlib.suppress(OSError):
            self.path.write_text(json.dumps(self.known, sort_keys=True), encoding="utf-8")


def read_only_query(text: str, dialect: str) -> str:
    """`text` checked as one read-only query over `{batch}`; returned without trailing `;`/comment.

    Raises ValueError saying what is wrong, for checks.yaml's `sql.query` line.
    """
    import logging

    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    # sqlglot warns on stderr when it falls back to an opaque Command; we refuse those anyway.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    if BATCH not in text:
        raise ValueError("must select from {batch}, the event's window (see README)")
    if _SENTINEL in text:
        raise ValueError(f"must not use the name {_SENTINEL} (eventqa reserves it)")
    source = text.replace(BATCH, _SENTINEL)
    problem: str | None = None
    try:
        tokens = sqlglot.tokenize(source, read=dialect)
        parsed = sqlglot.parse(source, read=dialect)
        # A comment after the last `;` parses as an empty statement of its own.
        empty = getattr(exp, "Semicolon", type(None))
        statements = [s for s in parsed if s is not None and not isinstance(s, empty)]
    except ParseError as error:
        problem = _parse_problem(error)
    except TokenError as error:
        problem = str(error).replace(_SENTINEL, BATCH)
    if problem is not None:
        raise ValueError(f"is not valid {_NAMES.get(dialect, dialect)} SQL: {problem}")
    if len(statements) != 1:
        raise ValueError(f"must be one SELECT statement (found {len(statements)} statements)")
    (query,) = statements
    if not isinstance(query, exp.Query):
        raise ValueError(f"must be a SELECT query (found {query.key.upper()})")
    writes = tuple(c for c in (getattr(exp, name, None) for name in _WRITES) if c is not None)
    for node in query.walk():
        if isinstance(node, writes):
            raise ValueError(f"must only read: {node.key.upper()} is not allowed in a rule")
    _reads_only_batch(query)
    while tokens and tokens[-1].token_type == sqlglot.TokenType.SEMICOLON:
        tokens.pop()
    return text[: tokens[-1].end + 1].strip()


def _reads_only_batch(query: Any) -> None:
    """Every table the query reads is `{batch}` or one of its own WITH names."""
    from sqlglot import exp

    own = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    reads_batch = False
    for table in query.find_all(exp.Table):
        name = table.this.name if isinstance(table.this, exp.Identifier) else None
        plain = name is not None and not table.args.get("db") and not table.args.get("catalog")
        if plain and name == _SENTINEL:
            reads_batch = True
        elif not (plain and name in own):
            shown = table.sql().replace(_SENTINEL, BATCH)
            raise ValueError(
                f"reads {shown}; a rule reads only {BATCH} (and the names of its own WITH)"
            )
    if not reads_batch:
        raise ValueError("must select from {batch}, the event's window (see README)")


def _parse_problem(error: Any) -> str:
    """The first parse error as one plain line (sqlglot underlines its own message with ANSI)."""
    if not error.errors:
        return str(error).splitlines()[0]
    first = error.errors[0]
    if first["description"].startswith("Required keyword"):  # names sqlglot's classes
        first = {**first, "description": "incomplete SQL"}
    near = f" near {first['highlight']!r}" if first.get("highlight") else ""
    problem = f"{first['description']}{near} (line {first['line']}, column {first['col']})"
    return problem.replace(_SENTINEL, BATCH)
