"""Run suites in the warehouse as compiled SQL: one statement per table window.

For each table, every selected event's relations (rows, elements of repeated fields, keys of
objects) are written as common table expressions over one window of the table, and each
expectation becomes aggregates over its relation (`compiler`). One statement returns one row per
aggregate branch (an event's relations that read the same rows share one); a second, capped
statement fetches samples for the checks that failed, and counts exactly the duplicates a fused
pipeline found by hash. Only aggregates and samples reach Python, never the window's rows.
Expectation types the compiler does not know run through Great Expectations' engine
(`reference`), for those expectations only.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from eventqa.config.models import parse_duration
from eventqa.execution.compiler import (
    SAMPLE_SIZE,
    Compiled,
    Compiler,
    offending_rows,
    sample_json,
)
from eventqa.execution.fused import UNITS, FusedScan, NotFusable
from eventqa.execution.projection import (
    Projection,
    Relation,
    event_rows,
    expectation_grain,
    plan_relations,
    window_predicate,
)
from eventqa.results.models import CheckResult, EventResult, Status, TableResult, Window
from eventqa.suites.columns import quote_identifier, relation_of
from eventqa.warehouse import Warehouse
from eventqa.warehouse.base import SQL_LOG, OutOfMemoryError, RejectedSQLError
from eventqa.warehouse.dialect import DialectSQL

TABLE_KEYS = ["total", "nulls", "bad"]
# The `event_index` of the rows counting events per name and bucket (their relation_index is the
# bucket's start in epoch seconds).
COUNTS = -2
# The `event_index` of the rows counting events dated after the real clock, per name.
AFTER_CLOCK = -3
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REPRODUCTION_LIMIT = 100
_PARAMETER = re.compile(r"^until_(plus|minus)_(\d+[smhdw])$")
_EXPECTED_KEYS = ("min_value", "max_value", "value_set", "regex", "or_equal", "mostly")
# Great Expectations' suite-parameter parser and registries are not thread-safe.
GX_LOCK = threading.Lock()


RULE = "unexpected_rows_expectation"  # the expectation type of `sql` rules (offending rows)


@dataclass(frozen=True)
class EventJob:
    """One event to check: its suite document and where its rows are."""

    event: str
    table: str
    owner: str | None
    suite: dict[str, Any]


def suite_parameters(suite: dict[str, Any], until: datetime) -> dict[str, datetime]:
    """Values for the suite's `{"$PARAMETER": "until_plus_5m"}` placeholders."""
    values: dict[str, datetime] = {}
    for expectation in suite["expectations"]:
        for value in expectation["kwargs"].values():
            if isinstance(value, dict) and "$PARAMETER" in value:
                name = value["$PARAMETER"]
                match = _PARAMETER.match(name)
                if match:
                    offset: timedelta = parse_duration(match.group(2))
                    values[name] = until + offset if match.group(1) == "plus" else until - offset
    return values


def check_status(success: bool, severity: str, raised: bool = False) -> Status:
    """A check's status from its outcome and severity."""
    if raised:
        return Status.ERROR
    if success:
        return Status.PASSED
    return Status.FAILED if severity == "error" else Status.WARNED


def jsonable(value: Any) -> Any:
    """A value as it is stored and printed (datetimes as ISO 8601)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def distinct(values: Iterable[Any]) -> list[Any]:
    """Values in order, each once."""
    seen: set[str] = set()
    kept = []
    for value in values:
        key = repr(value)
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept


def mentions(query: str, column: str) -> bool:
    """Whether a rule's SQL names a column (bare or double-quoted)."""
    return f'"{column}"' in query or re.search(rf"\b{re.escape(column)}\b", query) is not None


def base_result(expectation: dict[str, Any]) -> dict[str, Any]:
    """The fields of a CheckResult that come from the expectation itself."""
    kwargs, meta = expectation["kwargs"], expectation.get("meta") or {}
    return {
        "expectation_type": expectation["type"],
        "column": kwargs.get("column"),
        "check_id": meta.get("id", ""),
        "severity": meta.get("severity", "error"),
        "check": meta.get("check", ""),
        "description": expectation.get("description") or "",
        "origin": meta.get("origin", ""),
        "expected": jsonable({k: kwargs[k] for k in _EXPECTED_KEYS if k in kwargs}),
    }


# -- planning ------------------------------------------------------------------------------------


@dataclass
class RelationPlan:
    """One relation of one event: its CTE and the compiled checks over it."""

    cte: str
    relation: Relation
    checks: list[Compiled] = field(default_factory=list)
    # The CTE its aggregates read when not its own: the row relation, for keys read as lists.
    reads: str | None = None


@dataclass
class EventPlan:
    """One event's share of the table statement."""

    job: EventJob
    projection: Projection
    source: str
    relations: list[RelationPlan]
    fallback: list[int]  # positions that GX's engine runs
    sensitive: set[str]
    unnested: str  # the source of relations that unnest (elements, keys): read apart

    @property
    def rows(self) -> RelationPlan:
        """The row relation (always present: it carries the event count)."""
        return self.relations[0]


def plan_event(job: EventJob, index: int, warehouse: Warehouse, window: Window) -> EventPlan:
    """Compile one event's suite into relations and checks."""
    sql = warehouse.sql
    suite = job.suite
    relations = plan_relations(suite, f"e{index}", sql.keys_in_row_table)
    compiler = Compiler(suite, sql, suite_parameters(suite, window.until))
    plans = {
        grain: RelationPlan(f"e{index}_r{number}", relation)
        for number, (grain, relation) in enumerate(relations.items())
    }
    fallback = []
    for position, expectation in enumerate(suite["expectations"]):
        grain = expectation_grain(expectation)
        compiled = compiler.compile(position, expectation, grain)
        if compiled is None:
            fallback.append(position)
        else:
            plans[grain].checks.append(compiled)
            plans[grain].relation.columns.update(compiled.columns)
    rows = plans[""]
    for plan in plans.values():  # keys carried as a list by the row relation: counted there
        listed = [compiler.over_list(check) for check in plan.checks]
        if plan.relation.query is None or not plan.checks or None in listed:
            continue
        for check, aggregates in zip(plan.checks, listed, strict=True):
            check.parts, check.inline = aggregates or [], None
        plan.reads = rows.cte
    return EventPlan(
        job,
        Projection(suite, sql),
        event_rows("w", job.event, window, sql),
        list(plans.values()),
        fallback,
        set(suite["meta"]["eventqa"].get("sensitive", [])),
        event_rows(sql.every_row, job.event, window, sql),
    )


def relation_select(
    plan: EventPlan, relation: RelationPlan, windows: bool | Collection[int] = True
) -> str:
    """The SELECT of a relation, with the window columns its failing rows need.

    `windows`: all of them, none, or those of the checks at these positions.
    """
    if relation.relation.query is not None:  # keys carried as a list by the row relation
        column = quote_identifier(relation.relation.grain)
        body = plan.projection.sql.unnest_keys(plan.rows.cte, column, column)
    else:
        source = plan.unnested if relation.relation.grain else plan.source
        body = plan.projection.select(relation.relation, source)
    extra = [
        w
        for check in relation.checks
        if windows is True or (windows is not False and check.position in windows)
        for w in check.windows
    ]
    if extra:
        body = f"SELECT x.*, {', '.join(extra)} FROM ({body}) AS x"
    return body


def window_rows(table: str, window: Window, sql: DialectSQL) -> str:
    """The table window every relation reads (`w`): pruned by time, payload not yet parsed."""
    return (
        "SELECT event_id, event_timestamp, event_name, payload "
        f"FROM {quote_identifier(table)} WHERE {window_predicate(window, sql)}"
    )


def _ctes(
    plans: list[EventPlan],
    table: str,
    window: Window,
    warehouse: Warehouse,
    windows: bool | dict[int, set[int]],
    shared: bool = True,
) -> list[str]:
    sql = warehouse.sql
    # A samples statement (`windows` by event) defines only the relations of the events it reads.
    chosen = [i for i in range(len(plans)) if isinstance(windows, bool) or i in windows]
    events = [plans[index].job.event for index in chosen]
    ctes = sql.window(window_rows(table, window, sql), events, shared)
    parsed_once = sql.rows_materialized(events, shared)
    for index in chosen:
        plan = plans[index]
        wanted = windows if isinstance(windows, bool) else windows[index]
        ctes += [
            sql.cte(r.cte, relation_select(plan, r, wanted), parsed_once and r is plan.rows)
            for r in plan.relations
        ]
    return ctes


def _aggregates(plan: EventPlan, relation: RelationPlan) -> list[tuple[str, str]]:
    pairs = [("n", "COUNT(*)")] if relation is plan.rows else []
    for check in relation.checks:
        for number, aggregate in enumerate(check.aggregates):
            pairs.append(
                (f"c{check.position}_{number}", aggregate.replace("{relation}", relation.cte))
            )
    return pairs


def _branches(plan: EventPlan) -> list[tuple[int, str, list[tuple[str, str]]]]:
    """An event's aggregate branches: (first relation's number, what it reads, its aggregates).

    Relations that read the same rows share a branch (keys counted from the row relation's
    lists): each branch is one more pipeline over the window, with its own working memory.
    """
    branches: dict[str, tuple[int, str, list[tuple[str, str]]]] = {}
    for number, relation in enumerate(plan.relations):
        pairs = _aggregates(plan, relation)
        reads = relation.reads or relation.cte
        if pairs:
            branches.setdefault(reads, (number, reads, []))[2].extend(pairs)
    return list(branches.values())


def table_statement(
    plans: list[EventPlan],
    table: str,
    declared: list[str] | None,
    window: Window,
    warehouse: Warehouse,
    bucket: timedelta | None = None,
) -> str:
    """The one statement computing every event's checks over the table window.

    With `bucket`, it also counts the window's rows per event name and bucket (the volume the
    monitoring judges), with each bucket's newest timestamp: in the same scan.
    """
    return _statement(plans, table, declared, window, warehouse, bucket)[0]


def _statement(
    plans: list[EventPlan],
    table: str,
    declared: list[str] | None,
    window: Window,
    warehouse: Warehouse,
    bucket: timedelta | None = None,
) -> tuple[str, FusedScan | None]:
    """The table statement, and its fused pipeline where the dialect runs one (else None).

    Raises NotFusable, naming the event, when one of several events cannot join the pipeline.
    """
    sql = warehouse.sql
    fused = None
    if sql.fused and plans:
        try:
            fused = FusedScan(plans, lambda suite: suite_parameters(suite, window.until), sql)
        except NotFusable as why:
            if len(plans) > 1:
                raise
            SQL_LOG.info("%s: %s checked by its relations' own SQL (%s)", table,
                         plans[0].job.event, why)  # fmt: skip
    if fused is not None:
        ctes = fused.ctes(window_rows(table, window, sql))
        branches = fused.branches()
    else:
        ctes = _ctes(plans, table, window, warehouse, False)
        branches = []
        for index, plan in enumerate(plans):
            for number, reads, pairs in _branches(plan):
                branches.append(
                    f"SELECT {index} AS event_index, {number} AS relation_index, "
                    f"{sql.json_array([value for _, value in pairs])} AS result "
                    f"FROM {reads}{sql.one_group}"
                )
    branches += _table_branches(plans, table, declared, window, sql, bucket)
    return f"WITH {', '.join(ctes)}\n" + "\nUNION ALL\n".join(branches), fused


def _table_branches(
    plans: list[EventPlan],
    table: str,
    declared: list[str] | None,
    window: Window,
    sql: DialectSQL,
    bucket: timedelta | None,
) -> list[str]:
    """The table's own rows of the statement: undeclared names, volume, rows after the clock."""
    branches = []
    if declared is not None:
        names = ", ".join(sql.literal(name) for name in sorted(declared))
        undeclared = f"event_name NOT IN ({names})" if names else "TRUE"
        pairs = [  # in the order of TABLE_KEYS
            ("total", "COUNT(*)"),
            ("nulls", "COUNT(CASE WHEN event_name IS NULL THEN 1 END)"),
            ("bad", f"COUNT(CASE WHEN event_name IS NOT NULL AND {undeclared} THEN 1 END)"),
        ]
        values = sql.json_array([value for _, value in pairs])
        branches.append(
            f"SELECT -1 AS event_index, -1 AS relation_index, {values} AS result "
            f"FROM {sql.every_row}"
        )
    if bucket is not None:
        start = sql.bucket_start("event_timestamp", int(bucket.total_seconds()))
        # All text: an array of one type is what every dialect (and the emulator) builds.
        latest = f"MAX({sql.epoch_us('event_timestamp')})"
        values = sql.json_array(
            ["event_name", "CAST(COUNT(*) AS VARCHAR)", f"CAST({latest} AS VARCHAR)"]
        )
        branches.append(
            f"SELECT {COUNTS} AS event_index, {start} AS relation_index, {values} AS result "
            f"FROM {sql.every_row} WHERE event_timestamp IS NOT NULL GROUP BY event_name, {start}"
        )
    late = after_clock_branch(plans, table, window, sql)
    if late is not None:
        branches.append(late)
    return branches


def after_clock_branch(
    plans: list[EventPlan], table: str, window: Window, sql: DialectSQL
) -> str | None:
    """Events dated after the real clock plus the skew, per name, pruned by time.

    A live run reads them with its window (the `not_future` check); a re-run of a past window
    does not, so this branch reports them whatever the window.
    """
    if window.after_clock is None or window.future_after is not None or not plans:
        return None
    names = ", ".join(sql.literal(plan.job.event) for plan in plans)
    latest = f"MAX({sql.epoch_us('event_timestamp')})"
    values = sql.json_array(
        ["event_name", "CAST(COUNT(*) AS VARCHAR)", f"CAST({latest} AS VARCHAR)"]
    )
    return (
        f"SELECT {AFTER_CLOCK} AS event_index, 0 AS relation_index, {values} AS result "
        f"FROM {quote_identifier(table)} "
        f"WHERE event_timestamp > {sql.timestamp_literal(window.after_clock)} "
        f"AND event_name IN ({names}) GROUP BY event_name"
    )


def after_clock_result(job: EventJob, count: int, newest: datetime, window: Window) -> CheckResult:
    """A failed check for an event's rows dated after the real clock plus the skew."""
    rule = next(
        (
            e
            for e in job.suite["expectations"]
            if (e.get("meta") or {}).get("id") == "event_timestamp.not_future"
        ),
        None,
    )
    fields = base_result(rule) if rule else {"severity": "error", "origin": "", "check": ""}
    limit = window.after_clock.isoformat() if window.after_clock else ""
    return CheckResult(
        **{
            **fields,
            "expectation_type": "expect_column_values_to_be_between",
            "column": "event_timestamp",
            "check_id": "event_timestamp.after_clock",
            "check": fields.get("check") or "event_timestamp",
            "description": f"event_timestamp is not later than the real clock plus the skew "
            f"({limit})",
            "expected": {"max_value": limit},
        },
        status=check_status(False, fields["severity"]),
        unexpected_count=count,
        observed_value={"newest": newest.isoformat(), "count": count},
    )


# -- results --------------------------------------------------------------------------------------


@dataclass
class TableRun:
    """What one table statement found."""

    events: list[EventResult]
    table: TableResult | None
    statements: int
    # Expectations the compiler does not know, by event: GX's engine runs them afterwards
    # (`complete_with_gx`), once every compiled connection is closed.
    pending: dict[str, tuple[EventJob, list[int]]] = field(default_factory=dict)
    # Rows in the window per event name and bucket start (UTC), when the run asked for them.
    counts: dict[str | None, dict[datetime, int]] = field(default_factory=dict)
    # Each event name's newest timestamp in the window (rows dated after `until` left out).
    newest: dict[str | None, datetime] = field(default_factory=dict)
    # Per event, the failed check of its rows dated after the real clock plus the skew; added
    # last (`with_after_clock`), after GX's engine ran, so check positions stay the suite's.
    after_clock: dict[str, CheckResult] = field(default_factory=dict)


def _carry(
    check: Compiled,
    values: list[Any],
    result: CheckResult,
    texts: dict[tuple[int, int], list[str]],
    key: tuple[int, int],
) -> None:
    """A failed check's samples from its own aggregates, where they are complete."""
    if check.inline is not None and _failed(result):
        inline, complete = check.inline(values)
        if complete:
            texts[key] = inline


def _check_result(check: Compiled, values: list[Any]) -> CheckResult:
    fields = base_result(check.expectation)
    outcome = check.judge(values)
    return CheckResult(
        **fields,
        status=check_status(outcome.success, fields["severity"]),
        unexpected_count=outcome.unexpected_count,
        element_count=outcome.element_count,
        unexpected_percent=outcome.unexpected_percent,
        observed_value=jsonable(outcome.observed_value),
    )


def _failed(result: CheckResult) -> bool:
    return result.status in (Status.FAILED, Status.WARNED)


def reproduction_sql(
    plan: EventPlan, relation: RelationPlan, check: Compiled, window: Window
) -> str | None:
    """The query a person pastes to see a failed check's rows (the relation's own SQL)."""
    if check.failing is None and check.expectation["type"] != RULE:
        return None
    sql = plan.projection.sql
    ctes = [f"w AS (\n{window_rows(plan.job.table, window, sql)}\n)"]
    if relation.relation.grain and relation.relation.query is None and sql.every_row != "w":
        ctes.append(f"{sql.every_row} AS (SELECT * FROM w)")
    if relation.relation.query is not None:
        ctes.append(f"{plan.rows.cte} AS (\n{relation_select(plan, plan.rows)}\n)")
    ctes.append(f"p AS (\n{relation_select(plan, relation)}\n)")
    prefix = "WITH " + ",\n".join(ctes)
    if check.expectation["type"] == RULE:
        select = f"SELECT * FROM (\n{offending_rows(check.expectation, 'p')}\n) AS offending"
    else:
        select = f"SELECT * FROM p\nWHERE {check.failing}"
    return f"{prefix}\n{select}\nLIMIT {REPRODUCTION_LIMIT}"


def run_tables(
    warehouse: Warehouse,
    connection: Any,
    table: str,
    jobs: list[EventJob],
    declared: tuple[list[str], str] | None,
    window: Window,
    bucket: timedelta | None = None,
    sending: Callable[[], None] | None = None,
) -> TableRun:
    """Check every job of one table (and, with `declared`, its event names) in one scan.

    With `bucket`, the same scan counts the window's events per name and bucket (`counts`).
    `sending` is called as the table's statement leaves for the warehouse.
    """
    plans = [plan_event(job, index, warehouse, window) for index, job in enumerate(jobs)]
    return _run_plans(warehouse, connection, table, plans, declared, window, bucket, sending)


def _run_plans(
    warehouse: Warehouse,
    connection: Any,
    table: str,
    plans: list[EventPlan],
    declared: tuple[list[str], str] | None,
    window: Window,
    bucket: timedelta | None = None,
    sending: Callable[[], None] | None = None,
) -> TableRun:
    started = time.monotonic()
    names = declared[0] if declared is not None else None
    try:
        statement, fused = _statement(plans, table, names, window, warehouse, bucket)
    except NotFusable as unfused:  # that event apart, the others in one pipeline
        assert unfused.event is not None
        apart = plans[unfused.event]
        others = [plan for plan in plans if plan is not apart]
        SQL_LOG.info("%s: %s in a statement of its own (%s)", table, apart.job.event, unfused)
        batches = [others, [apart]]
        run = _in_batches(warehouse, connection, table, batches, declared, window, bucket, sending)
        order = {plan.job.event: index for index, plan in enumerate(plans)}
        run.events.sort(key=lambda event: order[event.event])  # as the jobs came
        return run
    rejected: dict[tuple[int, int], CheckResult] = {}
    if sending is not None:
        sending()
    try:
        rows = warehouse.query(
            connection, statement, table=table, divisible=len(plans) > 1, events=len(plans)
        )
    except RejectedSQLError as error:
        if len(plans) > 1:  # half each: under the same memory limit, or to find the event at fault
            why = "out of memory" if isinstance(error, OutOfMemoryError) else "rejected"
            SQL_LOG.info("%s: %d events %s, split in two", table, len(plans), why)
            split = [plans[: len(plans) // 2], plans[len(plans) // 2 :]]
            return _in_batches(warehouse, connection, table, split, declared, window, bucket)
        while True:  # set aside the checks at fault until the rest runs (each pass, one or more)
            rejected |= _reject_broken_checks(warehouse, connection, plans[0], table, window, error)
            statement, fused = _statement(plans, table, names, window, warehouse, bucket)
            try:
                rows = warehouse.query(connection, statement, table=table, events=len(plans))
                break
            except RejectedSQLError as again:
                error = again
    found: dict[int, dict[str, Any]] = {}  # an event's aggregates by name (-1: the table's)
    counts: dict[str | None, dict[datetime, int]] = {}
    newest: dict[str | None, datetime] = {}
    after_clock: dict[str, tuple[int, datetime]] = {}
    named = {  # each branch's aggregate names, by (event, first relation's number)
        (e, r): [k for k, _ in pairs]
        for e, plan in enumerate(plans)
        for r, _, pairs in _branches(plan)
    }
    fused_rows = []
    for e, r, result in rows:
        e, r = int(e), int(r)
        if e <= UNITS:
            fused_rows.append((e, r, result))
            continue
        if e == AFTER_CLOCK:
            name, count, latest = json.loads(result)
            after_clock[name] = (int(count), EPOCH + timedelta(microseconds=int(latest)))
            continue
        if e == COUNTS:
            name, count, latest = json.loads(result)
            counts.setdefault(name, {})[EPOCH + timedelta(seconds=r)] = int(count)
            if EPOCH + timedelta(seconds=r) >= window.until:
                continue  # rows dated after the window (a live run reads them): not "seen" yet
            latest = min(EPOCH + timedelta(microseconds=int(latest)), window.until)
            newest[name] = max(newest.get(name, latest), latest)
            continue
        names = TABLE_KEYS if e < 0 else named[(e, r)]
        found.setdefault(e, {}).update(zip(names, json.loads(result), strict=True))
    fused_values = fused.decode(fused_rows) if fused is not None else {}
    unsettled = fused.unsettled if fused is not None else {}
    for index, count in (fused.row_counts(fused_rows) if fused is not None else {}).items():
        found.setdefault(index, {})["n"] = count
    statements = 1
    results: dict[int, dict[int, CheckResult]] = {i: {} for i in range(len(plans))}
    where: dict[tuple[int, int], tuple[RelationPlan, Compiled]] = {}
    texts: dict[tuple[int, int], list[str]] = {}
    for index, plan in enumerate(plans):
        values = found.get(index, {})
        for relation in plan.relations:
            for check in relation.checks:
                # Judged as compiled for the statement that ran (a fused pipeline's columns or
                # the relation's); samples and reproduction always read the relation.
                judged = check
                if fused is not None:
                    judged = fused.placed[(index, check.position)].check
                    got = fused_values[(index, check.position)]
                else:
                    got = [values.get(f"c{check.position}_{i}") for i in range(len(check.parts))]
                result = results[index][check.position] = _check_result(judged, got)
                where[(index, check.position)] = (relation, check)
                # Samples the table statement carried (`Compiled.inline`), where complete; the
                # samples statement fetches the others.
                if (index, check.position) not in unsettled:
                    _carry(judged, got, result, texts, (index, check.position))
    # Duplicates counted by hash and found are counted again over their relation, exactly, in
    # the samples statement; their samples come with the count, where it carries them.
    carried = {*texts}
    for key, indexes in unsettled.items():
        if all(where[key][1].parts[at].sampled is not None for at in indexes):
            carried.add(key)
    samples_sql, wanted = sample_statement(
        plans, results, where, table, window, warehouse, carried, unsettled
    )
    if samples_sql:
        statements += 1
        sampling = len({index for index, _ in [*wanted, *unsettled]})
        sampled = warehouse.query(connection, samples_sql, table=table, events=sampling)
        for e, position, value in sampled:
            e, position = int(e), int(position)
            if position >= 0:
                texts.setdefault((e, position), []).append(str(value))
                continue
            key = (e, -1 - position)  # a count settled: [the aggregate's index, its value]
            at, exact = json.loads(value)
            assert fused is not None  # only a pipeline counts keys by hash
            judged = fused.placed[key].check
            got = fused_values[key]
            got[at] = exact
            results[e][key[1]] = _check_result(judged, got)
            _carry(judged, got, results[e][key[1]], texts, key)
    for key in {*wanted, *texts}:
        index, position = key
        if not _failed(results[index][position]):
            continue  # counted by hash, its keys repeat none: passed once settled
        check = where[key][1]
        # The smallest failing values, in order: the same run gives the same samples.
        timestamps = check.sample is not None and plans[index].projection.is_timestamp(check.sample)
        samples = [json.loads(text) for text in sorted(texts.get(key, []))]
        if timestamps:
            samples = [EPOCH + timedelta(microseconds=int(sample)) for sample in samples]
        results[index][position] = _with_samples(
            plans[index], position, results[index][position], samples
        )
    events = []
    for (index, position), result in rejected.items():
        results[index][position] = result
    for index, plan in enumerate(plans):
        checks = results[index]
        for position, result in list(checks.items()):
            if _failed(result):
                relation, check = where[(index, position)]
                repro = reproduction_sql(plan, relation, check, window)
                checks[position] = result.model_copy(update={"reproduction_sql": repro})
        ordered = [checks[p] for p in sorted(checks)]
        row_count = found.get(index, {}).get("n")
        events.append(
            EventResult(
                event=plan.job.event,
                table=plan.job.table,
                owner=plan.job.owner,
                status=Status.worst([c.status for c in ordered]),
                checks=ordered,
                row_count=int(row_count or 0),
                duration_seconds=round(time.monotonic() - started, 3),
            )
        )
    table_result = None
    if declared is not None:
        values = found.get(-1, {})
        table_result = _table_result(table, declared, values, warehouse, connection, window)
        statements += 1 if table_result.status != Status.PASSED else 0
    pending = {plan.job.event: (plan.job, plan.fallback) for plan in plans if plan.fallback}
    late = {
        plan.job.event: after_clock_result(plan.job, *after_clock[plan.job.event], window)
        for plan in plans
        if plan.job.event in after_clock
    }
    return TableRun(events, table_result, statements, pending, counts, newest, late)


def complete_with_gx(warehouse: Warehouse, run: TableRun, window: Window) -> list[EventResult]:
    """The events of `run` with their pending expectations run through GX's engine.

    One event at a time, under GX_LOCK: GX's suite-parameter parser is not thread-safe, and an
    embedded warehouse shares its file only between connections opened alike.
    """
    if not run.pending:
        return with_after_clock(run, run.events)
    from eventqa.execution.reference import run_expectations

    completed = []
    for number, event in enumerate(run.events):
        if event.event not in run.pending:
            completed.append(event)
            continue
        job, positions = run.pending[event.event]
        with GX_LOCK:
            found = run_expectations(warehouse, job, positions, window, f"gx{number}")
        compiled = [p for p in range(len(job.suite["expectations"])) if p not in positions]
        by_position = dict(zip(compiled, event.checks, strict=True)) | found
        checks = [by_position[p] for p in sorted(by_position)]
        completed.append(
            event.model_copy(
                update={"checks": checks, "status": Status.worst([c.status for c in checks])}
            )
        )
    return with_after_clock(run, completed)


def with_after_clock(run: TableRun, events: list[EventResult]) -> list[EventResult]:
    """Events with a failed check for their rows dated after the real clock, if any."""
    if not run.after_clock:
        return events
    found = []
    for event in events:
        if event.event in run.after_clock:
            checks = [*event.checks, run.after_clock[event.event]]
            event = event.model_copy(
                update={"checks": checks, "status": Status.worst([c.status for c in checks])}
            )
        found.append(event)
    return found


def _in_batches(
    warehouse: Warehouse,
    connection: Any,
    table: str,
    batches: list[list[EventPlan]],
    declared: tuple[list[str], str] | None,
    window: Window,
    bucket: timedelta | None = None,
    sending: Callable[[], None] | None = None,
) -> TableRun:
    """One statement per batch of events (table-level checks and counts with the first)."""
    runs = [
        _run_plans(
            warehouse,
            connection,
            table,
            batch,
            declared if not i else None,
            window,
            bucket if not i else None,
            sending if not i else None,
        )
        for i, batch in enumerate(batches)
    ]
    return TableRun(
        [event for run in runs for event in run.events],
        runs[0].table,
        sum(run.statements for run in runs),
        {name: job for run in runs for name, job in run.pending.items()},
        runs[0].counts,
        runs[0].newest,
        {name: found for run in runs for name, found in run.after_clock.items()},
    )


def _reject_broken_checks(
    warehouse: Warehouse,
    connection: Any,
    plan: EventPlan,
    table: str,
    window: Window,
    error: RejectedSQLError,
) -> dict[tuple[int, int], CheckResult]:
    """Checks the warehouse rejects: an `error` each, with its words; they leave the plan.

    User SQL (`sql` rules) is the likely fault, so the rules are tried first, then the other
    checks (an `expectation:` rule the warehouse cannot run, a regex its engine refuses, a check
    that needs more memory than it may use): a group the warehouse rejects is halved until the
    checks at fault are found alone, a few statements for one among many. When each runs alone
    but not all together, every check left is an `error` with the statement's own message: the
    event's checks fail, never the whole run.
    """
    rejected: dict[tuple[int, int], CheckResult] = {}

    def probe(group: list[tuple[RelationPlan, Compiled]]) -> None:
        """The event's own statement, with only these checks."""
        kept = {id(check) for _, check in group}
        relations = [
            replace(r, checks=[c for c in r.checks if id(c) in kept]) for r in plan.relations
        ]
        alone = replace(plan, relations=relations)
        statement = table_statement([alone], table, None, window, warehouse)
        warehouse.query(connection, statement, table=table, events=1)

    def find(group: list[tuple[RelationPlan, Compiled]]) -> None:
        try:
            probe(group)
        except RejectedSQLError as alone:
            if len(group) > 1:
                find(group[: len(group) // 2])
                find(group[len(group) // 2 :])
                return
            relation, check = group[0]
            rejected[(0, check.position)] = _set_aside(relation, check, alone.message)

    checks = [(relation, check) for relation in plan.relations for check in relation.checks]
    for rules in (True, False):
        group = [(r, c) for r, c in checks if (c.expectation["type"] == RULE) == rules]
        if group:
            find(group)
        if rejected:
            return rejected
    for relation, check in checks:
        rejected[(0, check.position)] = _set_aside(relation, check, error.message)
    if not rejected:
        raise error
    return rejected


def _set_aside(relation: RelationPlan, check: Compiled, message: str) -> CheckResult:
    """The check leaves its relation's plan; its result is an `error` with the warehouse's words."""
    relation.checks.remove(check)
    return CheckResult(**base_result(check.expectation), status=Status.ERROR, error=message)


def sample_statement(
    plans: list[EventPlan],
    results: dict[int, dict[int, CheckResult]],
    where: dict[tuple[int, int], tuple[RelationPlan, Compiled]],
    table: str,
    window: Window,
    warehouse: Warehouse,
    carried: Collection[tuple[int, int]] = (),
    unsettled: dict[tuple[int, int], list[int]] | None = None,
) -> tuple[str | None, list[tuple[int, int]]]:
    """One capped statement fetching up to SAMPLE_SIZE failing values of every failed check.

    `carried`: the checks whose samples the table statement already returned. `unsettled`: the
    checks whose duplicate counts (by the index of the aggregate) are upper bounds; the statement
    computes those aggregates over the relation, in rows at position `-1 - position` holding
    `[index, value]`.
    """
    sql = warehouse.sql
    branches: list[str] = []
    wanted: list[tuple[int, int]] = []
    windows: dict[int, set[int]] = {}
    for (index, position), indexes in (unsettled or {}).items():
        relation, check = where[(index, position)]
        for at in indexes:
            part = check.parts[at]
            assert part.function == "DUPLICATES", part
            exact = sql.json_array([str(at), part.sql.replace("{relation}", relation.cte)])
            branches.append(
                f"SELECT {index} AS event_index, {-1 - position} AS position, "
                f"{exact} AS sample_value"
            )
        windows.setdefault(index, set())
    for (index, position), (relation, check) in where.items():
        plan = plans[index]
        if not _failed(results[index][position]) or (index, position) in carried:
            continue
        kwargs = check.expectation["kwargs"]
        columns = {kwargs.get("column"), *kwargs.get("column_list", [])} - {None}
        value: str | None = None
        rows = relation.cte
        condition = check.failing
        if check.expectation["type"] == RULE:
            offending = offending_rows(check.expectation, relation.cte)
            rows, condition, value = f"({offending}) AS o", "TRUE", sql.row_json("o")
        elif columns & plan.sensitive:
            continue
        elif check.sample is not None:  # timestamps exact through JSON, as epoch µs
            value = sample_json(check.sample, plan.projection.types, sql)
        elif (
            check.expectation["meta"].get("check") == "type"
            and relation_of(kwargs.get("column", "")) == ""
            and check.failing
        ):
            # The typed value of a failed type check is NULL: show the raw JSON instead, parsed
            # again for the failing rows only.
            path = plan.projection.relative(kwargs["column"], "")
            failing = f"SELECT event_id FROM {relation.cte} WHERE {check.failing}"
            only = f"event_id IN ({failing})"
            rows = f"({event_rows('w', plan.job.event, window, sql, only)}) AS s"
            condition = "TRUE"
            value = sql.to_json(sql.json_text("doc", path))
        if value is None or condition is None:
            continue
        branches.append(
            f"SELECT * FROM (SELECT DISTINCT {index} AS event_index, {position} AS position, "
            f"{value} AS sample_value FROM {rows} WHERE {condition} AND {value} IS NOT NULL "
            f"ORDER BY sample_value LIMIT {SAMPLE_SIZE}) AS s{len(branches)}"
        )
        wanted.append((index, position))
    if not branches:
        return None, []
    # Window columns (duplicate counts) only for the failed checks whose rows are fetched.
    for index, position in wanted:
        windows.setdefault(index, set()).add(position)
    # Samples read few rows, through joins and sorts that would store a shared window.
    ctes = _ctes(plans, table, window, warehouse, windows, shared=False)
    return f"WITH {', '.join(ctes)}\n" + "\nUNION ALL\n".join(branches), wanted


def _with_samples(
    plan: EventPlan, position: int, result: CheckResult, samples: list[Any]
) -> CheckResult:
    """A failed check with the values (or, for row rules, the rows) that failed it."""
    if result.expectation_type == RULE:
        text = plan.job.suite["expectations"][position]["kwargs"]["unexpected_rows_query"]
        kept = []
        for row in samples:
            if isinstance(row, dict):
                row = {k.lower() if k.isupper() else k: v for k, v in row.items()}
                keep = [
                    n for n in row
                    if n == "event_id" or (n not in plan.sensitive and mentions(text, n))
                ]  # fmt: skip
                kept.append({n: row[n] for n in keep})
        samples = kept
    return result.model_copy(update={"samples": jsonable(distinct(samples)[:SAMPLE_SIZE])})


def _table_result(
    table: str,
    declared: tuple[list[str], str],
    values: dict[str, Any],
    warehouse: Warehouse,
    connection: Any,
    window: Window,
) -> TableResult:
    """Event names no contract declares, with up to SAMPLE_SIZE of them."""
    sql = warehouse.sql
    total, nulls, bad = (int(values.get(k) or 0) for k in ("total", "nulls", "bad"))
    considered = total - nulls
    success = total == 0 or considered == 0 or bad == 0
    names, origin = declared
    result = CheckResult(
        expectation_type="expect_column_values_to_be_in_set",
        column="event_name",
        check_id="event_name.declared",
        status=check_status(success, "error"),
        severity="error",
        check="undeclared_events",
        description=f"every event_name in {table} is declared by a contract",
        origin=origin,
        unexpected_count=bad,
        element_count=total,
        unexpected_percent=bad / considered * 100 if total and considered else None,
        expected={"value_set": sorted(names)},
    )
    if not success:
        listed = ", ".join(sql.literal(name) for name in sorted(names))
        statement = (
            f"SELECT DISTINCT event_name FROM {quote_identifier(table)} "
            f"WHERE {window_predicate(window, sql)} AND event_name NOT IN ({listed}) "
            f"ORDER BY event_name LIMIT {SAMPLE_SIZE}"
        )
        samples = [row[0] for row in warehouse.query(connection, statement, table=table)]
        result = result.model_copy(update={"samples": samples})
    return TableResult(table=table, status=result.status, checks=[result])
