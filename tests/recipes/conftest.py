"""Fixtures of the recipe tests: each recipe of ``docs/recipes/`` runs against a
database of its own on every backend.

The recipes' tables have the library's default names, the names the rest of the suite
uses on the same servers; so each test gets a namespace of its own (a PostgreSQL
schema, a MySQL database, a SQLite file), dropped afterwards, as ``test_readme`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

NAMESPACE = "sa_seq_recipes"


@pytest.fixture
def recipe_url(backend: str, url: str, tmp_path: Path) -> Iterator[str]:
    """A database of the backend that holds nothing but what the recipe creates."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'recipe.db'}"
        return
    server = sa.make_url(url)
    if backend == "postgresql":
        drop = f"DROP SCHEMA IF EXISTS {NAMESPACE} CASCADE"
        create = f"CREATE SCHEMA {NAMESPACE}"
        own = server.update_query_dict({"options": f"-csearch_path={NAMESPACE}"})
    else:
        name = f"{server.database}_recipes"
        drop = f"DROP DATABASE IF EXISTS {name}"
        create = f"CREATE DATABASE {name}"
        own = server.set(database=name)
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
