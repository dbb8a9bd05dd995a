"""Test fixtures: every database test runs on SQLite, PostgreSQL and MariaDB/MySQL.

Servers are found in this order: ``SA_SEQUENCING_TEST_POSTGRESQL_URL`` /
``SA_SEQUENCING_TEST_MYSQL_URL``; else a testcontainers container where Docker runs;
else the backend is skipped with the reason printed.  With
``SA_SEQUENCING_REQUIRE_SERVERS=1`` (CI) a missing server fails the run instead.
``SA_SEQUENCING_TEST_BACKENDS=sqlite,postgresql`` restricts the backends.

``postgresql-serializable``, chosen only by name in ``SA_SEQUENCING_TEST_BACKENDS``,
is the PostgreSQL server with every transaction at ``SERIALIZABLE`` (set in the URL,
so the tests' own engines and worker processes get it too): the stand-in for
CockroachDB, which runs every transaction so and cannot run here.
"""

from __future__ import annotations

import contextlib
import gc
import os
import warnings
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from schemas import empty_tables
from schemas import fresh_schema
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from sa_sequencing import SequenceManager
from sa_sequencing import Sequencing

ALL_BACKENDS = ("sqlite", "postgresql", "mysql")
_selected = os.environ.get("SA_SEQUENCING_TEST_BACKENDS")
BACKENDS = tuple(b.strip() for b in _selected.split(",")) if _selected else ALL_BACKENDS
REQUIRE_SERVERS = os.environ.get("SA_SEQUENCING_REQUIRE_SERVERS") == "1"
STRESS = os.environ.get("SA_SEQUENCING_STRESS") == "1"


STRESS_REASON = "stress run: set SA_SEQUENCING_STRESS=1"
NO_SERVER = ": no server (set SA_SEQUENCING_TEST_"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if STRESS:
        return
    skip = pytest.mark.skip(reason=STRESS_REASON)
    for item in items:
        if item.get_closest_marker("stress") is not None:
            item.add_marker(skip)


def _container_url(backend: str) -> str | None:
    """Start a testcontainers container where Docker runs; None where it does not."""
    with warnings.catch_warnings():
        # docker's client leaves a socket behind when no engine answers; its
        # ResourceWarning would turn into a test error (warnings are errors here)
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            import docker

            client = docker.from_env()
            try:
                client.ping()
            finally:
                client.close()
        except Exception:
            return None
        finally:
            gc.collect()
    if backend == "postgresql":
        from testcontainers.postgres import PostgresContainer

        container: Any = PostgresContainer("postgres:16", driver="psycopg")
    else:
        from testcontainers.mysql import MySqlContainer

        container = MySqlContainer("mariadb:10.11", dialect="pymysql")
    container.start()
    _containers.append(container)
    return str(container.get_connection_url())


_containers: list[Any] = []
_urls: dict[str, str | None] = {}


def server_url(backend: str) -> str:
    if backend not in _urls:
        env = f"SA_SEQUENCING_TEST_{backend.upper()}_URL"
        _urls[backend] = os.environ.get(env) or _container_url(backend)
    url = _urls[backend]
    if url is None:
        reason = (
            f"{backend}: no server (set SA_SEQUENCING_TEST_{backend.upper()}_URL, "
            "or run where Docker is available)"
        )
        if REQUIRE_SERVERS:
            pytest.fail(f"SA_SEQUENCING_REQUIRE_SERVERS=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return url


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    """Skips for a missing server (and stress tests) are reported at this file, so that
    ``-rs`` folds them into one summary line per reason instead of one per test."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if NO_SERVER in reason or reason.endswith(STRESS_REASON):
            report.longrepr = (__file__, None, reason)
    return report


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    for container in _containers:
        with contextlib.suppress(Exception):
            container.stop()


@pytest.fixture(scope="session")
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("sqlite") / "test.db")


#: the backend id of PostgreSQL at SERIALIZABLE (libpq's ``options``: the server's
#: default for every transaction of the connection, as CockroachDB's is)
PG_SERIALIZABLE = "postgresql-serializable"
_SERIALIZABLE_OPTION = "-c default_transaction_isolation=serializable"


def engine_url(backend: str, sqlite_path: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{sqlite_path}"
    if backend == PG_SERIALIZABLE:
        url = sa.make_url(server_url("postgresql"))
        return url.update_query_dict({"options": _SERIALIZABLE_OPTION}).render_as_string(
            hide_password=False
        )
    return server_url(backend)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def url(backend: str, sqlite_path: str) -> str:
    return engine_url(backend, sqlite_path)


@pytest.fixture(scope="session")
def engine(url: str) -> Iterator[sa.Engine]:
    eng = (
        sa.create_engine(url, pool_size=20, max_overflow=20)
        if "sqlite" not in url
        else sa.create_engine(url)
    )
    yield eng
    eng.dispose()


class Base(DeclarativeBase):
    pass


SEQUENCING = Sequencing(Base)


def reset_tables(engine: sa.Engine, sequencing: Sequencing) -> None:
    empty_tables(engine, sequencing.tables.all(), sequencing)
    sequencing.stats.reset()


@pytest.fixture(scope="session")
def _schema(engine: sa.Engine) -> Iterator[None]:
    yield from fresh_schema(engine, Base.metadata)


@pytest.fixture
def sequencing(engine: sa.Engine, _schema: None) -> Iterator[Sequencing]:
    reset_tables(engine, SEQUENCING)
    yield SEQUENCING


@pytest.fixture
def sessions(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine)


@pytest.fixture
def tx(sessions: sessionmaker[Session], sequencing: Sequencing) -> Callable[[], Any]:
    """``with tx() as seqs:`` runs a block in a committed transaction."""

    @contextlib.contextmanager
    def run() -> Iterator[SequenceManager]:
        with sessions() as session, session.begin():
            yield sequencing.manager(session)

    return run


def table_snapshot(engine: sa.Engine, sequencing: Sequencing) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the six tables, to assert that a refusal changed nothing."""
    with engine.connect() as conn:
        return {
            t.name: sorted(
                (tuple(str(v) for v in row) for row in conn.execute(sa.select(t))),
            )
            for t in sequencing.tables.all()
        }


@pytest.fixture
def snapshot(
    engine: sa.Engine, sequencing: Sequencing
) -> Callable[[], dict[str, list[tuple[Any, ...]]]]:
    """``snapshot()`` returns every row of the six tables, for before/after checks."""
    return lambda: table_snapshot(engine, sequencing)
