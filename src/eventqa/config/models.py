"""The shape of checks.yaml, as frozen pydantic models that forbid unknown keys."""

from __future__ import annotations

import contextlib
import math
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from eventqa.errors import ConfigError, Location

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# About 100 years: longer durations are typos, and date arithmetic on them overflows.
MAX_DURATION = timedelta(weeks=5200)


def parse_duration(value: Any) -> timedelta:
    """Read `90s`, `5m`, `24h`, `7d` or `2w` (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool):
        amount, unit = value, "seconds"
    elif match:
        amount, unit = int(match.group(1)), _DURATION_UNITS[match.group(2)]
    else:
        raise ValueError("must be a duration such as 90s, 5m, 24h or 7d")
    try:
        duration = timedelta(**{unit: amount})
    except OverflowError:
        duration = timedelta.max
    if abs(duration) > MAX_DURATION:
        raise ValueError(f"must be at most {format_duration(MAX_DURATION)} (about 100 years)")
    return duration


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("must not be negative")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest `parse_duration` spelling of `value` (`PT` forms are not needed by users)."""
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]
# A margin that may be zero (`future_skew: 0s`: no event may be dated after the window).
Margin = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_not_negative)]


class Strict(BaseModel):
    """Base of every config model: immutable, an unknown key is an error, numbers are finite.

    YAML's `.nan` and `.inf` would reach suites as JSON `NaN`/`Infinity`, which neither the
    warehouse nor GX reads back.

    Validators are built when first used (`defer_build`): a command validates `Config` once, and
    building a validator for each of the 26 config models at import took 20 ms of every command's
    start-up that `Config`'s own validator (which inlines them) does not need.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class Severity(StrEnum):
    """How a failing check counts: `error` fails the run (exit 1), `warn` is reported only."""

    ERROR = "error"
    WARN = "warn"


# -- warehouse ----------------------------------------------------------------------------------


class DuckDBWarehouse(Strict):
    """The embedded default: a DuckDB file next to checks.yaml."""

    type: Literal["duckdb"]
    path: Path = Path(".eventqa/warehouse.duckdb")
    # DuckDB runs inside eventqa's process: its memory is eventqa's. Past the limit it spills
    # to a temporary directory next to the database instead of growing. Unset: a budget per
    # statement that grows with the events it checks, never with the rows (`DuckDB.budget`).
    memory_limit: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|%)$")
    threads: int | None = Field(default=None, ge=1, le=1024)


class SnowflakeWarehouse(Strict):
    """Snowflake. Secrets never live here: see README "Connecting Snowflake"."""

    type: Literal["snowflake"]
    connection_name: str | None = None  # a section of ~/.snowflake/connections.toml
    account: str | None = None
    user: str | None = None
    database: str | None = None
    schema_name: str | None = Field(default=None, alias="schema")
    warehouse: str | None = None
    role: str | None = None

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True
    )


Warehouse = Annotated[DuckDBWarehouse | SnowflakeWarehouse, Field(discriminator="type")]


# -- contracts and payload ------------------------------------------------------------------------


class ContractsConfig(Strict):
    """Where the .proto files are."""

    root: Path = Path("contracts")
    include: tuple[Path, ...] = ()


class PayloadConfig(Strict):
    """How the pipeline encodes payloads as JSON (README "Payload encoding")."""

    int64_encoding: Literal["number", "string"] = "number"
    omits_defaults: bool = False


def known_zone(value: str) -> str:
    """An IANA time zone name that zoneinfo knows, else ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as UTC)") from None
    return value


Zone = Annotated[str, AfterValidator(known_zone)]


class Schedule(Strict):
    """A 5-field cron expression in a time zone, checked as the scheduler will read it."""

    # The zone comes first so the cron check below can build the trigger in it.
    timezone: str = "UTC"
    cron: str

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)  # what APScheduler does with a zone name

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str, info: ValidationInfo) -> str:
        if (info.context or {}).get("schedules_checked"):
            return value  # this very checks.yaml passed this check before (loader.ParsedCache)
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone=info.data.get("timezone", "UTC"))
        except ValueError as error:
            detail = str(error)[:1].lower() + str(error)[1:]
            raise ValueError(
                f"{value!r} is not a cron expression (minute hour day month weekday, "
                f"e.g. '*/30 * * * *'): {detail}"
            ) from None
        return value


# -- volume and freshness monitoring ------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    """A date without a zone is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(_utc)]
# Exclusions name an event, or `all` for every event of every table.
ALL_EVENTS = "all"


class Exclusion(Strict):
    """A period kept out of the volume baselines (a known outage, a launch, a holiday)."""

    event: str = ALL_EVENTS
    start: Instant
    end: Instant
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _in_order(self) -> Exclusion:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        return self


class VolumeOverride(Strict):
    """Per-event volume and freshness settings (`events.<name>.volume`); unset keys inherit."""

    enabled: bool | None = None
    sensitivity: float | None = Field(default=None, gt=0, le=100)
    seasonality: Literal["hour_of_week", "hour_of_day", "none"] | None = None
    direction: Literal["both", "drop", "spike"] | None = None
    timezone: Zone | None = None
    min_history: Duration | None = None
    training: Duration | None = None
    lookback: Margin | None = None


class VolumeDefaults(Strict):
    """Volume and freshness monitoring for every event (`defaults.volume`), on by default.

    Unset numbers (sensitivity, minimum history) take the detector's own defaults.
    """

    enabled: bool = True
    bucket: Duration = timedelta(hours=1)
    sensitivity: float | None = Field(default=None, gt=0, le=100)
    seasonality: Literal["hour_of_week", "hour_of_day", "none"] = "hour_of_week"
    direction: Literal["both", "drop", "spike"] = "both"
    timezone: Zone = "UTC"
    min_history: Duration | None = None
    training: Duration = timedelta(weeks=8)
    # Late data: each run re-counts this much before its window.
    lookback: Margin = timedelta(days=2)
    exclusions: tuple[Exclusion, ...] = ()

    @model_validator(mode="after")
    def _history_fits_training(self) -> VolumeDefaults:
        if self.training < timedelta(days=7):
            raise ValueError("'training' must be at least 7d (a week of every hour)")
        if self.min_history is not None and self.min_history > self.training:
            raise ValueError("'min_history' is longer than 'training': events would learn forever")
        return self

    @field_validator("bucket")
    @classmethod
    def _divides_a_day(cls, value: timedelta) -> timedelta:
        seconds = int(value.total_seconds())
        if seconds < 60 or 86400 % seconds:
            raise ValueError("must divide a day into whole buckets (e.g. 15m, 1h, 6h, 1d)")
        return value


class Defaults(Strict):
    """What applies to every event unless it says otherwise."""

    window: Duration = timedelta(hours=24)
    severity: Severity = Severity.ERROR
    future_skew: Margin = timedelta(minutes=5)
    # A factory: validating a schedule imports APScheduler, which `eventqa --help` must not.
    # Hourly; a constant, not checked by APScheduler again in every command.
    schedule: Schedule = Field(default_factory=lambda: Schedule.model_construct(cron="0 * * * *"))
    # Events checked at once: each is a few small queries, so the warehouse sets the limit.
    concurrency: int = Field(default=4, ge=1, le=64)
    # Scheduled runs missed (scheduler down, pool busy) are still made, once, within this time.
    misfire_grace: Duration = timedelta(minutes=30)
    # How long a stopping scheduler lets runs in flight finish.
    stop_timeout: Duration = timedelta(minutes=5)
    volume: VolumeDefaults = VolumeDefaults()


class Team(Strict):
    """A `team_owner` value from the contracts and where it hears about its events."""

    slack_channel: str


class ResultsConfig(Strict):
    """Where runs are stored: any SQLAlchemy URL (relative SQLite paths start at checks.yaml).

    `EVENTQA_RESULTS_URL` overrides it, so credentials for a shared database stay out of the file.
    """

    url: str = "sqlite:///.eventqa/results.db"

    @field_validator("url")
    @classmethod
    def _loadable(cls, value: str) -> str:
        check_database_url(value)
        return value


def check_database_url(url: str) -> None:
    """Raise ValueError unless SQLAlchemy parses `url` and its dialect and driver load."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        dialect = make_url(url).get_dialect()
        dialect.import_dbapi()
    except NoSuchModuleError as error:  # a subclass of ArgumentError
        raise ValueError(f"names a database SQLAlchemy does not know ({error})") from None
    except ArgumentError:
        raise ValueError("is not a SQLAlchemy database URL such as sqlite:///results.db") from None
    except ImportError as error:
        raise ValueError(f"needs a database driver that is not installed ({error})") from None


class LintConfig(Strict):
    """Contract lint: rules turned off or made warnings, by rule id (README lists the rules)."""

    rules: dict[str, Literal["error", "warn", "off"]] = Field(default_factory=dict)


class AlertsConfig(Strict):
    """Who hears about failures, how often, and through what (README "Connecting Slack").

    The bot token (`SLACK_BOT_TOKEN`) or incoming-webhook URL (`SLACK_WEBHOOK_URL`) comes from the
    environment only; with neither, alerts are written to `outbox_file` and the console.
    """

    fallback_channel: str | None = None
    remind_after: Duration = timedelta(hours=24)
    warnings: Literal["alert", "digest", "silent"] = "digest"
    slack_base_url: str | None = None  # Slack Enterprise Grid, a proxy, or a test server
    outbox_file: Path = Path(".eventqa/outbox.jsonl")
    # Where the team opens `eventqa report`'s page (published by CI, a bucket, an intranet):
    # alerts then link to it.
    report_url: str | None = None

    @field_validator("report_url")
    @classmethod
    def _linkable(cls, value: str | None) -> str | None:
        """An http(s) URL Slack can link: no spaces, and none of `<`, `>`, `|` (link syntax)."""
        if value is not None and not re.fullmatch(r"https?://[^\s<>|]+", value):
            raise ValueError(
                f"{value!r} is not an http:// or https:// URL (without spaces, <, > or |)"
            )
        return value


# -- semantic rules -------------------------------------------------------------------------------

FieldPath = Annotated[str, Field(min_length=1)]


def _check_bounds(low: float | None, high: float | None) -> None:
    """A range rule needs a bound, and its bounds in order."""
    if low is None and high is None:
        raise ValueError("needs 'min', 'max' or both")
    if low is not None and high is not None and low > high:
        raise ValueError("'min' is greater than 'max'")


class Compare(Strict):
    """`left op right` on every row, e.g. follower_id != followee_id."""

    left: FieldPath
    op: Literal["==", "!=", "<", "<=", ">", ">="]
    right: FieldPath


class Between(Strict):
    """Every non-null value lies within [min, max]."""

    field: FieldPath
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> Between:
        _check_bounds(self.min, self.max)
        return self


class InSet(Strict):
    """Every non-null value is one of `values`."""

    field: FieldPath
    values: tuple[str | int | float | bool, ...] = Field(min_length=1)

    @field_validator("values", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        reject_non_finite(value)
        return value


def reject_non_finite(value: Any) -> None:
    """Raise ValueError when `value` is or holds `.nan`/`.inf`: JSON and SQL have no such number."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must hold only finite numbers (found {value})")
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            reject_non_finite(item)


class Matches(Strict):
    """Every non-null value matches the regular expression `pattern`."""

    field: FieldPath
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        if (problem := re2_problem(value)) is not None:
            raise ValueError(problem)
        return value


def re2_problem(pattern: str) -> str | None:
    """Why the warehouse cannot match `pattern` ("is not a valid ..."), or None when it can.

    DuckDB and Snowflake match with RE2-like syntax: no lookaround, no backreferences. Python's
    `re` accepts those, and every check using them would be refused by the warehouse.
    """
    import re2

    options = re2.Options()
    options.log_errors = False  # else RE2 logs each error to stderr itself
    try:
        re2.compile(pattern, options)
    except re2.error as error:
        reason = error.args[0].decode() if error.args else str(error)
        return f"is not a valid regular expression in the warehouse (RE2 syntax): {reason}"
    return None


class Unique(Strict):
    """No two events in the window share these fields' values."""

    fields: tuple[FieldPath, ...] = Field(min_length=1)


class MaxNullFraction(Strict):
    """At most this fraction of the window's events have the field null or absent."""

    field: FieldPath
    max: float = Field(ge=0, le=1)


class RowCount(Strict):
    """The window holds between `min` and `max` events."""

    min: int | None = Field(default=None, ge=0, le=2**63 - 1)
    max: int | None = Field(default=None, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def _a_bound(self) -> RowCount:
        _check_bounds(self.min, self.max)
        return self


class Freshness(Strict):
    """The newest event (or newest value of a timestamp field) is at most `max_age` old."""

    max_age: Duration
    field: FieldPath | None = None


class GXExpectation(Strict):
    """Any Great Expectations expectation by its type name, with its kwargs."""

    type: str = Field(pattern=r"^expect_[a-z0-9_]+$")
    kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kwargs")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        reject_non_finite(value)
        # The regexes of match_regex(_list) and their negations run in the warehouse.
        listed = value.get("regex_list")
        regexes = [value.get("regex"), *(listed if isinstance(listed, list) else [])]
        for regex in regexes:
            if isinstance(regex, str) and (problem := re2_problem(regex)) is not None:
                raise ValueError(f"{regex!r} {problem}")
        return value


class CustomSQL(Strict):
    """A query over `{batch}` (the event's projection) returning the offending rows."""

    query: str

    @field_validator("query")
    @classmethod
    def _one_read_only_query(cls, value: str, info: ValidationInfo) -> str:
        """Kept as the checked query, without a trailing `;` or comment: it is embedded."""
        from eventqa.config.sql import CheckedQueries

        context = info.context or {}
        checked = context.get("checked") or CheckedQueries(None)
        return checked.check(value, context.get("dialect", "duckdb"))


RULE_KINDS = (
    "compare",
    "between",
    "in_set",
    "matches",
    "unique",
    "max_null_fraction",
    "row_count",
    "freshness",
    "expectation",
    "sql",
)


class Rule(Strict):
    """One semantic rule: exactly one of the kinds, plus severity and description."""

    compare: Compare | None = None
    between: Between | None = None
    in_set: InSet | None = None
    matches: Matches | None = None
    unique: Unique | None = None
    max_null_fraction: MaxNullFraction | None = None
    row_count: RowCount | None = None
    freshness: Freshness | None = None
    expectation: GXExpectation | None = None
    sql: CustomSQL | None = None
    severity: Severity | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Rule:
        present = [kind for kind in RULE_KINDS if getattr(self, kind) is not None]
        if len(present) != 1:
            raise ValueError(
                f"a rule has exactly one of: {', '.join(RULE_KINDS)} "
                f"(found {', '.join(present) if present else 'none'})"
            )
        return self

    @property
    def kind(self) -> str:
        """Which rule kind this is, e.g. `compare`."""
        return next(kind for kind in RULE_KINDS if getattr(self, kind) is not None)

    @property
    def spec(self) -> BaseModel:
        """The kind-specific part of the rule."""
        value: BaseModel = getattr(self, self.kind)
        return value


class EventConfig(Strict):
    """Per-event settings and semantic rules."""

    rules: tuple[Rule, ...] = ()
    severity: Severity | None = None
    slack_channel: str | None = None
    schedule: Schedule | None = None
    sensitive_fields: tuple[FieldPath, ...] = ()
    volume: VolumeOverride | None = None


class ConfigSource:
    """Where each key of checks.yaml is, so any error can name its line."""

    def __init__(
        self,
        path: Path,
        display: str,
        document: Any,
        lines: dict[tuple[str | int, ...], int] | None = None,
    ):
        self.path = path
        self.display = display
        self.document = document
        self._lines = lines

    @property
    def lines(self) -> dict[tuple[str | int, ...], int]:
        """The line of every key and list item by its path, and of the document at `()`."""
        if self._lines is None:
            self._lines = positions(self.document)
        return self._lines

    def locate(self, loc: tuple[str | int, ...]) -> Location:
        """The line of the deepest node of `loc` present in the document."""
        node: Any = self.document
        line: int | None = None
        at: tuple[str | int, ...] = ()
        for part in loc:
            held = (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            )
            if not held:
                continue  # parts the document does not hold (a union's tag, say) are skipped
            at = (*at, part)
            line = self.lines.get(at, line)
            node = node[part]
        return Location(self.display, line if line is not None else self.lines.get(()))


def positions(document: Any) -> dict[tuple[str | int, ...], int]:
    """The 1-based line of each key and item of a document ruamel.yaml loaded, by path."""
    lines: dict[tuple[str | int, ...], int] = {}
    if getattr(document, "lc", None) is not None and document.lc.line is not None:
        lines[()] = document.lc.line + 1
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        at, node = stack.pop()
        lc = getattr(node, "lc", None)
        if isinstance(node, dict):
            items: list[tuple[str | int, Any]] = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            continue
        for part, value in items:
            if lc is not None:
                with contextlib.suppress(KeyError, IndexError, TypeError):
                    where = lc.key(part) if isinstance(node, dict) else lc.item(part)
                    lines[(*at, part)] = where[0] + 1
            stack.append(((*at, part), value))
    return lines


class Config(Strict):
    """checks.yaml: the warehouse, tables, teams, defaults and per-event rules."""

    version: Literal[1] = 1
    contracts: ContractsConfig = ContractsConfig()
    warehouse: Warehouse = DuckDBWarehouse(type="duckdb")
    tables: dict[str, str] = Field(
        default_factory=lambda: {
            "BackendEvent": "backend__events",
            "FrontendEvent": "frontend__events",
        }
    )
    payload: PayloadConfig = PayloadConfig()
    defaults: Defaults = Defaults()
    teams: dict[str, Team] = Field(default_factory=dict)
    alerts: AlertsConfig = AlertsConfig()
    results: ResultsConfig = ResultsConfig()
    lint: LintConfig = LintConfig()
    table_schedules: dict[str, Schedule] = Field(default_factory=dict)
    events: dict[str, EventConfig] = Field(default_factory=dict)

    _source: ConfigSource | None = PrivateAttr(default=None)
    _project_dir: Path = PrivateAttr(default=Path("."))

    @property
    def project_dir(self) -> Path:
        """The directory of checks.yaml: relative paths in it are relative to this."""
        return self._project_dir

    def locate(self, *loc: str | int) -> Location:
        """The checks.yaml line of a key, e.g. `locate("events", "x", "rules", 0)`."""
        if self._source is None:
            return Location("checks.yaml")
        return self._source.locate(loc)

    def volume_enabled(self, event: str) -> bool:
        """Whether `event`'s volume and freshness are watched: its own setting over the default."""
        override = self.events.get(event)
        own = override.volume.enabled if override and override.volume else None
        return self.defaults.volume.enabled if own is None else own

    def volume_event_errors(self, known: set[str]) -> list[ConfigError]:
        """Volume exclusions naming events the contracts do not declare."""
        from difflib import get_close_matches

        problems = []
        for index, exclusion in enumerate(self.defaults.volume.exclusions):
            if exclusion.event != ALL_EVENTS and exclusion.event not in known:
                close = get_close_matches(exclusion.event, sorted(known), n=3)
                hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                loc = ("defaults", "volume", "exclusions", index, "event")
                problems.append(
                    ConfigError(
                        f"defaults.volume.exclusions[{index}].event: unknown event "
                        f"{exclusion.event!r}{hint} (name an event, or `all`)",
                        location=self.locate(*loc),
                    )
                )
        return problems

    def table_for(self, envelope: str) -> str:
        """The table of an envelope: from `tables`, else `BackendEvent` -> `backend__events`."""
        if envelope in self.tables:
            return self.tables[envelope]
        base = envelope.removesuffix("Event").removesuffix("Events") or envelope
        return re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower() + "__events"
