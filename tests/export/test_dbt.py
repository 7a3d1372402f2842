"""`eventqa export dbt`: sources, typed staging views and tests that dbt itself builds and runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest
from ruamel.yaml import YAML

from eventqa.service import Project


def load(path: Path):
    return YAML(typ="safe").load(path.read_text())


def exported(root: Path) -> Path:
    Project(root / "checks.yaml").export("dbt")
    return root / "exports" / "dbt"


def data_tests_of(schema: dict, model: str, column: str) -> list[dict]:
    (found,) = [m for m in schema["models"] if m["name"] == model]
    (entry,) = [c for c in found["columns"] if c["name"] == column]
    return entry.get("data_tests", [])


def test_sources_name_each_event_in_its_table_with_freshness_from_its_rule(example_project):
    out = exported(example_project)
    (source,) = load(out / "sources.yml")["sources"]
    assert source["name"] == "eventqa" and source["schema"] == "main"
    tables = {t["name"]: t for t in source["tables"]}
    assert len(tables) == 13
    follows = tables["user_followed_user"]
    assert follows["identifier"] == "backend__events"
    assert follows["loaded_at_field"] == "event_timestamp"
    assert follows["freshness"] == {
        "error_after": {"count": 6, "period": "hour"},
        "filter": "event_name = 'user_followed_user'",
    }
    assert follows["description"].startswith("Fires when a user starts following other user.")
    assert follows["config"]["meta"]["eventqa"]["owner"] == "Foundations"
    assert tables["user_searched_catalog"]["freshness"]["error_after"] == {
        "count": 2,
        "period": "hour",
    }
    assert "freshness" not in tables["buyer_placed_bid"]


def test_schema_tests_mirror_the_not_null_and_accepted_values_promises(example_project):
    schema = load(exported(example_project) / "schema.yml")
    opened = "stg_eventqa__user_opened_app"
    (enum,) = [t for t in data_tests_of(schema, opened, "platform") if "accepted_values" in t]
    assert enum["accepted_values"]["arguments"]["values"] == [
        "PLATFORM_UNSPECIFIED", "PLATFORM_IOS", "PLATFORM_ANDROID", "PLATFORM_WEB",
    ]  # fmt: skip
    assert enum["accepted_values"]["config"]["severity"] == "error"
    # checks.yaml: max_null_fraction 0 on a nullable wrapper is a not-null promise.
    (followee,) = data_tests_of(schema, "stg_eventqa__user_followed_user", "followee_id")
    assert followee["not_null"]["config"]["meta"]["eventqa"]["checks"] == [
        "rule.max_null_fraction.followee_id"
    ]
    # checks.yaml narrows an enum: both promises are tested.
    signed = [
        t["accepted_values"]
        for t in data_tests_of(schema, "stg_eventqa__user_signed_up", "platform")
        if "accepted_values" in t
    ]
    assert sorted(len(t["arguments"]["values"]) for t in signed) == [3, 4]
    # A required field of an optional object is required where the object is.
    (city,) = data_tests_of(schema, "stg_eventqa__buyer_placed_order", "shipping_address__city")
    assert city["not_null"]["config"]["where"] == "substr(shipping_address, 1, 1) = '{'"
    # payment_failed is `severity: warn` in checks.yaml.
    (order,) = data_tests_of(schema, "stg_eventqa__payment_failed", "order_id")
    assert order["not_null"]["config"]["severity"] == "warn"
    (model,) = [m for m in schema["models"] if m["name"] == "stg_eventqa__buyer_placed_order"]
    described = {c["name"]: c["description"] for c in model["columns"]}
    assert described["shipping_address__country_code"].startswith("ISO 3166-1 alpha-2.")
    assert "JSON text of the array" in described["items"]


def test_snowflake_models_read_variant_paths_in_the_configured_schema(
    make_project, example_project
):
    checks = (
        (example_project / "checks.yaml")
        .read_text()
        .replace(
            "  type: duckdb               # the embedded default, built by `eventqa demo`\n"
            "  path: .eventqa/warehouse.duckdb\n",
            "  type: snowflake\n  database: ANALYTICS\n  schema: EVENTS\n",
        )
    )
    (example_project / "checks.yaml").write_text(checks)
    out = exported(example_project)
    (source,) = load(out / "sources.yml")["sources"]
    assert (source["database"], source["schema"]) == ("ANALYTICS", "EVENTS")
    sql = (out / "stg_eventqa__buyer_placed_bid.sql").read_text()
    assert "payload AS doc FROM {{ source('eventqa', 'buyer_placed_bid') }}" in sql
    assert "doc['amount']['amount_cents']" in sql and "json_extract" not in sql
    assert "WHERE event_name = 'buyer_placed_bid'" in sql

    (example_project / "checks.yaml").write_text(checks.replace("  schema: EVENTS\n", ""))
    (source,) = load(exported(example_project) / "sources.yml")["sources"]
    assert source["schema"] == "{{ target.schema }}"  # dbt's default would be the source name


def test_jinja_in_a_contract_description_is_not_run_by_dbt(make_project):
    from tests.conftest import events_proto

    proto = events_proto(
        """
        message Thing {
          // Costs {{ price }} {% if x %} or {# nothing #}.
          string code = 1;
        }
        """,
        {"thing_done": "Thing"},
    )
    root = make_project({"events.proto": proto})
    schema = load(exported(root) / "schema.yml")
    (model,) = schema["models"]
    (code,) = [c for c in model["columns"] if c["name"] == "code"]
    assert code["description"].startswith("{% raw %}Costs {{ price }} {% if x %}")
    assert code["description"].endswith("{% endraw %}")


# -- dbt itself ---------------------------------------------------------------------------------


def dbt_build(project_dir: Path, monkeypatch) -> dict[str, tuple[str, int]]:
    """`dbt build` in-process; each node's status and failure count, by node name."""
    from dbt.cli.main import dbtRunner

    monkeypatch.chdir(project_dir)  # dbt moves into the project: pytest moves back after

    result = dbtRunner().invoke(
        ["build", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
         "--no-partial-parse", "--no-send-anonymous-usage-stats", "--threads", "1"]
    )  # fmt: skip
    assert result.exception is None, result.exception
    # dbt-duckdb keeps its database open in the process after the run: let go of it.
    import gc

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    gc.collect()
    return {r.node.name: (str(r.status), r.failures or 0) for r in result.result.results}


@pytest.mark.duckdb
@pytest.mark.slow
def test_dbt_builds_the_views_over_the_demo_and_its_tests_catch_the_planted_defects(
    example_project, tmp_path, monkeypatch
):
    project = Project(example_project / "checks.yaml")
    warehouse = project.demo(rows=20000).path
    dbt_dir = tmp_path / "dbt_project"
    project.export("dbt", dbt_dir / "models" / "eventqa")
    (dbt_dir / "dbt_project.yml").write_text(
        "name: eventqa_demo\nversion: '1.0.0'\nprofile: eventqa_demo\n"
    )
    (dbt_dir / "profiles.yml").write_text(textwrap.dedent(f"""\
        eventqa_demo:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: {warehouse}
              threads: 1
    """))  # fmt: skip

    nodes = dbt_build(dbt_dir, monkeypatch)

    models = {name: status for name, (status, _) in nodes.items() if name.startswith("stg_")}
    assert len(models) == 13 and set(models.values()) == {"success"}
    failed = {name: count for name, (status, count) in nodes.items() if status == "fail"}
    warned = {name for name, (status, _) in nodes.items() if status == "warn"}

    with duckdb.connect(str(warehouse), read_only=True) as db:
        # The views query real rows: every event's rows, typed as the contract says.
        for event in ("user_followed_user", "buyer_placed_bid", "user_opened_app"):
            stored = db.execute(
                "SELECT count(*) FROM frontend__events WHERE event_name = ? UNION ALL "
                "SELECT count(*) FROM backend__events WHERE event_name = ?",
                [event, event],
            ).fetchall()
            (viewed,) = db.execute(f"SELECT count(*) FROM stg_eventqa__{event}").fetchone()
            assert viewed == sum(n for (n,) in stored) > 100
        amounts = db.execute(
            "SELECT typeof(amount__amount_cents), amount__amount_cents, "
            "CAST(json_extract(payload, '$.amount.amount_cents') AS BIGINT), amount__currency "
            "FROM stg_eventqa__buyer_placed_bid JOIN backend__events USING (event_id) LIMIT 50"
        ).fetchall()
        assert {row[0] for row in amounts} == {"BIGINT"}
        assert all(row[1] == row[2] and row[3].startswith("CURRENCY_") for row in amounts)

        # The planted defects, counted in the raw rows, are what the tests report.
        (visionos,) = db.execute(
            "SELECT count(*) FROM frontend__events WHERE event_name = 'user_opened_app' "
            "AND json_extract_string(payload, '$.platform') = 'PLATFORM_VISIONOS'"
        ).fetchone()
        (string_ids,) = db.execute(
            "SELECT count(*) FROM backend__events WHERE event_name = 'user_followed_user' "
            "AND json_type(payload, '$.followee_id') = 'VARCHAR'"
        ).fetchone()
        (double_encoded,) = db.execute(
            "SELECT count(*) FROM frontend__events WHERE event_name = 'user_opened_app' "
            "AND json_type(payload) = 'VARCHAR'"
        ).fetchone()
    assert visionos > 0 and string_ids > 0 and double_encoded > 0
    enum_tests = [
        n for n in failed if n.startswith("accepted_values_stg_eventqa__user_opened_app_platform")
    ]
    assert len(enum_tests) == 1 and failed[enum_tests[0]] == 1  # one value outside the enum
    assert failed.pop("not_null_stg_eventqa__user_followed_user_followee_id") == string_ids
    for column in ("user_id", "platform", "app_version", "session_id"):
        assert failed.pop(f"not_null_stg_eventqa__user_opened_app_{column}") == double_encoded
    failed.pop(enum_tests[0])
    assert failed == {}  # every event without a planted defect passes
    assert warned == set()  # payment_failed's warn-severity tests hold on the demo
