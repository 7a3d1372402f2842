"""One pipeline per table window: every selected event's checks in a single pass over its rows.

A statement of one branch per event grows with the events, and where a warehouse streams one scan
to its consumers but pays for each (DuckDB: working memory per pipeline and thread, whatever the
rows), that limits how many events one statement holds. Here a table's events share one pipeline:

1. **Units.** Each row is a unit of its event's row relation; each element of a repeated field is
   a unit of that relation (an UNNEST in the producer). Row units are numbered first.
2. **Positions.** A unit reads its values from its document in one parse, as a list of JSON texts;
   a position holds values of one proto type in every unit, so a value's JSON kind and typed value
   are expressions of its position alone.
3. **Values.** Where units of several kinds share the pipeline, each value a check reads becomes a
   row of its own (a *slot*: one unit kind's position). A vectorised engine then evaluates one
   expression over many rows instead of each event's own over the few rows of it in each vector:
   checks compile over a slot's value (`vi`, `vs`, `k`, ...), and checks that differ only in their
   constants (sets, bounds) share one expression, reading each slot's constants from a list.
   Checks that read several values, or the envelope, are evaluated once per unit the same way.
4. **Consumers.** Grouped aggregates read the stream: per unit kind, per slot, per uniqueness key
   (values grouped by key, one consumer per key type whatever the events), per row rule (a view
   of the event's rows named as in its relation).

The values come back exactly as the per-event statement returns them (same compiler, same
arithmetic), so `runner` judges them the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventqa.contracts.model import ValueType
from eventqa.execution.compiler import INLINE_VALUES, Aggregate, Compiled, Compiler
from eventqa.execution.projection import Projection
from eventqa.suites.columns import ROOT, parse_column, quote_identifier, relation_of
from eventqa.warehouse.dialect import DialectSQL

# Row-result markers (`event_index` of the statement's rows; runner's own are -1 to -3).
UNITS = -10  # one row per unit kind: its count and its unit-level aggregates
ROW_RULES = -11  # one row per row rule: its subquery's value
SLOTS = -12  # one row per slot: the aggregates of its values
KEYS = -20  # -20 - j: one row per unit kind or slot with duplicated values of key column j

_ENVELOPE = ("event_id", "event_timestamp", "event_name")
_OBJECT = "object"  # positions holding objects whose keys are read
_JSON = "json"  # positions whose JSON kind alone is read
_STRING_TYPES = {"string", "enum", "bytes", "timestamp", "duration"}
# SQL types of typed values, by proto type: what a key of that type groups by.
_KEY_TYPES = {
    "int32": "INTEGER", "int64": "BIGINT", "uint32": "UINTEGER", "uint64": "UBIGINT",
    "float": "DOUBLE", "double": "DOUBLE", "bool": "BOOLEAN", "timestamp": "TIMESTAMPTZ",
}  # fmt: skip
# A slot's typed value, by proto type: the column of its family, and that column's SQL type.
_FAMILIES = {
    "int32": "vi", "int64": "vi", "uint32": "vi", "uint64": "vi",
    "float": "vd", "double": "vd", "bool": "vb", "timestamp": "vt",
    "string": "vs", "enum": "vs", "bytes": "vs", "duration": "vs",
}  # fmt: skip
_FAMILY_TYPES = {"vi": "HUGEINT", "vd": "DOUBLE", "vb": "BOOLEAN", "vt": "TIMESTAMPTZ",
                 "vs": "VARCHAR"}  # fmt: skip
_AGGREGATES = {"COUNT_IF": "COUNT_IF({})", "SUM": "SUM({})", "MIN": "MIN({})", "MAX": "MAX({})"}
_STAND_IN = re.compile("\x00c(\\d+)\x00")


class NotFusable(Exception):
    """An event whose checks this pipeline cannot hold: it runs in a statement of its own."""

    event: int | None = None  # the plan's index, once known


def case_tree(variable: str, branches: dict[int, str], domain: Iterable[int]) -> str:
    """`branches[v]` for the value v of an integer `variable` in `domain`; NULL elsewhere.

    Consecutive values with the same expression share one range, and ranges are found by
    bisection: a row evaluates a few comparisons and its own expression only.
    """
    runs: list[tuple[int, str | None]] = []  # (first value, expression) of each run
    for value in sorted(domain):
        expression = branches.get(value)
        if not runs or runs[-1][1] != expression:
            runs.append((value, expression))
    return _bisect(variable, runs) if runs else "NULL"


def _bisect(variable: str, runs: list[tuple[int, str | None]]) -> str:
    if len(runs) == 1:
        return runs[0][1] or "NULL"
    if len(runs) <= 3:
        arms = " ".join(
            f"WHEN {variable} < {runs[i + 1][0]} THEN {runs[i][1] or 'NULL'}"
            for i in range(len(runs) - 1)
        )
        return f"CASE {arms} ELSE {runs[-1][1] or 'NULL'} END"
    middle = len(runs) // 2
    return (
        f"CASE WHEN {variable} < {runs[middle][0]} THEN {_bisect(variable, runs[:middle])} "
        f"ELSE {_bisect(variable, runs[middle:])} END"
    )


def name_tree(column: str, numbers: dict[str, int], sql: DialectSQL) -> str:
    """The number of each name in `numbers`, for the rows whose `column` holds one of them."""
    names = sorted(numbers)
    if len(names) == 1:
        return str(numbers[names[0]])
    if len(names) <= 4:
        arms = " ".join(f"WHEN {sql.literal(n)} THEN {numbers[n]}" for n in names)
        return f"CASE {column} {arms} END"
    middle = names[len(names) // 2]
    left = name_tree(column, {n: numbers[n] for n in names if n < middle}, sql)
    right = name_tree(column, {n: numbers[n] for n in names if n >= middle}, sql)
    return f"CASE WHEN {column} < {sql.literal(middle)} THEN {left} ELSE {right} END"


def _sql_type(value: Any) -> str | None:
    """The SQL type a constant is read as, when it can stand in a list of per-user values."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "HUGEINT"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, datetime):
        return "TIMESTAMPTZ"
    if isinstance(value, str):
        return "VARCHAR"
    if isinstance(value, list) and value:
        types = {_sql_type(v) for v in value}
        if types == {"HUGEINT", "DOUBLE"}:
            types = {"DOUBLE"}
        element = types.pop() if len(types) == 1 else None
        return f"{element}[]" if element and not element.endswith("[]") else None
    return None


class Templates:
    """Generic columns: each distinct expression once, each user's constants in a list.

    Expressions name their constants by stand-ins (`Compiler.constant`); users (unit kinds, or
    slots) whose expressions differ only in constants share one column, which reads each user's
    own from a list indexed by the user's number (one literal, where all users agree).
    """

    def __init__(self, prefix: str, index: str):
        self.prefix, self.index = prefix, index
        self.keys: dict[str, int] = {}
        self.texts: list[str] = []
        self.types: list[list[str]] = []
        self.values: list[dict[int, list[str]]] = []
        self.functions: dict[tuple[int, str, int | None], int] = {}  # aggregates wanted

    def add(self, text: str, constants: list[tuple[str, str]], user: int) -> int:
        """The column of `text` (stand-ins numbered in order), with `user`'s constants."""
        key = text + "\x01" + "\x01".join(t for t, _ in constants)
        number = self.keys.setdefault(key, len(self.keys))
        if number == len(self.texts):
            self.texts.append(text)
            self.types.append([t for t, _ in constants])
            self.values.append({})
        self.values[number][user] = [literal for _, literal in constants]
        return number

    def aggregate(self, number: int, function: str, limit: int | None) -> int:
        """The index of an aggregate of column `number` in the consumer's result."""
        return self.functions.setdefault((number, function, limit), len(self.functions))

    def expression(self, number: int, users: int, joined: str | None = None) -> str:
        """Column `number`'s SQL, reading each user's constants.

        From a list indexed by the user's number, or (`joined`: the users' column) from the
        columns of `varying`'s table, joined to the rows on it.
        """
        text = self.texts[number]
        for i, type_ in enumerate(self.types[number]):
            literals = {user: values[i] for user, values in self.values[number].items()}
            if len(set(literals.values())) == 1:
                replacement = f"CAST({next(iter(literals.values()))} AS {type_})"
            elif joined:
                replacement = f"{self.prefix}{number}_{i}"
            else:
                listed = ", ".join(
                    f"CAST({literals[u]} AS {type_})" if u in literals else "NULL"
                    for u in range(users)
                )
                replacement = f"([{listed}])[{self.index} + 1]"
            text = text.replace(f"\x00{i}\x00", replacement)
        return text

    def varying(self, users: int) -> dict[str, tuple[str, list[str]]]:
        """The constants that differ between users: a column each, with every user's value."""
        found = {}
        for number, types in enumerate(self.types):
            for i, type_ in enumerate(types):
                literals = {user: values[i] for user, values in self.values[number].items()}
                if len(set(literals.values())) > 1:
                    each = [
                        f"CAST({literals[u]} AS {type_})" if u in literals else "NULL"
                        for u in range(users)
                    ]
                    found[f"{self.prefix}{number}_{i}"] = (type_, each)
        return found

    def columns(self, users: int) -> list[str]:
        """Each column's SQL, with its constants read per user."""
        return [
            f"{self.expression(number, users)} AS {self.prefix}{number}"
            for number in range(len(self.texts))
        ]

    def aggregates(self, sql: DialectSQL) -> list[str]:
        """The consumer's aggregates, in the order of their indices."""
        found = []
        for (number, function, limit), _ in sorted(self.functions.items(), key=lambda i: i[1]):
            column = f"{self.prefix}{number}"
            if function == "SMALLEST":
                found.append(sql.smallest(column, limit or 0) or "NULL")
            else:
                found.append(_AGGREGATES[function].format(column))
        return found


@dataclass
class Unit:
    """One relation of one event, as a kind of unit of the pipeline."""

    number: int
    event: int
    grain: str  # '' for the row relation, `items[]` for elements
    columns: set[str]
    projection: Projection
    # What the unit reads from its document: a path's position (1-based) and proto type.
    paths: dict[tuple[str, ...], tuple[int, str]] = field(default_factory=dict)
    # (position, position of its row condition's kind or None) -> slot number
    slots: dict[tuple[int, int | None], int] = field(default_factory=dict)
    # Its uniqueness keys by type signature: (the key's columns, whether duplicates are sampled).
    keys: dict[tuple[str, ...], list[tuple[list[str], bool]]] = field(default_factory=dict)
    whole: bool = False  # reads values over its own row (a rule, a check of several fields)

    @property
    def is_row(self) -> bool:
        """Whether the unit is an event's row (not an element of one of its repeated fields)."""
        return not self.grain


@dataclass
class Placed:
    """Where each aggregate of a check is read in the statement's result."""

    check: Compiled  # compiled over the pipeline's columns (its judge reads these values)
    sources: list[tuple[str, Any]]  # per aggregate: (what, where)


class FusedScan:
    """The fused statement of a table's events, and the decoding of its result."""

    def __init__(
        self,
        plans: list[Any],
        parameters: Callable[[dict[str, Any]], dict[str, Any]],
        sql: DialectSQL,
    ):
        self.plans = plans
        self.sql = sql
        self.units: list[Unit] = []
        self.rules: list[tuple[int, int, Aggregate]] = []  # (event, position, part)
        self.placed: dict[tuple[int, int], Placed] = {}
        # Slot number -> (unit, position, position whose kind its row condition reads).
        self.slots: list[tuple[int, int, int | None]] = []
        # Per slot, the aggregates read from its rows: (lane kind, template, function, limit).
        self.lanes: list[list[tuple[tuple[str, str, int | None], int]]] = []
        self.wide: set[int] = set()  # positions read per unit (not as slots)
        # Uniqueness of slot values: per family, the slots grouped by value (and if sampled).
        self.slot_keys: dict[str, dict[int, bool]] = {}
        self.by_unit = Templates("r", "u")
        self.by_slot = Templates("x", "g")
        self._units(plans)
        self.long = len(self.units) > 1
        self._positions()
        for index, plan in enumerate(plans):
            self._place(index, plan, parameters(plan.job.suite))
        self.key_columns = sorted({s for unit in self.units for s in unit.keys})
        self.hashed = False  # whether `branches` groups keys by hash (counts are upper bounds)

    # -- layout --------------------------------------------------------------------------------

    def _units(self, plans: list[Any]) -> None:
        """One unit per event's row relation (numbered first), then one per element relation."""
        elements: list[Unit] = []
        for index, plan in enumerate(plans):
            grains = {r.relation.grain: r for r in plan.relations}
            owners: dict[str, set[str]] = {"": set(grains[""].relation.columns)}
            for grain, relation in grains.items():
                if grain.startswith("keys("):
                    owner = relation_of(parse_column(grain)[1])
                    owners.setdefault(owner, set()).add(grain)
                elif grain:
                    owners.setdefault(grain, set()).update(relation.relation.columns)
            for grain in list(owners):  # an element unit needs its enclosing element's
                while grain:
                    grain = relation_of(grain.removesuffix("[]"))
                    owners.setdefault(grain, set())
            for grain in sorted(owners, key=lambda g: (g.count("[]"), g)):
                unit = Unit(0, index, grain, owners[grain], plan.projection)
                (elements if grain else self.units).append(unit)
        self.units += elements
        for number, unit in enumerate(self.units):
            unit.number = number
        self.rows = len(plans)

    def _children(self, unit: Unit) -> list[Unit]:
        """The element units directly inside `unit` (one level of `[]` deeper)."""
        return [
            u for u in self.units
            if u.event == unit.event and u.grain
            and relation_of(u.grain.removesuffix("[]")) == unit.grain
        ]  # fmt: skip

    def _positions(self) -> None:
        """Give each value a unit reads a position whose proto type is the same in every unit."""
        wanted: dict[int, list[tuple[tuple[str, ...], str]]] = {}
        for unit in self.units:
            found: dict[tuple[str, ...], str] = {}
            types = unit.projection.types
            for column in sorted(unit.columns - set(_ENVELOPE)):
                function, name = parse_column(column)
                if function == "keys":
                    target = [] if name == ROOT else unit.projection.relative(name, unit.grain)
                    if target:  # an object inside: its text, whose keys are read
                        found[tuple(target)] = _OBJECT
                    continue
                if function == "json_type" and name == ROOT:
                    continue
                path = tuple(unit.projection.relative(name, unit.grain))
                if found.get(path) == _OBJECT:
                    continue
                value_type = types.get(name, _JSON)
                if not ValueType(value_type).is_scalar:
                    value_type = _JSON
                if function is None or function == "nonconforming" or value_type != _JSON:
                    found[path] = value_type
                else:
                    found.setdefault(path, _JSON)
            for child in self._children(unit) if unit.is_row else []:  # arrays of elements
                array = unit.projection.relative(child.grain.removesuffix("[]"), unit.grain)
                found.setdefault(tuple(array), _JSON)
            wanted[unit.number] = sorted(found.items())
        counts: dict[str, int] = {}
        users: dict[str, int] = {}
        for paths in wanted.values():
            per_type: dict[str, int] = {}
            for _, value_type in paths:
                per_type[value_type] = per_type.get(value_type, 0) + 1
            for value_type, count in per_type.items():
                counts[value_type] = max(counts.get(value_type, 0), count)
                users[value_type] = users.get(value_type, 0) + 1
        # Types most units read come first, so each unit's list ends early.
        order = sorted(counts, key=lambda t: (-users[t], t))
        first: dict[str, int] = {}
        self.types: list[str] = []
        for value_type in order:
            first[value_type] = len(self.types) + 1
            self.types += [value_type] * counts[value_type]
        for unit in self.units:
            seen: dict[str, int] = {}
            for path, value_type in wanted[unit.number]:
                ordinal = seen.get(value_type, 0)
                seen[value_type] = ordinal + 1
                unit.paths[path] = (first[value_type] + ordinal, value_type)

    def _position(self, unit: Unit, column: str) -> int | None:
        """The position a column of `unit` reads (None: the envelope or the unit's own root)."""
        if column in _ENVELOPE:
            return None
        function, name = parse_column(column)
        if name == ROOT or (function == "keys" and not unit.projection.relative(name, unit.grain)):
            return None
        return unit.paths[tuple(unit.projection.relative(name, unit.grain))][0]

    def _slot(self, unit: Unit, position: int, condition: int | None) -> int:
        if (position, condition) not in unit.slots:
            unit.slots[(position, condition)] = len(self.slots)
            self.slots.append((unit.number, position, condition))
            self.lanes.append([])
        return unit.slots[(position, condition)]

    # -- references ----------------------------------------------------------------------------

    def unit_ref(self, unit: Unit, column: str) -> str:
        """A projection column of `unit` as SQL over the unit's row of the pipeline."""
        if column in _ENVELOPE:
            return column
        function, _ = parse_column(column)
        position = self._position(unit, column)
        if position is None:
            return "kl0" if function == "keys" else "jp"
        self.wide.add(position)
        unit.whole = True
        if function == "keys":
            return f"kp{position}"
        if function == "json_type":
            return f"k{position}"
        if function == "nonconforming":
            return f"CASE WHEN k{position} <> 'null' AND v{position} IS NULL THEN t{position} END"
        return f"v{position}"

    def slot_ref(self, column: str, position: int) -> str:
        """A column of a slot's value (at `position`) as SQL over the slot's row."""
        function, _ = parse_column(column)
        if function == "keys":
            return "kl"
        if function == "json_type":
            return "k"
        family = _FAMILIES.get(self.types[position - 1], "")
        if function == "nonconforming":
            return f"CASE WHEN k <> 'null' AND {family or 'NULL'} IS NULL THEN t END"
        if not family:
            raise NotFusable(f"no typed value at {column}")
        return family

    # -- placing checks ------------------------------------------------------------------------

    def _place(self, index: int, plan: Any, parameters: dict[str, Any]) -> None:
        """Compile the event's checks over the pipeline's columns and give each its place."""
        for relation in plan.relations:
            grain = relation.relation.grain
            folded = grain.startswith("keys(")
            owner = relation_of(parse_column(grain)[1]) if folded else grain
            unit = next(u for u in self.units if u.event == index and u.grain == owner)
            for classic in relation.checks:
                try:
                    placed = self._compile(unit, classic, plan, parameters, folded)
                except NotFusable as why:
                    why.event = index
                    raise
                self.placed[(index, classic.position)] = placed

    def _compile(
        self, unit: Unit, classic: Compiled, plan: Any, parameters: dict[str, Any], folded: bool
    ) -> Placed:
        """A check over one slot's value where it reads nothing else, else over its unit's row."""
        suite = plan.job.suite
        constants: dict[int, tuple[str, str]] = {}

        def constant(literal: str, value: Any) -> str:
            type_ = _sql_type(value)
            if type_ is None:
                return literal
            constants[len(constants)] = (type_, literal)
            return f"\x00c{len(constants) - 1}\x00"

        def build(ref: Callable[[str], str]) -> Compiled:
            compiler = Compiler(suite, self.sql, parameters, ref, constant)
            check = compiler.compile(classic.position, classic.expectation, classic.grain)
            if check is None:
                raise NotFusable(f"{plan.job.event}: check {classic.position}")
            if folded:  # keys counted from their list
                listed = compiler.over_list(check)
                if listed is None:
                    raise NotFusable(f"{plan.job.event}: {classic.grain} read as rows")
                check.parts, check.inline = listed, None
            return check

        kwargs = classic.expectation["kwargs"]
        main = kwargs.get("column")
        position = self._position(unit, main) if isinstance(main, str) else None
        if self.long and position is not None and _local_type(classic):
            # One value, and the kind of another where the row condition reads one (a field of
            # a message is checked where the message is present).
            condition = kwargs.get("row_condition")
            conditioned = condition.get("column", {}).get("name") if isinstance(
                condition, dict) else None  # fmt: skip
            other = None
            if isinstance(conditioned, str) and parse_column(conditioned)[0] == "json_type":
                other = self._position(unit, conditioned)
                other = other if other != position else None
            elsewhere: list[str] = []

            def local(column: str) -> str:
                if other is not None and column == conditioned:
                    return "ck"
                if self._position(unit, column) != position:
                    elsewhere.append(column)
                    return "NULL"
                return self.slot_ref(column, position)

            try:
                check = build(local)
            except NotFusable:  # a value with no typed column: read over the unit's row
                elsewhere.append(main)
            if not elsewhere and _local(check):
                slot = self._slot(unit, position, other)
                return Placed(check, [self._slot_source(unit, slot, p, constants)
                                      for p in check.parts])  # fmt: skip
            constants.clear()
        check = build(lambda column: self.unit_ref(unit, column))
        sources = [self._unit_source(unit, check, part, constants) for part in check.parts]
        return Placed(check, sources)

    def _slot_source(
        self, unit: Unit, slot: int, part: Aggregate, constants: dict[int, tuple[str, str]]
    ) -> tuple[str, Any]:
        if _counts_rows(part):
            return ("count", unit.number)
        if part.function == "DUPLICATES":
            (family,) = part.keys
            self.slot_keys.setdefault(family, {})[slot] = part.sampled is not None
            return ("slot key", (family, slot, part.sampled is not None))
        function, argument = part.function, part.argument
        if function == "COUNT":
            function, argument = "COUNT_IF", f"({argument}) IS NOT NULL"
        text, values = _templated(argument, constants)
        number = self.by_slot.add(text, values, slot)
        lanes = self.lanes[slot]
        samples = [template for k, template in lanes if k[0] == "SAMPLE"]
        if function == "SMALLEST" or (function == "MAX" and number in samples):
            # A failed check's sample values: their smallest and their largest share a lane.
            kind: tuple[str, str, int | None] = ("SAMPLE", "", part.limit or INLINE_VALUES)
            if number not in samples:
                lanes.append((kind, number))
                samples.append(number)
            return ("slot", (slot, kind, samples.index(number), function))
        kind = (function, part.family if function in ("MIN", "MAX") else "", None)
        same = [template for k, template in lanes if k == kind]
        if number not in same:
            lanes.append((kind, number))
            same.append(number)
        return ("slot", (slot, kind, same.index(number), function))

    def _unit_source(
        self, unit: Unit, check: Compiled, part: Aggregate, constants: dict[int, tuple[str, str]]
    ) -> tuple[str, Any]:
        if _counts_rows(part):
            return ("count", unit.number)
        if part.function == "DUPLICATES":
            return self._key(unit, check, part)
        if part.function == "ROWS":
            if not unit.is_row:
                raise NotFusable("a row rule over elements")
            self.rules.append((unit.event, check.position, part))
            self.wide |= {position for position, _ in unit.paths.values()}
            unit.whole = True
            return ("rule", len(self.rules) - 1)
        function, argument = part.function, part.argument
        if function == "COUNT":
            function, argument = "COUNT_IF", f"({argument}) IS NOT NULL"
        if function not in (*_AGGREGATES, "SMALLEST"):
            raise NotFusable(f"aggregate {part.function}")
        text, values = _templated(argument, constants)
        number = self.by_unit.add(text, values, unit.number)
        return ("unit", (unit.number, self.by_unit.aggregate(number, function, part.limit)))

    def _key(self, unit: Unit, check: Compiled, part: Aggregate) -> tuple[str, Any]:
        """A uniqueness check over the unit's row: grouped with keys of the same type."""
        kwargs = check.expectation["kwargs"]
        names = kwargs.get("column_list") or [kwargs["column"]]
        types = unit.projection.types
        signature = tuple(
            name if name in _ENVELOPE else _KEY_TYPES.get(types.get(name, ""), "VARCHAR")
            for name in names
        )
        keys = unit.keys.setdefault(signature, [])
        keys.append((list(part.keys), part.sampled is not None))
        return ("key", (signature, len(keys) - 1, part.sampled is not None))

    # -- the statement -------------------------------------------------------------------------

    def ctes(self, window: str) -> list[str]:
        """The statement's common table expressions: the window, the stream `s`, its views."""
        sql = self.sql
        level = self._unit_level()
        stream = ["u", "event_id"]
        stream += self.by_unit.columns(len(self.units))
        stream += self._key_columns()
        stream += self._rule_columns()
        ctes = [sql.cte("w_all", window)]
        guard = None
        if self.long and self.slots:
            ctes.append(sql.cte("slot_meta", self._slot_meta()))
            carried = ["rkeys", "rvals", *(["doc"] if len(self.units) > self.rows else [])]
            level = f"SELECT {', '.join([*stream, *carried])} FROM ({level}) AS l"
            level = self._slot_level(level)
            named = [column.rsplit(" AS ", 1)[-1] for column in stream]
            stream = [*named, "g", *self._lane_columns(), *self._slot_key_columns()]
            guard = "g < 0"
        elif self.long:  # units of several kinds, none with a slot
            stream.append("-1 AS g")
            guard = "g < 0"
        self.guard = guard
        ctes.append(
            sql.cte("s", f"SELECT {', '.join(stream)} FROM ({level}) AS l", materialize=True)
        )
        for event in sorted({event for event, _, _ in self.rules}):
            ctes.append(sql.cte(f"r{event}", self._rule_view(event, guard)))
        return ctes

    def _unit_level(self) -> str:
        """Each unit's row: its envelope, its document's texts, and the values it reads whole."""
        sql = self.sql
        names = {plan.job.event: i for i, plan in enumerate(self.plans)}
        listed = ", ".join(sql.literal(name) for name in sorted(names))
        rows_only = range(self.rows)
        level = (
            f"SELECT event_id, event_timestamp, event_name, {sql.payload_text('payload')} AS raw, "
            f"{name_tree('event_name', names, sql)} AS u0 FROM w_all "
            f"WHERE event_name IN ({listed})"
        )
        deep = {u.event for u in self.units if u.grain.count("[]") > 1}
        reads = [  # the row units that read their values by position (not only as slots)
            u for u in self.units[: self.rows] if not self.long or u.whole or u.event in deep
        ]
        row_texts = {u.number: sql.fused_extract("raw", self._paths(u), True) for u in reads}
        columns = [f"{case_tree('u0', row_texts, rows_only)} AS rtexts"]
        columns.append(f"{sql.fused_keys('raw', guarded=True)} AS rkeys")
        if self.long:  # every top-level value, in one parse: slots find theirs by key
            columns.append(f"{sql.fused_values('raw')} AS rvals")
        level = f"SELECT *, {', '.join(columns)} FROM ({level}) AS l"
        carried = "event_id, event_timestamp, event_name, raw, rkeys" + (
            ", rvals" if self.long else ""
        )
        if len(self.units) > self.rows:  # elements: units of their own
            generic = self._elements()
            made = {u.number: self._made(u) for u in self.units[: self.rows] if u.event in deep}
            if made:
                events = ", ".join(str(e) for e in sorted(deep))
                generic = (
                    f"CASE WHEN u0 IN ({events}) THEN {case_tree('u0', made, rows_only)} "
                    f"ELSE {generic} END"
                )
            texts = f"CASE WHEN unit.u < {self.rows} THEN rtexts ELSE unit.texts END"
            whole = {  # elements read whole, made without their texts: read them here
                u.number: sql.fused_extract("unit.doc", self._paths(u), False)
                for u in self.units[self.rows :]
                if u.whole and u.event not in deep
            }
            if whole:
                texts = (
                    f"CASE WHEN unit.u < {self.rows} THEN rtexts WHEN unit.texts IS NOT NULL "
                    f"THEN unit.texts ELSE "
                    f"{case_tree('unit.u', whole, range(len(self.units)))} END"
                )
            level = (
                f"SELECT {carried}, unit.u AS u, unit.doc AS doc, {texts} AS texts FROM "
                f"(SELECT *, unnest({generic}) AS unit FROM ({level}) AS l) AS l"
            )
        else:
            level = f"SELECT {carried}, u0 AS u, rtexts AS texts FROM ({level}) AS l"
        wide = sorted(self.wide)
        if wide:
            texts = ", ".join(f"CAST(texts[{p}] AS VARCHAR) AS t{p}" for p in wide)
            level = f"SELECT *, {texts} FROM ({level}) AS l"
        root = (
            "CASE WHEN raw IS NULL THEN 'null' WHEN rkeys IS NULL THEN 'invalid' "
            f"ELSE {sql.fused_root_kind('raw', Projection.lexical_kind('raw'))} END"
        )
        strings = [p for p in wide if self.types[p - 1] in _STRING_TYPES]
        objects = [p for p in wide if self.types[p - 1] == _OBJECT]
        derived = [
            *(f"{sql.fused_string(f't{p}')} AS s{p}" for p in strings),
            *(
                f"CASE WHEN t{p} IS NOT NULL THEN {sql.fused_kind(f't{p}')} END AS k{p}"
                for p in wide
            ),
            *(f"{sql.fused_object_keys(f't{p}')} AS kp{p}" for p in objects),
            f"{root} AS jp",
            f"{self._own_keys()} AS kl0",
        ]
        level = f"SELECT *, {', '.join(derived)} FROM ({level}) AS l"
        typed = [
            f"{self._typed(p)} AS v{p}" for p in wide if self.types[p - 1] not in (_JSON, _OBJECT)
        ]
        return f"SELECT *, {', '.join(typed)} FROM ({level}) AS l" if typed else level

    def _typed(self, position: int) -> str:
        """A position's typed value, as each unit's payload encoding reads it."""
        value_type = self.types[position - 1]
        kind, text = f"k{position}", f"t{position}"
        # A value's string form: a column where every value is read so, else parsed where needed.
        encoded = f"s{position}" if value_type in _STRING_TYPES else self.sql.fused_string(text)
        projection = self.units[0].projection
        encodings = {u.projection.int64_as_string for u in self.units if any(
            p == position for p, _ in u.paths.values())}  # fmt: skip
        if len(encodings) <= 1:
            return projection.typed(kind, text, encoded, value_type, next(iter(encodings), None))
        branches = {
            u.number: projection.typed(
                kind, text, encoded, value_type, u.projection.int64_as_string
            )
            for u in self.units
        }
        return case_tree("u", branches, range(len(self.units)))

    def _slot_codes(self) -> tuple[list[int], dict[tuple[str, bool], int]]:
        """Each slot's value type (with its payload encoding), as a small number."""
        codes: dict[tuple[str, bool], int] = {}
        slot_codes = []
        for unit_number, position, _ in self.slots:
            unit = self.units[unit_number]
            key = (self.types[position - 1], unit.projection.int64_as_string)
            slot_codes.append(codes.setdefault(key, len(codes)))
        return slot_codes, codes

    def _lane_layout(self) -> list[tuple[tuple[str, str, int | None], int]]:
        """Each lane kind and how many lanes of it the slot with the most needs."""
        widths: dict[tuple[str, str, int | None], int] = {}
        for lanes in self.lanes:
            per_kind: dict[tuple[str, str, int | None], int] = {}
            for kind, _ in lanes:
                per_kind[kind] = per_kind.get(kind, 0) + 1
            for kind, count in per_kind.items():
                widths[kind] = max(widths.get(kind, 0), count)
        return sorted(widths.items(), key=lambda item: str(item[0]))

    def _slot_meta(self) -> str:
        """One row per slot: its values' place and type, its lanes' templates, their constants.

        Joined to the slots' rows: one hash probe a row, cheaper than a list lookup per value.
        """
        slot_codes, _ = self._slot_codes()
        self.lane_kinds = self._lane_layout()
        columns = {
            "g": _list(list(range(len(self.slots)))),
            "tc": _list(slot_codes),
        }
        for prefix, index in (("v", 1), ("c", 2)):
            keys, paths = [], []
            for slot in self.slots:
                unit, position = self.units[slot[0]], slot[index]
                key, path = self._where(unit, position) if position is not None else (None, None)
                keys.append(key)
                paths.append(path)
            if any(p is not None for p in [*keys, *paths]):
                columns[f"{prefix}key"] = _texts(keys, self.sql)
                columns[f"{prefix}path"] = _texts(paths, self.sql)
        for number, (kind, width) in enumerate(self.lane_kinds):
            for lane in range(width):
                chosen = []
                for lanes in self.lanes:
                    same = [template for k, template in lanes if k == kind]
                    chosen.append(same[lane] if lane < len(same) else None)
                columns[f"l{number}_{lane}"] = _list(chosen)
        for family, slots in sorted(self.slot_keys.items()):
            columns[f"kf{family}"] = _list([g in slots for g in range(len(self.slots))])
        for name, (type_, values) in self.by_slot.varying(len(self.slots)).items():
            columns[name] = f"CAST([{', '.join(values)}] AS {type_}[])"
        return "SELECT " + ", ".join(f"unnest({v}) AS {k}" for k, v in columns.items())

    def _where(self, unit: Unit, position: int) -> tuple[str | None, str | None]:
        """Where a slot finds its value.

        In a row: the payload's top-level key and the path inside its value; in an element: the
        path inside the element.
        """
        path = next(list(p) for p, (at, _) in unit.paths.items() if at == position)
        if unit.is_row:
            return path[0], self.sql.fused_path(path[1:])
        return None, self.sql.fused_path(path) or "$"

    def _slot_level(self, level: str) -> str:
        """One more row per slot of each unit, with the slot's value.

        The unit's own row has `g` = -1; a slot's row has its text, JSON kind and typed value
        (a column per family of types).
        """
        sql = self.sql
        of_unit = [sorted(u.slots.values()) for u in self.units]
        level = (
            f"SELECT *, unnest(list_concat([-1], ({_list(of_unit)})[u + 1])) AS g "
            f"FROM ({level}) AS l"
        )
        level = f"SELECT * FROM ({level}) AS l LEFT JOIN slot_meta AS m USING (g)"
        conditions = any(c is not None for _, _, c in self.slots)
        elements = len(self.units) > self.rows

        def value(prefix: str) -> str:
            found = sql.fused_lookup("rkeys", "rvals", f"{prefix}key", f"{prefix}path")
            if elements:
                inside = sql.fused_lookup(None, "doc", None, f"{prefix}path")
                found = f"CASE WHEN {prefix}key IS NOT NULL THEN {found} ELSE {inside} END"
            return f"CAST({found} AS VARCHAR)"

        texts = [f"{value('v')} AS t"]
        if conditions:
            texts.append(f"{value('c')} AS ct")
        level = f"SELECT *, {', '.join(texts)} FROM ({level}) AS l"
        _, codes = self._slot_codes()
        objects = [code for (value_type, _), code in codes.items() if value_type == _OBJECT]
        derived = [f"CASE WHEN t IS NOT NULL THEN {sql.fused_kind('t')} END AS k"]
        if conditions:
            derived.append(f"CASE WHEN ct IS NOT NULL THEN {sql.fused_kind('ct')} END AS ck")
        if objects:
            derived.append(
                f"CASE WHEN tc IN ({', '.join(map(str, objects))}) "
                f"THEN {sql.fused_object_keys('t')} END AS kl"
            )
        level = f"SELECT *, {', '.join(derived)} FROM ({level}) AS l"
        projection = self.units[0].projection
        families: dict[str, list[str]] = {}
        for (value_type, as_string), code in sorted(codes.items(), key=lambda i: i[1]):
            family = _FAMILIES.get(value_type)
            if family is None:
                continue
            typed = projection.typed("k", "t", sql.fused_string("t"), value_type, as_string)
            families.setdefault(family, []).append(
                f"WHEN {code} THEN CAST({typed} AS {_FAMILY_TYPES[family]})"
            )
        typed_columns = [
            f"CASE tc {' '.join(arms)} END AS {family}" for family, arms in sorted(families.items())
        ]
        if typed_columns:
            level = f"SELECT *, {', '.join(typed_columns)} FROM ({level}) AS l"
        return level

    def _lane_columns(self) -> list[str]:
        """Each slot's aggregates in lanes: lane j of a kind holds its j-th template of that kind.

        A row then feeds a few aggregates (its slot's), not one per template of every slot; each
        lane picks, by the slot's template number, the one expression its rows evaluate.
        """
        columns = []
        for number, (kind, width) in enumerate(self.lane_kinds):
            for lane in range(width):
                chosen = set()
                for lanes in self.lanes:
                    same = [template for k, template in lanes if k == kind]
                    if lane < len(same):
                        chosen.add(same[lane])
                arms = {t: self.by_slot.expression(t, len(self.slots), "g") for t in chosen}
                tree = case_tree(f"l{number}_{lane}", arms, sorted(chosen))
                columns.append(f"{tree} AS y{number}_{lane}")
        return columns

    def _paths(self, unit: Unit) -> list[list[str] | None]:
        """The unit's paths by position; None where it reads nothing."""
        listed: list[list[str] | None] = [None] * max(
            (p for p, _ in unit.paths.values()), default=0
        )
        for path, (position, _) in unit.paths.items():
            listed[position - 1] = list(path)
        return listed

    def _elements(self) -> str:
        """The units each row makes: itself, then each element of its event's arrays.

        Generic: the arrays (one level deep) are the events' data, not an expression of each.
        """
        sql = self.sql
        per_row: list[list[tuple[int, str, str | None]]] = [[] for _ in range(self.rows)]
        for unit in self.units[self.rows :]:
            if unit.grain.count("[]") == 1:
                head, *rest = unit.projection.relative(unit.grain.removesuffix("[]"), "")
                per_row[unit.event].append((unit.number, head, sql.fused_path(rest)))
        listed = []
        for arrays in per_row:
            items = [
                f"{{'u': {u}, 'k': {sql.literal(k)}, 'p': "
                f"{'CAST(NULL AS VARCHAR)' if p is None else sql.literal(p)}}}"
                for u, k, p in arrays
            ]
            listed.append(f"[{', '.join(items)}]" if items else
                          "CAST([] AS STRUCT(u INTEGER, k VARCHAR, p VARCHAR)[])")  # fmt: skip
        array = sql.fused_lookup("rkeys", "rvals", "a.k", "a.p")
        element = sql.fused_unit("a.u", "x", "NULL")
        made = (
            f"flatten(list_transform(([{', '.join(listed)}])[u0 + 1], lambda a: list_transform("
            f"coalesce({sql.fused_elements(f'CAST({array} AS VARCHAR)')}, []), "
            f"lambda x: {element})))"
        )
        return f"list_concat([{sql.fused_unit('u0', 'NULL', 'NULL')}], {made})"

    def _made(self, row: Unit) -> str:
        """The units a row makes: itself, then each element of its repeated fields (any depth)."""
        sql = self.sql
        lists = [f"[{sql.fused_unit(str(row.number), 'NULL', 'NULL')}]", *self._inside(row, None)]
        return lists[0] if len(lists) == 1 else f"list_concat({', '.join(lists)})"

    def _inside(self, unit: Unit, doc: str | None) -> list[str]:
        """Lists of the element units inside `unit`, whose document is `doc` (None: the row's)."""
        sql = self.sql
        made = []
        for child in self._children(unit):
            array = unit.projection.relative(child.grain.removesuffix("[]"), unit.grain)
            if doc is None:  # an array of the row: its text was read with the row's values
                position, _ = unit.paths[tuple(array)]
                listed = sql.fused_elements(f"CAST(rtexts[{position}] AS VARCHAR)")
            else:
                listed = sql.fused_elements(sql.json_text(doc, array))
            x = f"x{child.grain.count('[]')}"
            texts = sql.fused_extract(x, self._paths(child), guarded=False)
            unit_sql = sql.fused_unit(str(child.number), x, texts)
            made.append(f"list_transform(coalesce({listed}, []), lambda {x}: {unit_sql})")
            made += [
                f"flatten(list_transform(coalesce({listed}, []), lambda {x}: {nested}))"
                for nested in self._inside(child, x)
            ]
        return made

    def _own_keys(self) -> str:
        """The keys of each unit's own document: a row's payload, or an element."""
        rows = self.sql.fused_object_keys("raw", "rkeys")
        if len(self.units) == self.rows:
            return rows
        elements = self.sql.fused_object_keys("CAST(doc AS VARCHAR)")
        return f"CASE WHEN u < {self.rows} THEN {rows} ELSE {elements} END"

    def _key_columns(self) -> list[str]:
        """Columns per uniqueness key type and rank: each unit's key of that type, if any.

        One column per field of the key (NULL for units with no such key).
        """
        self.key_slots: list[tuple[tuple[str, ...], int]] = []
        columns = []
        for signature in self.key_columns:
            rank = max(len(unit.keys.get(signature, [])) for unit in self.units)
            for r in range(rank):
                slot = len(self.key_slots)
                for i in range(len(signature)):
                    branches = {
                        unit.number: unit.keys[signature][r][0][i]
                        for unit in self.units
                        if len(unit.keys.get(signature, [])) > r
                    }
                    tree = case_tree("u", branches, range(len(self.units)))
                    columns.append(f"{tree} AS kb{slot}_{i}")
                self.key_slots.append((signature, r))
        return columns

    def _slot_key_columns(self) -> list[str]:
        """One column per family of slot values some uniqueness check groups (NULL elsewhere)."""
        return [f"CASE WHEN kf{family} THEN {family} END AS kk{family}"
                for family in sorted(self.slot_keys)]  # fmt: skip

    def _rule_columns(self) -> list[str]:
        """The pipeline's columns the row rules' views read."""
        if not self.rules:
            return []
        wanted = {"event_timestamp", "event_name", "jp", "kl0"}
        for event in {event for event, _, _ in self.rules}:
            for position, value_type in self.units[event].paths.values():
                wanted |= {f"t{position}", f"k{position}"}
                if value_type not in (_JSON, _OBJECT):
                    wanted.add(f"v{position}")
                if value_type == _OBJECT:
                    wanted.add(f"kp{position}")
        return sorted(wanted)

    def _rule_view(self, event: int, guard: str | None) -> str:
        """An event's rows as its relation names them (what a row rule's `{batch}` reads)."""
        unit = self.units[event]
        columns = [*_ENVELOPE, *sorted(unit.columns - set(_ENVELOPE))]
        listed = ", ".join(f"{self.unit_ref(unit, c)} AS {quote_identifier(c)}" for c in columns)
        where = f"{guard} AND u = {unit.number}" if guard else f"u = {unit.number}"
        return f"SELECT {listed} FROM s WHERE {where}"

    def branches(self) -> list[str]:
        """The statement's result rows: per unit kind, per slot, duplicated keys, row rules."""
        sql = self.sql
        unit_rows = f"WHERE {self.guard} " if self.guard else ""
        found = [
            f"SELECT {UNITS} AS event_index, u AS relation_index, "
            f"{sql.json_array(['COUNT(*)', *self.by_unit.aggregates(sql)])} AS result "
            f"FROM s {unit_rows}GROUP BY u"
        ]
        lanes = []
        for number, ((function, _, limit), width) in enumerate(getattr(self, "lane_kinds", [])):
            for lane in range(width):
                column = f"y{number}_{lane}"
                if function == "SAMPLE":
                    lanes += [sql.smallest(column, limit or 0) or "NULL", f"MAX({column})"]
                else:
                    lanes.append(_AGGREGATES[function].format(column))
        if lanes:
            found.append(
                f"SELECT {SLOTS} AS event_index, g AS relation_index, "
                f"{sql.json_array(lanes)} AS result FROM s WHERE g >= 0 GROUP BY g"
            )
        # (name, the grouping's user, its key columns, a group's sample, rows it reads)
        keys: list[tuple[str, str, list[str], str, str]] = []
        for slot, (signature, rank) in enumerate(self.key_slots):
            holders = [u for u in self.units if len(u.keys.get(signature, [])) > rank]
            sampled = [u.number for u in holders if u.keys[signature][rank][1]]
            timestamps = signature in (("event_timestamp",), ("TIMESTAMPTZ",))
            columns = [f"kb{slot}_{i}" for i in range(len(signature))]
            value = self._sample(columns[0], timestamps, "u", sampled, len(holders))
            rows = f"{self.guard} AND " if self.guard else ""
            keys.append((f"kb{slot}", "u", columns, value, rows))
        for family, slots in sorted(self.slot_keys.items()):
            sampled = [g for g, wants in slots.items() if wants]
            value = self._sample(f"kk{family}", family == "vt", "g", sampled, len(slots))
            keys.append((f"kk{family}", "g", [f"kk{family}"], value, ""))
        self.key_order = [name for name, _, _, _, _ in keys]
        smallest = sql.smallest("v", 20) or "NULL"
        for number, (_, user, columns, value, rows) in enumerate(keys):
            present = " AND ".join(f"{c} IS NOT NULL" for c in columns)
            # By hash where the dialect has one: no duplicated hash, no duplicated key (exact);
            # otherwise the count is an upper bound that `decode` reports as unsettled.
            hashed = sql.key_hash(columns)
            if hashed is not None:
                columns, value, self.hashed = [hashed], "NULL", True
            # One kind of unit: its keys alone are the grouping (DuckDB packs short strings).
            alone = user == "u" and len(self.units) == 1
            selected = "0 AS u" if alone else user
            grouped = ", ".join(columns if alone else [user, *columns])
            found.append(
                f"SELECT {KEYS - number} AS event_index, {user} AS relation_index, "
                f"{sql.json_array(['COALESCE(SUM(n), 0)', smallest])} AS result FROM "
                f"(SELECT {selected}, COUNT(*) AS n, {value} AS v FROM s WHERE {rows}{present} "
                f"GROUP BY {grouped} HAVING COUNT(*) > 1) AS duplicated GROUP BY {user}"
            )
        for number, (event, _, part) in enumerate(self.rules):
            found.append(
                f"SELECT {ROW_RULES} AS event_index, {number} AS relation_index, "
                f"{part.sql.replace('{relation}', f'r{event}')} AS result"
            )
        return found

    def _sample(self, key: str, timestamps: bool, group: str, sampled: list[int], held: int) -> str:
        """A duplicated key's sample (the JSON of the value, as `sample_json`), where wanted."""
        sql = self.sql
        value = sql.to_json(sql.epoch_us(key) if timestamps else key)
        if not sampled:
            return "NULL"
        if len(sampled) < held:
            return f"CASE WHEN {group} IN ({', '.join(map(str, sampled))}) THEN {value} END"
        return value

    # -- the result ----------------------------------------------------------------------------

    def decode(self, rows: list[tuple[int, int, str]]) -> dict[tuple[int, int], list[Any]]:
        """Each placed check's aggregate values, by (event, position), from the fused rows.

        Duplicate counts grouped by hash are exact when zero; the others are listed in
        `unsettled` for the caller to count over the check's relation.
        """
        units: dict[int, list[Any]] = {}
        slots: dict[int, list[Any]] = {}
        keys: dict[tuple[str, int], list[Any]] = {}
        rules: dict[int, Any] = {}
        for marker, key, result in rows:
            if marker == UNITS:
                units[key] = json.loads(result)
            elif marker == SLOTS:
                slots[key] = json.loads(result)
            elif marker == ROW_RULES:
                rules[key] = result
            else:
                keys[(self.key_order[KEYS - marker], key)] = json.loads(result)
        lane_at: dict[tuple[str, str, int | None], int] = {}
        at = 0
        for kind, width in getattr(self, "lane_kinds", []):
            lane_at[kind] = at
            at += width * (2 if kind[0] == "SAMPLE" else 1)
        values: dict[tuple[int, int], list[Any]] = {}
        # Checks whose duplicated keys were counted by hash, and found some: (event, position)
        # -> the indexes of those counts, upper bounds until counted over the relation.
        self.unsettled: dict[tuple[int, int], list[int]] = {}
        for (event, position), placed in self.placed.items():
            got: list[Any] = []
            for what, where in placed.sources:
                if what == "count":
                    row = units.get(where)
                    got.append(row[0] if row else None)
                elif what == "unit":
                    unit, index = where
                    row = units.get(unit)
                    got.append(row[1 + index] if row else None)
                elif what == "slot":
                    slot, kind, lane, function = where
                    row = slots.get(slot)
                    if kind[0] == "SAMPLE":
                        index = lane_at[kind] + 2 * lane + (function == "MAX")
                    else:
                        index = lane_at[kind] + lane
                    got.append(row[index] if row else None)
                elif what in ("key", "slot key"):
                    if what == "key":
                        signature, rank, sampled = where
                        column = f"kb{self.key_slots.index((signature, rank))}"
                        found = keys.get((column, self._unit_of_check(event, placed.check)))
                    else:
                        family, slot, sampled = where
                        found = keys.get((f"kk{family}", slot))
                    count, smallest = found if found else (0, None)
                    if count and self.hashed:
                        self.unsettled.setdefault((event, position), []).append(len(got))
                    got.append(json.dumps([count, smallest]) if sampled else count)
                else:
                    got.append(rules.get(where))
            values[(event, position)] = got
        return values

    def row_counts(self, rows: list[tuple[int, int, str]]) -> dict[int, int]:
        """Each event's rows in the window (its row unit's count)."""
        return {key: json.loads(result)[0] for marker, key, result in rows
                if marker == UNITS and key < self.rows}  # fmt: skip

    def _unit_of_check(self, event: int, check: Compiled) -> int:
        grain = check.grain
        owner = relation_of(parse_column(grain)[1]) if grain.startswith("keys(") else grain
        return next(u.number for u in self.units if u.event == event and u.grain == owner)


def _counts_rows(part: Aggregate) -> bool:
    """Whether an aggregate counts its relation's rows (the unit count answers it)."""
    return (part.function == "COUNT" and part.argument == "*") or (
        part.function == "COUNT_IF" and part.argument == "TRUE"
    )


def _local_type(check: Compiled) -> bool:
    """Whether a check may read one slot's rows: neither a row rule nor several columns."""
    kwargs = check.expectation["kwargs"]
    return check.expectation["type"] != "unexpected_rows_expectation" and not (
        kwargs.get("column_list") or kwargs.get("column_A")
    )


def _local(check: Compiled) -> bool:
    """Whether every aggregate of a check can be read from the rows of one slot."""
    return all(
        part.function in (*_AGGREGATES, "COUNT", "SMALLEST")
        or (part.function == "DUPLICATES" and len(part.keys) == 1)
        for part in check.parts
    )


def _templated(argument: str, constants: dict[int, tuple[str, str]]) -> tuple[str, list[Any]]:
    """An argument with its stand-ins numbered in order of appearance, and their constants."""
    order: dict[int, int] = {}

    def number(match: re.Match[str]) -> str:
        index = order.setdefault(int(match.group(1)), len(order))
        return f"\x00{index}\x00"

    text = _STAND_IN.sub(number, argument)
    return text, [constants[i] for i in sorted(order, key=order.__getitem__)]


def _texts(values: list[str | None], sql: DialectSQL) -> str:
    """A constant list literal of strings (NULL where None)."""
    listed = ", ".join("NULL" if v is None else sql.literal(v) for v in values)
    return f"CAST([{listed}] AS VARCHAR[])"


def _list(values: list[Any]) -> str:
    """A constant list literal of integers, booleans, lists of integers, or NULL."""

    def item(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + ", ".join(map(item, value)) + "]" if value else "CAST([] AS INTEGER[])"
        return str(value)

    return "[" + ", ".join(map(item, values)) + "]"
