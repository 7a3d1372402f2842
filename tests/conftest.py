"""Shared fixtures: throwaway eventqa projects built from small, explicit contracts."""

from __future__ import annotations

import logging
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

OPTIONS_PROTO = """\
syntax = "proto3";
package acme.options;
import "google/protobuf/descriptor.proto";
import "google/protobuf/wrappers.proto";
message EventMetadata {
  google.protobuf.StringValue description = 1;
  google.protobuf.StringValue team_owner = 2;
}
extend google.protobuf.FieldOptions {
  EventMetadata event_metadata = 50001;
  bool sensitive = 50002;
}
"""

MINIMAL_CHECKS = """\
version: 1
tables:
  BackendEvent: backend__events
"""


def envelope(events: dict[str, str], name: str = "BackendEvent", owner: str = "Foundations") -> str:
    """An envelope message registering `{event_name: MessageType}` with metadata."""
    fields = []
    for number, (event, message) in enumerate(events.items(), start=1):
        fields.append(
            f"    {message} {event} = {number} [\n"
            f'      (acme.options.event_metadata).description.value = "Fires for {event}.",\n'
            f'      (acme.options.event_metadata).team_owner.value = "{owner}"\n'
            "    ];"
        )
    body = "\n".join(fields)
    return f"message {name} {{\n  oneof event {{\n{body}\n  }}\n}}\n"


def events_proto(messages: str, events: dict[str, str], imports: tuple[str, ...] = ()) -> str:
    """A proto3 file with payload `messages` and an envelope registering `events`."""
    lines = [
        'syntax = "proto3";',
        "package acme.events;",
        'import "options/options.proto";',
        'import "google/protobuf/wrappers.proto";',
        'import "google/protobuf/timestamp.proto";',
        *(f'import "{i}";' for i in imports),
        "",
        textwrap.dedent(messages).strip(),
        "",
        envelope(events),
    ]
    return "\n".join(lines)


ProjectFactory = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write a project (checks.yaml + contracts/) into a temporary directory and return it."""

    def make(protos: dict[str, str], checks: str = MINIMAL_CHECKS) -> Path:
        root = tmp_path / "project"
        (root / "contracts" / "options").mkdir(parents=True, exist_ok=True)
        (root / "contracts" / "options" / "options.proto").write_text(OPTIONS_PROTO)
        for name, text in protos.items():
            path = root / "contracts" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (root / "checks.yaml").write_text(textwrap.dedent(checks))
        return root

    return make


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A copy of the repository's own example project (contracts, checks.yaml, expectations/)."""
    root = tmp_path / "example"
    root.mkdir()
    for name in ("contracts", "expectations"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "checks.yaml", root / "checks.yaml")
    return root


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process once pytest has reported, when duckdb_engine was loaded.

    duckdb 2.0's nanobind bindings list duckdb_engine's module-level type objects as "leaked"
    during interpreter teardown, dozens of lines after pytest's summary, where CI reads the
    result. Everything pytest had to say is said; keep its exit status and skip the teardown.
    """
    import os
    import sys

    if "duckdb_engine" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(getattr(config, "_eventqa_exitstatus", 0)))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._eventqa_exitstatus = exitstatus  # type: ignore[attr-defined]


class _Statements(logging.Handler):
    """A query log: every statement eventqa sends to a warehouse (logger `eventqa.sql`)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sent: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.sent.append(record.getMessage())


@pytest.fixture
def statements():
    """The statements sent to the warehouse while the test runs, in order."""
    handler = _Statements()
    logger = logging.getLogger("eventqa.sql")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler.sent
    logger.removeHandler(handler)
    logger.setLevel(level)
