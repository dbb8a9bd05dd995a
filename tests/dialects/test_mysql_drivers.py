"""The MySQL/MariaDB drivers: PyMySQL, mysqlclient, asyncmy, aiomysql and MariaDB
Connector/Python, on the test server.

For each driver: numbers drawn by threads (or tasks) are exactly 1..N, a counter that
starts at 0 reads back 0, a lock wait that runs out is retried and ends in a
:class:`~sa_sequencing.SequenceBusyError`, a deadlock victim gets a retryable one,
and the error classification works on the driver's own exception objects, provoked
on the server (the drivers keep the error number in different places: ``args[0]``
for PyMySQL, mysqlclient, asyncmy and aiomysql, ``errno`` for MariaDB
Connector/Python).  Each way of reading the counter back (:class:`ReadBack`) is
exercised with every driver that can use it.

A driver that is not installed is skipped, with the reason; under
``SA_SEQUENCING_REQUIRE_SERVERS=1`` (CI) it is a failure: CI installs them all
(the ``test-drivers`` extra, built against the client library ``.ci/run`` installs).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from drivers import DRIVERS
from drivers import Driver
from drivers import provoke
from drivers import run_async
from drivers import sync_engine
from schemas import empty_tables
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from threads import commit_in_threads

from sa_sequencing import SequenceBusyError
from sa_sequencing import SequenceExhaustedError
from sa_sequencing import Sequencing
from sa_sequencing.dialects import ErrorKind
from sa_sequencing.dialects import MySQLCounterStrategy
from sa_sequencing.dialects.mysql import LASTROWID_DRIVERS
from sa_sequencing.dialects.mysql import ReadBack
from sa_sequencing.retry import is_retryable

PREFIX = "drv_"

_selected = os.environ.get("SA_SEQUENCING_TEST_BACKENDS")
MYSQL_SELECTED = not _selected or "mysql" in (b.strip() for b in _selected.split(","))
REQUIRE_SERVERS = os.environ.get("SA_SEQUENCING_REQUIRE_SERVERS") == "1"

pytestmark = pytest.mark.skipif(
    not MYSQL_SELECTED, reason="mysql is not among SA_SEQUENCING_TEST_BACKENDS"
)
#: The database tests run on the ``mysql`` backend alone: conftest's ``url`` for it
#: (the same session fixture as the rest of the suite's, so nothing is set up twice).
ON_MYSQL = pytest.mark.parametrize("backend", ["mysql"], indirect=True)


class DrvBase(DeclarativeBase):
    pass


DRV = Sequencing(DrvBase, table_prefix=PREFIX)


def twin(**options: Any) -> Sequencing:
    """Another Sequencing over the same tables, with other options."""

    class TwinBase(DeclarativeBase):
        pass

    return Sequencing(TwinBase, table_prefix=PREFIX, **options)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def mysql_url(url: str) -> Iterator[str]:
    engine = sa.create_engine(url)
    try:
        DRV.drop_all(engine)
        DRV.create_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS drv_probe")
            conn.exec_driver_sql("CREATE TABLE drv_probe (id INT PRIMARY KEY) ENGINE=InnoDB")
            conn.exec_driver_sql("INSERT INTO drv_probe VALUES (1), (2)")
        yield url
        DRV.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE drv_probe")
    finally:
        engine.dispose()


def usable(driver: Driver, mysql_url: str) -> Driver:
    """``driver``, importable, with the tables emptied; else skip (fail in CI)."""
    try:
        importlib.import_module(driver.module)
    except ImportError as exc:
        reason = (
            f"{driver.drivername}: cannot import {driver.module} ({exc}); "
            f"pip install {driver.distribution or driver.module} (the test-drivers extra)"
        )
        if REQUIRE_SERVERS:
            pytest.fail(f"SA_SEQUENCING_REQUIRE_SERVERS=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    engine = sa.create_engine(mysql_url)
    try:
        empty_tables(engine, DRV.tables.all(), DRV)
    finally:
        engine.dispose()
    return driver


@pytest.fixture(params=DRIVERS, ids=lambda d: d.name)
def driver(request: pytest.FixtureRequest, mysql_url: str) -> Driver:
    return usable(request.param, mysql_url)


def define(mysql_url: str, *definitions: tuple[str, str, int]) -> None:
    engine = sa.create_engine(mysql_url)
    try:
        with Session(engine) as session, session.begin():
            seqs = DRV.manager(session)
            for name, pattern, start in definitions:
                seqs.define(name, pattern, start=start)
    finally:
        engine.dispose()


def lock_waits(mysql_url: str) -> int:
    """How many transactions wait for a lock right now."""
    engine = sa.create_engine(mysql_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.exec_driver_sql(
                    "SELECT COUNT(*) FROM information_schema.innodb_trx "
                    "WHERE trx_state = 'LOCK WAIT'"
                ).scalar_one()
            )
    finally:
        engine.dispose()


def wait_for_lock_wait(mysql_url: str) -> None:
    deadline = time.monotonic() + 10
    while lock_waits(mysql_url) == 0:
        assert time.monotonic() < deadline, "nobody started waiting for the lock"
        time.sleep(0.05)


# --------------------------------------------------------------------------- numbers

THREADS, ROUNDS = 4, 12


@ON_MYSQL
def test_generate_is_gapless_under_concurrency(mysql_url: str, driver: Driver) -> None:
    define(mysql_url, ("inv", "{COUNTER}", 1), ("zero", "Z{COUNTER}", 0))
    if driver.is_async:

        async def work(sessions: Any) -> tuple[list[str], list[str], list[str]]:
            async with sessions() as session, session.begin():
                seqs = DRV.manager(session)
                # 0 is a value too (some drivers report an insert id of 0 as None)
                zeros = [await seqs.generate("zero"), await seqs.generate("zero")]
                many = await seqs.generate_many("inv", 3, scope="😀")

            async def one_task() -> list[str]:
                drawn = []
                for _ in range(ROUNDS):
                    async with sessions() as session, session.begin():
                        drawn.append(await DRV.manager(session).generate("inv"))
                return drawn

            results = await asyncio.gather(*(one_task() for _ in range(THREADS)))
            return zeros, many, [n for drawn in results for n in drawn]

        zeros, many, numbers = run_async(mysql_url, driver, work)
    else:
        with sync_engine(mysql_url, driver) as engine:
            with Session(engine) as session, session.begin():
                seqs = DRV.manager(session)
                zeros = [seqs.generate("zero"), seqs.generate("zero")]
                many = seqs.generate_many("inv", 3, scope="😀")

            def work(_thread: int, _round: int, session: Session) -> str:
                return DRV.manager(session).generate("inv")

            numbers = commit_in_threads(THREADS, ROUNDS, sessionmaker(engine), work, attempts=5)
    assert zeros == ["Z0", "Z1"]
    assert many == ["1", "2", "3"]
    assert sorted(int(n) for n in numbers) == list(range(1, THREADS * ROUNDS + 1))


# --------------------------------------------------------------------------- lock waits


@ON_MYSQL
def test_lock_wait_timeout_is_retried_then_busy(mysql_url: str, driver: Driver) -> None:
    """An outside transaction holds the counter: the driver's 1205 is recognised,
    retried ``lock_retries`` times, then reported as a SequenceBusyError; the waiter's
    transaction is still usable (MySQL rolls back the statement only)."""
    define(mysql_url, ("hot", "H-{COUNTER}", 1))
    impatient = twin(lock_timeout=1, lock_retries=1)
    holder_engine = sa.create_engine(mysql_url)
    holder = Session(holder_engine)
    holder.begin()
    assert DRV.manager(holder).generate("hot") == "H-1"
    began = time.monotonic()
    try:
        if driver.is_async:

            async def work(sessions: Any) -> tuple[BaseException | None, str]:
                async with sessions() as waiter, waiter.begin():
                    seqs = impatient.manager(waiter)
                    try:
                        await seqs.generate("hot")
                    except SequenceBusyError as exc:
                        error: BaseException | None = exc
                    else:
                        error = None
                    await asyncio.get_running_loop().run_in_executor(None, holder.commit)
                    return error, await seqs.generate("hot")

            error, after = run_async(mysql_url, driver, work)
        else:
            with sync_engine(mysql_url, driver) as engine, Session(engine) as waiter:
                waiter.begin()
                seqs = impatient.manager(waiter)
                with pytest.raises(SequenceBusyError) as info:
                    seqs.generate("hot")
                error = info.value
                holder.commit()
                after = seqs.generate("hot")
                waiter.commit()
    finally:
        holder.close()
        holder_engine.dispose()
    assert isinstance(error, SequenceBusyError), error
    assert "2 lock waits" in str(error)
    assert error.retryable is False
    assert error.sequence == "hot"
    assert time.monotonic() - began >= 2  # innodb_lock_wait_timeout = 1, waited twice
    assert after == "H-2"


@ON_MYSQL
def test_deadlock_victim_gets_a_retryable_busy_error(mysql_url: str, driver: Driver) -> None:
    """Two transactions each hold one counter and want the other's: InnoDB rolls one
    back (1213), which must surface as SequenceBusyError(retryable=True)."""
    define(mysql_url, ("x", "X-{COUNTER}", 1), ("y", "Y-{COUNTER}", 1))
    if driver.is_async:

        async def work(sessions: Any) -> list[Any]:
            async with sessions() as a, sessions() as b:
                await a.begin()
                await b.begin()
                await DRV.manager(a).generate("x")
                await DRV.manager(b).generate("y")
                crossing = asyncio.ensure_future(DRV.manager(a).generate("y"))
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, wait_for_lock_wait, mysql_url)
                outcomes = await asyncio.gather(
                    DRV.manager(b).generate("x"), crossing, return_exceptions=True
                )
                await a.rollback()
                await b.rollback()
                return outcomes

        outcomes = run_async(mysql_url, driver, work)
    else:
        with sync_engine(mysql_url, driver) as engine:
            a, b = Session(engine), Session(engine)
            try:
                a.begin()
                b.begin()
                DRV.manager(a).generate("x")
                DRV.manager(b).generate("y")
                crossing: list[Any] = []

                def cross() -> None:
                    try:
                        crossing.append(DRV.manager(a).generate("y"))
                    except BaseException as exc:
                        crossing.append(exc)

                thread = threading.Thread(target=cross)
                thread.start()
                wait_for_lock_wait(mysql_url)
                try:
                    outcomes: list[Any] = [DRV.manager(b).generate("x")]
                except BaseException as exc:
                    outcomes = [exc]
                thread.join(timeout=30)
                outcomes += crossing
            finally:
                a.close()
                b.close()
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(outcomes) == 2 and len(errors) == 1, outcomes
    (error,) = errors
    assert isinstance(error, SequenceBusyError), repr(error)
    assert error.retryable is True
    assert is_retryable(error)


# --------------------------------------------------------------------------- error codes


@ON_MYSQL
def test_errors_are_classified_by_the_drivers_own_code(mysql_url: str, driver: Driver) -> None:
    caught = provoke(mysql_url, driver)
    assert sorted(caught) == [1062, 1205, 1213], caught
    with sync_engine(mysql_url, Driver("pymysql", "mysql+pymysql", "pymysql")) as engine:
        with engine.connect() as conn:
            strategy = DRV.strategy(conn)
    base = driver.error_class()
    expected = {
        1205: ErrorKind.LOCK_TIMEOUT,
        1213: ErrorKind.SERIALIZATION,
        1062: None,
    }
    for code, orig in caught.items():
        wrapped = sa.exc.DBAPIError.instance("SELECT 1", None, orig, base)
        assert isinstance(wrapped, sa.exc.DBAPIError)
        assert wrapped.orig is orig
        assert strategy.classify(wrapped) is expected[code], (code, repr(orig))
        assert is_retryable(wrapped) is (code == 1213), (code, repr(orig))


# --------------------------------------------------------------------------- read-back


def in_session(mysql_url: str, driver: Driver, body: Callable[[Session], Any]) -> Any:
    """``body(session)`` in a committed transaction of ``driver`` (through
    ``run_sync`` for an async driver)."""
    if driver.is_async:

        async def work(sessions: Any) -> Any:
            async with sessions() as session, session.begin():
                return await session.run_sync(body)

        return run_async(mysql_url, driver, work)
    with sync_engine(mysql_url, driver) as engine, Session(engine) as session, session.begin():
        return body(session)


@ON_MYSQL
def test_read_back_per_driver(mysql_url: str, driver: Driver) -> None:
    """The fast path where the driver has it; MariaDB's RETURNING for the others."""

    def mode(session: Session) -> tuple[ReadBack, bool]:
        conn = session.connection()
        return DRV.strategy(conn).read_back, conn.dialect.is_mariadb

    read_back, mariadb = in_session(mysql_url, driver, mode)
    if driver.name == "mariadbconnector":
        assert read_back is (ReadBack.RETURNING if mariadb else ReadBack.SELECT)
    else:
        assert read_back is ReadBack.LASTROWID


def test_read_back_without_returning_selects_last_insert_id() -> None:
    from sqlalchemy.dialects.mysql import mariadbconnector

    dialect = mariadbconnector.dialect()
    dialect.insert_returning = False  # MySQL, or MariaDB before 10.5
    assert MySQLCounterStrategy(DRV.tables, dialect).read_back is ReadBack.SELECT


@ON_MYSQL
@pytest.mark.filterwarnings("ignore::sa_sequencing.SequenceExhaustionWarning")
@pytest.mark.parametrize("read_back", list(ReadBack), ids=lambda r: r.value)
def test_every_read_back_reads_the_counter(
    mysql_url: str, driver: Driver, read_back: ReadBack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each way of reading the new value, forced, with each driver that can use it:
    the first value of a counter (inserted), the next ones (updated), a value of 0,
    runs of numbers, and a draw past the capacity, undone."""
    if read_back is ReadBack.LASTROWID and driver.name not in LASTROWID_DRIVERS:
        pytest.skip(f"{driver.name} does not report the insert id in lastrowid")
    if read_back is ReadBack.RETURNING and not in_session(
        mysql_url, driver, lambda s: s.connection().dialect.insert_returning
    ):
        pytest.skip("INSERT ... RETURNING needs MariaDB 10.5+")
    monkeypatch.setattr(MySQLCounterStrategy, "read_back", property(lambda self: read_back))
    define(mysql_url, ("zero", "Z{COUNTER}", 0), ("cap", "C{COUNTER:1}", 8))

    def draw(session: Session) -> list[Any]:
        seqs = DRV.manager(session)
        drawn: list[Any] = [seqs.generate("zero"), seqs.generate("zero")]
        drawn += seqs.generate_many("zero", 3)
        drawn += [seqs.generate("cap"), seqs.generate("cap")]
        for _ in range(2):
            with pytest.raises(SequenceExhaustedError):
                seqs.generate("cap")
        drawn.append(seqs.preview("zero"))
        return drawn

    assert in_session(mysql_url, driver, draw) == ["Z0", "Z1", "Z2", "Z3", "Z4", "C8", "C9", "Z5"]
    check = sa.create_engine(mysql_url)
    try:
        with check.connect() as conn:
            c = DRV.tables.counters
            values = dict(conn.execute(sa.select(c.c.sequence_id, c.c.value)).all())
    finally:
        check.dispose()
    assert sorted(values.values()) == [4, 9]  # the undone draw left "cap" at 9


@ON_MYSQL
def test_a_long_run_of_numbers_is_rendered_and_audited(mysql_url: str, driver: Driver) -> None:
    """generate_many writes its ledger rows with one recursive statement on MariaDB:
    its counting column must not take the type of the first bound value (a TINYINT
    through MariaDB Connector/Python's binary protocol, which overflowed at 128)."""
    define(mysql_url, ("run", "R-{COUNTER:3}", 1))

    def draw(session: Session) -> tuple[list[str], list[Any]]:
        seqs = DRV.manager(session)
        numbers = seqs.generate_many("run", 300)
        entries = [e for e in seqs.audit_log("run", limit=None) if e.event == "number_generated"]
        return numbers, [(e.number, e.counter_value) for e in entries]

    numbers, audited = in_session(mysql_url, driver, draw)
    assert numbers == [f"R-{n:03d}" for n in range(1, 301)]
    assert audited == [(f"R-{n:03d}", n) for n in range(1, 301)]
