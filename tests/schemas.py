"""The test tables: created once per test session, emptied before each test."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator

import sqlalchemy as sa

from sa_sequencing import Sequencing
from sa_sequencing.allocation.caches import DefinitionCache


def fresh_schema(engine: sa.Engine, metadata: sa.MetaData) -> Iterator[None]:
    """The body of a session fixture: create the tables of ``metadata`` (dropping what
    an interrupted run left behind), yield, and drop them."""
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield
    metadata.drop_all(engine)


def empty_tables(engine: sa.Engine, tables: Iterable[sa.Table], sequencing: Sequencing) -> None:
    """Delete every row of ``tables`` (given parents first) and forget the definitions
    ``sequencing`` cached."""
    with engine.begin() as conn:
        for table in reversed(list(tables)):
            conn.execute(table.delete())
    sequencing.allocator.cache = DefinitionCache()


def private_database(backend: str, url: str, sqlite_file: str, name: str) -> Iterator[str]:
    """The body of a fixture: the URL of a database of ``backend`` that holds nothing
    but what the test creates (a schema ``name`` on PostgreSQL, a database
    ``<test database>_<name>`` on MySQL/MariaDB, the file ``sqlite_file`` on SQLite),
    dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    server = sa.make_url(url)
    if backend == "postgresql":
        drop = f"DROP SCHEMA IF EXISTS {name} CASCADE"
        create = f"CREATE SCHEMA {name}"
        own = server.update_query_dict({"options": f"-csearch_path={name}"})
    else:
        database = f"{server.database}_{name}"
        drop = f"DROP DATABASE IF EXISTS {database}"
        create = f"CREATE DATABASE {database}"
        own = server.set(database=database)
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(drop)
            conn.exec_driver_sql(create)
        yield own.render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.exec_driver_sql(drop)
    finally:
        admin.dispose()
