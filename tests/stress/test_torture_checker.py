"""The torture checker fails when it should: a run's database tampered with after the
fact (a document deleted, a number issued twice, a counter held, an error that is not
allowed) must be reported, and the untouched run must pass.  SQLite, in-process."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # bench/ is not installed: import it from the checkout
    sys.path.insert(0, str(ROOT))

from bench.torture.checker import check  # noqa: E402
from bench.torture.schema import setup  # noqa: E402
from bench.torture.worker import Log  # noqa: E402
from bench.torture.worker import Worker  # noqa: E402


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small untortured run: 100 transactions of one worker, logged."""
    base = tmp_path_factory.mktemp("torture")
    url = f"sqlite:///{base / 'torture.db'}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    setup(engine)
    engine.dispose()
    (base / "logs").mkdir()
    worker = Worker(url, 0, 3, Log(str(base / "logs" / "worker-00-0000.jsonl")))
    for _ in range(100):
        worker.once()
    worker.engine.dispose()
    return base


@pytest.fixture
def run(original: Path, tmp_path: Path) -> tuple[sa.Engine, Path]:
    """A copy of the run for one test to tamper with."""
    shutil.copytree(original, tmp_path / "run")
    url = f"sqlite:///{tmp_path / 'run' / 'torture.db'}"
    return sa.create_engine(url, poolclass=sa.pool.NullPool), tmp_path / "run" / "logs"


def _violations(engine: sa.Engine, logs: Path, **kwargs: float) -> list[str]:
    report = check(engine, logs, {}, **kwargs)
    assert report["passed"] is (not report["violations"] and not report["disallowed_errors"])
    return list(report["violations"])


def test_untouched_run_passes(run: tuple[sa.Engine, Path]) -> None:
    engine, logs = run
    report = check(engine, logs, {})
    assert report["passed"], report["violations"]
    assert report["numbers"]["live documents"] > 50
    assert report["holes_explained"]  # voids and releases happened, and were explained


def test_deleted_document_is_acknowledged_missing_and_a_hole(run: tuple[sa.Engine, Path]) -> None:
    engine, logs = run
    with engine.begin() as conn:
        doc_id, number = conn.execute(
            sa.text("SELECT id, n_rg FROM torture_docs WHERE status = 'live' AND n_rg IS NOT NULL")
        ).first()
        conn.execute(sa.text("DELETE FROM torture_docs WHERE id = :i"), {"i": doc_id})
    violations = _violations(engine, logs)
    assert any("acknowledged missing" in v and number in v for v in violations), violations
    assert any("nothing explains" in v for v in violations), violations


def test_number_issued_twice_is_a_duplicate(run: tuple[sa.Engine, Path]) -> None:
    engine, logs = run
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO torture_docs (seq, tenant, doc_date, worker, status, n_ag) "
                "SELECT seq, tenant, doc_date, 99, 'live', n_ag FROM torture_docs "
                "WHERE status = 'live' AND n_ag IS NOT NULL LIMIT 1"
            )
        )
    violations = _violations(engine, logs)
    assert any("held by 2 live documents" in v for v in violations), violations


def test_unregistered_void_is_an_unexplained_hole(run: tuple[sa.Engine, Path]) -> None:
    engine, logs = run
    with engine.begin() as conn:  # a void without the registry row (report_gaps_only)
        conn.execute(sa.text("DELETE FROM sequence_gaps WHERE reason = 'torture'"))
    assert any("nothing explains" in v for v in _violations(engine, logs))


def test_held_counter_is_a_stuck_lock(run: tuple[sa.Engine, Path]) -> None:
    engine, logs = run
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            holding.set()
            release.wait(30)
            conn.exec_driver_sql("ROLLBACK")

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        holding.wait(10)
        violations = _violations(engine, logs, stuck_seconds=0.2)
    finally:
        release.set()
        holder.join()
    assert any("stuck lock" in v for v in violations), violations


def test_error_that_is_not_allowed_fails_the_run(run: tuple[sa.Engine, Path]) -> None:
    engine, logs = run
    with open(logs / "worker-01-0000.jsonl", "w") as log:
        record = {"status": "error", "class": "IntegrityError", "line": "x", "allowed": False}
        log.write(json.dumps(record) + "\n")
        log.write('{"status": "committed", "numbers": ["cut by SIGKILL')  # no newline: skipped
    report = check(engine, logs, {})
    assert report["passed"] is False
    assert report["disallowed_errors"] == 1
    assert report["errors"] == {"IntegrityError: x": 1}
