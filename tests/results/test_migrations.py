"""The results store's schema on first use and across versions (Alembic, frozen migrations).

Old databases are built here with the exact SQL eventqa 0.1's hand-rolled migrations ran on SQLite
(versions 1 to 3, with their `schema_version` table), then opened by today's store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from eventqa.results import CheckResult, EventResult, RunResult, Status
from eventqa.results.models import Window
from eventqa.results.store import SCHEMA_HEAD, VERSION_TABLE, ResultStore, _alembic_config

REPO = Path(__file__).resolve().parents[2]
HEAD = "0006"


def test_the_store_knows_the_newest_migration():
    from alembic.script import ScriptDirectory

    assert (
        ScriptDirectory.from_config(_alembic_config(None)).get_current_head() == SCHEMA_HEAD == HEAD
    )


UNTIL = datetime(2026, 3, 1, 12, tzinfo=UTC)

# eventqa 0.1's DDL per schema version, as SQLAlchemy emitted it for SQLite.
LEGACY_DDL = {
    1: [
        """CREATE TABLE runs (
            run_id VARCHAR(32) NOT NULL, stored_at DATETIME NOT NULL, since DATETIME NOT NULL,
            until DATETIME NOT NULL, status VARCHAR(16) NOT NULL, PRIMARY KEY (run_id))""",
        """CREATE TABLE event_results (
            run_id VARCHAR(32) NOT NULL, event VARCHAR(255) NOT NULL,
            table_name VARCHAR(255) NOT NULL, owner VARCHAR(255), status VARCHAR(16) NOT NULL,
            row_count BIGINT, duration_seconds FLOAT, error TEXT,
            PRIMARY KEY (run_id, event), FOREIGN KEY(run_id) REFERENCES runs (run_id))""",
        "CREATE INDEX ix_event_results_event ON event_results (event, run_id)",
        """CREATE TABLE check_results (
            run_id VARCHAR(32) NOT NULL, subject VARCHAR(255) NOT NULL, position INTEGER NOT NULL,
            expectation_type VARCHAR(255) NOT NULL, column_name VARCHAR(1024),
            check_kind VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL,
            severity VARCHAR(16) NOT NULL, description TEXT NOT NULL, origin VARCHAR(1024) NOT NULL,
            unexpected_count BIGINT, element_count BIGINT, unexpected_percent FLOAT,
            observed_value TEXT, expected TEXT, samples TEXT, error TEXT,
            PRIMARY KEY (run_id, subject, position), FOREIGN KEY(run_id) REFERENCES runs (run_id))""",
    ],
    2: [
        """CREATE TABLE alert_state (
            "key" VARCHAR(255) NOT NULL, status VARCHAR(16) NOT NULL, fingerprint VARCHAR(64),
            channel VARCHAR(255), first_failed_at DATETIME, last_alerted_at DATETIME,
            thread_alert_id VARCHAR(128), PRIMARY KEY ("key"))""",
        """CREATE TABLE outbox (
            id VARCHAR(128) NOT NULL, created_at DATETIME NOT NULL, channel VARCHAR(255) NOT NULL,
            kind VARCHAR(32) NOT NULL, payload TEXT NOT NULL, thread_of VARCHAR(128),
            attempts INTEGER NOT NULL, last_error TEXT, delivered_at DATETIME, ts VARCHAR(64),
            PRIMARY KEY (id))""",
        "CREATE INDEX ix_outbox_pending ON outbox (delivered_at, created_at)",
    ],
    3: [
        """CREATE TABLE heartbeats (
            name VARCHAR(64) NOT NULL, at DATETIME NOT NULL, pid INTEGER, host VARCHAR(255),
            PRIMARY KEY (name))""",
    ],
}
LEGACY_DATA = {
    1: [
        "INSERT INTO runs VALUES ('old1', '2026-02-01 12:00:00', '2026-01-31 12:00:00', "
        "'2026-02-01 12:00:00', 'failed')",
        "INSERT INTO event_results VALUES ('old1', 'thing_happened', 'backend__events', "
        "'Foundations', 'failed', 10, 1.5, NULL)",
        "INSERT INTO check_results VALUES ('old1', 'thing_happened', 0, "
        "'expect_column_values_to_not_be_null', 'a', 'type', 'failed', 'error', 'a is valid', "
        "'contracts/x.proto:3', 2, 10, 20.0, 'null', '{}', '[\"x\"]', NULL)",
    ],
    2: [
        "INSERT INTO alert_state VALUES ('thing_happened', 'failing', 'abc', '#foundations', "
        "'2026-02-01 12:00:00', '2026-02-01 12:00:00', 'old1:#foundations')",
        "INSERT INTO outbox VALUES ('old1:#foundations', '2026-02-01 12:00:00', '#foundations', "
        "'failure', '{\"text\": \"t\", \"blocks\": []}', NULL, 1, 'timeout', NULL, NULL)",
    ],
    3: ["INSERT INTO heartbeats VALUES ('scheduler', '2026-02-01 12:00:00', 42, 'box')"],
}


def build_legacy(path: Path, version: int) -> str:
    """A database as eventqa 0.1 left it at `version`, with data in every table it had."""
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE schema_version (version INTEGER NOT NULL, "
            "applied_at DATETIME NOT NULL, PRIMARY KEY (version))"
        )
        for step in range(1, version + 1):
            for statement in LEGACY_DDL[step] + LEGACY_DATA[step]:
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql(
                "INSERT INTO schema_version VALUES (?, '2026-01-01 00:00:00')", (step,)
            )
    engine.dispose()
    return f"sqlite:///{path}"


def schema(engine: sa.Engine) -> dict:
    """Tables with their columns, keys and indexes, as a database reports them."""
    inspector = sa.inspect(engine)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": [
                (fk["constrained_columns"], fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)
            ),
        }
        for table in sorted(inspector.get_table_names())
    }


def a_run(run_id: str) -> RunResult:
    check = CheckResult(
        expectation_type="expect_column_values_to_not_be_null", column="a",
        check_id="a-not-null", status=Status.FAILED, severity="error", check="type",
        description="a is valid", origin="contracts/x.proto:3", unexpected_count=1,
    )  # fmt: skip
    event = EventResult(
        event="thing_happened", table="backend__events", owner="Foundations",
        status=Status.FAILED, checks=[check],
    )  # fmt: skip
    return RunResult(
        run_id=run_id, window=Window(since=UNTIL - timedelta(days=1), until=UNTIL), events=[event]
    )


@pytest.fixture
def fresh(tmp_path) -> ResultStore:
    store = ResultStore(f"sqlite:///{tmp_path / 'fresh.db'}")
    yield store
    store.close()


def test_a_fresh_database_gets_every_version_and_matches_the_live_tables(fresh):
    assert fresh.migrate() == HEAD
    with fresh.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, fresh.metadata) == []  # migrations == store.py's tables
    assert "check_id" in [c[0] for c in schema(fresh.engine)["check_results"]["columns"]]


def test_stores_opened_at_once_in_threads_all_work(tmp_path):
    """The scheduler opens stores from several threads; Alembic's globals must not be shared."""
    from concurrent.futures import ThreadPoolExecutor

    urls = [f"sqlite:///{tmp_path / f'results{i}.db'}" for i in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(lambda url: ResultStore(url).migrate(), urls)) == [HEAD] * 6


def test_reopening_applies_nothing_twice(tmp_path):
    url = f"sqlite:///{tmp_path / 'results.db'}"
    ResultStore(url).save(a_run("r1"))
    store = ResultStore(url)
    assert store.migrate() == HEAD
    (loaded,) = store.load_run("r1").events
    assert loaded.checks[0].check_id == "a-not-null"


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_database_of_every_earlier_version_is_adopted_and_upgraded(tmp_path, fresh, version):
    store = ResultStore(build_legacy(tmp_path / "old.db", version))
    assert store.migrate() == HEAD
    assert schema(store.engine) == schema(fresh.engine)  # schema_version gone, check_id added
    # What was stored survives, and reads back (stored before check ids: an empty id).
    (old,) = store.load_run("old1").events
    assert (old.status, old.row_count, old.checks[0].samples) == (Status.FAILED, 10, ["x"])
    assert old.checks[0].check_id == ""
    assert [h.run_id for h in store.history("thing_happened")] == ["old1"]
    if version >= 2:
        assert store.alert_state("thing_happened")["thread_alert_id"] == "old1:#foundations"
        assert [item["id"] for item in store.pending()] == ["old1:#foundations"]
    if version >= 3:
        assert store.heartbeat() == datetime(2026, 2, 1, 12, tzinfo=UTC)
    # And the store works on: new runs keep their check ids.
    store.save(a_run("new1"))
    assert store.load_run("new1").events[0].checks[0].check_id == "a-not-null"
    store.beat()
    store.close()


def test_released_migrations_are_frozen_and_never_read_the_live_tables():
    versions = REPO / "src/eventqa/results/migrations/versions"
    files = sorted(versions.glob("0*.py"))
    assert [f.name[:4] for f in files] == [f"{n:04d}" for n in range(1, len(files) + 1)]
    for path in files:
        text = path.read_text()
        assert "from eventqa" not in text and "import eventqa" not in text, path.name


def test_a_built_wheel_carries_its_migrations(tmp_path):
    """A normal (non-editable) install finds the migrations inside the package."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path / "dist")],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("eventqa-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), wheel],
        check=True, capture_output=True,
    )  # fmt: skip
    script = (
        "import eventqa, sys; from eventqa.results.store import ResultStore; "
        f"store = ResultStore('sqlite:///{tmp_path / 'installed.db'}'); "
        "print(eventqa.__file__, store.migrate())"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    location, revision = done.stdout.split()
    assert location.startswith(str(site)) and revision == HEAD
