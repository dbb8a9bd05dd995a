"""Dialect strategies: lock timeouts and retries, the generic fallback, SQLite's
``BEGIN IMMEDIATE``, and whole-transaction retries."""

from __future__ import annotations

import threading
import time
from datetime import date
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from threads import Cancelled
from threads import commit_in_threads

from sa_sequencing import CounterStrategy
from sa_sequencing import SequenceBusyError
from sa_sequencing import Sequencing
from sa_sequencing import UnsupportedDialectError
from sa_sequencing import run_in_transaction
from sa_sequencing.dialects import registered_strategy
from sa_sequencing.dialects.sqlite import on_begin
from sa_sequencing.retry import is_retryable
from sa_sequencing.sqlite import begin_immediate
from sa_sequencing.sqlite import remove_begin_immediate


def twin(**options):
    """Another Sequencing over the same (already created) tables."""

    class TwinBase(DeclarativeBase):
        pass

    return Sequencing(TwinBase, **options)


def test_registry_picks_strategies_by_dialect(engine):
    expected = {
        "sqlite": "SQLiteCounterStrategy",
        "postgresql": "PostgreSQLCounterStrategy",
        "mysql": "MySQLCounterStrategy",
        "mariadb": "MariaDBCounterStrategy",
    }
    assert registered_strategy(engine.dialect).__name__ == expected[engine.dialect.name]

    class Unknown:
        name = "oracle"

    assert registered_strategy(Unknown()) is CounterStrategy


def test_lock_timeout_is_retried_then_busy(engine, tx, sequencing, sessions):
    with tx() as seqs:
        seqs.define("hot", "H-{COUNTER}")
    impatient = twin(lock_timeout=0.2, lock_retries=1)
    holder = sessions()
    holder.begin()
    assert sequencing.manager(holder).generate("hot") == "H-1"
    try:
        with sessions() as waiter:
            waiter.begin()
            began = time.monotonic()
            with pytest.raises(SequenceBusyError, match=r"'hot'.*2 lock waits") as info:
                impatient.manager(waiter).generate("hot")
            assert time.monotonic() - began >= 0.3
            assert info.value.retryable is False
            assert info.value.sequence == "hot"
            figures = impatient.stats.figures("hot")
            assert figures.failures == 2
            if engine.dialect.name != "sqlite":
                # the savepoint (PostgreSQL) or statement rollback (MySQL) kept the
                # waiter's transaction usable: it can go on once the holder commits
                holder.commit()
                assert impatient.manager(waiter).generate("hot") == "H-2"
                waiter.commit()
            else:
                waiter.rollback()
                holder.commit()
    finally:
        holder.close()
    with tx() as seqs:
        numbers = [e.number for e in seqs.audit_log("hot") if e.event == "number_generated"]
    assert numbers == (["H-1", "H-2"] if engine.dialect.name != "sqlite" else ["H-1"])


def test_waiter_succeeds_when_lock_is_released_within_retries(tx, sequencing, sessions):
    with tx() as seqs:
        seqs.define("hot", "H-{COUNTER}")
    patient = twin(lock_timeout=1.0, lock_retries=5)
    holder = sessions()
    holder.begin()
    sequencing.manager(holder).generate("hot")
    releaser = threading.Timer(0.5, holder.commit)
    releaser.start()
    try:
        with sessions() as waiter, waiter.begin():
            assert patient.manager(waiter).generate("hot") == "H-2"
    finally:
        releaser.join()
        holder.close()


def _generic(engine):
    seq = twin()
    seq.strategies.put(
        engine.dialect, CounterStrategy(seq.tables, engine.dialect, stats=seq.stats)
    )
    return seq


def test_generic_strategy_on_every_database(engine, tx, sequencing):
    generic = _generic(engine)
    with tx() as seqs:
        seqs.define("g", "G-{YEAR}-{COUNTER:2}", reset_period="yearly")
    with Session(engine) as session, session.begin():
        seqs = generic.manager(session)
        assert type(generic.strategy(session.connection())) is CounterStrategy
        assert seqs.generate("g", date=date(2026, 1, 1)) == "G-2026-01"
        assert seqs.generate_many("g", 2, date=date(2026, 1, 1)) == [
            "G-2026-02",
            "G-2026-03",
        ]
        assert seqs.preview("g", date=date(2027, 1, 1)) == "G-2027-01"


def test_generic_strategy_is_gapless_under_threads(engine, url, tx, sequencing):
    """The fallback's SELECT ... FOR UPDATE; on SQLite it needs BEGIN IMMEDIATE."""
    own_engine = (
        sa.create_engine(url, pool_size=10)
        if engine.dialect.name != "sqlite"
        else sa.create_engine(url)
    )
    if own_engine.dialect.name == "sqlite":
        begin_immediate(own_engine)
    generic = _generic(own_engine)
    with tx() as seqs:
        seqs.define("g", "{COUNTER}")

    def work(_thread: int, i: int, session: Session) -> int:
        number = int(generic.manager(session).generate("g"))
        if i % 5 == 4:
            raise Cancelled  # rolled back on purpose
        return number

    # InnoDB may pick a first-use deadlock victim: the documented cure is to run the
    # transaction again.
    try:
        factory = sessionmaker(own_engine)
        committed = commit_in_threads(4, 15, factory, work, attempts=5, backoff=0.01)
    finally:
        own_engine.dispose()
    assert sorted(committed) == list(range(1, len(committed) + 1))


def test_begin_immediate_is_idempotent_and_removable(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path}/bi.db")
    begin_immediate(engine)
    begin_immediate(engine)
    assert sa.event.contains(engine, "begin", on_begin)
    seq = twin()
    seq.create_all(engine)
    with Session(engine) as session, session.begin():
        # a read first, then numbers: safe because the write lock came with BEGIN
        session.execute(sa.text("select 1"))
        seqs = seq.manager(session)
        seqs.define("x", "X-{COUNTER}")
        assert seqs.generate("x") == "X-1"
        assert session.connection().connection.dbapi_connection.in_transaction
    remove_begin_immediate(engine)
    remove_begin_immediate(engine)
    assert not sa.event.contains(engine, "begin", on_begin)
    with Session(engine) as session, session.begin():
        assert seq.manager(session).generate("x") == "X-2"
    engine.dispose()
    with pytest.raises(ValueError, match="SQLite"):
        begin_immediate(sa.create_engine("postgresql+psycopg://nobody@localhost/none"))


def test_sqlite_without_returning_requires_begin_immediate(tmp_path, monkeypatch):
    engine = sa.create_engine(f"sqlite:///{tmp_path}/old.db")
    seq = twin()
    seq.create_all(engine)
    with Session(engine) as session, session.begin():
        seq.manager(session).define("x", "X-{COUNTER}")
    monkeypatch.setattr(engine.dialect, "insert_returning", False)
    with Session(engine) as session, session.begin():
        with pytest.raises(UnsupportedDialectError, match="begin_immediate"):
            seq.manager(session).generate("x")
    begin_immediate(engine)
    with Session(engine) as session, session.begin():
        assert seq.manager(session).generate("x") == "X-1"
    engine.dispose()


def test_serialization_failure_is_retried_by_run_in_transaction(engine, url, tx, sequencing):
    if engine.dialect.name != "postgresql":
        pytest.skip("REPEATABLE READ serialization failures are PostgreSQL's")
    with tx() as seqs:
        seqs.define("rr", "RR-{COUNTER}")
    rr_engine = sa.create_engine(url, isolation_level="REPEATABLE READ")
    factory = sessionmaker(rr_engine)
    attempts: list[str] = []

    def work(session: Session) -> str:
        seqs = sequencing.manager(session)
        session.execute(sa.text("select 1"))  # takes the snapshot
        if not attempts:
            # another transaction draws and commits after our snapshot
            with Session(engine) as other, other.begin():
                sequencing.manager(other).generate("rr")
        attempts.append("try")
        return seqs.generate("rr")

    try:
        assert run_in_transaction(factory, work, attempts=3) == "RR-2"
    finally:
        rr_engine.dispose()
    assert attempts == ["try", "try"]
    with tx() as seqs:
        assert seqs.generate("rr") == "RR-3"


def test_run_in_transaction_gives_up_after_attempts_and_only_on_retryable(sessions):
    calls = []

    def always_busy(session):
        calls.append(1)
        raise SequenceBusyError("busy", retryable=True)

    with pytest.raises(SequenceBusyError):
        run_in_transaction(sessions, always_busy, attempts=2, backoff=0)
    assert len(calls) == 2

    def not_retryable(session):
        calls.append(1)
        raise SequenceBusyError("busy", retryable=False)

    calls.clear()
    with pytest.raises(SequenceBusyError):
        run_in_transaction(sessions, not_retryable, attempts=3, backoff=0)
    assert len(calls) == 1
    with pytest.raises(ValueError, match="attempts"):
        run_in_transaction(sessions, not_retryable, attempts=0)


def test_is_retryable_knows_the_error_codes():
    class PgError(Exception):
        sqlstate = "40001"

    class MyError(Exception):
        pass

    assert is_retryable(sa.exc.OperationalError("x", {}, PgError()))
    assert is_retryable(sa.exc.OperationalError("x", {}, MyError(1213, "Deadlock found")))
    assert not is_retryable(sa.exc.OperationalError("x", {}, MyError(1062, "Duplicate")))
    assert not is_retryable(ValueError("x"))


def test_precompiled_statements_write_what_the_constructs_write(engine, tx, sequencing):
    """The hot-path statements run as SQL compiled once per dialect; with a
    ``schema_translate_map`` they run as constructs.  Both must write the same rows:
    the same counter, numbers, ledger data and aware UTC times."""
    with tx() as seqs:
        seqs.define("pc", "PC-{YEAR}-{DEPT}-{COUNTER:3}", reset_period="yearly")
    ctx = {"DEPT": "Ünïcode"}
    on = date(2026, 3, 1)
    with Session(engine) as session, session.begin():
        seqs = sequencing.manager(session)
        prepared = [seqs.generate("pc", context=ctx, date=on, performed_by="ann")]
        prepared += seqs.generate_many("pc", 2, context=ctx, date=on)
    translated = engine.execution_options(schema_translate_map={None: None})
    with Session(translated) as session, session.begin():
        seqs = sequencing.manager(session)
        constructs = [seqs.generate("pc", context=ctx, date=on, performed_by="ann")]
        constructs += seqs.generate_many("pc", 2, context=ctx, date=on)
    assert prepared == ["PC-2026-Ünïcode-001", "PC-2026-Ünïcode-002", "PC-2026-Ünïcode-003"]
    assert constructs == ["PC-2026-Ünïcode-004", "PC-2026-Ünïcode-005", "PC-2026-Ünïcode-006"]
    with tx() as seqs:
        entries = [e for e in seqs.audit_log("pc") if e.event == "number_generated"]
    assert [e.number for e in entries] == prepared + constructs
    assert [e.performed_by for e in entries] == ["ann", None, None, "ann", None, None]
    expected = {"date": "2026-03-01", "period": "2026", "context": ctx}
    assert all(e.data == expected for e in entries)
    assert all(e.created_at.utcoffset() == timedelta(0) for e in entries)
    times = [e.created_at for e in entries]
    assert times == sorted(times)


def test_a_long_run_of_numbers_is_audited_number_by_number(tx, sequencing):
    """generate_many writes one ledger row per number, rendered by the database where
    it can (past MariaDB's 1000-row limit on recursive CTEs too), in counter order."""
    with tx() as seqs:
        seqs.define("run", "R-{COUNTER:4}-X")
        seqs.generate("run")
    with tx() as seqs:
        numbers = seqs.generate_many("run", 1500, performed_by="batch")
    assert numbers == [f"R-{n:04d}-X" for n in range(2, 1502)]
    with tx() as seqs:
        rows = [e for e in seqs.audit_log("run", limit=None) if e.event == "number_generated"]
    assert [e.number for e in rows] == ["R-0001-X", *numbers]
    assert [e.counter_value for e in rows] == list(range(1, 1502))
    assert {e.performed_by for e in rows[1:]} == {"batch"}
    assert all(e.data == {"date": rows[0].data["date"]} for e in rows)


def test_nested_savepoints_keep_their_own_names(engine, tx, sequencing, sessions):
    """A savepoint inside another rolls back and releases only its own work (on MySQL a
    SAVEPOINT of the same name would replace the outer one, whose RELEASE then fails)."""
    from sa_sequencing.store.savepoint import Savepoint

    with tx() as seqs:
        seqs.define("outer", "O-{COUNTER}")
        seqs.define("inner", "I-{COUNTER}")
    with sessions() as session, session.begin():
        seqs = sequencing.manager(session)
        conn = session.connection()
        with Savepoint(conn):
            seqs.generate("outer")
            with Savepoint(conn) as rollback:
                seqs.generate("inner")
                rollback()
            seqs.generate("outer")
    with tx() as seqs:
        assert seqs.preview("outer") == "O-3"
        assert seqs.preview("inner") == "I-1"


def test_mysql_errors_are_classified_by_the_drivers_code_attribute():
    """PyMySQL, mysqlclient, asyncmy and aiomysql raise ``Error(code, message)``; MariaDB
    Connector/Python ``Error(message)`` with the code in ``errno`` (its own exception
    objects are tested in test_mysql_drivers)."""
    from sqlalchemy.dialects import mysql

    from sa_sequencing.dialects import ErrorKind
    from sa_sequencing.dialects import MySQLCounterStrategy
    from sa_sequencing.dialects.mysql import driver_error_code

    class ArgsError(Exception):
        pass

    class ErrnoError(Exception):
        def __init__(self, message: str, errno: int | None) -> None:
            super().__init__(message)
            self.errno = errno

    strategy = MySQLCounterStrategy(twin().tables, mysql.dialect())
    cases = [
        (ArgsError(1205, "Lock wait timeout exceeded"), 1205, ErrorKind.LOCK_TIMEOUT),
        (ArgsError(1213, "Deadlock found"), 1213, ErrorKind.SERIALIZATION),
        (ArgsError(1062, "Duplicate entry"), 1062, None),
        (ErrnoError("Lock wait timeout exceeded", 1205), 1205, ErrorKind.LOCK_TIMEOUT),
        (ErrnoError("Deadlock found", 1213), 1213, ErrorKind.SERIALIZATION),
        (ErrnoError("Cursor is closed", None), None, None),
        (ArgsError("1213"), None, None),
        (ArgsError(), None, None),
    ]
    for orig, code, kind in cases:
        assert driver_error_code(orig) == code, repr(orig)
        assert strategy.classify(sa.exc.OperationalError("x", {}, orig)) is kind, repr(orig)
