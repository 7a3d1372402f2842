"""`eventqa init`: a new project's files, each commented so it explains itself.

A project is checks.yaml, a contracts/ folder (an options file declaring `event_metadata`, and
one envelope registering one event) and expectations/, which `init` generates with the same
code as `eventqa generate`. Nothing is ever overwritten: `init` refuses a folder that already
holds any of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eventqa.errors import UsageError

CHECKS_YAML = """\
# eventqa project settings: what to check, where, and who hears about it.
# Every key is validated: a typo is an error naming its line. Reference: eventqa's README.
version: 1

contracts:
  root: contracts            # every .proto below this folder is compiled; imports resolve here

warehouse:
  type: duckdb               # the embedded default; `eventqa demo` builds a sample in it
  path: .eventqa/warehouse.duckdb
  # Snowflake (secrets come from the environment or ~/.snowflake/connections.toml, never here):
  # type: snowflake
  # connection_name: eventqa   # a section of connections.toml
  # database: ANALYTICS
  # schema: EVENTS

tables:                      # envelope message -> the warehouse table its events land in
  BackendEvent: backend__events

payload:
  int64_encoding: number     # `string` for canonical proto3 JSON (64-bit integers as strings)
  omits_defaults: false      # true when the pipeline drops fields holding their default value

defaults:
  window: 24h                # each run checks the last 24 hours (override with --since/--until)
  severity: error            # `warn` reports without failing the run
  future_skew: 5m            # events dated later than the run's end plus this are reported
  schedule:                  # for `eventqa schedule`
    cron: "15 * * * *"
    timezone: UTC

teams:                       # team_owner values from the contracts -> their Slack channel
  Growth: {slack_channel: "#growth-data"}

alerts:
  fallback_channel: "#data-quality"   # events whose owner has no channel
  # Without SLACK_BOT_TOKEN (or SLACK_WEBHOOK_URL) alerts go to .eventqa/outbox.jsonl.

events:                      # rules beyond what the contracts promise, per event
  user_signed_up:
    sensitive_fields: [email]          # never sampled into reports or alerts
    rules:
      - unique: {fields: [user_id]}
        description: a user signs up once
      - matches: {field: referral_code, pattern: "^[A-Z0-9]{6,12}$"}
        severity: warn
      - row_count: {min: 1}
        description: sign-ups never stop for a whole day
      # More kinds: compare, between, in_set, max_null_fraction, freshness, expectation, sql.
"""

OPTIONS_PROTO = """\
// Options that turn envelope fields into documented, owned events.
// eventqa finds `event_metadata` by name, whatever package declares it: keep your company's
// own options file if you have one, and delete this one.
syntax = "proto3";

package acme.options.v1;

import "google/protobuf/descriptor.proto";
import "google/protobuf/wrappers.proto";

message EventMetadata {
  // What the event means, in one sentence a data consumer can trust.
  google.protobuf.StringValue description = 1;
  // The team that fixes the event when its data breaks (a key of `teams` in checks.yaml).
  google.protobuf.StringValue team_owner = 2;
}

extend google.protobuf.FieldOptions {
  EventMetadata event_metadata = 50001;
  // Personal or secret data: never sampled into reports or alerts.
  bool sensitive = 50002;
}
"""

EVENTS_PROTO = """\
// Events emitted by backend services; they land in backend__events (see `tables:` in
// checks.yaml). Each field of the envelope is an event: its name is the `event_name` stored
// in the warehouse, its message the payload.
syntax = "proto3";

package acme.events.v1;

import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "options/event_options.proto";

enum Platform {
  PLATFORM_UNSPECIFIED = 0;
  PLATFORM_IOS = 1;
  PLATFORM_ANDROID = 2;
  PLATFORM_WEB = 3;
}

message UserSignedUpEvent {
  int64 user_id = 1;                                       // required: present, not null
  string email = 2 [(acme.options.v1.sensitive) = true];   // never sampled
  google.protobuf.StringValue referral_code = 3;           // wrappers may be null
  Platform platform = 4;                                   // one of the value names
  google.protobuf.Timestamp signed_up_at = 5;              // an RFC 3339 string
}

message BackendEvent {
  oneof event {
    UserSignedUpEvent user_signed_up = 1 [
      (acme.options.v1.event_metadata).description.value = "Fires when a user account is created.",
      (acme.options.v1.event_metadata).team_owner.value = "Growth"
    ];
  }
}
"""

GITIGNORE = """\
# eventqa's local state: the demo warehouse, the results store, the alert outbox.
.eventqa/
"""

# What `init` writes, relative to the project folder (expectations/ is generated after).
FILES = {
    Path("checks.yaml"): CHECKS_YAML,
    Path("contracts/options/event_options.proto"): OPTIONS_PROTO,
    Path("contracts/events/backend_events.proto"): EVENTS_PROTO,
}
# A folder holding any of these already has a project (or part of one): `init` leaves it alone.
PROJECT_PATHS = ("checks.yaml", "contracts", "expectations", ".eventqa")


@dataclass(frozen=True)
class Scaffold:
    """What `init` wrote."""

    directory: Path
    written: list[Path]


def write_scaffold(directory: Path) -> Scaffold:
    """Write a new project into `directory` (created when missing), never over existing files."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file, not a folder")
    existing = [name for name in PROJECT_PATHS if (directory / name).exists()]
    if existing:
        shown = ", ".join(f"{name}/" if (directory / name).is_dir() else name for name in existing)
        raise UsageError(
            f"{directory} already holds a project: {shown} exist",
            hint="`eventqa init` writes a new project into an empty folder: "
            "choose another folder, e.g. `eventqa init my-project`",
        )
    written = []
    try:
        for relative, text in FILES.items():
            path = directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(relative)
        if not (directory / ".gitignore").exists():
            (directory / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
            written.append(Path(".gitignore"))
    except OSError as error:
        raise UsageError(f"cannot write the project into {directory}: {error}") from None
    return Scaffold(directory, written)
