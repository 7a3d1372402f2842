"""`eventqa export odcs`: documents the standard's model, its JSON schema and datacontract-cli accept."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from eventqa.service import Project


@pytest.fixture
def documents(example_project) -> dict[str, Path]:
    result = Project(example_project / "checks.yaml").export("odcs")
    assert len(result.written) == 13
    return {p.name.removesuffix(".odcs.yaml"): p for p in result.directory.rglob("*.odcs.yaml")}


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


def prop(properties: list[dict], path: str) -> dict:
    node = {"properties": properties}
    for part in path.split("."):
        node = next(p for p in node["properties"] if p["name"] == part.removesuffix("[]"))
        if part.endswith("[]"):
            node = node["items"]
    return node


def test_every_document_is_valid_for_the_standards_model_and_json_schema(documents):
    import jsonschema
    from open_data_contract_standard.model import OpenDataContractStandard

    schema = json.loads(
        resources.files("open_data_contract_standard").joinpath("schema.json").read_text()
    )
    validator = jsonschema.validators.validator_for(schema)(schema)
    for name, path in sorted(documents.items()):
        model = OpenDataContractStandard.from_file(str(path))
        assert model.apiVersion == "v3.2.0" and model.name == name
        errors = [e.message for e in validator.iter_errors(load(path))]
        assert errors == [], (name, errors)


def test_a_document_locates_the_event_and_types_its_payload(documents):
    document = load(documents["user_signed_up"])
    assert document["team"]["name"] == "Growth"
    assert document["support"] == [{"channel": "#growth-data", "tool": "slack", "scope": "issues"}]
    assert document["servers"][0]["type"] == "duckdb"
    (table,) = document["schema"]
    assert table["physicalName"] == "backend__events"
    assert {"property": "filter", "value": "event_name = 'user_signed_up'"}.items() <= (
        table["customProperties"][0].items()
    )
    properties = table["properties"]
    assert [p["name"] for p in properties] == [
        "event_id",
        "event_name",
        "event_timestamp",
        "payload",
    ]
    assert prop(properties, "event_timestamp")["logicalType"] == "timestamp"
    user_id = prop(properties, "payload.user_id")
    assert (user_id["logicalType"], user_id["logicalTypeOptions"], user_id["physicalType"]) == (
        "integer", {"format": "i64"}, "int64",
    )  # fmt: skip
    assert user_id["required"] is True
    # Sensitive: by the contract's option (email) and by checks.yaml (referral_code).
    assert prop(properties, "payload.email")["classification"] == "restricted"
    referral = prop(properties, "payload.referral_code")
    assert referral["classification"] == "restricted" and referral["required"] is False
    assert "classification" not in prop(properties, "payload.user_id")
    platform = prop(properties, "payload.platform")
    assert [v["value"] for v in platform["enum"]] == [
        "PLATFORM_UNSPECIFIED", "PLATFORM_IOS", "PLATFORM_ANDROID", "PLATFORM_WEB",
    ]  # fmt: skip
    # checks.yaml rules as quality rules on their properties.
    (in_set,) = platform["quality"]
    assert in_set["metric"] == "invalidValues" and in_set["mustBe"] == 0
    assert in_set["arguments"] == {
        "validValues": ["PLATFORM_IOS", "PLATFORM_ANDROID", "PLATFORM_WEB"]
    }
    (pattern,) = referral["quality"]
    assert (pattern["arguments"], pattern["severity"]) == (
        {"pattern": "^[A-Z0-9]{6,12}$"},
        "warning",
    )
    (unique,) = user_id["quality"]
    assert unique["metric"] == "duplicateValues"


def test_nested_repeated_and_map_fields_and_every_kind_of_rule(documents):
    order = load(documents["buyer_placed_order"])
    properties = order["schema"][0]["properties"]
    assert prop(properties, "payload.shipping_address.country_code")["description"] == (
        "ISO 3166-1 alpha-2."
    )
    items = prop(properties, "payload.items")
    assert items["logicalType"] == "array" and items["items"]["logicalType"] == "object"
    (quantity_rule,) = prop(properties, "payload.items[].quantity")["quality"]
    assert quantity_rule["engine"] == "great-expectations"
    assert quantity_rule["implementation"]["kwargs"]["column"] == "items[].quantity"
    attributes = prop(properties, "payload.attributes")
    assert attributes["logicalType"] == "map"
    assert attributes["map"]["value"]["physicalType"] == "string"

    follows = load(documents["user_followed_user"])["schema"][0]
    kinds = {q["name"].split(".")[1]: q for q in follows["quality"]}
    assert set(kinds) == {"compare", "unique", "row_count", "freshness"}
    assert kinds["row_count"]["mustBeGreaterOrEqualTo"] == 1
    assert kinds["unique"]["arguments"] == {
        "properties": ["payload.follower_id", "payload.followee_id"]
    }
    assert kinds["unique"]["severity"] == "warning"
    assert kinds["compare"]["implementation"]["type"] == "unexpected_rows_expectation"
    follower = prop(follows["properties"], "payload.follower_id")
    assert follower["required"] is False
    assert (
        follower["quality"][0]["metric"] == "nullValues" and follower["quality"][0]["mustBe"] == 0
    )


def test_datacontract_cli_loads_a_document(documents):
    from datacontract.data_contract import DataContract

    run = DataContract(data_contract_file=str(documents["buyer_placed_order"])).lint()
    assert [(c.name, c.result.value) for c in run.checks] == [
        ("Data contract is valid against ODCS v3.2.0", "passed")
    ]
