from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from eventqa.results import CheckResult, EventResult, RunResult, Status, TableResult
from eventqa.results.models import Window
from eventqa.results.store import ResultStore, ResultStoreError

UNTIL = datetime(2026, 3, 1, 12, tzinfo=UTC)


def check(description: str, status: Status, **extra) -> CheckResult:
    return CheckResult(
        expectation_type="expect_column_values_to_not_be_null",
        column="a",
        status=status,
        severity="error",
        check="type",
        description=description,
        origin="contracts/x.proto:3",
        **extra,
    )


def a_run(run_id: str, until: datetime, status: Status) -> RunResult:
    event = EventResult(
        event="thing_happened",
        table="backend__events",
        owner="Foundations",
        status=status,
        checks=[
            check(
                "a is valid",
                status,
                check_id="a-valid",
                unexpected_count=2,
                element_count=10,
                samples=['"x"'],
                observed_value={"max": "2026-03-01"},
            ),
            check("b is valid", Status.PASSED, check_id="b-valid"),
        ],
        row_count=10,
    )
    table = TableResult(
        table="backend__events",
        status=Status.PASSED,
        checks=[check("names are declared", Status.PASSED)],
    )
    return RunResult(
        run_id=run_id,
        window=Window(since=until - timedelta(days=1), until=until),
        events=[event],
        tables=[table],
    )


def test_runs_round_trip_with_each_checks_status(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    store.save(a_run("r1", UNTIL - timedelta(days=1), Status.PASSED))
    store.save(a_run("r2", UNTIL, Status.FAILED))
    history = store.history("thing_happened")
    assert [(h.run_id, h.status, h.until) for h in history] == [
        ("r2", Status.FAILED, UNTIL),
        ("r1", Status.PASSED, UNTIL - timedelta(days=1)),
    ]
    # Each check's history follows its id, whatever its position in the suite.
    assert history[0].checks == {
        ("a-valid", "a is valid"): Status.FAILED,
        ("b-valid", "b is valid"): Status.PASSED,
    }
    assert [c.check_id for c in store.load_run("r2").events[0].checks] == ["a-valid", "b-valid"]
    with store.engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT samples, observed_value, unexpected_count FROM check_results "
                "WHERE run_id = 'r2' AND subject = 'thing_happened' AND position = 0"
            )
        ).one()
        assert row == ('["\\"x\\""]', '{"max": "2026-03-01"}', 2)
        subjects = {
            r[0] for r in connection.execute(sa.text("SELECT DISTINCT subject FROM check_results"))
        }
        assert subjects == {"thing_happened", "table:backend__events"}
    assert store.history("other_event") == []


def test_an_unusable_database_is_a_clear_error(tmp_path):
    (tmp_path / "results.db").write_text("this is not sqlite")
    with pytest.raises(ResultStoreError, match="cannot open the results store") as error:
        ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    assert error.value.exit_code == 3


def test_passwords_never_appear_in_errors():
    with pytest.raises(ResultStoreError) as error:
        ResultStore("postgresql://eventqa:hunter2@127.0.0.1:1/results")
    assert "hunter2" not in str(error.value)


def test_reproduction_sql_is_stored_with_its_check(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    run = a_run("r1", UNTIL, Status.FAILED)
    failing = run.events[0].checks[0].model_copy(update={"reproduction_sql": "SELECT 1\nFROM w"})
    event = run.events[0].model_copy(update={"checks": [failing, run.events[0].checks[1]]})
    store.save(run.model_copy(update={"events": [event]}))
    loaded = store.load_run("r1").events[0].checks
    assert [c.reproduction_sql for c in loaded] == ["SELECT 1\nFROM w", None]


def statements_sent(store: ResultStore) -> list[str]:
    sent: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


@pytest.mark.parametrize("stored", [3, 40])
def test_recent_results_reads_two_queries_whatever_the_number_of_runs(tmp_path, stored):
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    for n in range(stored):
        status = Status.FAILED if n % 2 else Status.PASSED
        store.save(a_run(f"r{n:03}", UNTIL - timedelta(hours=stored - n), status))
    sent = statements_sent(store)
    recent = store.recent_results(per_event=10, observed_type="expect_column_values_to_not_be_null")
    assert len(sent) == 2
    shown = min(stored, 10)
    # Newest first, capped per event; `newest` marks the latest run.
    assert [r.run_id for r in recent.runs] == [f"r{n:03}" for n in range(stored)][::-1][:shown]
    assert [r.newest for r in recent.runs] == [True] + [False] * (shown - 1)
    assert len(recent.statuses) == 2 * shown  # two checks per run; table-level checks not shown
    assert {s.key for s in recent.statuses} == {"a-valid", "b-valid"}
    assert [c.check_id for c in recent.latest["thing_happened"]] == ["a-valid", "b-valid"]
    assert len(recent.observed) == 2 * shown
    assert recent.stored_runs == stored and recent.last_stored is not None


def test_recent_results_of_an_empty_store(tmp_path):
    recent = ResultStore(f"sqlite:///{tmp_path / 'results.db'}").recent_results(5, "x")
    assert (recent.runs, recent.latest, recent.stored_runs, recent.last_stored) == ([], {}, 0, None)


def test_a_store_already_at_the_newest_schema_opens_without_importing_alembic(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'results.db'}"
    ResultStore(url).close()  # creates and migrates
    probe = (
        "import sys\nfrom eventqa.results.store import ResultStore\n"
        f"print(ResultStore({url!r}).migrate(), 'alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0006", "False"]
