"""faults.classify on real errors, provoked on each real database: deadlocks, lock
waits, serialization failures, busy SQLite files, killed connections; through
SQLAlchemy's wrapper and as the driver's own exception."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from drivers import DRIVERS
from drivers import Driver
from drivers import driver_url
from drivers import provoke
from sqlalchemy.exc import DBAPIError

from sa_sequencing import SequenceBusyError
from sa_sequencing.faults import Fault
from sa_sequencing.faults import classify


def only(backend: str, wanted: str) -> None:
    if backend != wanted:
        pytest.skip(f"{wanted} only")


@pytest.fixture(scope="module")
def pg(backend: str, url: str) -> Iterator[sa.Engine]:
    only(backend, "postgresql")
    engine = sa.create_engine(url, pool_size=5)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS fault_probe")
        conn.exec_driver_sql("CREATE TABLE fault_probe (id INT PRIMARY KEY, v INT)")
        conn.exec_driver_sql("INSERT INTO fault_probe VALUES (1, 0), (2, 0)")
    yield engine
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE fault_probe")
    engine.dispose()


@pytest.fixture(scope="module")
def my(backend: str, url: str) -> Iterator[sa.Engine]:
    only(backend, "mysql")
    engine = sa.create_engine(url, pool_size=5)
    with engine.begin() as conn:
        for table, columns in (
            ("fault_probe", "id INT PRIMARY KEY, v INT"),
            ("drv_probe", "id INT PRIMARY KEY"),
        ):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            conn.exec_driver_sql(f"CREATE TABLE {table} ({columns}) ENGINE=InnoDB")
        conn.exec_driver_sql("INSERT INTO fault_probe VALUES (1, 0), (2, 0)")
        conn.exec_driver_sql("INSERT INTO drv_probe VALUES (1), (2)")
    yield engine
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE fault_probe")
        conn.exec_driver_sql("DROP TABLE drv_probe")
    engine.dispose()


def both(exc: BaseException) -> tuple[Fault, Fault]:
    """The fault of SQLAlchemy's wrapper and of the driver's exception under it."""
    assert isinstance(exc, DBAPIError), exc
    return classify(exc), classify(exc.orig)


def cross_lock(engine: sa.Engine, lock_sql: str, setup: str = "") -> list[BaseException]:
    """Two transactions each lock one row, then want the other's: a real deadlock.
    Return the errors the two met (the victim's)."""
    errors: list[BaseException] = []
    locked = threading.Barrier(2)

    def run(i: int) -> None:
        with engine.connect() as conn:
            if setup:
                conn.exec_driver_sql(setup)
                conn.commit()
            try:
                with conn.begin():
                    conn.exec_driver_sql(lock_sql.format(id=i + 1))
                    locked.wait(10)
                    time.sleep(0.2 * i)  # the second asks when the first already waits
                    conn.exec_driver_sql(lock_sql.format(id=2 - i))
            except DBAPIError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


def held_lock(
    engine: sa.Engine, lock_sql: str, wait: Callable[[sa.Connection], None]
) -> BaseException:
    """One connection holds row 1; another, set up by ``wait``, asks for it: the
    waiter's error."""
    with engine.connect() as holder, holder.begin():
        holder.exec_driver_sql(lock_sql.format(id=1))
        with engine.connect() as waiter:
            wait(waiter)
            waiter.commit()  # a session setting: it stays
            with pytest.raises(DBAPIError) as caught, waiter.begin():
                waiter.exec_driver_sql(lock_sql.format(id=1))
    return caught.value


def killed(engine: sa.Engine, pid_sql: str, kill_sql: str) -> BaseException:
    """The error of a statement on a connection the server killed (terminated from
    another connection)."""
    with engine.connect() as victim:
        pid = victim.exec_driver_sql(pid_sql).scalar_one()
        with engine.connect() as killer:
            killer.exec_driver_sql(kill_sql.format(pid=pid))
        time.sleep(0.3)  # the server ends the session asynchronously
        with pytest.raises(DBAPIError) as caught:
            victim.exec_driver_sql("SELECT 1")
    return caught.value


# -- PostgreSQL -------------------------------------------------------------------------

PG_LOCK = "SELECT id FROM fault_probe WHERE id = {id} FOR UPDATE"


def test_postgresql_deadlock_is_a_serialization_fault(pg: sa.Engine) -> None:
    errors = cross_lock(pg, PG_LOCK)
    assert len(errors) == 1
    assert getattr(errors[0], "orig").sqlstate == "40P01"  # noqa: B009
    assert both(errors[0]) == (Fault.SERIALIZATION, Fault.SERIALIZATION)


def test_postgresql_serializable_conflict_is_a_serialization_fault(pg: sa.Engine) -> None:
    """Two SERIALIZABLE transactions read a row; the second to write it after the
    first committed is refused with 40001."""
    serializable = pg.execution_options(isolation_level="SERIALIZABLE")
    with serializable.connect() as one, serializable.connect() as two:
        one.begin()
        two.begin()
        one.exec_driver_sql("SELECT v FROM fault_probe WHERE id = 1").all()
        two.exec_driver_sql("SELECT v FROM fault_probe WHERE id = 1").all()
        two.exec_driver_sql("UPDATE fault_probe SET v = v + 1 WHERE id = 1")
        two.commit()
        with pytest.raises(DBAPIError) as caught:
            one.exec_driver_sql("UPDATE fault_probe SET v = v + 1 WHERE id = 1")
        one.rollback()
    assert getattr(caught.value.orig, "sqlstate", None) == "40001"
    assert both(caught.value) == (Fault.SERIALIZATION, Fault.SERIALIZATION)


def test_postgresql_lock_timeout_is_a_lock_wait(pg: sa.Engine) -> None:
    exc = held_lock(pg, PG_LOCK, lambda c: c.exec_driver_sql("SET lock_timeout = '150ms'"))
    assert getattr(exc, "orig").sqlstate == "55P03"  # noqa: B009
    assert both(exc) == (Fault.LOCK_WAIT, Fault.LOCK_WAIT)


def test_postgresql_terminated_backend_is_a_lost_connection(pg: sa.Engine) -> None:
    exc = killed(pg, "SELECT pg_backend_pid()", "SELECT pg_terminate_backend({pid})")
    assert getattr(exc, "connection_invalidated", False)
    assert both(exc) == (Fault.CONNECTION_LOST, Fault.CONNECTION_LOST)


def test_raw_psycopg_errors_are_classified(pg: sa.Engine) -> None:
    """The driver's own exceptions, from its own connections (no SQLAlchemy)."""
    import psycopg

    params = pg.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(params) as victim, psycopg.connect(params, autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", (victim.info.backend_pid,))
        time.sleep(0.3)
        with pytest.raises(psycopg.OperationalError) as lost:
            victim.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError) as closed:
            victim.execute("SELECT 1")  # the connection is closed now
    assert classify(lost.value) is Fault.CONNECTION_LOST
    assert classify(closed.value) is Fault.CONNECTION_LOST
    bad = pg.url.set(drivername="postgresql", port=1).render_as_string(hide_password=False)
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(bad, connect_timeout=3)
    assert classify(refused.value) is Fault.NOT_READY
    with psycopg.connect(params) as conn, pytest.raises(psycopg.Error) as other:
        conn.execute("SELECT 1 / 0")
    assert classify(other.value) is Fault.OTHER


# -- MySQL / MariaDB ---------------------------------------------------------------------

MY_LOCK = "SELECT id FROM fault_probe WHERE id = {id} FOR UPDATE"


def test_mysql_deadlock_is_a_serialization_fault(my: sa.Engine) -> None:
    errors = cross_lock(my, MY_LOCK, setup="SET SESSION innodb_lock_wait_timeout = 20")
    assert len(errors) == 1
    assert getattr(errors[0], "orig").args[0] == 1213  # noqa: B009
    assert both(errors[0]) == (Fault.SERIALIZATION, Fault.SERIALIZATION)


def test_mysql_lock_wait_timeout_and_nowait_are_lock_waits(my: sa.Engine) -> None:
    wait = held_lock(
        my, MY_LOCK, lambda c: c.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
    )
    assert getattr(wait, "orig").args[0] == 1205  # noqa: B009
    assert both(wait) == (Fault.LOCK_WAIT, Fault.LOCK_WAIT)
    nowait = held_lock(my, MY_LOCK + " NOWAIT", lambda c: None)
    # MariaDB reports NOWAIT as 1205, MySQL 8 as 3572
    assert getattr(nowait, "orig").args[0] in (1205, 3572)  # noqa: B009
    assert both(nowait) == (Fault.LOCK_WAIT, Fault.LOCK_WAIT)


def test_mysql_killed_connection_is_a_lost_connection(my: sa.Engine) -> None:
    exc = killed(my, "SELECT CONNECTION_ID()", "KILL {pid}")
    assert getattr(exc, "connection_invalidated", False)
    assert both(exc) == (Fault.CONNECTION_LOST, Fault.CONNECTION_LOST)


def test_mysql_killed_during_a_statement_is_a_lost_connection(my: sa.Engine) -> None:
    """KILL while the statement runs: MariaDB's 1927 or the client's 2013."""
    with my.connect() as victim:
        pid = victim.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one()

        def kill() -> None:
            time.sleep(0.3)
            with my.connect() as killer:
                killer.exec_driver_sql(f"KILL {pid}")

        thread = threading.Thread(target=kill)
        thread.start()
        with pytest.raises(DBAPIError) as caught:
            victim.exec_driver_sql("SELECT SLEEP(5)")
        thread.join()
    assert getattr(caught.value, "orig").args[0] in (1927, 2013)  # noqa: B009
    assert both(caught.value) == (Fault.CONNECTION_LOST, Fault.CONNECTION_LOST)


@pytest.mark.parametrize("driver", DRIVERS, ids=lambda d: d.name)
def test_each_mysql_drivers_own_errors_are_classified(my: sa.Engine, driver: Driver) -> None:
    """1205, 1213 and 1062, raised by each driver's own connections: the error number
    is in ``args[0]`` or ``errno`` depending on the driver."""
    pytest.importorskip(driver.module)
    caught = provoke(my.url.render_as_string(hide_password=False), driver)
    assert sorted(caught) == [1062, 1205, 1213]
    assert classify(caught[1205]) is Fault.LOCK_WAIT
    assert classify(caught[1213]) is Fault.SERIALIZATION
    assert classify(caught[1062]) is Fault.OTHER


@pytest.mark.parametrize("driver", DRIVERS, ids=lambda d: d.name)
def test_each_mysql_driver_reports_a_killed_connection(my: sa.Engine, driver: Driver) -> None:
    pytest.importorskip(driver.module)
    url = driver_url(my.url.render_as_string(hide_password=False), driver)

    def kill(pid: int) -> None:
        with my.connect() as killer:
            killer.exec_driver_sql(f"KILL {pid}")
        time.sleep(0.3)

    if driver.is_async:
        import asyncio

        from sqlalchemy.ext.asyncio import create_async_engine

        async def main() -> BaseException:
            engine = create_async_engine(url)
            try:
                async with engine.connect() as conn:
                    pid = (await conn.exec_driver_sql("SELECT CONNECTION_ID()")).scalar_one()
                    kill(pid)
                    with pytest.raises(DBAPIError) as caught:
                        await conn.exec_driver_sql("SELECT 1")
                    return caught.value
            finally:
                await engine.dispose()

        exc = asyncio.run(main())
    else:
        engine = sa.create_engine(url)
        try:
            exc = killed(engine, "SELECT CONNECTION_ID()", "KILL {pid}")
        finally:
            engine.dispose()
    assert both(exc) == (Fault.CONNECTION_LOST, Fault.CONNECTION_LOST)


# -- SQLite ------------------------------------------------------------------------------


@pytest.fixture
def sqlite_file(backend: str, tmp_path: Any) -> str:
    only(backend, "sqlite")
    path = str(tmp_path / "faults.db")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INT)")
        conn.execute("INSERT INTO t VALUES (1, 0)")
        conn.commit()
    return path


def test_sqlite_database_is_locked_is_a_lock_wait(sqlite_file: str) -> None:
    engine = sa.create_engine(f"sqlite:///{sqlite_file}", connect_args={"timeout": 0.1})
    try:
        with engine.connect() as holder:
            holder.exec_driver_sql("BEGIN IMMEDIATE")
            holder.exec_driver_sql("UPDATE t SET v = 1")
            with engine.connect() as waiter, pytest.raises(DBAPIError) as caught:
                waiter.exec_driver_sql("UPDATE t SET v = 2")
            holder.exec_driver_sql("ROLLBACK")
    finally:
        engine.dispose()
    assert "database is locked" in str(caught.value)
    assert both(caught.value) == (Fault.LOCK_WAIT, Fault.LOCK_WAIT)


def test_sqlite_stale_snapshot_is_a_serialization_fault(sqlite_file: str) -> None:
    """WAL: a transaction that read before another committed cannot write any more
    (SQLITE_BUSY_SNAPSHOT, also "database is locked"); waiting cannot cure it, running
    the transaction again does."""
    with (
        contextlib.closing(sqlite3.connect(sqlite_file, timeout=0.5, isolation_level=None)) as one,
        contextlib.closing(sqlite3.connect(sqlite_file, timeout=0.5, isolation_level=None)) as two,
    ):
        one.execute("BEGIN")
        one.execute("SELECT v FROM t").fetchall()
        two.execute("UPDATE t SET v = v + 1")
        with pytest.raises(sqlite3.OperationalError) as caught:
            one.execute("UPDATE t SET v = v + 1")
        one.execute("ROLLBACK")
    if not hasattr(caught.value, "sqlite_errorcode"):
        pytest.skip("Python < 3.11: sqlite3 errors carry no error code")
    assert caught.value.sqlite_errorcode == 517  # SQLITE_BUSY_SNAPSHOT
    assert classify(caught.value) is Fault.SERIALIZATION


# -- the library's own errors ------------------------------------------------------------


def test_sequence_busy_errors_keep_their_meaning() -> None:
    assert classify(SequenceBusyError("x", retryable=True)) is Fault.SERIALIZATION
    assert classify(SequenceBusyError("x")) is Fault.LOCK_WAIT
    assert classify(ValueError("x")) is Fault.OTHER
    assert [f for f in Fault if f.retryable] == [
        Fault.SERIALIZATION,
        Fault.NOT_READY,
        Fault.CONNECTION_LOST,
    ]
