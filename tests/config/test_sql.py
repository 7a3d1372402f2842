"""`sql` rules: one read-only query over {batch}, in the warehouse's dialect, embeddable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from eventqa.config import load_config
from eventqa.config.sql import read_only_query
from eventqa.errors import ConfigError


@pytest.mark.parametrize(
    ("query", "normalised"),
    [
        ("SELECT * FROM {batch} -- why\n", "SELECT * FROM {batch}"),
        ("SELECT * FROM {batch};", "SELECT * FROM {batch}"),
        (
            "SELECT * FROM {batch} WHERE a = 'x' ; -- the known bug",
            "SELECT * FROM {batch} WHERE a = 'x'",
        ),
        ("SELECT * FROM {batch} /* trailing */ ;;", "SELECT * FROM {batch}"),
        (
            "-- lead\nSELECT *\nFROM {batch} -- mid\nWHERE a = 1",
            "-- lead\nSELECT *\nFROM {batch} -- mid\nWHERE a = 1",
        ),
        (
            "WITH bad AS (SELECT * FROM {batch} WHERE a < 0) SELECT * FROM bad UNION ALL SELECT * FROM {batch} WHERE b IS NULL",
            "WITH bad AS (SELECT * FROM {batch} WHERE a < 0) SELECT * FROM bad UNION ALL SELECT * FROM {batch} WHERE b IS NULL",
        ),
        ("SELECT * FROM {batch} AS b WHERE b.\"shipping_address.city\" = ''", None),
    ],
)
def test_a_good_query_is_kept_without_its_trailing_semicolon_or_comment(query, normalised):
    assert read_only_query(query, "duckdb") == (normalised or query)


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (
            "SELECT * FROM {batch} WHERE 1=0; CREATE TABLE pwned AS SELECT 42",
            "must be one SELECT statement (found 2 statements)",
        ),
        ("SELECT * FROM {batch}; SELECT * FROM {batch}", "must be one SELECT statement"),
        ("INSERT INTO t SELECT * FROM {batch}", "must be a SELECT query (found INSERT)"),
        ("UPDATE {batch} SET a = 1", "must be a SELECT query (found UPDATE)"),
        ("DROP TABLE {batch}", "must be a SELECT query (found DROP)"),
        ("COPY (SELECT * FROM {batch}) TO 'x.csv'", "must be a SELECT query (found COPY)"),
        ("PRAGMA show_tables; SELECT * FROM {batch}", "must be one SELECT statement"),
        ("SELECT * INTO copy FROM {batch}", "must only read: INTO is not allowed"),
        ("SELECT 1 WHERE '{batch}' = ''", "must select from {batch}"),
        ("SELECT * FROM backend__events", "must select from {batch}"),
        ("SELECT * FROM {batch} UNION SELECT * FROM main.secrets", "reads main.secrets"),
        ("SELECT * FROM {batch} WHERE a IN (SELECT a FROM other)", "reads other"),
        ("SELECT * FROM {batch}, read_parquet('s3://x')", "reads READ_PARQUET"),
        ("SELECT * FROM {batch} WHERE", "is not valid DuckDB SQL: incomplete SQL"),
        ("SELECT * FROM {batch} WHERE a = 'open", "is not valid DuckDB SQL"),
    ],
)
def test_anything_but_one_read_only_select_over_batch_is_refused(query, problem):
    with pytest.raises(ValueError) as error:
        read_only_query(query, "duckdb")
    assert str(error.value).startswith(problem), str(error.value)
    assert "__eqb__" not in str(error.value)


def test_the_warehouse_dialect_parses_the_query(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    query = "SELECT * FROM {batch} WHERE extra:code::string = 'x'"  # Snowflake's path syntax
    for kind, accepted in (("snowflake", True), ("duckdb", False)):
        (tmp_path / "checks.yaml").write_text(
            textwrap.dedent(f"""\
            warehouse: {{type: {kind}}}
            events:
              e:
                rules:
                  - sql: {{query: "{query}; -- typo'd codes"}}
            """)
        )
        if accepted:
            (rule,) = load_config(tmp_path / "checks.yaml").events["e"].rules
            assert rule.sql is not None and rule.sql.query == query
        else:
            with pytest.raises(ConfigError, match=r"sql\.query: is not valid DuckDB SQL"):
                load_config(tmp_path / "checks.yaml")


def test_an_error_names_the_line_and_field(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checks.yaml").write_text(
        "events:\n  e:\n    rules:\n      - sql:\n          query: DELETE FROM {batch}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path.joinpath("checks.yaml").relative_to(tmp_path))
    assert str(error.value) == (
        "checks.yaml:5: events.e.rules[0].sql.query: must be a SELECT query (found DELETE)"
    )


def test_a_query_checked_once_is_not_parsed_again_until_it_changes(tmp_path):
    """`.eventqa/sql.checked` spares `run` SQLGlot's import; a new or bad query is still parsed."""
    checks = tmp_path / "checks.yaml"
    (tmp_path / ".eventqa").mkdir()  # a project that ran before (loading never creates it)
    rule = "events:\n  e:\n    rules:\n      - sql:\n          query: {}\n"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from eventqa.config import load_config
        from eventqa.errors import EventQAError
        try:
            query = load_config(Path({str(checks)!r})).events["e"].rules[0].sql.query
        except EventQAError as error:
            query = str(error)
        print(query, "|", "sqlglot" in sys.modules)
        """
    )

    def load(query: str) -> str:
        checks.write_text(rule.format(query))
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    assert load("SELECT * FROM {batch};") == "SELECT * FROM {batch} | True"
    assert load("SELECT * FROM {batch};") == "SELECT * FROM {batch} | False"
    assert load("SELECT 1 FROM {batch}") == "SELECT 1 FROM {batch} | True"
    assert load("DELETE FROM {batch}").endswith("must be a SELECT query (found DELETE) | True")
    assert load("DELETE FROM {batch}").endswith("must be a SELECT query (found DELETE) | True")
    (tmp_path / ".eventqa" / "sql.checked").write_text("not json")
    assert load("SELECT * FROM {batch};") == "SELECT * FROM {batch} | True"
