"""A database's concurrency faults reach the caller as SequenceBusyError, with the
driver's error as the cause, from every manager method (not only the counter's)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError
from threads import run_together

from sa_sequencing import SequenceBusyError
from sa_sequencing import SequencingError
from sa_sequencing import run_in_transaction


def test_a_deadlock_between_two_administrators_is_a_retryable_busy_error(
    backend, sessions, sequencing, tx
):
    """Two transactions lock two definitions in opposite orders: the database kills
    one.  Its caller gets SequenceBusyError(retryable=True) naming the sequence, the
    deadlock as its cause; the other one goes through."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: no deadlock between two writers")
    with tx() as seqs:
        seqs.define("dl_a", "A-{COUNTER}")
        seqs.define("dl_b", "B-{COUNTER}")
    both_hold_one = threading.Barrier(2, timeout=30)

    def work(i: int) -> Any:
        first, second = ("dl_a", "dl_b") if i == 0 else ("dl_b", "dl_a")
        try:
            with sessions() as session, session.begin():
                seqs = sequencing.manager(session)
                seqs.lock(first)
                both_hold_one.wait()
                seqs.lock(second)
        except SequencingError as exc:
            return exc
        return None

    outcomes = run_together(2, work)
    errors = [o for o in outcomes if o is not None]
    assert len(errors) == 1, outcomes
    error = errors[0]
    assert isinstance(error, SequenceBusyError) and error.retryable
    assert error.sequence in ("dl_a", "dl_b")
    assert isinstance(error.__cause__, DBAPIError)
    assert "run the whole transaction again" in str(error)


def test_run_in_transaction_retries_what_the_deadlock_undid(backend, sessions, sequencing, tx):
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: no deadlock between two writers")
    with tx() as seqs:
        seqs.define("rt_a", "A-{COUNTER}")
        seqs.define("rt_b", "B-{COUNTER}")
    both_hold_one = threading.Barrier(2, timeout=30)
    tries = [0, 0]

    def work(i: int) -> Any:
        first, second = ("rt_a", "rt_b") if i == 0 else ("rt_b", "rt_a")

        def body(session: Any) -> str:
            tries[i] += 1
            seqs = sequencing.manager(session)
            seqs.lock(first)
            seqs.unlock(first)
            if tries[i] == 1:
                both_hold_one.wait()
            seqs.lock(second)
            seqs.unlock(second)
            return seqs.generate(first)

        return run_in_transaction(sessions, body)

    numbers = run_together(2, work)
    assert sorted(numbers) == ["A-1", "B-1"]
    assert sum(tries) == 3  # the deadlock's loser ran once more


def test_sqlite_database_is_locked_is_a_busy_error(backend, engine, sequencing, tx):
    """SQLite's "database is locked" at a statement other than the counter's (here
    lock(), while another connection holds the write lock past busy_timeout) is a
    SequenceBusyError with the driver's error as the cause."""
    if backend != "sqlite":
        pytest.skip("SQLite's own busy error")
    from sqlalchemy.orm import Session

    with tx() as seqs:
        seqs.define("sq", "S-{COUNTER}")
    with engine.connect() as holder:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA busy_timeout = 50")
                with Session(bind=conn) as session, pytest.raises(SequenceBusyError) as raised:
                    sequencing.manager(session).lock("sq")
                conn.rollback()
                # its short busy_timeout must not go back to the pool for later tests
                conn.invalidate()
        finally:
            holder.rollback()
    assert isinstance(raised.value.__cause__, DBAPIError)
    assert "locked" in str(raised.value.__cause__)
