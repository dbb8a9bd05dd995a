"""How the errors CockroachDB sends are read, with each driver its dialects use.

The ``cockroachdb`` dialects talk to the server with psycopg (``cockroachdb+psycopg``,
which connects with psycopg's own ``psycopg.crdb``) or with asyncpg through
SQLAlchemy's asyncpg adapter (``cockroachdb+asyncpg`` is SQLAlchemy's
``postgresql+asyncpg`` dialect under another name): the exceptions are those
drivers' own, carrying the SQLSTATE CockroachDB sends.  The SQLSTATEs are
CockroachDB's (its transaction retry error reference, and ``55P03`` with "canceling
statement due to lock timeout on row" in its source):

* ``40001`` "restart transaction: ...", from any statement or ``COMMIT``: retried;
* ``55P03`` when ``lock_timeout`` runs out: a lock wait, retried in place;
* ``40003`` "result is ambiguous" (statement_completion_unknown): a ``COMMIT`` whose
  outcome CockroachDB itself does not know.  It must never be run again blindly.

The real drivers' errors are raised here by a real server (PostgreSQL at
``SERIALIZABLE``: a transaction that waited for the counter row while another
updated it is refused with ``40001``), through the library, as on CockroachDB.
"""

from __future__ import annotations

import asyncio

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase

from sa_sequencing import SequenceBusyError
from sa_sequencing import Sequencing
from sa_sequencing.dialects import CockroachDBCounterStrategy
from sa_sequencing.dialects import ErrorKind
from sa_sequencing.faults import Fault
from sa_sequencing.faults import busy_error
from sa_sequencing.faults import classify
from sa_sequencing.faults import sqlstate
from sa_sequencing.retry import is_retryable

RESTART = (
    "restart transaction: TransactionRetryWithProtoRefreshError: "
    "TransactionRetryError: retry txn (RETRY_SERIALIZABLE - failed preemptive refresh)"
)


def wrapped(orig: BaseException, statement: str = "COMMIT") -> DBAPIError:
    """``orig`` as SQLAlchemy hands it over (OperationalError, ...), for ``statement``."""
    return DBAPIError.instance(statement, None, orig, psycopg.Error)


def strategy() -> CockroachDBCounterStrategy:
    made = sa.make_url("postgresql+psycopg://").get_dialect()()
    return CockroachDBCounterStrategy(Sequencing(sa.MetaData()).tables, made)


@pytest.mark.parametrize("statement", ["COMMIT", "INSERT INTO sequence_counters ...", "SELECT"])
def test_a_restart_from_any_statement_is_a_retryable_serialization_failure(statement):
    exc = wrapped(psycopg.errors.lookup("40001")(RESTART), statement)
    assert classify(exc) is Fault.SERIALIZATION
    assert is_retryable(exc)
    assert strategy().classify(exc) is ErrorKind.SERIALIZATION
    busy = busy_error(exc, sequence="inv", scope="")
    assert isinstance(busy, SequenceBusyError)
    assert busy.retryable


def test_a_lock_timeout_is_a_lock_wait_retried_in_place():
    exc = wrapped(
        psycopg.errors.lookup("55P03")(
            "canceling statement due to lock timeout on row (sequence_id,scope,period)"
            "=(1,'','') in sequence_counters@sequence_counters_pkey"
        ),
        "INSERT INTO sequence_counters ...",
    )
    assert classify(exc) is Fault.LOCK_WAIT
    assert strategy().classify(exc) is ErrorKind.LOCK_TIMEOUT
    busy = busy_error(exc, sequence="inv", scope="")
    assert isinstance(busy, SequenceBusyError)
    assert not busy.retryable


def test_an_ambiguous_commit_is_never_retried():
    exc = wrapped(psycopg.errors.lookup("40003")("result is ambiguous: error=... [exhausted]"))
    assert sqlstate(exc.orig) == "40003"
    assert not is_retryable(exc)
    assert strategy().classify(exc) is None


# -- the drivers' own errors, from a real server ----------------------------------------


@pytest.mark.parametrize("driver", ["psycopg_async", "asyncpg"])
def test_each_async_driver_reports_a_restart_as_a_retryable_busy_error(backend, url, driver):
    """The waiter of a counter row is refused with 40001 when the holder commits; the
    library raises a retryable SequenceBusyError whose cause carries 40001, with
    psycopg and with SQLAlchemy's asyncpg adapter (cockroachdb+asyncpg's)."""
    if not backend.startswith("postgresql"):
        pytest.skip("PostgreSQL at SERIALIZABLE is the stand-in for CockroachDB")
    if driver == "asyncpg":
        pytest.importorskip("asyncpg")
    async_url = sa.make_url(url).set(drivername=f"postgresql+{driver}")

    class Base(DeclarativeBase):
        pass

    seq = Sequencing(Base, table_prefix="crdb_err_")

    async def main() -> SequenceBusyError:
        engine = create_async_engine(async_url, isolation_level="SERIALIZABLE")
        try:
            seq.strategies.put(
                engine.sync_engine.dialect,
                CockroachDBCounterStrategy(seq.tables, engine.sync_engine.dialect),
            )
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.drop_all)
                await conn.run_sync(Base.metadata.create_all)
            factory = async_sessionmaker(engine)
            async with factory() as session, session.begin():
                await seq.manager(session).define("hot", "H-{COUNTER}")
            async with factory() as holder, factory() as waiter:
                await holder.begin()
                await waiter.begin()
                await seq.manager(waiter).preview("hot")  # the waiter's snapshot
                assert await seq.manager(holder).generate("hot") == "H-1"
                waiting = asyncio.ensure_future(seq.manager(waiter).generate("hot"))
                await asyncio.sleep(0.3)  # the waiter is queued on the row lock
                await holder.commit()
                with pytest.raises(SequenceBusyError) as caught:
                    await waiting
                await waiter.rollback()
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.drop_all)
            return caught.value
        finally:
            await engine.dispose()

    busy = asyncio.run(main())
    assert busy.retryable
    cause = busy.__cause__
    assert isinstance(cause, DBAPIError)
    assert sqlstate(cause.orig) == "40001"
    assert classify(cause) is Fault.SERIALIZATION
    if driver == "asyncpg":
        # what cockroachdb+asyncpg raises: SQLAlchemy's adapter of asyncpg's error
        assert type(cause.orig).__module__.startswith("sqlalchemy.dialects.postgresql")


def test_an_ambiguous_commit_is_an_unknown_outcome_for_run_in_transaction():
    """40003 at COMMIT means CockroachDB does not know whether it committed:
    run_in_transaction raises CommitOutcomeUnknownError (never a blind rerun)."""
    from sa_sequencing.retry import CommitOutcomeUnknownError
    from sa_sequencing.retry import _at_commit

    exc = wrapped(psycopg.errors.lookup("40003")("result is ambiguous: error=... [exhausted]"))
    assert isinstance(_at_commit(exc), CommitOutcomeUnknownError)
