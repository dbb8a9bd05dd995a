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
