"""Dagster: every contract event an asset, its eventqa checks asset checks that block broken data.

A thin shell over the facade: the specs come from the contracts (`Project.contracts`) and the
committed suites (`Project.catalog`); the checks call `Project.run`, so a check run in Dagster is an
eventqa run like the CLI's, stored in the same results store, with the same history and alerts.

    # definitions.py, loaded by `dagster dev -f definitions.py`
    from eventqa.integrations.dagster import eventqa_definitions

    defs = eventqa_definitions(Path(__file__).with_name("checks.yaml"))
"""

# No `from __future__ import annotations`: Dagster checks the type of a check's `context`
# parameter at definition time, so annotations must be objects, not strings.
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eventqa.contracts.model import EventContract, Field
from eventqa.errors import EventQAError
from eventqa.integrations import MissingExtraError
from eventqa.results.models import MONITORING_TYPES, CheckResult, EventResult, RunResult, Status
from eventqa.service import Project, Selection

try:
    import dagster as dg
except ImportError as missing:  # dagster absent, or installed but broken
    raise MissingExtraError("eventqa.integrations.dagster", "dagster", missing) from missing

__all__ = [
    "event_asset_key",
    "eventqa_asset_checks",
    "eventqa_asset_specs",
    "eventqa_definitions",
]

# The kinds of check a Dagster user sees per event, one AssetCheckResult each per run.
CONTRACT, RULES, VOLUME = "contract", "rules", "volume"
KINDS = (CONTRACT, RULES, VOLUME)
# Findings of volume monitoring (judged against each event's own history, not written in suites).
# Failing checks listed in full (with samples) in a result's metadata; the rest are counted.
MAX_LISTED = 20
MAX_SAMPLES = 5

ProjectLike = Project | str | Path


def check_kind(expectation_type: str, check: str) -> str:
    """Which Dagster check reports an eventqa check: rules, volume, or else the contract."""
    if expectation_type in MONITORING_TYPES:
        return VOLUME
    if check.startswith("rule:"):
        return RULES
    return CONTRACT


def event_asset_key(table: str, event: str) -> dg.AssetKey:
    """`events/<table>/<event>`: an event is the rows of its table with its `event_name`."""
    return dg.AssetKey(["events", table, event])


def eventqa_asset_specs(
    project: ProjectLike, events: Iterable[str] | None = None
) -> list[dg.AssetSpec]:
    """One asset per contract event: description, owning team, table and column schema."""
    project = _project(project)
    config = project.config
    kinds: set[str] = {config.warehouse.type}
    specs = []
    for name, contract in _contract_events(project, events):
        table = config.table_for(contract.envelope)
        metadata: dict[str, Any] = {
            "dagster/table_name": _qualified_table(project, table),
            "dagster/column_schema": _column_schema(contract.fields),
            "eventqa/event_name": name,
            "eventqa/row_filter": f"event_name = '{name}'",
            "eventqa/contract": contract.location.path
            + (f":{contract.location.line}" if contract.location.line else ""),
        }
        specs.append(
            dg.AssetSpec(
                key=event_asset_key(table, name),
                description=contract.description,
                owners=[f"team:{contract.owner}"] if contract.owner else None,
                group_name=_identifier(table),
                kinds=kinds,
                metadata=metadata,
            )
        )
    return specs


def eventqa_asset_checks(
    project: ProjectLike,
    events: Iterable[str] | None = None,
    *,
    one_step_per: Literal["table", "event"] = "table",
) -> list[dg.AssetChecksDefinition]:
    """One multi-asset check per table: contract, rules and volume checks of each event.

    Executing it runs the selected events through `Project.run` (results store, history, alerts)
    and reports one `AssetCheckResult` per event and kind. Checks with an error-severity
    expectation block downstream assets when they fail; volume findings never block.

    Dagster fails a step whose blocking check failed, which holds back everything downstream of
    that step: with `one_step_per="event"` each event is checked in a step (and a warehouse
    query) of its own, so only the assets downstream of the broken event wait.
    """
    if one_step_per not in ("table", "event"):
        from eventqa.errors import UsageError

        raise UsageError(f"one_step_per must be 'table' or 'event', not {one_step_per!r}")
    project = _project(project)
    steps: dict[str, list[dg.AssetCheckSpec]] = {}
    for plan in _check_plans(project, events):
        step = plan.table if one_step_per == "table" else f"{plan.table}__{plan.event}"
        steps.setdefault(step, []).append(plan.spec())
    return [_step_checks(project, step, specs) for step, specs in steps.items()]


def eventqa_definitions(
    project: ProjectLike,
    events: Iterable[str] | None = None,
    *,
    one_step_per: Literal["table", "event"] = "table",
) -> dg.Definitions:
    """The event assets, their checks and an `eventqa_checks` job, ready for `dagster dev`."""
    project = _project(project)
    chosen = None if events is None else tuple(events)
    specs = eventqa_asset_specs(project, chosen)
    checks = eventqa_asset_checks(project, chosen, one_step_per=one_step_per)
    job = dg.define_asset_job(
        "eventqa_checks",
        selection=dg.AssetSelection.checks(*checks),
        description="Run every eventqa check (the same run as `eventqa run`).",
    )
    return dg.Definitions(assets=specs, asset_checks=checks, jobs=[job])


# -- specs -----------------------------------------------------------------------------------------


def _project(project: ProjectLike) -> Project:
    return project if isinstance(project, Project) else Project(Path(project))


def _contract_events(
    project: Project, events: Iterable[str] | None
) -> Iterator[tuple[str, EventContract]]:
    """The contract events asked for (all when `events` is None); unknown names are errors."""
    from eventqa.errors import UsageError

    known = project.contracts.events
    wanted = list(known) if events is None else list(events)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise UsageError(f"unknown events {', '.join(map(repr, unknown))}: not in the contracts")
    for name in wanted:
        yield name, known[name]


def _qualified_table(project: Project, table: str) -> str:
    """`DATABASE.SCHEMA.table` on Snowflake when checks.yaml names them, else the table."""
    warehouse = project.config.warehouse
    parts = [getattr(warehouse, "database", None), getattr(warehouse, "schema_name", None), table]
    return ".".join(part for part in parts if part)


def _column_schema(fields: Sequence[Field]) -> dg.TableSchema:
    """The envelope's columns, then every payload field (nested ones as `items[].quantity`)."""
    columns = [
        dg.TableColumn(
            "event_id", "string", "Unique within a window.", _constraints(False, unique=True)
        ),
        dg.TableColumn(
            "event_timestamp", "timestamp", "When the event happened (UTC).", _constraints(False)
        ),
    ]
    columns += _payload_columns(fields, "")
    return dg.TableSchema(columns=columns)


def _payload_columns(fields: Sequence[Field], prefix: str) -> list[dg.TableColumn]:
    columns: list[dg.TableColumn] = []
    for field in fields:
        path = f"{prefix}{field.name}"
        other = []
        if field.enum_values:
            other.append(f"one of {', '.join(field.enum_values)}")
        if field.repeated or field.map_value is not None:
            other.append("may be empty, never null")
        columns.append(
            dg.TableColumn(
                path,
                f"repeated {field.proto_type}" if field.repeated else field.proto_type,
                # Field comments, when the contracts loader keeps them.
                getattr(field, "description", None),
                _constraints(field.nullable, other=other),
                tags={"eventqa/sensitive": "true"} if field.sensitive else None,
            )
        )
        columns += _payload_columns(field.fields, f"{path}[]." if field.repeated else f"{path}.")
    return columns


def _constraints(
    nullable: bool, *, unique: bool = False, other: list[str] | None = None
) -> dg.TableColumnConstraints:
    return dg.TableColumnConstraints(nullable=nullable, unique=unique, other=other or None)


def _identifier(text: str) -> str:
    """A name Dagster accepts for a group or an op: letters, digits and underscores."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


# -- checks ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CheckPlan:
    """One Dagster check of one event: which kind, how many eventqa checks, whether it blocks."""

    table: str
    event: str
    kind: str
    count: int
    blocking: bool
    descriptions: tuple[str, ...]

    def spec(self) -> dg.AssetCheckSpec:
        texts = {
            CONTRACT: "What the contract promises: field types, presence, enum values, no "
            "undeclared keys, a unique event_id and a timestamp that is not in the future.",
            RULES: "checks.yaml rules: " + "; ".join(self.descriptions),
            VOLUME: "Volume and freshness against the event's own history (eventqa monitoring).",
        }
        return dg.AssetCheckSpec(
            self.kind,
            asset=event_asset_key(self.table, self.event),
            description=texts[self.kind],
            blocking=self.blocking,
            metadata={"eventqa/checks": self.count} if self.count else None,
        )


def _check_plans(project: Project, events: Iterable[str] | None) -> Iterator[_CheckPlan]:
    """The checks of each event with a committed suite (what `eventqa run` checks)."""
    jobs = project.catalog.all_jobs
    names = [name for name, _ in _contract_events(project, events) if name in jobs]
    for name in names:
        job = jobs[name]
        grouped: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        for expectation in job.suite["expectations"]:
            meta = expectation["meta"]
            grouped[check_kind(expectation["type"], meta.get("check", ""))].append(expectation)
        for kind in KINDS:
            found = grouped[kind]
            if not found and kind != VOLUME:  # volume monitoring covers every event
                continue
            yield _CheckPlan(
                table=job.table,
                event=name,
                kind=kind,
                count=len(found),
                # A quiet hour is no reason to stop a pipeline: volume findings are reported only.
                blocking=kind != VOLUME and any(e["meta"]["severity"] == "error" for e in found),
                descriptions=tuple(e.get("description") or e["type"] for e in found),
            )


def _step_checks(
    project: Project, step: str, specs: list[dg.AssetCheckSpec]
) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        name=f"eventqa_{_identifier(step)}",
        specs=specs,
        can_subset=True,
        description=f"eventqa checks of {step}",
    )
    def run_checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        selected = context.selected_asset_check_keys
        events = tuple(dict.fromkeys(key.asset_key.path[-1] for key in selected))
        try:
            run = project.run(Selection(events=events))
        except EventQAError as error:
            hint = f" ({error.hint})" if error.hint else ""
            raise dg.Failure(description=f"{error}{hint}") from error
        context.log.info(f"eventqa run {run.run_id}: {len(run.events)} events, {run.status.value}")
        by_event = {result.event: result for result in run.events}
        for key in sorted(selected, key=lambda k: (k.asset_key.path[-1], KINDS.index(k.name))):
            result = by_event[key.asset_key.path[-1]]
            reported = _check_result(key, result, run)
            if reported is None:
                context.log.info(f"{result.event}: no {key.name} findings in this run")
                continue
            yield reported

    return run_checks


def _check_result(
    key: dg.AssetCheckKey, event: EventResult, run: RunResult
) -> dg.AssetCheckResult | None:
    """The result of one kind of check of one event; None when the run found nothing to say."""
    checks = [c for c in event.checks if check_kind(c.expectation_type, c.check) == key.name]
    if not checks and event.error is None:
        return None
    errors = [c for c in checks if c.status in (Status.FAILED, Status.ERROR)]
    warnings = [c for c in checks if c.status is Status.WARNED]
    failing = errors + warnings
    metadata: dict[str, Any] = {
        "eventqa/run_id": run.run_id,
        "eventqa/window": f"{run.window.since.isoformat()} to {run.window.until.isoformat()}",
        "checks": dg.MetadataValue.int(len(checks)),
        "failed": dg.MetadataValue.int(len(errors)),
        "warned": dg.MetadataValue.int(len(warnings)),
    }
    if event.row_count is not None:
        metadata["rows"] = dg.MetadataValue.int(event.row_count)
    if failing:
        metadata["failing_checks"] = dg.MetadataValue.md(_failing_table(failing))
        metadata["failures"] = dg.MetadataValue.json([_failure(c) for c in failing[:MAX_LISTED]])
    if event.error is not None:
        description = f"{event.event}: the {key.name} checks could not run: {event.error}"
        passed, severity = False, dg.AssetCheckSeverity.ERROR
    elif failing:
        names = ", ".join(dict.fromkeys(c.description or c.check for c in failing))
        description = f"{len(failing)} of {_checks(len(checks), key.name)} failed: {names}"
        passed = False
        severity = dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN
    else:
        rows = f" over {event.row_count} events" if event.row_count is not None else ""
        description = f"{_checks(len(checks), key.name)} passed{rows}"
        passed, severity = True, dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=passed,
        severity=severity,
        description=description,
        metadata=metadata,
    )


def _checks(count: int, kind: str) -> str:
    """`12 contract checks`, `1 rule check`."""
    noun = {RULES: "rule"}.get(kind, kind)
    return f"{count} {noun} check{'' if count == 1 else 's'}"


def _failure(check: CheckResult) -> dict[str, Any]:
    """A failing check as JSON metadata: what failed, how much, a few samples, the SQL."""
    document = check.model_dump(
        mode="json",
        include={
            "check_id", "check", "expectation_type", "column", "status", "severity",
            "description", "origin", "unexpected_count", "element_count", "unexpected_percent",
            "observed_value", "error", "reproduction_sql",
        },
    )  # fmt: skip
    document["samples"] = check.model_dump(mode="json", include={"samples"})["samples"][
        :MAX_SAMPLES
    ]
    return {name: value for name, value in document.items() if value not in (None, "", [])}


def _failing_table(failing: list[CheckResult]) -> str:
    """A Markdown table of failing checks; user and warehouse text escaped, so shown literally."""
    lines = [
        "| check | column | severity | unexpected | of | description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for check in failing[:MAX_LISTED]:
        cells = [
            check.check,
            check.column or "",
            check.severity,
            "" if check.unexpected_count is None else str(check.unexpected_count),
            "" if check.element_count is None else str(check.element_count),
            check.error or check.description,
        ]
        lines.append("| " + " | ".join(_md(cell) for cell in cells) + " |")
    if len(failing) > MAX_LISTED:
        lines.append(f"\n{len(failing) - MAX_LISTED} more failing checks not listed.")
    return "\n".join(lines)


def _md(text: str) -> str:
    """Text as it is inside a Markdown table cell: punctuation escaped, one line."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|~])", r"\\\1", " ".join(text.split()))
