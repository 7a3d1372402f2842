"""The hand-written single scan of each table of the many-events warehouse (`scan_sql`).

What an expert would write by hand: one scan of the window, each payload's top level read once
(its keys and values), the contracts as data (a VALUES list) joined on the event name, and one
generic CASE on each field's kind, summed per event and field. It computes what eventqa's suites
compute (presence, nulls, types, enums, timestamps, nested messages, repeated elements, undeclared
keys, event id uniqueness, future timestamps, the checks.yaml rules), not the same SQL.
"""

from __future__ import annotations

from many_events import MESSAGES, SCALARS, Event, Field


def _valid(f: Field, v: str) -> str:
    assert f.scalar is not None
    return "(" + SCALARS[f.scalar].valid.replace("{v}", v) + ")"


def _bad_anywhere(fields: tuple[Field, ...], doc: str, depth: int) -> str:
    """One boolean: anything wrong inside the object `doc` (for elements of repeated messages)."""
    wrong = [f"json_type({doc}) <> 'OBJECT'"]
    for f in fields:
        v = f"json_extract({doc}, '$.{f.name}')"
        if f.shape == "required":
            wrong.append(f"{v} IS NULL OR json_type({v}) = 'NULL' OR NOT {_valid(f, v)}")
        elif f.shape in ("wrapper", "optional"):
            wrong.append(f"{v} IS NOT NULL AND json_type({v}) <> 'NULL' AND NOT {_valid(f, v)}")
        elif f.shape == "message":
            assert f.message is not None
            inner = _bad_anywhere(MESSAGES[f.message], f"e{depth}", depth + 1)
            wrong.append(
                f"{v} IS NOT NULL AND json_type({v}) <> 'NULL' AND "
                f"list_transform([{v}], lambda e{depth}: {inner})[1]"
            )
    return " OR ".join(f"coalesce({w}, true)" for w in wrong)


def _kind(f: Field) -> str:
    """What the generic per-field check looks at: the scalar, or the shape and its element."""
    if f.shape in ("required", "wrapper", "optional"):
        return str(f.scalar)
    if f.shape == "map":
        return "map"
    return f"{f.shape}:{f.scalar or f.message}"


def _typed_sql(kind: str, v: str) -> str:
    """Integer: how many things are wrong with the (non-null) value `v` of a field of `kind`."""
    if kind in SCALARS:
        return f"(NOT {_valid(Field('', 'required', kind), v)})::INTEGER"
    if kind == "map":
        return f"(json_type({v}) <> 'OBJECT')::INTEGER"
    shape, element = kind.split(":")
    if shape == "message":
        return f"coalesce({_bad_anywhere(MESSAGES[element], v, 1)}, true)::INTEGER"
    if shape == "repeated":
        bad = f"NOT coalesce({_valid(Field('', 'required', element), 'x0')}, false)"
    else:
        bad = _bad_anywhere(MESSAGES[element], "x0", 1)
    return (
        f"CASE WHEN json_type({v}) <> 'ARRAY' THEN 1 "
        f"ELSE len(list_filter(json_extract({v}, '$[*]'), lambda x0: {bad})) END"
    )


def _contract_row(event: Event) -> str:
    """The event's fields as a DuckDB list of structs, with the rules that apply to each."""
    rules: dict[str, dict[str, object]] = {}
    for rule in event.rules:
        kind, spec = next(iter(rule.items()))
        assert isinstance(spec, dict)
        name = spec["fields"][0] if kind == "unique" else spec["field"]
        rules.setdefault(name, {})[kind] = spec
    structs = []
    for f in event.fields:
        between = rules.get(f.name, {}).get("between", {})
        assert isinstance(between, dict)
        structs.append(
            f"{{'name': '{f.name}', 'kind': '{_kind(f)}', "
            f"'required': {f.shape not in ('wrapper', 'optional', 'message')}, "
            f"'lo': {between.get('min', 'NULL')}::DOUBLE, 'hi': {between.get('max', 'NULL')}::DOUBLE, "
            f"'matches': {'matches' in rules.get(f.name, {})}, "
            f"'is_unique': {'unique' in rules.get(f.name, {})}}}"
        )
    names = ", ".join(f"'{f.name}'" for f in event.fields)
    return f"('{event.name}', [{names}], [{', '.join(structs)}])"


def scan_sql(events: list[Event], table: str) -> str:
    """The hand-written single scan of `table`'s window ($since, $until, $future_after).

    The contracts are data (a VALUES list of each event's fields), so the per-field checks are
    one generic CASE on the field's kind over (row, field) pairs, not 100 events' worth of SQL.
    """
    mine = [e for e in events if e.table == table]
    contract = ",\n    ".join(_contract_row(e) for e in mine)
    kinds = sorted({_kind(f) for e in mine for f in e.fields})
    branches = "\n        ".join(f"WHEN '{k}' THEN {_typed_sql(k, 'fv.v')}" for k in kinds)
    patterns = {
        str(spec["pattern"])
        for e in mine
        for rule in e.rules
        if isinstance(spec := rule.get("matches"), dict)
    }
    assert len(patterns) <= 1, "one pattern: a constant regular expression compiles once"
    pattern = patterns.pop() if patterns else "^$"
    return f"""
WITH contract(event_name, names, fields) AS (VALUES
    {contract}
), window_rows AS (
  SELECT event_id, event_name, event_timestamp,
         NOT starts_with(ltrim(payload::VARCHAR), '{{') AS not_object,
         json_keys(payload) AS keys, json_extract(payload, '$.*') AS vals
  FROM {table}
  WHERE event_timestamp >= $since AND event_timestamp < $until
     OR event_timestamp > $future_after
), field_values AS (
  SELECT w.event_id, w.event_name, w.event_timestamp, w.not_object,
         len(list_filter(w.keys, lambda k: NOT list_contains(c.names, k))) > 0 AS drift,
         unnest(range(1, greatest(len(c.fields), 1) + 1)) AS field_no,
         unnest(coalesce(list_transform(c.fields, lambda f: {{
             'f': f, 'v': w.vals[list_position(w.keys, f.name)]}}), [NULL])) AS fv
  FROM window_rows AS w LEFT JOIN contract AS c USING (event_name)
)
SELECT event_name, field_no, any_value(fv.f.name) AS field,
  count(*) FILTER (WHERE field_no = 1) AS events,
  count(*) FILTER (WHERE field_no = 1 AND event_id IS NULL) AS missing_ids,
  count(event_id) FILTER (WHERE field_no = 1)
    - count(DISTINCT event_id) FILTER (WHERE field_no = 1) AS duplicate_ids,
  count(*) FILTER (WHERE field_no = 1 AND event_timestamp IS NULL) AS missing_timestamps,
  count(*) FILTER (WHERE field_no = 1 AND event_timestamp > $future_after) AS future,
  max(event_timestamp) AS newest,
  count(*) FILTER (WHERE field_no = 1 AND not_object) AS not_objects,
  count(*) FILTER (WHERE field_no = 1 AND drift) AS undeclared_keys,
  count(*) FILTER (WHERE fv.f.required AND fv.v IS NULL) AS missing,
  count(*) FILTER (WHERE fv.v = 'null') AS nulls,
  sum(CASE WHEN fv.v <> 'null' THEN CASE fv.f.kind
        {branches}
      END END) AS wrong_type,
  count(*) FILTER (WHERE TRY_CAST(fv.v::VARCHAR AS DOUBLE) NOT BETWEEN fv.f.lo AND fv.f.hi)
    AS out_of_range,
  count(*) FILTER (WHERE fv.f.matches AND NOT regexp_full_match(fv.v->>'$', '{pattern}'))
    AS mismatched,
  count(fv.v) FILTER (WHERE fv.f.is_unique)
    - count(DISTINCT fv.v) FILTER (WHERE fv.f.is_unique) AS duplicate_values
FROM field_values
GROUP BY event_name, field_no
"""
