"""Load checks.yaml with positions, so every error names its file, line and field."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import math
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from eventqa.config.models import Config, ConfigSource, positions
from eventqa.config.sql import CheckedQueries
from eventqa.errors import ConfigError, ConfigErrors, Location

# pydantic error types rewritten into what a YAML author understands.
_MESSAGES = {
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "missing": "is required",
    "finite_number": "must be a finite number",
}

# Deeper than any real checks.yaml; deeper documents exhaust Python's stack while loading.
MAX_DEPTH = 64


def dotted(loc: tuple[str | int, ...]) -> str:
    """`("events", "x", "rules", 1, "between")` -> `events.x.rules[1].between`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The config model class that holds the key at `loc`, to suggest valid keys."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                by_alias = {f.alias: f for f in current.model_fields.values() if f.alias}
                field = by_alias.get(str(part))
            if field is None:
                continue  # a union's tag
            current = field.annotation
        else:
            current = _element_type(current)
        while (inner := _element_type(current)) is not current:
            if isinstance(current, type) and issubclass(current, BaseModel):
                break
            current = inner
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _element_type(annotation: Any) -> Any:
    """Unwrap Optional, tuple[...], dict[str, ...] and Annotated to the model they carry."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None) and a is not Ellipsis]
    if origin is typing.Annotated:
        return args[0]
    if origin in (typing.Union, types.UnionType, tuple, list) and args:
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if len(models) == 1 else args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return annotation


def _message(error: Any, loc: tuple[str | int, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        from difflib import get_close_matches

        key = str(loc[-1])
        parent = _model_at(Config, loc[:-1])
        valid = sorted(f.alias or name for name, f in parent.model_fields.items()) if parent else []
        close = get_close_matches(key, valid, n=1)
        suggestion = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key {key!r}{suggestion} (valid keys: {', '.join(valid)})"
    if kind in ("literal_error", "enum"):
        return f"must be one of {error['ctx']['expected']}"
    if kind == "union_tag_invalid":
        return f"must be one of {error['ctx']['expected_tags']}"
    if kind in ("less_than_equal", "greater_than_equal"):
        bound = error["ctx"].get("le", error["ctx"].get("ge"))
        return f"must be at {'most' if kind == 'less_than_equal' else 'least'} {bound}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    message = str(error["msg"])
    return _MESSAGES.get(kind, message[:1].lower() + message[1:])


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # pydantic adds the discriminator tag (`duckdb`) and `[key]` markers for dict keys.
    return tuple(p for p in loc if p not in ("duckdb", "snowflake", "[key]"))


def _too_deep(document: Any) -> tuple[str | int, ...] | None:
    """The path of the first node nested deeper than MAX_DEPTH, found without recursion."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        loc, node = stack.pop()
        if len(loc) > MAX_DEPTH:
            return loc[:MAX_DEPTH]
        if isinstance(node, dict):
            stack.extend(((*loc, str(key)), value) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend(((*loc, index), value) for index, value in enumerate(node))
    return None


def _sql_dialect(document: dict[str, Any]) -> str:
    """The SQL dialect `sql` rules are written in: the warehouse's (DuckDB by default)."""
    warehouse = document.get("warehouse")
    kind = warehouse.get("type") if isinstance(warehouse, dict) else None
    return kind if kind in ("duckdb", "snowflake") else "duckdb"


class ParsedCache:
    """checks.yaml as parsed before, with its lines: `.eventqa/config.parsed`, keyed by its text.

    Importing ruamel.yaml and parsing with positions take about 30 ms of every command. A
    document made only of mappings with string keys, lists, strings, numbers, booleans and nulls
    (what JSON holds exactly) is kept with the line of each key and item, and read back while
    the text, this loader and ruamel.yaml are the same; anything else is parsed every time.

    Only a valid document is kept, so a kept one passed APScheduler's check of its schedules:
    while APScheduler's version is the same too, that check (30 ms, most of it APScheduler's
    import, before a run's first statement) is not made again.
    """

    def __init__(self, directory: Path, text: str):
        self.path = directory / ".eventqa" / "config.parsed"
        # What the kept document and lines come from: this loader, the models (`positions`,
        # the validators) and ruamel.yaml (its __init__ holds its version), APScheduler's
        # version, and the text.
        sources = [Path(__file__), Path(positions.__code__.co_filename)]
        spec = importlib.util.find_spec("ruamel.yaml")
        if spec is not None and spec.origin is not None:
            sources.append(Path(spec.origin))
        digest = hashlib.sha256()
        for source in sources:
            digest.update(source.read_bytes())
        digest.update(f"\0{_version('apscheduler')}\0".encode())
        digest.update(text.encode())
        self.key = digest.hexdigest()

    def get(self) -> tuple[Any, dict[tuple[str | int, ...], int]] | None:
        """The document and its lines when parsed from this very text (None: parse it)."""
        try:
            kept = json.loads(self.path.read_text(encoding="utf-8"))
            if kept["key"] != self.key:
                return None
            return kept["document"], {tuple(at): int(line) for at, line in kept["lines"]}
        except (OSError, ValueError, KeyError, TypeError):
            return None  # never written, or damaged: parse again

    def put(self, source: ConfigSource) -> None:
        """Keep a valid document that JSON holds exactly, in a project that has `.eventqa/`."""
        plain = _plain(source.document)
        if plain is _NOT_PLAIN or not self.path.parent.is_dir():
            return
        lines = [[list(at), line] for at, line in source.lines.items()]
        with contextlib.suppress(OSError):
            kept = {"key": self.key, "document": plain, "lines": lines}
            self.path.write_text(json.dumps(kept), encoding="utf-8")


def _version(distribution: str) -> str:
    """An installed distribution's version ("" when it is not installed)."""
    import importlib.metadata  # pydantic has imported it already

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return ""


_NOT_PLAIN = object()


def _plain(node: Any) -> Any:
    """`node` as plain JSON values (ruamel's str, int and float subclasses as such), or _NOT_PLAIN.

    Dates, tagged scalars, keys that are not strings and non-finite numbers are not plain: JSON
    would not give them back as they were.
    """
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node) if math.isfinite(node) else _NOT_PLAIN
    if isinstance(node, list):
        items = [_plain(item) for item in node]
        return _NOT_PLAIN if any(item is _NOT_PLAIN for item in items) else items
    if isinstance(node, dict):
        if not all(isinstance(key, str) for key in node):
            return _NOT_PLAIN
        values = {str(key): _plain(value) for key, value in node.items()}
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in values.values()) else values
    return _NOT_PLAIN


def _parse(text: str, display: str) -> Any:
    """checks.yaml's text with ruamel.yaml's round-trip loader (it keeps every line)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    try:
        return YAML(typ="rt").load(text)
    except RecursionError:
        raise ConfigError(
            f"nests more than {MAX_DEPTH} levels deep", location=Location(display)
        ) from None
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = Location(display, mark.line + 1, mark.column + 1) if mark else Location(display)
        problem = error.problem or error.context or "invalid YAML"
        raise ConfigError(f"could not parse YAML: {problem}", location=where) from None


def load_config(path: Path) -> Config:
    """Read and validate checks.yaml; raise ConfigError naming file:line: field on any problem."""
    # Locations are relative to the project (the folder of checks.yaml), like contract paths, so
    # suites record the same origin wherever eventqa runs from.
    display = path.name
    if not path.is_file():
        raise ConfigError(
            f"{display} not found (looked in {path.resolve().parent})",
            hint="run eventqa from your project folder or pass --config PATH",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text", location=Location(display)) from None
    parsed = ParsedCache(path.parent, text)
    kept = parsed.get()
    if kept is None:
        document = _parse(text, display)
        source = ConfigSource(path, display, {} if document is None else document)
    else:
        source = ConfigSource(path, display, *kept)
    document = source.document
    if not isinstance(document, dict):
        raise ConfigError("must be a mapping of settings", location=source.locate(()))
    if (deep := _too_deep(document)) is not None:
        raise ConfigError(
            f"{dotted(deep[:2])}: nests more than {MAX_DEPTH} levels deep",
            location=source.locate(deep),
        )
    checked = CheckedQueries(path.parent)
    try:
        context: dict[str, Any] = {"dialect": _sql_dialect(document), "checked": checked}
        context["schedules_checked"] = kept is not None  # a kept document passed every check
        config = Config.model_validate(document, context=context)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc = _clean_loc(item["loc"])
            if item["type"] == "union_tag_invalid":
                loc = (*loc, item["ctx"]["discriminator"].strip("'"))
            problems.append(
                ConfigError(f"{dotted(loc)}: {_message(item, loc)}", location=source.locate(loc))
            )
        problems.sort(key=lambda p: (p.location.line or 0) if p.location else 0)
        raise ConfigErrors(problems) from None
    checked.save()
    if kept is None:
        parsed.put(source)
    config._source = source
    config._project_dir = path.parent
    return config
