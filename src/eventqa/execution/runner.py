"""Run an event's suite in the warehouse with Great Expectations' own SQL engine.

Per event: build the window's projection (one temp table per relation, see `projection`), then let
GX validate each relation's expectations against it. Only aggregates and at most
`SAMPLE_SIZE` failing values per check come back to Python, never the window's rows.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eventqa.config.models import parse_duration
from eventqa.execution.projection import (
    DialectSQL,
    DuckDBSQL,
    Projection,
    Relation,
    SnowflakeSQL,
    expectation_grain,
    plan_relations,
    window_parameters,
)
from eventqa.results.models import CheckResult, EventResult, Status, TableResult
from eventqa.suites.columns import quote_identifier, relation_of
from eventqa.warehouse import Warehouse, WarehouseError

SAMPLE_SIZE = 20
_PARAMETER = re.compile(r"^until_(plus|minus)_(\d+[smhdw])$")
_EXPECTED_KEYS = ("min_value", "max_value", "value_set", "regex", "or_equal", "mostly")


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


def future_after(suite: dict[str, Any], until: datetime) -> datetime | None:
    """`until` plus the allowed clock skew when the run is live (`until` within the skew of now)."""
    skew = parse_duration(suite["meta"]["eventqa"].get("future_skew", "5m"))
    live = datetime.now(UTC) - until <= skew
    return until + skew if live else None


def _check_status(success: bool, severity: str, raised: bool) -> Status:
    if raised:
        return Status.ERROR
    if success:
        return Status.PASSED
    return Status.FAILED if severity == "error" else Status.WARNED


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _check_result(result: Any, sensitive: set[str]) -> CheckResult:
    config = result.expectation_config
    kwargs = config.kwargs
    meta = config.meta or {}
    details = result.result or {}
    raised = bool(result.exception_info and result.exception_info.get("raised_exception"))
    if not raised and result.exception_info:
        # GX nests per-metric failures under metric ids.
        raised = any(
            isinstance(v, dict) and v.get("raised_exception")
            for v in result.exception_info.values()
        )
    error = None
    if raised:
        info = result.exception_info
        messages = [info.get("exception_message")] + [
            v.get("exception_message") for v in info.values() if isinstance(v, dict)
        ]
        error = next((str(m).splitlines()[0] for m in messages if m), "the check raised")
    column = kwargs.get("column")
    columns = {
        column,
        kwargs.get("column_A"),
        kwargs.get("column_B"),
        *kwargs.get("column_list", []),
    }
    # NULLs say nothing (a failed type check's typed value is NULL by definition), and repeats
    # crowd out other values: keep distinct non-null values, in the order GX found them.
    unexpected = _distinct(v for v in details.get("partial_unexpected_list") or [] if v is not None)
    samples = [] if columns & sensitive else unexpected
    unexpected_count = details.get("unexpected_count")
    if config.type == "unexpected_rows_expectation" and unexpected_count is None:
        unexpected_count = details.get("observed_value")
    return CheckResult(
        expectation_type=config.type,
        column=column,
        check_id=meta.get("id", ""),
        status=_check_status(bool(result.success), meta.get("severity", "error"), raised),
        severity=meta.get("severity", "error"),
        check=meta.get("check", ""),
        description=config.description or "",
        origin=meta.get("origin", ""),
        unexpected_count=unexpected_count,
        element_count=details.get("element_count"),
        unexpected_percent=details.get("unexpected_percent"),
        observed_value=_jsonable(details.get("observed_value")),
        expected=_jsonable({k: kwargs[k] for k in _EXPECTED_KEYS if k in kwargs}),
        samples=_jsonable(samples[:SAMPLE_SIZE]),
        error=error,
    )


DIALECTS: dict[str, type[DialectSQL]] = {"duckdb": DuckDBSQL, "snowflake": SnowflakeSQL}


def projection_for(warehouse: Warehouse, suite: dict[str, Any]) -> Projection:
    """The projection builder in the warehouse's SQL dialect."""
    return Projection(suite, DIALECTS[warehouse.name]())


def _materialize(
    warehouse: Warehouse,
    datasource: Any,
    job: EventJob,
    since: datetime,
    until: datetime,
    prefix: str,
) -> tuple[dict[str, Relation], int]:
    """Create the window's projection temp tables; return them and the window's event count."""
    projection = projection_for(warehouse, job.suite)
    relations = plan_relations(job.suite, prefix, projection.sql.keys_in_row_table)
    params = window_parameters(job.event, since, until, future_after(job.suite, until))
    with datasource.get_execution_engine().get_connection() as connection:
        for relation in relations.values():
            if relation.query is None:
                connection.exec_driver_sql(
                    projection.create(relation, quote_identifier(job.table)), params
                )
        row_count = connection.exec_driver_sql(
            f"SELECT count(*) FROM {quote_identifier(relations[''].table)}"
        ).scalar()
        connection.commit()  # temp tables must outlive SQLAlchemy's implicit transaction
    return relations, int(row_count or 0)


def _validate(
    warehouse: Warehouse,
    datasource: Any,
    job: EventJob,
    relations: dict[str, Relation],
    since: datetime,
    until: datetime,
) -> list[CheckResult]:
    """Let GX validate each relation's share of the suite; results in the suite's order."""
    from great_expectations.core import ExpectationSuite

    sensitive = set(job.suite["meta"]["eventqa"].get("sensitive", []))
    parameters = suite_parameters(job.suite, until)
    projection = projection_for(warehouse, job.suite)
    # Results come back per relation; the suite's own order reads best, so remember each
    # expectation's position in its meta (GX hands meta back with the result).
    indexed = copy.deepcopy(job.suite["expectations"])
    for index, expectation in enumerate(indexed):
        expectation["meta"]["position"] = index
    ranked: list[tuple[int, CheckResult]] = []
    for relation in relations.values():
        expectations = [e for e in indexed if expectation_grain(e) == relation.grain]
        if not expectations:
            continue
        document = {**job.suite, "expectations": expectations}
        document["name"] = f"{job.suite['name']}[{relation.grain or 'rows'}]"
        asset = datasource.add_query_asset(
            name=f"{relation.table}_{len(ranked)}", query=projection.relation_query(relation)
        )
        batch = asset.add_batch_definition_whole_table("window").get_batch()
        validation = batch.validate(
            ExpectationSuite(**document),
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
            expectation_parameters=parameters,
        )
        ranked += [
            (r.expectation_config.meta["position"], _check_result(r, sensitive))
            for r in validation.results
        ]
    checks = [check for _, check in sorted(ranked, key=lambda pair: pair[0])]
    window = window_parameters(job.event, since, until, future_after(job.suite, until))
    return [
        _with_samples(warehouse, datasource, job, relations, check, sensitive, window)
        for check in checks
    ]


def _with_samples(
    warehouse: Warehouse,
    datasource: Any,
    job: EventJob,
    relations: dict[str, Relation],
    check: CheckResult,
    sensitive: set[str],
    window: dict[str, Any],
) -> CheckResult:
    """Fill samples GX cannot give: raw values behind a failed type check, rows behind a rule.

    A type check's failing values are NULL in the typed column by definition, and unexpected-rows
    expectations only count; both are what a user needs to see to act.
    """
    if check.status not in (Status.FAILED, Status.WARNED) or check.samples:
        return check
    rows = relations[""].table
    projection = projection_for(warehouse, job.suite)
    query: str | None = None
    params: dict[str, Any] = {}
    if check.check == "type" and check.column and relation_of(check.column) == "":
        if check.column in sensitive:
            return check
        query = projection.raw_samples(check.column, rows, quote_identifier(job.table), SAMPLE_SIZE)
        params = window
    elif check.expectation_type == "unexpected_rows_expectation":
        rule = next(
            e for e in job.suite["expectations"]
            if e["meta"].get("origin") == check.origin and e["type"] == check.expectation_type
        )  # fmt: skip
        offending = rule["kwargs"]["unexpected_rows_query"].replace(
            "{batch}", quote_identifier(rows)
        )
        query = f"SELECT * FROM ({offending}) AS offending LIMIT {SAMPLE_SIZE}"
    if query is None:
        return check
    with datasource.get_execution_engine().get_connection() as connection:
        result = connection.exec_driver_sql(query, params)
        names = list(result.keys())
        fetched = result.fetchall()
    if check.expectation_type == "unexpected_rows_expectation":
        text = rule["kwargs"]["unexpected_rows_query"]
        keep = [n for n in names if n == "event_id" or (n not in sensitive and _mentions(text, n))]
        samples: list[Any] = [{n: row[names.index(n)] for n in keep} for row in fetched]
    else:
        samples = [row[0] for row in fetched]
    return check.model_copy(update={"samples": _jsonable(samples)})


def _distinct(values: Iterable[Any]) -> list[Any]:
    seen: set[str] = set()
    kept = []
    for value in values:
        key = repr(value)
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept


def run_table(
    warehouse: Warehouse,
    table: str,
    declared: list[str],
    origin: str,
    since: datetime,
    until: datetime,
    prefix: str,
) -> TableResult:
    """Table-level findings over the window: event names that no contract declares."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
        ExpectColumnValuesToBeInSet,
    )
    from great_expectations.expectations.metadata_types import FailureSeverity

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    expectation = ExpectColumnValuesToBeInSet(
        column="event_name",
        value_set=sorted(declared),
        description=f"every event_name in {table} is declared by a contract",
        meta={"origin": origin, "severity": "error", "check": "undeclared_events"},
        severity=FailureSeverity.CRITICAL,
    )
    datasource = None
    try:
        try:
            datasource = warehouse.add_gx_datasource(context, f"{prefix}_wh")
            warehouse.check_table(datasource, table)
            relation = f"{prefix}_names"
            sql = DIALECTS[warehouse.name]()
            with datasource.get_execution_engine().get_connection() as connection:
                connection.exec_driver_sql(
                    f"CREATE OR REPLACE TEMPORARY TABLE {quote_identifier(relation)} AS "
                    f"SELECT event_name FROM {quote_identifier(table)} "
                    f"WHERE event_timestamp >= {sql.param('since')} "
                    f"AND event_timestamp < {sql.param('until')}",
                    {"since": since, "until": until},
                )
                connection.commit()
        except WarehouseError:
            raise
        except Exception as error:
            raise warehouse.translate(error) from error
        asset = datasource.add_query_asset(
            name=relation, query=f"SELECT * FROM {quote_identifier(relation)}"
        )
        batch = asset.add_batch_definition_whole_table("window").get_batch()
        validation = batch.validate(
            ExpectationSuite(name=f"{table}.event_names", expectations=[expectation]),
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
        )
        checks = [_check_result(r, set()) for r in validation.results]
    finally:
        if datasource is not None:
            warehouse.release(datasource)
    return TableResult(table=table, status=Status.worst([c.status for c in checks]), checks=checks)


def _mentions(query: str, column: str) -> bool:
    """Whether a rule's SQL names a column (bare or double-quoted)."""
    return f'"{column}"' in query or re.search(rf"\b{re.escape(column)}\b", query) is not None


def run_event(
    warehouse: Warehouse, job: EventJob, since: datetime, until: datetime, prefix: str
) -> EventResult:
    """Check one event's window; warehouse faults raise WarehouseError, check faults are results."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    started = time.monotonic()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    datasource = None
    try:
        try:
            datasource = warehouse.add_gx_datasource(context, f"{prefix}_wh")
            warehouse.check_table(datasource, job.table)
            relations, row_count = _materialize(warehouse, datasource, job, since, until, prefix)
        except WarehouseError:
            raise
        except Exception as error:  # driver errors: transient or terminal, decided by the adapter
            raise warehouse.translate(error) from error
        checks = _validate(warehouse, datasource, job, relations, since, until)
    finally:
        if datasource is not None:
            warehouse.release(datasource)
    return EventResult(
        event=job.event,
        table=job.table,
        owner=job.owner,
        status=Status.worst([c.status for c in checks]),
        checks=checks,
        row_count=row_count,
        duration_seconds=round(time.monotonic() - started, 3),
    )
