"""Compile `.proto` contracts with protoc (from grpcio-tools) and read events from the descriptors.

protoc does all the parsing; its `file:line:col: message` errors reach the user unchanged. Custom
options are decoded with a descriptor pool built from the compiled set, so `event_metadata` is found
by name whatever package declares it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import takewhile
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from eventqa.contracts.model import (
    ContractSet,
    Diagnostic,
    Envelope,
    EventContract,
    Field,
    ValueType,
)
from eventqa.errors import ContractError, Location

FDP = descriptor_pb2.FieldDescriptorProto

_SCALARS: dict[int, tuple[ValueType, str]] = {
    FDP.TYPE_DOUBLE: (ValueType.DOUBLE, "double"),
    FDP.TYPE_FLOAT: (ValueType.FLOAT, "float"),
    FDP.TYPE_INT64: (ValueType.INT64, "int64"),
    FDP.TYPE_UINT64: (ValueType.UINT64, "uint64"),
    FDP.TYPE_INT32: (ValueType.INT32, "int32"),
    FDP.TYPE_FIXED64: (ValueType.UINT64, "fixed64"),
    FDP.TYPE_FIXED32: (ValueType.UINT32, "fixed32"),
    FDP.TYPE_BOOL: (ValueType.BOOL, "bool"),
    FDP.TYPE_STRING: (ValueType.STRING, "string"),
    FDP.TYPE_BYTES: (ValueType.BYTES, "bytes"),
    FDP.TYPE_UINT32: (ValueType.UINT32, "uint32"),
    FDP.TYPE_SFIXED32: (ValueType.INT32, "sfixed32"),
    FDP.TYPE_SFIXED64: (ValueType.INT64, "sfixed64"),
    FDP.TYPE_SINT32: (ValueType.INT32, "sint32"),
    FDP.TYPE_SINT64: (ValueType.INT64, "sint64"),
}

# Wrappers are nullable scalars in JSON: `google.protobuf.Int64Value` is an int64 or null.
_WRAPPERS: dict[str, ValueType] = {
    "google.protobuf.DoubleValue": ValueType.DOUBLE,
    "google.protobuf.FloatValue": ValueType.FLOAT,
    "google.protobuf.Int64Value": ValueType.INT64,
    "google.protobuf.UInt64Value": ValueType.UINT64,
    "google.protobuf.Int32Value": ValueType.INT32,
    "google.protobuf.UInt32Value": ValueType.UINT32,
    "google.protobuf.BoolValue": ValueType.BOOL,
    "google.protobuf.StringValue": ValueType.STRING,
    "google.protobuf.BytesValue": ValueType.BYTES,
}

# Well-known types with a JSON form of their own (proto3 JSON mapping).
_WELL_KNOWN: dict[str, ValueType] = {
    "google.protobuf.Timestamp": ValueType.TIMESTAMP,
    "google.protobuf.Duration": ValueType.DURATION,
    "google.protobuf.FieldMask": ValueType.STRING,
    "google.protobuf.Struct": ValueType.JSON,
    "google.protobuf.Value": ValueType.JSON,
    "google.protobuf.ListValue": ValueType.JSON,
    "google.protobuf.Any": ValueType.JSON,
}

_MAX_DEPTH = 8  # nested messages deeper than this are checked as JSON objects only

# SourceCodeInfo path components (descriptor.proto field numbers).
_FILE_MESSAGES, _MESSAGE_FIELDS, _MESSAGE_NESTED = 4, 2, 3


def well_known_include() -> Path:
    """The directory of well-known `.proto` files that grpcio-tools ships with protoc."""
    return Path(str(resources.files("grpc_tools") / "_proto"))


def compile_contracts(
    project_dir: Path, root: Path, includes: Sequence[Path] = ()
) -> descriptor_pb2.FileDescriptorSet:
    """Run protoc over every `.proto` under `root` and return the compiled descriptor set."""
    absolute_root = (project_dir / root).resolve()
    if not absolute_root.is_dir():
        raise ContractError(
            f"contracts directory {root} does not exist",
            hint="set `contracts.root` in checks.yaml to the folder holding your .proto files",
        )
    files = sorted(absolute_root.rglob("*.proto"))
    if not files:
        raise ContractError(f"no .proto files under {root}")
    shown = {path: (root / path.relative_to(absolute_root)).as_posix() for path in files}
    for path in files:
        _check_utf8_text(path.read_bytes(), shown[path])
    with tempfile.TemporaryDirectory(prefix="eventqa-protoc-") as tmp:
        out = Path(tmp) / "contracts.binpb"
        command = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"--proto_path={root}",
            *(f"--proto_path={include}" for include in includes),
            f"--proto_path={well_known_include()}",
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            # Named as the user names them, so protoc's errors point at `contracts/x.proto:3:1`.
            *((root / path.relative_to(absolute_root)).as_posix() for path in files),
        ]
        done = subprocess.run(
            command, cwd=project_dir, capture_output=True, text=True, errors="replace"
        )
        if done.returncode != 0:
            if "invalid UTF-8" in done.stderr:  # protoc aborts with a stack trace on these
                for path in files:
                    _check_utf8_literals(path.read_bytes(), shown[path])
            raise ContractError(
                _protoc_messages(done.stderr or done.stdout)
                or f"protoc exited with {done.returncode}"
            )
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _check_utf8_text(source: bytes, shown: str) -> None:
    """A .proto file is UTF-8 text; protoc crashes on other bytes inside its strings."""
    try:
        source.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ContractError(
            f"is not UTF-8 text: byte 0x{source[error.start]:02x} cannot be decoded",
            location=_location(source, error.start, shown),
        ) from None


# Comments and string literals of a .proto file, and the escapes inside a literal.
_TOKENS = re.compile(rb'//[^\n]*|/\*.*?\*/|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'', re.S)
_ESCAPE = re.compile(
    rb"\\(?:([0-7]{1,3})|[xX]([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))", re.S
)
_SIMPLE_ESCAPES = {b"a": b"\a", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t",
                   b"v": b"\v"}  # fmt: skip


def _literal_bytes(body: bytes) -> bytes:
    """The bytes a protobuf string literal's body stands for, its escapes decoded."""

    def one(match: re.Match[bytes]) -> bytes:
        octal, hexa, short, long, other = match.groups()
        if octal or hexa:
            return bytes([int(octal, 8) & 0xFF if octal else int(hexa, 16)])
        if short or long:
            code = int(short or long, 16)
            return chr(code).encode("utf-8", "surrogatepass") if code < 0x110000 else b"\xff"
        return _SIMPLE_ESCAPES.get(other, other)

    return _ESCAPE.sub(one, body)


def _check_utf8_literals(source: bytes, shown: str) -> None:
    """Name the string literal whose escapes (such as an octal 377) are not UTF-8."""
    for token in _TOKENS.finditer(source):
        if token.group().startswith((b'"', b"'")):
            try:
                _literal_bytes(token.group()[1:-1]).decode("utf-8")
            except UnicodeDecodeError:
                raise ContractError(
                    "this string holds bytes that are not UTF-8 (escapes such as \\377); "
                    "protobuf strings must be UTF-8 text",
                    location=_location(source, token.start(), shown),
                ) from None


def _location(source: bytes, offset: int, shown: str) -> Location:
    line_start = source.rfind(b"\n", 0, offset) + 1
    return Location(shown, source.count(b"\n", 0, offset) + 1, offset - line_start + 1)


# protoc's own log lines (absl) and crash traces: noise around its `file:line:col: message`.
_PROTOC_NOISE = re.compile(
    r"^(WARNING: All log messages before absl|[EWFI]\d{4} |\*\*\* Check failure|    @ )"
)


def _protoc_messages(output: str) -> str:
    """The error lines protoc printed, without the logging and stack-trace lines around them."""
    lines = takewhile(lambda line: not line.startswith("*** Check failure"), output.splitlines())
    return "\n".join(line for line in lines if not _PROTOC_NOISE.match(line)).strip()


@dataclass(frozen=True)
class _Message:
    proto: descriptor_pb2.DescriptorProto
    file: descriptor_pb2.FileDescriptorProto
    path: tuple[int, ...]
    full_name: str = ""  # `.livemart.events.v1.Outer.Inner`

    @property
    def symbol(self) -> str:
        """The message's name inside its file's package (`Outer.Inner`), stable across edits."""
        package = f".{self.file.package}." if self.file.package else "."
        return self.full_name.removeprefix(package)


@dataclass(frozen=True)
class _Enum:
    proto: descriptor_pb2.EnumDescriptorProto
    file: descriptor_pb2.FileDescriptorProto
    path: tuple[int, ...]


_FILE_ENUMS, _MESSAGE_ENUMS, _ENUM_VALUES = 5, 4, 2


class DescriptorIndex:
    """A compiled descriptor set, indexed: messages and enums by full name, with source lines.

    Suite derivation reads events through it; lint reads the raw descriptors (reserved ranges,
    enum numbers) through it too, so both see the same contracts.
    """

    def __init__(
        self, descriptor_set: descriptor_pb2.FileDescriptorSet, display_root: Path, own: set[str]
    ):
        self.display_root = display_root
        self.own_files = own
        self.files = {f.name: f for f in descriptor_set.file}
        self.messages: dict[str, _Message] = {}
        self.enums: dict[str, list[str]] = {}
        self.enum_protos: dict[str, _Enum] = {}
        self.lines: dict[str, dict[tuple[int, ...], tuple[int, int]]] = {}
        self.comments: dict[str, dict[tuple[int, ...], str]] = {}
        for file in descriptor_set.file:
            self.lines[file.name] = {
                tuple(loc.path): (loc.span[0] + 1, loc.span[1] + 1)
                for loc in file.source_code_info.location
            }
            self.comments[file.name] = {
                tuple(loc.path): _comment_text(loc.leading_comments or loc.trailing_comments)
                for loc in file.source_code_info.location
                if (loc.leading_comments or loc.trailing_comments).strip()
            }
            package = f".{file.package}" if file.package else ""
            for index, message in enumerate(file.message_type):
                self._index(message, file, package, (_FILE_MESSAGES, index))
            for index, enum in enumerate(file.enum_type):
                self.enums[f"{package}.{enum.name}"] = [v.name for v in enum.value]
                self.enum_protos[f"{package}.{enum.name}"] = _Enum(enum, file, (_FILE_ENUMS, index))

        pool = descriptor_pool.DescriptorPool()
        for file in descriptor_set.file:
            pool.Add(file)
        self.field_options = message_factory.GetMessageClass(
            pool.FindMessageTypeByName("google.protobuf.FieldOptions")
        )
        self.metadata_options = list(self._extensions(pool, "event_metadata"))
        self.sensitive_options = list(self._extensions(pool, "sensitive"))

    def _index(
        self,
        message: descriptor_pb2.DescriptorProto,
        file: descriptor_pb2.FileDescriptorProto,
        scope: str,
        path: tuple[int, ...],
    ) -> None:
        full_name = f"{scope}.{message.name}"
        self.messages[full_name] = _Message(message, file, path, full_name)
        for index, nested in enumerate(message.nested_type):
            self._index(nested, file, full_name, (*path, _MESSAGE_NESTED, index))
        for index, enum in enumerate(message.enum_type):
            self.enums[f"{full_name}.{enum.name}"] = [v.name for v in enum.value]
            self.enum_protos[f"{full_name}.{enum.name}"] = _Enum(
                enum, file, (*path, _MESSAGE_ENUMS, index)
            )

    def _extensions(self, pool: descriptor_pool.DescriptorPool, name: str) -> Iterator[Any]:
        """Every FieldOptions extension called `name`, in whichever package declares it."""

        def declared(
            extensions: Sequence[descriptor_pb2.FieldDescriptorProto], scope: str
        ) -> Iterator[Any]:
            for ext in extensions:
                if ext.name == name and ext.extendee == ".google.protobuf.FieldOptions":
                    yield pool.FindExtensionByName(f"{scope}.{name}".lstrip("."))

        for file in self.files.values():
            yield from declared(file.extension, f".{file.package}" if file.package else "")
        for full_name, message in self.messages.items():
            yield from declared(message.proto.extension, full_name)

    def location(self, message: _Message | _Enum, *suffix: int) -> Location:
        """The `file:line:col` of a message or enum, or of a part of it (`2, i`: its i-th field)."""
        line, column = self.lines[message.file.name].get((*message.path, *suffix), (None, None))
        path = self.display_root / message.file.name
        return Location(path.as_posix(), line, column)

    def comment(self, message: _Message, *suffix: int) -> str | None:
        """The comment written above (or after) a part of a message, as one paragraph."""
        return self.comments[message.file.name].get((*message.path, *suffix))

    def options(self, field: descriptor_pb2.FieldDescriptorProto) -> Any:
        """A field's options, with every custom option of the compiled set decoded."""
        return self.field_options.FromString(field.options.SerializeToString())

    # -- events -------------------------------------------------------------------------------

    def envelopes(self, declared: set[str]) -> list[_Message]:
        """Messages that hold events: named in checks.yaml, or with an `event_metadata` field."""
        found = []
        for full_name, message in self.messages.items():
            if message.file.name not in self.own_files:
                continue
            named = message.proto.name in declared or full_name.lstrip(".") in declared
            if named or any(self._metadata(f) is not None for f in message.proto.field):
                found.append(message)
        return found

    def _metadata(self, field: descriptor_pb2.FieldDescriptorProto) -> Any:
        if not field.HasField("options"):
            return None
        options = self.options(field)
        for extension in self.metadata_options:
            if options.HasExtension(extension):
                return options.Extensions[extension]
        return None

    def _is_sensitive(self, field: descriptor_pb2.FieldDescriptorProto) -> bool:
        if not field.HasField("options"):
            return False
        options = self.options(field)
        return any(options.Extensions[ext] is True for ext in self.sensitive_options)

    def read(self, declared_envelopes: set[str]) -> ContractSet:
        """Every event of the envelopes, with diagnostics for what is missing."""
        events: dict[str, EventContract] = {}
        envelopes: dict[str, Envelope] = {}
        diagnostics: list[Diagnostic] = []
        for envelope in self.envelopes(declared_envelopes):
            names = []
            for index, field in enumerate(envelope.proto.field):
                location = self.location(envelope, _MESSAGE_FIELDS, index)
                if field.type != FDP.TYPE_MESSAGE or field.label == FDP.LABEL_REPEATED:
                    diagnostics.append(
                        Diagnostic(
                            location,
                            f"{envelope.proto.name}.{field.name} is not an event "
                            "(events are singular message fields); ignored",
                        )
                    )
                    continue
                event = self._event(envelope, field, location, diagnostics)
                if event.name in events:
                    other = events[event.name]
                    raise ContractError(
                        f"event {event.name!r} is declared twice: also in {other.envelope} "
                        f"at {other.location}",
                        location=location,
                    )
                events[event.name] = event
                names.append(event.name)
            envelopes[envelope.proto.name] = Envelope(
                name=envelope.proto.name,
                full_name=self._full_name(envelope),
                location=self.location(envelope),
                events=tuple(names),
            )
        missing = declared_envelopes - set(envelopes) - {e.full_name for e in envelopes.values()}
        for name in sorted(missing):
            raise ContractError(
                f"envelope message {name!r} named in checks.yaml is not declared in the contracts"
            )
        return ContractSet(
            events=events, envelopes=envelopes, diagnostics=tuple(diagnostics), index=self
        )

    def _full_name(self, message: _Message) -> str:
        return next(name for name, m in self.messages.items() if m is message).lstrip(".")

    def _event(
        self,
        envelope: _Message,
        field: descriptor_pb2.FieldDescriptorProto,
        location: Location,
        diagnostics: list[Diagnostic],
    ) -> EventContract:
        metadata = self._metadata(field)
        description = _option_text(metadata, "description")
        owner = _option_text(metadata, "team_owner")
        for label, value in (("description", description), ("team_owner", owner)):
            if not value:
                diagnostics.append(
                    Diagnostic(
                        location,
                        f"event {field.name!r} has no (event_metadata).{label}",
                    )
                )
        payload = self.messages[field.type_name]
        return EventContract(
            name=field.name,
            envelope=envelope.proto.name,
            message=field.type_name.lstrip("."),
            tag=field.number,
            description=description,
            owner=owner,
            fields=self._fields(payload, stack=(field.type_name,), diagnostics=diagnostics),
            location=location,
            message_location=self.location(payload),
            symbol=f"{envelope.symbol}.{field.name}",
            message_symbol=payload.symbol,
        )

    def _fields(
        self, message: _Message, stack: tuple[str, ...], diagnostics: list[Diagnostic]
    ) -> tuple[Field, ...]:
        syntax = message.file.syntax or "proto2"
        return tuple(
            self._field(message, index, proto, syntax, stack, diagnostics)
            for index, proto in enumerate(message.proto.field)
        )

    def _field(
        self,
        message: _Message,
        index: int,
        proto: descriptor_pb2.FieldDescriptorProto,
        syntax: str,
        stack: tuple[str, ...],
        diagnostics: list[Diagnostic],
    ) -> Field:
        location = self.location(message, _MESSAGE_FIELDS, index)
        repeated = proto.label == FDP.LABEL_REPEATED
        explicit_presence = proto.proto3_optional or (
            syntax == "proto2" and proto.label == FDP.LABEL_OPTIONAL
        )
        common: dict[str, Any] = {
            "name": proto.name,
            "number": proto.number,
            "repeated": repeated,
            "location": location,
            "symbol": f"{message.symbol}.{proto.name}",
            "sensitive": self._is_sensitive(proto),
            "description": self.comment(message, _MESSAGE_FIELDS, index),
        }
        if proto.type in _SCALARS:
            value_type, proto_type = _SCALARS[proto.type]
            return Field(
                proto_type=proto_type,
                value_type=value_type,
                nullable=explicit_presence and not repeated,
                **common,
            )
        if proto.type == FDP.TYPE_ENUM:
            return Field(
                proto_type=proto.type_name.lstrip("."),
                value_type=ValueType.ENUM,
                nullable=explicit_presence and not repeated,
                enum_values=tuple(self.enums[proto.type_name]),
                **common,
            )
        type_name = proto.type_name.lstrip(".")
        target = self.messages[proto.type_name]
        if target.proto.options.map_entry:
            value_proto = target.proto.field[1]
            value = self._field(target, 1, value_proto, syntax, stack, diagnostics)
            return Field(
                proto_type=f"map<{_short_type(target.proto.field[0])}, {value.proto_type}>",
                value_type=ValueType.MAP,
                nullable=False,
                map_value=value,
                **{**common, "repeated": False},
            )
        nullable = not repeated
        if type_name in _WRAPPERS:
            return Field(
                proto_type=type_name, value_type=_WRAPPERS[type_name], nullable=nullable, **common
            )
        if type_name in _WELL_KNOWN:
            return Field(
                proto_type=type_name,
                value_type=_WELL_KNOWN[type_name],
                nullable=nullable,
                **common,
            )
        if proto.type_name in stack or len(stack) >= _MAX_DEPTH:
            diagnostics.append(
                Diagnostic(
                    location,
                    f"{type_name} nests itself (or nests deeper than {_MAX_DEPTH} levels); "
                    "below this field only the JSON shape is checked",
                )
            )
            return Field(
                proto_type=type_name, value_type=ValueType.JSON, nullable=nullable, **common
            )
        return Field(
            proto_type=type_name,
            value_type=ValueType.MESSAGE,
            nullable=nullable,
            fields=self._fields(target, (*stack, proto.type_name), diagnostics),
            **common,
        )


def _comment_text(comment: str) -> str:
    """A .proto comment's lines joined into one paragraph (`//` and its space already gone)."""
    return " ".join(line.strip() for line in comment.splitlines() if line.strip())


def _short_type(field: descriptor_pb2.FieldDescriptorProto) -> str:
    return _SCALARS[field.type][1] if field.type in _SCALARS else field.type_name.lstrip(".")


def _option_text(metadata: Any, name: str) -> str | None:
    """Read `description`/`team_owner` whether declared as `string` or `StringValue`."""
    if metadata is None or name not in metadata.DESCRIPTOR.fields_by_name:
        return None
    value = getattr(metadata, name)
    if metadata.DESCRIPTOR.fields_by_name[name].message_type is not None:
        return str(value.value) if metadata.HasField(name) and value.value else None
    return str(value) or None


def load_contracts(
    project_dir: Path,
    root: Path,
    includes: Sequence[Path] = (),
    envelopes: set[str] | None = None,
) -> ContractSet:
    """Compile the contracts under `root` (relative to `project_dir`) and read their events."""
    descriptor_set = compile_contracts(project_dir, root, includes)
    absolute_root = (project_dir / root).resolve()
    own = {path.relative_to(absolute_root).as_posix() for path in absolute_root.rglob("*.proto")}
    contracts = DescriptorIndex(descriptor_set, root, own).read(envelopes or set())
    if not contracts.events:
        raise ContractError(
            f"no events found under {root}",
            hint="an envelope message lists events as fields carrying an (event_metadata) option, "
            "or is named under `tables:` in checks.yaml",
        )
    return contracts
