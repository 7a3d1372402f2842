"""Backward compatibility: what changed between two versions of the contracts, and what breaks.

Compared on the compiled descriptors: messages and enums by full name, fields by number (the wire
identity) and by name (the JSON key in the warehouse), envelopes as events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf import descriptor_pb2

from eventqa.contracts.model import ContractSet
from eventqa.errors import Location
from eventqa.lint.model import RULES, Finding

FDP = descriptor_pb2.FieldDescriptorProto
_WRAPPERS = frozenset(
    f".google.protobuf.{name}Value"
    for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)


def _finding(rule: str, location: Location, message: str) -> Finding:
    return Finding(rule, RULES[rule].severity, location, message)


def _reserved(proto: Any, number: int, name: str) -> bool:
    """Whether a message or enum reserves this number (or name)."""
    ranges = proto.reserved_range
    inclusive = isinstance(proto, descriptor_pb2.EnumDescriptorProto)  # enum ranges include `end`
    by_number = any(
        r.start <= number <= r.end if inclusive else r.start <= number < r.end for r in ranges
    )
    return by_number or name in proto.reserved_name


def _type_of(field: descriptor_pb2.FieldDescriptorProto) -> str:
    """How a reader names the field's type: `int64`, `repeated string`, `.pkg.Money`."""
    kind = field.type_name or FDP.Type.Name(field.type).removeprefix("TYPE_").lower()
    return ("repeated " if field.label == FDP.LABEL_REPEATED else "") + kind


def _nullable(field: descriptor_pb2.FieldDescriptorProto) -> bool:
    return field.proto3_optional or field.type_name in _WRAPPERS


def _scalar_of(field: descriptor_pb2.FieldDescriptorProto) -> str:
    """The value type ignoring nullability: Int64Value and int64 are both `int64`."""
    if field.type_name in _WRAPPERS:
        name = field.type_name.rsplit(".", 1)[-1].removesuffix("Value").lower()
        return {"uint64": "uint64", "uint32": "uint32"}.get(name, name)
    return FDP.Type.Name(field.type).removeprefix("TYPE_").lower() if not field.type_name else ""


def compare(old: ContractSet, new: ContractSet) -> Iterator[Finding]:
    """Every breaking and additive change from `old` to `new`."""
    before, after = old.index, new.index
    envelopes = {e.full_name for e in new.envelopes.values()} | {
        e.full_name for e in old.envelopes.values()
    }
    for full_name, message in sorted(before.messages.items()):
        current = after.messages.get(full_name)
        if message.file.name not in before.own_files or current is None:
            continue
        if message.proto.options.map_entry:
            continue
        yield from _compare_message(
            full_name.lstrip("."), message, current, after, full_name.lstrip(".") in envelopes
        )
    for full_name, enum in sorted(before.enum_protos.items()):
        current = after.enum_protos.get(full_name)
        if enum.file.name in before.own_files and current is not None:
            yield from _compare_enum(full_name.lstrip("."), enum, current, after)


def _compare_message(
    name: str, old: Any, new: Any, index: Any, envelope: bool
) -> Iterator[Finding]:
    new_by_number = {f.number: (i, f) for i, f in enumerate(new.proto.field)}
    new_by_name = {f.name: f for f in new.proto.field}
    old_numbers = {f.number for f in old.proto.field}
    here = index.location(new)
    what = "event" if envelope else "field"
    for field in old.proto.field:
        found = new_by_number.get(field.number)
        if found is None:
            moved = new_by_name.get(field.name)
            if moved is not None:
                yield _finding(
                    "BRK003", here,
                    f"{name}.{field.name} moved from number {field.number} to {moved.number}",
                )  # fmt: skip
            elif not _reserved(new.proto, field.number, field.name):
                rule = "BRK001" if envelope else "BRK002"
                yield _finding(
                    rule, here,
                    f"{what} {name}.{field.name} (= {field.number}) was removed; add "
                    f"`reserved {field.number}; reserved \"{field.name}\";` so neither is reused",
                )  # fmt: skip
            continue
        position, current = found
        where = index.location(new, 2, position)
        if current.name != field.name:
            if _type_of(current) == _type_of(field):
                rule = "BRK007" if envelope else "BRK008"
                yield _finding(
                    rule, where,
                    f"{what} {name}.{field.name} (= {field.number}) was renamed to "
                    f"{current.name!r}: readers of {field.name!r} lose it",
                )  # fmt: skip
            else:
                yield _finding(
                    "BRK003", where,
                    f"number {field.number} of {name} was {field.name} "
                    f"({_type_of(field)}) and is now {current.name} ({_type_of(current)})",
                )  # fmt: skip
            continue
        if _type_of(current) != _type_of(field):
            nullability_only = (
                _scalar_of(current) and _scalar_of(current) == _scalar_of(field)
            ) and current.label == field.label
            if nullability_only:
                yield _finding(
                    "BRK005", where,
                    f"{name}.{field.name} changed from {_type_of(field)} to {_type_of(current)}: "
                    f"it {'may now' if _nullable(current) else 'can no longer'} be null",
                )  # fmt: skip
            else:
                yield _finding(
                    "BRK004", where,
                    f"{name}.{field.name} changed type from {_type_of(field)} to "
                    f"{_type_of(current)}",
                )  # fmt: skip
        elif current.proto3_optional != field.proto3_optional:
            yield _finding(
                "BRK005", where,
                f"{name}.{field.name} {'became' if current.proto3_optional else 'is no longer'} "
                "`optional`: whether it may be null changed",
            )  # fmt: skip
    for position, field in enumerate(new.proto.field):
        if field.number not in old_numbers and field.name not in {f.name for f in old.proto.field}:
            yield _finding(
                "ADD001", index.location(new, 2, position),
                f"new {what} {name}.{field.name} (= {field.number})",
            )  # fmt: skip


def _compare_enum(name: str, old: Any, new: Any, index: Any) -> Iterator[Finding]:
    new_by_name = {v.name: (i, v) for i, v in enumerate(new.proto.value)}
    old_names = {v.name for v in old.proto.value}
    for value in old.proto.value:
        found = new_by_name.get(value.name)
        if found is None:
            if not _reserved(new.proto, value.number, value.name):
                yield _finding(
                    "BRK006", index.location(new),
                    f"enum value {name}.{value.name} (= {value.number}) was removed; reserve "
                    "its number and name",
                )  # fmt: skip
        elif found[1].number != value.number:
            yield _finding(
                "BRK006", index.location(new, 2, found[0]),
                f"enum value {name}.{value.name} was renumbered {value.number} -> "
                f"{found[1].number}",
            )  # fmt: skip
    for position, value in enumerate(new.proto.value):
        if value.name not in old_names:
            yield _finding(
                "ADD001", index.location(new, 2, position),
                f"new enum value {name}.{value.name} (= {value.number})",
            )  # fmt: skip
