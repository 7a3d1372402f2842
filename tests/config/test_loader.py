from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from eventqa.config import load_config
from eventqa.config.models import DuckDBWarehouse, SnowflakeWarehouse
from eventqa.errors import ConfigError
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def in_project(tmp_path, monkeypatch):
    """Run from the project folder, as users do: errors then name `checks.yaml`."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "checks.yaml").write_text(textwrap.dedent(text))
    return Path("checks.yaml")


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    return str(error.value)


def test_repository_checks_yaml_is_valid():
    config = load_config(REPO / "checks.yaml")
    assert isinstance(config.warehouse, DuckDBWarehouse)
    assert config.tables == {"BackendEvent": "backend__events", "FrontendEvent": "frontend__events"}
    assert config.defaults.window == timedelta(hours=24)
    assert config.teams["Foundations"].slack_channel == "#foundations-alerts"
    assert config.events["user_followed_user"].rules[0].kind == "compare"


def test_empty_file_gives_defaults(tmp_path):
    config = load_config(write(tmp_path, ""))
    assert config.warehouse.path == Path(".eventqa/warehouse.duckdb")
    assert config.table_for("BackendEvent") == "backend__events"
    assert config.table_for("PartnerWebhookEvent") == "partner_webhook__events"


def test_snowflake_warehouse_is_the_alternative(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """\
        warehouse:
          type: snowflake
          connection_name: prod
          database: ANALYTICS
          schema: EVENTS
        """,
        )
    )
    assert isinstance(config.warehouse, SnowflakeWarehouse)
    assert config.warehouse.schema_name == "EVENTS"


def test_yaml_that_does_not_parse_names_line_and_column(tmp_path):
    message = error_for(
        tmp_path,
        """\
        version: 1
        events:
          user_followed_user:
            rules: [
        """,
    )
    assert message.startswith("checks.yaml:5:1: could not parse YAML")


def test_duplicate_key_is_a_parse_error(tmp_path):
    message = error_for(tmp_path, "version: 1\nversion: 1\n")
    assert message.startswith("checks.yaml:2:")
    assert "duplicate" in message


def test_misspelled_key_names_line_and_suggests(tmp_path):
    message = error_for(
        tmp_path,
        """\
        version: 1
        defaults:
          windw: 24h
        """,
    )
    assert message.startswith(
        "checks.yaml:3: defaults.windw: unknown key 'windw'; did you mean 'window'?"
    )


def test_misspelled_rule_kind(tmp_path):
    message = error_for(
        tmp_path,
        """\
        events:
          user_followed_user:
            rules:
              - betwen: {field: follower_id, min: 1}
        """,
    )
    assert (
        "checks.yaml:4: events.user_followed_user.rules[0].betwen: unknown key 'betwen'; did you mean 'between'?"
        in message
    )


def test_wrong_type_says_what_is_expected(tmp_path):
    message = error_for(
        tmp_path,
        """\
        events:
          user_followed_user:
            rules:
              - compare: {left: follower_id, op: "!=", right: followee_id}
              - between: {field: follower_id, min: lots}
        """,
    )
    assert (
        message == "checks.yaml:5: events.user_followed_user.rules[1].between.min: must be a number"
    )


def test_every_problem_is_reported_at_once_in_line_order(tmp_path):
    message = error_for(
        tmp_path,
        """\
        warehouse:
          type: duckdb
          path: [not, a, path]
        defaults:
          severity: fatal
          window: soon
        """,
    )
    lines = message.splitlines()
    assert lines[0].startswith("checks.yaml:3: warehouse.path:")
    assert lines[1] == "checks.yaml:5: defaults.severity: must be one of 'error' or 'warn'"
    assert (
        lines[2] == "checks.yaml:6: defaults.window: must be a duration such as 90s, 5m, 24h or 7d"
    )


def test_unknown_warehouse_type(tmp_path):
    message = error_for(tmp_path, "warehouse:\n  type: bigquery\n")
    assert message == "checks.yaml:2: warehouse.type: must be one of 'duckdb', 'snowflake'"


def test_a_rule_needs_exactly_one_kind(tmp_path):
    message = error_for(
        tmp_path,
        """\
        events:
          e:
            rules:
              - severity: warn
        """,
    )
    assert message.startswith("checks.yaml:4: events.e.rules[0]: a rule has exactly one of:")


def test_bad_regex_and_sql_without_batch(tmp_path):
    message = error_for(
        tmp_path,
        """\
        events:
          e:
            rules:
              - matches: {field: f, pattern: "([a-z"}
              - sql: {query: "select * from backend__events"}
        """,
    )
    assert (
        "checks.yaml:4: events.e.rules[0].matches.pattern: is not a valid regular expression"
        in message
    )
    assert "checks.yaml:5: events.e.rules[1].sql.query: must select from {batch}" in message


def test_bad_cron_and_time_zone(tmp_path):
    message = error_for(
        tmp_path,
        """\
        defaults:
          schedule:
            cron: "every hour"
            timezone: Mars/Olympus
        """,
    )
    assert "checks.yaml:3: defaults.schedule.cron: 'every hour' is not a cron expression" in message
    assert "checks.yaml:4: defaults.schedule.timezone: unknown time zone 'Mars/Olympus'" in message


def test_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "checks.yaml")


def test_top_level_must_be_a_mapping(tmp_path):
    assert error_for(tmp_path, "- a\n- b\n").startswith("checks.yaml:1: must be a mapping")


# -- bad values of every kind, for every setting of that kind -------------------------------------

DURATIONS = {
    "defaults.window": "defaults:\n  window: {}\n",
    "defaults.future_skew": "defaults:\n  future_skew: {}\n",
    "defaults.misfire_grace": "defaults:\n  misfire_grace: {}\n",
    "defaults.stop_timeout": "defaults:\n  stop_timeout: {}\n",
    "alerts.remind_after": "alerts:\n  remind_after: {}\n",
    "events.e.rules[0].freshness.max_age": "events:\n  e:\n    rules:\n      - freshness: {{max_age: {}}}\n",
}


@pytest.mark.parametrize("key", sorted(DURATIONS))
@pytest.mark.parametrize("value", ["99999999999999w", "1000000000000000000000000", "5201w"])
def test_every_duration_has_an_upper_bound(tmp_path, key, value):
    message = error_for(tmp_path, DURATIONS[key].format(value))
    assert f": {key}: must be at most 5200w (about 100 years)" in message


@pytest.mark.parametrize("key", sorted(DURATIONS))
def test_every_duration_but_the_skew_is_positive(tmp_path, key):
    for value in ("0s", "-30"):
        text = DURATIONS[key].format(value)
        if key == "defaults.future_skew":
            if value == "0s":
                assert load_config(write(tmp_path, text)).defaults.future_skew == timedelta(0)
            else:
                assert f": {key}: must not be negative" in error_for(tmp_path, text)
        else:
            assert f": {key}: must be longer than 0s" in error_for(tmp_path, text)


NUMBERS = {
    "between.min": "between: {{field: f, min: {}}}",
    "between.max": "between: {{field: f, max: {}}}",
    "max_null_fraction.max": "max_null_fraction: {{field: f, max: {}}}",
    "row_count.min": "row_count: {{min: {}}}",
    "in_set.values": "in_set: {{field: f, values: [1, {}]}}",
    "expectation.kwargs": "expectation: {{type: expect_x, kwargs: {{max_value: {}}}}}",
}


@pytest.mark.parametrize("key", sorted(NUMBERS))
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_no_numeric_setting_takes_nan_or_infinity(tmp_path, key, value):
    rule = NUMBERS[key].format(value)
    message = error_for(tmp_path, f"events:\n  e:\n    rules:\n      - {rule}\n")
    assert message.startswith(f"checks.yaml:4: events.e.rules[0].{key}: must "), message
    assert "finite number" in message and len(message.splitlines()) == 1


@pytest.mark.parametrize(
    "pattern", ["(?<=X)[A-Z]", "(?<!X)a", "a(?=b)", r"(a)\1", r"abc\Z", "(?>a+)", "a++"]
)
def test_regexes_the_warehouse_rejects_are_config_errors(tmp_path, pattern):
    text = f"events:\n  e:\n    rules:\n      - matches: {{field: f, pattern: '{pattern}'}}\n"
    message = error_for(tmp_path, text)
    assert message.startswith(
        "checks.yaml:4: events.e.rules[0].matches.pattern: is not a valid regular expression "
        "in the warehouse (RE2 syntax): "
    )


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        ("match_regex", "regex: '(?<=X)a'"),
        ("not_match_regex", "regex: '(a)\\1'"),
        ("match_regex_list", "regex_list: ['^a', 'a(?=b)']"),
    ],
)
def test_regexes_of_expectation_rules_the_warehouse_rejects_are_config_errors(
    tmp_path, kind, kwargs
):
    text = (
        "events:\n  e:\n    rules:\n      - expectation:\n"
        f"          type: expect_column_values_to_{kind}\n"
        f"          kwargs: {{column: f, {kwargs}}}\n"
    )
    message = error_for(tmp_path, text)
    assert message.startswith("checks.yaml:6: events.e.rules[0].expectation.kwargs: "), message
    assert "is not a valid regular expression in the warehouse (RE2 syntax): " in message


def test_a_deep_document_is_one_error(tmp_path):
    message = error_for(tmp_path, "events:\n  e: " + "[" * 100 + "]" * 100 + "\n")
    assert message == "checks.yaml:2: events.e: nests more than 64 levels deep"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "is not a SQLAlchemy database URL"),
        ("nosuchdb://host/x", "names a database SQLAlchemy does not know"),
        ("postgresql+nosuchdriver://host/x", "names a database SQLAlchemy does not know"),
        ("mysql+mysqldb://host/x", "needs a database driver that is not installed"),
    ],
)
def test_a_results_url_no_driver_loads_is_a_config_error(tmp_path, url, problem):
    message = error_for(tmp_path, f"results:\n  url: '{url}'\n")
    assert message.startswith(f"checks.yaml:2: results.url: {problem}")


def test_a_loadable_results_url_is_kept(tmp_path):
    config = load_config(write(tmp_path, "results: {url: 'sqlite:///elsewhere/r.db'}\n"))
    assert config.results.url == "sqlite:///elsewhere/r.db"


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://x/report.html", "https://x/a b", "https://x/r|y"]
)
def test_a_report_url_slack_cannot_link_is_a_config_error(tmp_path, url):
    message = error_for(tmp_path, f"alerts:\n  fallback_channel: '#x'\n  report_url: '{url}'\n")
    assert message.startswith("checks.yaml:3: alerts.report_url: "), message
    assert "is not an http:// or https:// URL" in message


def test_a_report_url_is_kept(tmp_path):
    config = load_config(write(tmp_path, "alerts: {report_url: 'https://ci.example.com/r.html'}\n"))
    assert config.alerts.report_url == "https://ci.example.com/r.html"
