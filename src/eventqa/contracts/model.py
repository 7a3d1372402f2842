"""What a contract promises, independent of protobuf's descriptor API."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from eventqa.errors import Location


class ValueType(StrEnum):
    """The JSON-level type family of a field's value, which decides how it is checked."""

    INT32 = "int32"
    INT64 = "int64"
    UINT32 = "uint32"
    UINT64 = "uint64"
    FLOAT = "float"
    DOUBLE = "double"
    BOOL = "bool"
    STRING = "string"
    BYTES = "bytes"
    ENUM = "enum"
    TIMESTAMP = "timestamp"
    DURATION = "duration"
    MESSAGE = "message"
    MAP = "map"
    JSON = (
        "json"  # google.protobuf.Struct/Value/ListValue/Any, or a message nested too deep to expand
    )

    @property
    def is_scalar(self) -> bool:
        """Whether values of this type are leaves that get a typed column."""
        return self not in (ValueType.MESSAGE, ValueType.MAP, ValueType.JSON)


INTEGER_RANGES: dict[ValueType, tuple[int, int]] = {
    ValueType.INT32: (-(2**31), 2**31 - 1),
    ValueType.INT64: (-(2**63), 2**63 - 1),
    ValueType.UINT32: (0, 2**32 - 1),
    ValueType.UINT64: (0, 2**64 - 1),
}


@dataclass(frozen=True)
class Field:
    """One field of a payload message, with everything a suite needs to check it."""

    name: str
    number: int
    proto_type: (
        str  # as a reader of the .proto would name it: "int64", "google.protobuf.Int64Value"
    )
    value_type: ValueType
    nullable: bool  # wrappers, message fields and proto3 `optional`: may be null or absent
    repeated: bool
    location: Location
    enum_values: tuple[str, ...] = ()
    fields: tuple[Field, ...] = ()  # for messages (and for repeated messages, per element)
    map_value: Field | None = None
    sensitive: bool = False
    symbol: str = ""  # `OrderItem.sku`: where the field is declared, without a line number
    # The comment above the field in its .proto (documentation only: never part of a check).
    description: str | None = field(default=None, compare=False)

    def child(self, name: str) -> Field | None:
        """The nested field called `name`, if this is a message field that declares it."""
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class EventContract:
    """An event: an envelope field (its name is the stored event_name) and its payload message."""

    name: str
    envelope: str
    message: str
    tag: int
    description: str | None
    owner: str | None
    fields: tuple[Field, ...]
    location: Location  # the envelope field, where the metadata is declared
    message_location: Location
    symbol: str = ""  # `BackendEvent.user_followed_user`: the envelope field, line-free
    message_symbol: str = ""  # `UserFollowedUserEvent`: the payload message, line-free

    def child(self, name: str) -> Field | None:
        """The top-level payload field called `name`."""
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Envelope:
    """A message whose fields are events, e.g. `BackendEvent`."""

    name: str
    full_name: str
    location: Location
    events: tuple[str, ...]


@dataclass(frozen=True)
class Diagnostic:
    """A contract problem worth reporting that does not stop suite generation."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True)
class ContractSet:
    """Every event declared by the contracts, with the envelopes that declare them."""

    events: dict[str, EventContract]
    envelopes: dict[str, Envelope]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    index: Any = field(default=None, compare=False, repr=False)  # loader.DescriptorIndex
