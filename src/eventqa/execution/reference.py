"""Great Expectations' own SQL engine: the reference the compiler is held to, and its fallback.

Per event: build the window's projection (one temp table per relation, see `projection`), then let
GX validate each relation's expectations against it. The compiler (`runner`) runs what it knows;
expectation types it does not know run here, one event at a time, under `GX_LOCK` (GX's
suite-parameter parser is not thread-safe). The differential test runs whole suites here.
"""

from __future__ import annotations

import copy
from typing import Any

from eventqa.execution.compiler import SAMPLE_SIZE
from eventqa.execution.projection import (
    Projection,
    Relation,
    event_rows,
    expectation_grain,
    plan_relations,
)
from eventqa.execution.runner import (
    EventJob,
    base_result,
    check_status,
    distinct,
    jsonable,
    suite_parameters,
)
from eventqa.results.models import CheckResult, Window
from eventqa.suites.columns import quote_identifier
from eventqa.warehouse import Warehouse, WarehouseError


def _check_result(result: Any, expectation: dict[str, Any], sensitive: set[str]) -> CheckResult:
    kwargs = expectation["kwargs"]
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
    columns = {kwargs.get("column"), *kwargs.get("column_list", [])}
    # NULLs say nothing (a failed type check's typed value is NULL by definition), and repeats
    # crowd out other values: keep distinct non-null values, in the order GX found them.
    unexpected = distinct(v for v in details.get("partial_unexpected_list") or [] if v is not None)
    samples = [] if columns & sensitive else unexpected
    unexpected_count = details.get("unexpected_count")
    if expectation["type"] == "unexpected_rows_expectation" and unexpected_count is None:
        unexpected_count = details.get("observed_value")
    fields = base_result(expectation)
    return CheckResult(
        **fields,
        status=check_status(bool(result.success), fields["severity"], raised),
        unexpected_count=unexpected_count,
        element_count=details.get("element_count"),
        unexpected_percent=details.get("unexpected_percent"),
        observed_value=jsonable(details.get("observed_value")),
        samples=jsonable(samples[:SAMPLE_SIZE]),
        error=error,
    )


def run_expectations(
    warehouse: Warehouse, job: EventJob, positions: list[int], window: Window, prefix: str
) -> dict[int, CheckResult]:
    """Run the suite's expectations at `positions` through GX's engine; results by position."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    sql = warehouse.sql
    chosen = {p: copy.deepcopy(job.suite["expectations"][p]) for p in positions}
    suite = {**job.suite, "expectations": list(chosen.values())}
    projection = Projection(job.suite, sql)
    relations = plan_relations(suite, prefix, sql.keys_in_row_table)
    source = event_rows(quote_identifier(job.table), job.event, window, sql)
    sensitive = set(job.suite["meta"]["eventqa"].get("sensitive", []))
    datasource = None
    found: dict[int, CheckResult] = {}
    try:
        try:
            datasource = warehouse.add_gx_datasource(context, f"{prefix}_wh")
            with datasource.get_execution_engine().get_connection() as connection:
                for relation in relations.values():
                    if relation.query is None:
                        connection.exec_driver_sql(projection.create(relation, source))
                connection.commit()  # temp tables must outlive SQLAlchemy's implicit transaction
        except WarehouseError:
            raise
        except Exception as error:
            raise warehouse.translate(error) from error
        for number, relation in enumerate(relations.values()):
            found |= _validate(
                datasource, job, chosen, relation, projection, window, sensitive, number
            )
    finally:
        if datasource is not None:
            warehouse.release(datasource)
    return found


def _validate(
    datasource: Any,
    job: EventJob,
    chosen: dict[int, dict[str, Any]],
    relation: Relation,
    projection: Projection,
    window: Window,
    sensitive: set[str],
    number: int,
) -> dict[int, CheckResult]:
    """Let GX validate one relation's share of the chosen expectations."""
    from great_expectations.core import ExpectationSuite

    mine = {p: e for p, e in chosen.items() if expectation_grain(e) == relation.grain}
    if not mine:
        return {}
    expectations = []
    for position, expectation in mine.items():
        tagged = copy.deepcopy(expectation)
        tagged.setdefault("meta", {})["position"] = position
        expectations.append(tagged)
    document = {**job.suite, "expectations": expectations}
    document["name"] = f"{job.suite['name']}[{relation.grain or 'rows'}]"
    asset = datasource.add_query_asset(
        name=f"{relation.table}_q{number}", query=projection.relation_query(relation)
    )
    batch = asset.add_batch_definition_whole_table("window").get_batch()
    validation = batch.validate(
        ExpectationSuite(**document),
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
        expectation_parameters=suite_parameters(job.suite, window.until),
    )
    return {
        r.expectation_config.meta["position"]: _check_result(
            r, mine[r.expectation_config.meta["position"]], sensitive
        )
        for r in validation.results
    }
