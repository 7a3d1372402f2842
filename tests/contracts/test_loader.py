from __future__ import annotations

from pathlib import Path

import pytest

from eventqa.contracts import ValueType, load_contracts
from eventqa.errors import ContractError
from tests.conftest import REPO, events_proto


def load(root: Path):
    return load_contracts(root, Path("contracts"), envelopes={"BackendEvent"})


def test_example_contracts_declare_the_promised_events():
    contracts = load_contracts(REPO, Path("contracts"))
    by_envelope = {name: env.events for name, env in contracts.envelopes.items()}
    assert len(by_envelope["BackendEvent"]) >= 6
    assert len(by_envelope["FrontendEvent"]) >= 6
    follow = contracts.events["user_followed_user"]
    assert follow.message == "livemart.events.v1.UserFollowedUserEvent"
    assert follow.owner == "Foundations"
    assert follow.description == "Fires when a user starts following other user."
    assert [(f.name, f.proto_type, f.nullable) for f in follow.fields] == [
        ("follower_id", "google.protobuf.Int64Value", True),
        ("followee_id", "google.protobuf.Int64Value", True),
    ]
    assert len({e.owner for e in contracts.events.values()}) >= 4
    assert contracts.diagnostics == ()


def test_example_contracts_use_every_type_family():
    contracts = load_contracts(REPO, Path("contracts"))
    seen: set[str] = set()

    def walk(fields, nested=False):
        for f in fields:
            seen.add(f.proto_type if f.proto_type.startswith("google.") else f.value_type.value)
            seen.add(f.proto_type)
            if f.nullable and f.value_type.is_scalar and not f.proto_type.startswith("google."):
                seen.add("proto3 optional")
            if f.repeated:
                seen.add(
                    "repeated " + ("message" if f.value_type == ValueType.MESSAGE else "scalar")
                )
            if f.value_type == ValueType.ENUM:
                seen.add("nested enum" if f.proto_type.count(".") > 3 else "top-level enum")
            if nested:
                seen.add("nested message field")
            walk(f.fields, nested=True)

    for event in contracts.events.values():
        walk(event.fields)
    scalars = {
        "int32",
        "int64",
        "uint32",
        "uint64",
        "sint32",
        "sint64",
        "fixed32",
        "fixed64",
        "sfixed32",
        "sfixed64",
        "float",
        "double",
        "bool",
        "string",
        "bytes",
    }
    assert scalars <= seen, scalars - seen
    wrappers = {
        f"google.protobuf.{w}Value"
        for w in (
            "Int64",
            "UInt64",
            "Int32",
            "UInt32",
            "Double",
            "Float",
            "Bool",
            "String",
            "Bytes",
        )
    }
    assert wrappers <= seen, wrappers - seen
    assert {
        "google.protobuf.Timestamp",
        "map",
        "proto3 optional",
        "repeated scalar",
        "repeated message",
        "nested enum",
        "top-level enum",
        "nested message field",
    } <= seen


def test_nested_fields_keep_their_own_file_and_line():
    contracts = load_contracts(REPO, Path("contracts"))
    order = contracts.events["buyer_placed_order"]
    money = order.child("items").child("unit_price").child("amount_cents")
    assert money.location.path == "contracts/common/commerce.proto"
    assert money.location.line and money.location.line > 1
    assert str(order.location).startswith("contracts/backend/backend_events.proto:")


def test_syntax_error_is_protocs_own_message_with_file_line_col(make_project):
    root = make_project({"events.proto": 'syntax = "proto3";\nmessage A {\n  int64 a = 1\n}\n'})
    with pytest.raises(ContractError) as error:
        load(root)
    assert 'contracts/events.proto:4:1: Expected ";".' in str(error.value)


def test_missing_import_names_the_importing_file(make_project):
    text = events_proto(
        "message A { int64 a = 1; }", {"a_happened": "A"}, ("does/not/exist.proto",)
    )
    root = make_project({"events.proto": text})
    with pytest.raises(ContractError) as error:
        load(root)
    message = str(error.value)
    assert "does/not/exist.proto" in message
    assert "contracts/events.proto:" in message


def test_unknown_option_is_reported_by_protoc(make_project):
    text = events_proto(
        "message A { int64 a = 1 [(acme.options.no_such_option) = true]; }", {"a_happened": "A"}
    )
    root = make_project({"events.proto": text})
    with pytest.raises(ContractError) as error:
        load(root)
    assert "no_such_option" in str(error.value)
    assert "contracts/events.proto:" in str(error.value)


def test_missing_owner_and_description_are_diagnostics_not_crashes(make_project):
    text = events_proto(
        "message A { int64 a = 1; }\nmessage B { int64 b = 1; }", {"a_happened": "A"}
    )
    text = text.replace("    A a_happened = 1 [", "    B b_happened = 2;\n    A a_happened = 1 [")
    root = make_project({"events.proto": text})
    contracts = load(root)
    assert contracts.events["b_happened"].owner is None
    messages = [str(d) for d in contracts.diagnostics]
    assert any(
        "b_happened" in m and "team_owner" in m and "contracts/events.proto:" in m for m in messages
    )
    assert any("b_happened" in m and "description" in m for m in messages)


def test_event_metadata_is_found_by_name_in_any_package_and_as_plain_strings(make_project):
    options = """\
syntax = "proto3";
package other.company.meta;
import "google/protobuf/descriptor.proto";
message Meta { string description = 1; string team_owner = 2; }
extend google.protobuf.FieldOptions { Meta event_metadata = 61000; }
"""
    events = """\
syntax = "proto3";
package shop;
import "company/meta.proto";
message ThingHappenedEvent { string thing = 1; }
message ShopEvent {
  oneof event {
    ThingHappenedEvent thing_happened = 1 [
      (other.company.meta.event_metadata).description = "A thing happened.",
      (other.company.meta.event_metadata).team_owner = "Things"
    ];
  }
}
"""
    root = make_project({"company/meta.proto": options, "shop.proto": events})
    contracts = load_contracts(root, Path("contracts"))
    event = contracts.events["thing_happened"]
    assert (event.envelope, event.owner, event.description) == (
        "ShopEvent",
        "Things",
        "A thing happened.",
    )


def test_recursive_messages_stop_at_json_shape(make_project):
    text = events_proto(
        "message Node { string name = 1; repeated Node children = 2; }", {"tree_built": "Node"}
    )
    contracts = load(make_project({"events.proto": text}))
    children = contracts.events["tree_built"].child("children")
    assert children.value_type == ValueType.JSON
    assert any("nests itself" in str(d) for d in contracts.diagnostics)


def test_event_declared_in_two_envelopes_is_an_error(make_project):
    text = events_proto("message A { int64 a = 1; }", {"a_happened": "A"})
    text += "\n" + text.split("message BackendEvent", 1)[1].join(["message FrontendEvent", ""])
    root = make_project({"events.proto": text})
    with pytest.raises(ContractError, match="declared twice"):
        load_contracts(root, Path("contracts"))


def test_bytes_that_are_not_utf8_are_named_before_protoc_crashes_on_them(make_project):
    text = events_proto("message A { int64 a = 1; }", {"a_happened": "A"})
    root = make_project({"events.proto": ""})
    raw = text.encode().replace(b'value = "Fires', b'value = "\xc3 Fires', 1)
    (root / "contracts" / "events.proto").write_bytes(raw)
    line = raw[: raw.index(b"\xc3")].count(b"\n") + 1
    with pytest.raises(ContractError) as error:
        load_contracts(root, Path("contracts"))
    assert str(error.value).startswith(f"contracts/events.proto:{line}:")
    assert "is not UTF-8 text: byte 0xc3" in str(error.value)


@pytest.mark.parametrize("escape", ["\\377", "\\xff", "\\uD800", "\\300\\200"])
def test_string_escapes_that_are_not_utf8_name_their_literal(make_project, escape):
    text = events_proto("message A { int64 a = 1; }", {"a_happened": "A"})
    text = text.replace('team_owner.value = "', f'team_owner.value = "ok {escape}', 1)
    root = make_project({"events.proto": text})
    line = text[: text.index(escape)].count("\n") + 1
    with pytest.raises(ContractError) as error:
        load_contracts(root, Path("contracts"))
    message = str(error.value)
    assert message.startswith(f"contracts/events.proto:{line}:"), message
    assert "bytes that are not UTF-8" in message and "absl" not in message


def test_escapes_that_spell_utf8_still_compile(make_project):
    text = events_proto("message A { int64 a = 1; }", {"a_happened": "A"})
    text = text.replace(
        'description.value = "Fires', 'description.value = "caf\\303\\251 \\u00e9 Fires', 1
    )
    contracts = load_contracts(make_project({"events.proto": text}), Path("contracts"))
    assert contracts.events["a_happened"].description.startswith("café é Fires")


def test_field_comments_become_descriptions_and_change_no_check(make_project):
    proto = events_proto(
        """
        message Thing {
          // Where it ships:
          //   an ISO 3166-1 alpha-2 code.
          string country = 1;
          int64 size = 2;  // grams
          string plain = 3;
        }
        """,
        {"thing_done": "Thing"},
    )
    contracts = load(make_project({"events.proto": proto}))
    fields = {f.name: f for f in contracts.events["thing_done"].fields}
    assert fields["country"].description == "Where it ships: an ISO 3166-1 alpha-2 code."
    assert fields["size"].description == "grams"
    assert fields["plain"].description is None
    # Documentation only: a field differs from its twin without the comment in nothing else.
    from dataclasses import replace

    assert replace(fields["country"], description=None) == fields["country"]
