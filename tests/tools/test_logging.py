"""Logging on every database: the draw's DEBUG record and its fields, the WARNINGs of
a lock retry, a busy error, a transaction run again and a threshold crossing, the
INFO records of lifecycle events, and silence at the default level."""

from __future__ import annotations

import logging
import re
import sys
import threading
import types
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from stale_snapshot import run_past_a_stale_snapshot
from threads import run_together

from sa_sequencing import SequenceBusyError
from sa_sequencing import SequenceExhaustionWarning
from sa_sequencing import Sequencing
from sa_sequencing import run_in_transaction
from sa_sequencing.allocation import allocator
from sa_sequencing.logs import FIELDS

DAY = date(2026, 3, 14)


def events(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == event]


def assert_documented(record: logging.LogRecord) -> None:
    """Every extra field a record carries is one of the documented FIELDS."""
    standard = logging.makeLogRecord({}).__dict__.keys() | {"message", "asctime"}
    extra = set(record.__dict__) - standard
    assert extra <= FIELDS.keys(), extra - FIELDS.keys()


def twin(**options: Any) -> Sequencing:
    """Another Sequencing over the same (already created) tables."""

    class TwinBase(DeclarativeBase):
        pass

    return Sequencing(TwinBase, **options)


def test_one_generate_one_debug_record(tx, sequencing, caplog):
    with tx() as seqs:
        seqs.define("inv", "INV-{YEAR}-{COUNTER:3}", reset_period="yearly", scope="acme")
    caplog.set_level(logging.DEBUG, logger="sa_sequencing.allocation")
    with tx() as seqs:
        number = seqs.generate("inv", scope="acme", date=DAY, performed_by="ann")
    (record,) = events(caplog, "draw")
    assert number == "INV-2026-001"
    assert record.name == "sa_sequencing.allocation"
    assert record.levelno == logging.DEBUG
    assert record.sequence == "inv"
    assert record.scope == "acme"
    assert record.period == "2026"
    assert record.numbers == ["INV-2026-001"]
    assert record.reclaimed == []
    assert record.path == "fast"
    assert isinstance(record.lock_wait, float) and record.lock_wait >= 0
    assert record.actor == "ann"
    assert "INV-2026-001" in record.getMessage()
    assert_documented(record)


def test_slow_path_many_and_reclaimed_gaps_are_told(tx, sequencing, caplog):
    with tx() as seqs:
        seqs.define("slow", "S-{CYCLE}-{COUNTER}", reset_limit=100)
        seqs.define("fill", "F-{COUNTER}", gap_policy="fill_gaps")
        seqs.generate_many("fill", 3)
    with tx() as seqs:
        seqs.void("fill", "F-2", reason="typo")
    caplog.set_level(logging.DEBUG, logger="sa_sequencing.allocation")
    with tx() as seqs:
        seqs.generate_many("slow", 2)
        seqs.generate("fill")
        seqs.generate_many("fill", 2)
    slow, gap_only, mixed = events(caplog, "draw")
    assert (slow.path, slow.numbers) == ("slow", ["S-1-1", "S-1-2"])
    assert (gap_only.path, gap_only.numbers, gap_only.reclaimed) == ("gaps", ["F-2"], ["F-2"])
    assert (mixed.path, mixed.numbers, mixed.reclaimed) == ("fast", ["F-4", "F-5"], [])


def test_nothing_is_emitted_at_the_default_level(tx, sequencing, caplog, monkeypatch):
    """No handler configured, the default WARNING level: a plain draw (and its
    definition) logs nothing, and neither times its lock wait nor builds a record."""
    # the state of a process that configured nothing (tests that ran before may have
    # left levels set: a script's logging.basicConfig(level=INFO), say)
    for name in ("sa_sequencing", "sa_sequencing.allocation"):
        caplog.set_level(logging.NOTSET, logger=name)
    caplog.set_level(logging.WARNING)
    assert logging.getLogger("sa_sequencing.allocation").getEffectiveLevel() == logging.WARNING

    def refused(*args: Any) -> None:
        raise AssertionError("work done for a disabled record")

    monkeypatch.setattr(allocator, "_log_draw", refused)
    monkeypatch.setattr(allocator, "time", types.SimpleNamespace(perf_counter=refused))
    with tx() as seqs:
        seqs.define("quiet", "Q-{COUNTER}")
        seqs.generate("quiet")
        seqs.generate_many("quiet", 3)
    assert [r for r in caplog.records if r.name.startswith("sa_sequencing")] == []


def test_lifecycle_events_are_info(tx, sequencing, caplog):
    caplog.set_level(logging.INFO, logger="sa_sequencing")
    with tx() as seqs:
        seqs.define("life", "L-{COUNTER}", performed_by="admin")
        seqs.generate("life")
        seqs.void("life", "L-1", reason="typo", performed_by="ann")
        seqs.lock("life")
        seqs.unlock("life")
    records = [r for r in caplog.records if r.name == "sa_sequencing.lifecycle"]
    assert [r.event for r in records] == [
        "pattern_created",
        "number_voided",
        "sequence_locked",
        "sequence_unlocked",
    ]
    assert all(r.levelno == logging.INFO and r.sequence == "life" for r in records)
    voided = records[1]
    assert (voided.number, voided.value, voided.actor) == ("L-1", 1, "ann")
    assert voided.data["reason"] == "typo"
    assert events(caplog, "draw") == []  # DEBUG stays off at INFO
    for record in records:
        assert_documented(record)


def test_threshold_crossing_is_a_warning(tx, sequencing, caplog):
    with tx() as seqs:
        seqs.define("t", "T-{COUNTER:1}", exhaustion_threshold=50)  # capacity 9: mark 5
        seqs.generate_many("t", 4)
    assert events(caplog, "exhaustion_threshold") == []
    with tx() as seqs, pytest.warns(SequenceExhaustionWarning):
        seqs.generate_many("t", 2)
    (record,) = events(caplog, "exhaustion_threshold")
    assert record.name == "sa_sequencing.allocation"
    assert record.levelno == logging.WARNING
    assert (record.sequence, record.number, record.value, record.capacity) == ("t", "T-5", 5, 9)
    assert "exhaustion threshold of 50%" in record.getMessage()
    assert_documented(record)
    with tx() as seqs, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seqs.generate("t")
    assert len(events(caplog, "exhaustion_threshold")) == 1  # crossed once


def test_lock_retry_and_busy_error_are_warnings(engine, tx, sequencing, sessions, caplog):
    """Two connections: one holds the counter, the other times out twice (lock_timeout
    0.2 s, one retry) and gets SequenceBusyError."""
    with tx() as seqs:
        seqs.define("hot", "H-{COUNTER}")
    impatient = twin(lock_timeout=0.2, lock_retries=1)
    holder = sessions()
    holder.begin()
    try:
        sequencing.manager(holder).generate("hot")
        with sessions() as waiter:
            waiter.begin()
            with pytest.raises(SequenceBusyError):
                impatient.manager(waiter).generate("hot")
            waiter.rollback()
    finally:
        holder.rollback()
        holder.close()
    (retry,) = events(caplog, "lock_retry")
    assert retry.name == "sa_sequencing.locks"
    assert retry.levelno == logging.WARNING
    assert (retry.sequence, retry.attempt, retry.attempts) == ("hot", 1, 2)
    assert (retry.fault, retry.delay) == ("lock_wait", 0.05)
    assert retry.lock_wait > 0
    (busy,) = events(caplog, "busy")
    assert (busy.sequence, busy.attempt, busy.fault, busy.retryable) == (
        "hot",
        2,
        "lock_wait",
        False,
    )
    for record in (retry, busy):
        assert_documented(record)


def _deadlocked_transaction_retry(sessions: sessionmaker[Session], sequencing: Sequencing, tx):
    """PostgreSQL, MariaDB: two run_in_transaction lock two definitions in opposite
    orders; the database kills one, which runs again."""
    with tx() as seqs:
        seqs.define("rt_a", "A-{COUNTER}")
        seqs.define("rt_b", "B-{COUNTER}")
    both_hold_one = threading.Barrier(2, timeout=30)
    tries = [0, 0]

    def work(i: int) -> Any:
        first, second = ("rt_a", "rt_b") if i == 0 else ("rt_b", "rt_a")

        def body(session: Session) -> str:
            tries[i] += 1
            seqs = sequencing.manager(session)
            seqs.lock(first)
            if tries[i] == 1:
                both_hold_one.wait()
            seqs.lock(second)
            seqs.unlock(first)
            seqs.unlock(second)
            return seqs.generate(first)

        return run_in_transaction(sessions, body)

    assert sorted(run_together(2, work)) == ["A-1", "B-1"]
    assert sum(tries) == 3


def test_run_in_transaction_retry_is_a_warning(
    backend, sessions, sequencing, tx, tmp_path, caplog
):
    if backend == "sqlite":
        if sys.version_info < (3, 11):
            pytest.skip("Python < 3.11: sqlite3 errors carry no error code")
        assert run_past_a_stale_snapshot(str(tmp_path / "snap.db")) == [0, 10]
    else:
        _deadlocked_transaction_retry(sessions, sequencing, tx)
    (record,) = events(caplog, "transaction_retry")
    assert record.name == "sa_sequencing.retry"
    assert record.levelno == logging.WARNING
    assert (record.attempt, record.attempts, record.fault) == (1, 20, "serialization")
    assert 0 <= record.delay <= 0.05
    if backend != "sqlite":
        # the deadlock reached run_in_transaction as SequenceBusyError, logged as such
        assert record.sequence in ("rt_a", "rt_b")
        (busy,) = events(caplog, "busy")
        assert (busy.sequence, busy.fault, busy.retryable) == (
            record.sequence,
            "serialization",
            True,
        )
    assert_documented(record)


def test_the_fields_table_of_the_docs_is_the_code_s():
    """docs/operations.rst's "Fields" table lists exactly sa_sequencing.logs.FIELDS."""
    docs = (Path(__file__).parents[2] / "docs" / "operations.rst").read_text()
    section = docs.split("\nFields\n~~~~~~\n", 1)[1]
    table = section.split("\nfield ", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^``(\w+)``", table, re.M))
    assert documented == FIELDS.keys()
