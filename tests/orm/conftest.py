"""Fixtures of the ORM tests; the models are in ``orm_models``."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from orm_models import ORM_SEQUENCING
from orm_models import OrmBase
from schemas import empty_tables
from schemas import fresh_schema
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker


@pytest.fixture(scope="session")
def _orm_schema(engine: sa.Engine) -> Iterator[None]:
    yield from fresh_schema(engine, OrmBase.metadata)


@pytest.fixture
def orm(engine: sa.Engine, _orm_schema: None) -> sessionmaker[Session]:
    """A sessionmaker on clean ORM tables."""
    empty_tables(engine, OrmBase.metadata.sorted_tables, ORM_SEQUENCING)
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def define(orm: sessionmaker[Session]) -> Callable[..., None]:
    """``define(name, pattern, **options)`` in a committed transaction."""

    def run(name: str, pattern: str, **options: Any) -> None:
        with orm() as session, session.begin():
            ORM_SEQUENCING.manager(session).define(name, pattern, **options)

    return run
