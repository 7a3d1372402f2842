"""How expectations name what they check: columns of an event's flattened, typed projection.

The execution layer builds, once per event window, a projection of the payload with these columns
(README "How suites address the payload"):

- `event_id`, `event_timestamp`, `event_name`: the warehouse columns.
- `follower_id`, `shipping_address.city`: a field's value in its proto type, NULL when the value is
  absent, JSON null, or does not conform (an int32 out of range, a Timestamp that is not RFC 3339).
- `json_type(follower_id)`: the JSON kind of the raw value: null, integer, number, string, boolean,
  object or array; NULL when the key is absent.
- `items[]`, `items[].quantity`: the same, one row per element of a repeated field.
- `keys(payload)`, `keys(shipping_address)`: one row per key present in an object.
- `json_type(payload)`: the kind of the payload itself (`invalid` when it is not JSON at all).
- `nonconforming(follower_id)`: the JSON text of a value its type rejects, NULL otherwise (what a
  failed type check shows as samples; execution adds it, suites do not name it).

A payload field named like a warehouse column is addressed as `payload.<name>`.
"""

from __future__ import annotations

import re

from eventqa.suites.keywords import KEYWORDS

ENVELOPE_COLUMNS = frozenset({"event_id", "event_timestamp", "event_name", "payload"})
ROOT = "payload"

_FUNCTION = re.compile(r"^(json_type|keys|nonconforming)\((.+)\)$")
_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")


def quote_identifier(name: str) -> str:
    """`name` as SQL: bare when it is a plain lowercase word, else double-quoted.

    Every dialect then reads it the same way (Snowflake folds bare names to upper case, and its
    SQLAlchemy dialect renders plain lowercase names bare), and Great Expectations quotes exactly
    the same names once an engine knows `KEYWORDS`.
    """
    if _PLAIN.match(name) and name not in KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def field_column(path: str) -> str:
    """The typed column of a payload path such as `items[].quantity`."""
    first = path.split(".", 1)[0].removesuffix("[]")
    return f"{ROOT}.{path}" if first in ENVELOPE_COLUMNS else path


def json_type_column(path: str) -> str:
    """The column holding the JSON kind of the value at `path`."""
    return f"json_type({field_column(path)})"


def keys_column(path: str | None) -> str:
    """The column listing the keys of the object at `path` (the payload itself when None)."""
    return f"keys({field_column(path) if path else ROOT})"


def relation_of(column: str) -> str:
    """The grain of a column: `''` for one row per event, else the repeated path (`items[]`)."""
    match = _FUNCTION.match(column)
    inner = match.group(2) if match else column
    head, sep, _ = inner.rpartition("[]")
    return head + sep if sep else ""


def parse_column(column: str) -> tuple[str | None, str]:
    """Split `json_type(x)` into (`json_type`, `x`); a plain column gives (None, column)."""
    match = _FUNCTION.match(column)
    return (match.group(1), match.group(2)) if match else (None, column)
