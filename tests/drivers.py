"""The MySQL/MariaDB drivers the tests run: how to reach each one and how to make
each raise its own real exceptions (for tests/test_mysql_drivers.py)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from threads import run_together

from sa_sequencing.dialects.mysql import driver_error_code


@dataclass(frozen=True)
class Driver:
    name: str
    drivername: str
    module: str
    is_async: bool = False
    distribution: str = ""
    """What to pip install, where it is not called like the module."""

    def error_class(self) -> type[BaseException]:
        """The driver's DB-API ``Error``."""
        module = importlib.import_module(self.module)
        if self.module == "asyncmy":
            return importlib.import_module("asyncmy.errors").Error  # type: ignore[no-any-return]
        return module.Error  # type: ignore[no-any-return]


DRIVERS = [
    Driver("pymysql", "mysql+pymysql", "pymysql"),
    Driver("mysqldb", "mysql+mysqldb", "MySQLdb", distribution="mysqlclient"),
    Driver("asyncmy", "mysql+asyncmy", "asyncmy", is_async=True),
    Driver("aiomysql", "mysql+aiomysql", "aiomysql", is_async=True),
    Driver("mariadbconnector", "mariadb+mariadbconnector", "mariadb"),
]


def driver_url(mysql_url: str, driver: Driver) -> str:
    url = sa.make_url(mysql_url).set(drivername=driver.drivername)
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def sync_engine(mysql_url: str, driver: Driver) -> Iterator[sa.Engine]:
    engine = sa.create_engine(driver_url(mysql_url, driver), pool_size=10)
    try:
        yield engine
    finally:
        engine.dispose()


def run_async(mysql_url: str, driver: Driver, work: Callable[[Any], Any]) -> Any:
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from sqlalchemy.ext.asyncio import create_async_engine

    async def main() -> Any:
        engine = create_async_engine(driver_url(mysql_url, driver), pool_size=10)
        try:
            return await work(async_sessionmaker(engine, expire_on_commit=False))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def provoke(mysql_url: str, driver: Driver) -> dict[int, BaseException]:
    """Real exceptions of ``driver``, by error number: a lock wait timeout (1205), a
    deadlock (1213), a duplicate key (1062), through its own DB-API connections, on
    the table ``drv_probe (id INT PRIMARY KEY)`` holding the rows 1 and 2."""
    url = sa.make_url(mysql_url)
    params = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 3306,
        "user": url.username or "root",
        "password": url.password or "",
        "database": url.database,
    }
    if driver.is_async:
        return asyncio.run(_provoke_async(driver, params))
    module = importlib.import_module(driver.module)
    if driver.module == "MySQLdb":
        params["passwd"] = params.pop("password")
    connections = [module.connect(**params) for _ in range(2)]
    try:
        return _provoke(connections, driver.error_class())
    finally:
        for conn in connections:
            with contextlib.suppress(Exception):
                conn.close()


def _provoke(connections: list[Any], error: type[BaseException]) -> dict[int, BaseException]:
    one, two = (conn.cursor() for conn in connections)
    caught: dict[int, BaseException] = {}

    def attempt(cursor: Any, sql: str) -> None:
        try:
            cursor.execute(sql)
        except error as exc:
            caught[len(caught)] = exc

    for cursor in (one, two):
        cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
        cursor.execute("SET autocommit = 0")
    one.execute("SELECT id FROM drv_probe WHERE id = 1 FOR UPDATE")
    one.fetchall()
    attempt(two, "SELECT id FROM drv_probe WHERE id = 1 FOR UPDATE")  # 1205
    two.execute("ROLLBACK")
    two.execute("SELECT id FROM drv_probe WHERE id = 2 FOR UPDATE")
    two.fetchall()

    def cross(i: int) -> None:
        cursor, row = ((one, 2), (two, 1))[i]
        if i == 1:
            time.sleep(0.3)  # let the first wait begin
        attempt(cursor, f"SELECT id FROM drv_probe WHERE id = {row} FOR UPDATE")

    run_together(2, cross)  # one of the two is the deadlock victim: 1213
    one.execute("ROLLBACK")
    two.execute("ROLLBACK")
    attempt(one, "INSERT INTO drv_probe VALUES (1)")  # 1062
    one.execute("ROLLBACK")
    return {driver_error_code(exc) or -1: exc for exc in caught.values()}


async def _provoke_async(driver: Driver, params: dict[str, Any]) -> dict[int, BaseException]:
    module = importlib.import_module(driver.module)
    if driver.module == "aiomysql":
        params["db"] = params.pop("database")
    error = driver.error_class()
    connections = [await module.connect(**params) for _ in range(2)]
    caught: dict[int, BaseException] = {}

    async def run(conn: Any, sql: str, *, may_fail: bool = False) -> None:
        try:
            cursor = await conn.cursor()
            try:
                await cursor.execute(sql)
                await cursor.fetchall()
            finally:
                await cursor.close()
        except error as exc:
            if not may_fail:
                raise
            caught[len(caught)] = exc

    one, two = connections
    try:
        for conn in connections:
            await run(conn, "SET SESSION innodb_lock_wait_timeout = 1")
            await run(conn, "SET autocommit = 0")
        await run(one, "SELECT id FROM drv_probe WHERE id = 1 FOR UPDATE")
        await run(two, "SELECT id FROM drv_probe WHERE id = 1 FOR UPDATE", may_fail=True)
        await run(two, "ROLLBACK")
        await run(two, "SELECT id FROM drv_probe WHERE id = 2 FOR UPDATE")

        async def second() -> None:
            await asyncio.sleep(0.3)  # let the first wait begin
            await run(two, "SELECT id FROM drv_probe WHERE id = 1 FOR UPDATE", may_fail=True)

        await asyncio.gather(
            run(one, "SELECT id FROM drv_probe WHERE id = 2 FOR UPDATE", may_fail=True),
            second(),
        )
        await run(one, "ROLLBACK")
        await run(two, "ROLLBACK")
        await run(one, "INSERT INTO drv_probe VALUES (1)", may_fail=True)
        await run(one, "ROLLBACK")
    finally:
        for conn in connections:
            with contextlib.suppress(Exception):
                await conn.ensure_closed()
    return {driver_error_code(exc) or -1: exc for exc in caught.values()}
