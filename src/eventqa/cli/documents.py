"""What commands write for programs, and the words both they and the terminal use for a check.

JSON and JUnit documents, and a check's finding and samples as plain text. Nothing here imports
rich: a run that writes JSON or JUnit to a file or a pipe never loads it (about 25 ms of the
start-up before a run's first statement). Terminal output is `render.py`'s.
"""

from __future__ import annotations

from typing import Any

from eventqa.results.models import MONITORING_TYPES, monitoring_figures


def run_json(result: Any) -> str:
    """The `--format json` document (README, "Commands"; its shape is documented there).

    Pydantic's own serializer writes it: `json.dumps(indent=2)` runs in Python and took 0.9 s
    for a run over 200 events (16 MB; 0.13 s this way). Text is written as UTF-8, unescaped.
    """
    return str(result.model_dump_json(indent=2))


def run_junit(result: Any) -> str:
    """JUnit XML: a test suite per event (and per table), a test case per check.

    Failed error-severity checks are <failure>, checks that could not run are <error>, and
    warnings pass with their finding in <system-out>, so CI dashboards show them without failing.
    """
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name=f"eventqa run {result.run_id}")
    subjects = [(f"{e.table}.{e.event}", e.checks) for e in result.events] + [
        (t.table, t.checks) for t in result.tables
    ]
    for name, checks in subjects:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(checks)),
            failures=str(sum(c.status.value == "failed" for c in checks)),
            errors=str(sum(c.status.value == "error" for c in checks)),
            timestamp=result.window.until.isoformat(),
        )
        for check in checks:
            # Monitoring checks explain each run differently: CI tracks them by their id.
            monitoring = check.expectation_type in MONITORING_TYPES
            label = f"{check.check_id} (against its own history)" if monitoring else None
            case = ET.SubElement(suite, "testcase", classname=name, name=label or check.description)
            detail = "\n".join(
                filter(None, [
                    check.description if monitoring else "",
                    f"origin: {check.origin}",
                    f"{check.expectation_type}({check.column or ''})",
                    observed_text(check),
                    f"samples: {samples_text(check)}" if check.samples else "",
                ])
            )  # fmt: skip
            if check.status.value == "failed":
                ET.SubElement(case, "failure", message=observed_text(check)).text = detail
            elif check.status.value == "error":
                ET.SubElement(case, "error", message=check.error or "").text = detail
            elif check.status.value == "warned":
                ET.SubElement(case, "system-out").text = "warning\n" + detail
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def events_json(events: list[Any]) -> str:
    """`list --format json`: the same rows, for scripts."""
    import dataclasses

    return json_document([dataclasses.asdict(event) for event in events])


def json_document(value: Any) -> str:
    """A command's JSON document, as `run_json` writes one: indented, text as it is (UTF-8).

    `list`, `lint` and `alerts preview` once escaped every non-ASCII character (`json.dumps`'
    default), unlike `run`: every document reads the same now.
    """
    import json

    return json.dumps(value, indent=2, ensure_ascii=False)


def lint_json(report: Any) -> str:
    """The `lint --format json` document, for CI annotations."""
    return json_document(
        {
            "against": report.against,
            "errors": len(report.errors),
            "findings": [
                {
                    "rule": f.rule,
                    "kind": f.kind.value,
                    "severity": f.severity,
                    "file": f.location.path,
                    "line": f.location.line,
                    "column": f.location.column,
                    "message": f.message,
                }
                for f in report.findings
            ],
        }
    )


# GX reports the share of non-null values; users asked about the share of nulls.
_NON_NULL_PROPORTION = "expect_column_proportion_of_non_null_values_to_be_between"


def observed_text(check: Any, events: int | None = None) -> str:
    """What a check found, in the words of its question.

    `events` (the event's row count) is the denominator of checks over the keys of objects
    (schema drift): a share of keys would understate how many events carry a stray key.
    """
    if check.expectation_type in MONITORING_TYPES and not check.error:
        return monitoring_figures(check.expectation_type, check.observed_value)
    if check.error:
        return str(check.error)
    if check.expectation_type == _NON_NULL_PROPORTION and isinstance(
        check.observed_value, int | float
    ):
        limit = check.expected.get("min_value")
        allowed = f" (at most {1 - limit:.2%})" if isinstance(limit, int | float) else ""
        return f"{1 - check.observed_value:.2%} null or missing{allowed}"
    if check.unexpected_count is not None and events and (check.column or "").startswith("keys("):
        count = check.unexpected_count
        affected = min(count, events)
        share = 100 * affected / events
        return (
            f"{plural(count, 'undeclared key')} in at most {affected:,} of {events:,} events "
            f"({share:.2f}%)"
        )
    if check.unexpected_count is not None and check.element_count:
        percent = 100 * check.unexpected_count / check.element_count
        return f"{check.unexpected_count:,} of {check.element_count:,} ({percent:.2f}%)"
    if check.unexpected_count is not None:
        return f"{check.unexpected_count:,} rows"
    if check.observed_value is not None:
        return f"observed {json_value(check.observed_value)}"
    return ""


def json_value(value: Any) -> str:
    """A value from the warehouse as JSON (strings quoted, null as null), never a Python repr."""
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def samples_text(check: Any, limit: int | None = None) -> str:
    """A check's samples as JSON values, comma-separated (the first `limit`)."""
    return ", ".join(json_value(sample) for sample in check.samples[:limit])


def plural(count: int, noun: str) -> str:
    """`1 suite`, `2 suites`."""
    return f"{count} {noun}" + ("" if count == 1 else "s")
