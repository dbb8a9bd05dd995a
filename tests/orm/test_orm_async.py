"""AsyncSession: AsyncSequenceManager and the flush hook, on psycopg async, aiosqlite
and asyncmy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from orm_models import BOOKED_ON
from orm_models import ORM_SEQUENCING
from orm_models import POSTING_REFS
from orm_models import SERVER_FILLED_SEQUENCES
from orm_models import AItem
from orm_models import BItem
from orm_models import Note
from orm_models import Posting
from orm_models import numbers_of
from orm_models import orm_snapshot
from orm_models import posting_rows
from orm_models import server_filled

from sa_sequencing import ArgumentTypeError
from sa_sequencing import AsyncSequenceManager
from sa_sequencing import ConfigurationError
from sa_sequencing import NumberRequest
from sa_sequencing import SequenceNotFoundError

pytest.importorskip("greenlet")

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_scoped_session
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg_async",
    "mysql": "mysql+asyncmy",
}


def async_url(url: str) -> str:
    """The async driver's URL for the sync test URL (same server, same database)."""
    parsed = sa.make_url(url)
    return parsed.set(drivername=_ASYNC_DRIVERS[parsed.get_backend_name()]).render_as_string(
        hide_password=False
    )


def run(url: str, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        engine = create_async_engine(async_url(url))
        try:
            return await work(async_sessionmaker(engine, expire_on_commit=False))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_async_manager_and_flush_hook(orm, url):
    async def work(sessions: async_sessionmaker[AsyncSession]) -> Any:
        async with sessions() as session, session.begin():
            seqs = ORM_SEQUENCING.manager(session)
            assert isinstance(seqs, AsyncSequenceManager)
            await seqs.define("note", "N-{COUNTER:3}")
            await seqs.define("seq_a", "A-{COUNTER}")
            await seqs.define("seq_b", "B-{COUNTER}")
            assert await seqs.preview("note") == "N-001"
            assert await seqs.generate("note") == "N-001"
        async with sessions() as session, session.begin():
            notes = [Note(), Note()]
            session.add_all(notes)
            await session.flush()
            assert [n.number for n in notes] == ["N-002", "N-003"]
            seqs = ORM_SEQUENCING.manager(session)
            batch = await seqs.generate_batch([NumberRequest("seq_b"), NumberRequest("seq_a")])
            session.add_all([BItem(), AItem()])
        async with sessions() as session:
            await session.begin()
            lost = Note()
            session.add(lost)
            await session.flush()
            assert lost.number == "N-004"
            await session.rollback()
            assert lost.number is None
        async with sessions() as session:
            return batch, await session.run_sync(lambda s: numbers_of(s, Note))

    batch, numbers = run(url, work)
    assert batch == [["B-1"], ["A-1"]]
    assert numbers == ["N-002", "N-003"]


def test_async_savepoint_rollback_gives_numbers_back(orm, url, define):
    define("note", "N-{COUNTER}")

    async def work(sessions: async_sessionmaker[AsyncSession]) -> Any:
        async with sessions() as session, session.begin():
            nested = await session.begin_nested()
            lost = Note()
            session.add(lost)
            await session.flush()
            assert lost.number == "N-1"
            await nested.rollback()
            assert lost.number is None
            kept = Note()
            session.add(kept)
        return kept.number

    assert run(url, work) == "N-1"


def test_async_rollback_takes_back_what_a_savepoint_wrapped(orm, url, define, engine):
    # define() and a flush drawing two counters work under raw savepoints; on
    # aiosqlite a savepoint taken before the driver's lazy BEGIN would be a
    # transaction of its own, and releasing it would commit
    define("seq_a", "A-{COUNTER}")
    before = orm_snapshot(engine)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> Any:
        async with sessions() as session:
            await session.begin()
            seqs = ORM_SEQUENCING.manager(session)
            await seqs.define("seq_b", "B-{COUNTER}")
            items = [AItem(), BItem()]
            session.add_all(items)
            await session.flush()
            assert [i.number for i in items] == ["A-1", "B-1"]
            await session.rollback()

    run(url, work)
    assert orm_snapshot(engine) == before


def test_async_flush_sees_column_defaults(orm, url, define, engine):
    POSTING_REFS.made.clear()
    define("posting", "P-{YEAR}-{REF}-{COUNTER:3}", reset_period="yearly")
    for name in SERVER_FILLED_SEQUENCES:
        define(name, "{COUNTER}")
    before = orm_snapshot(engine)

    async def refused(sessions: async_sessionmaker[AsyncSession]) -> str:
        async with sessions() as session:
            session.add(server_filled(status=...))
            with pytest.raises(ConfigurationError) as error:
                await session.flush()
            await session.rollback()
        return str(error.value)

    message = run(url, refused)
    assert "ServerFilled.by_when (sequence 'sf_when')" in message
    assert "ServerFilled.status" in message
    assert orm_snapshot(engine) == before

    async def work(sessions: async_sessionmaker[AsyncSession]) -> Any:
        async with sessions() as session, session.begin():
            posting = Posting()
            session.add(posting)
            await session.flush()
        async with sessions() as session:
            return posting.number, await session.run_sync(posting_rows)

    number, rows = run(url, work)
    assert number == "P-2019-R1-001"
    assert rows == [("t-default", "posted", BOOKED_ON, "R1", "P-2019-R1-001")]
    assert POSTING_REFS.made == ["R1"]


def test_async_manager_works_in_the_async_scoped_sessions_current_session(orm, url):
    async def work(sessions: async_sessionmaker[AsyncSession]) -> Any:
        registry = async_scoped_session(sessions, scopefunc=asyncio.current_task)
        try:
            seqs = ORM_SEQUENCING.manager(registry)
            assert isinstance(seqs, AsyncSequenceManager)
            await seqs.define("note", "N-{COUNTER}")
            assert await seqs.generate("note") == "N-1"
            registry.add(Note())
            await registry.flush()
            await registry.rollback()  # the manager worked in the registry's transaction
            with pytest.raises(SequenceNotFoundError):
                await seqs.generate("note")
            await registry.rollback()
            await seqs.define("note", "N-{COUNTER}")
            registry.add(Note())
            await registry.commit()

            async def another_task() -> str:
                # another task has its own session in the registry: the same manager
                # draws there, and commits with that task's session
                number = await seqs.generate("note")
                await registry.commit()
                await registry.remove()
                return str(number)

            assert await asyncio.create_task(another_task()) == "N-2"
            assert not registry().in_transaction()  # nothing drawn in this task's session
        finally:
            await registry.remove()
        async with sessions() as session:
            return await session.run_sync(lambda s: numbers_of(s, Note))

    assert run(url, work) == ["N-1"]


def test_manager_refuses_other_objects():
    with pytest.raises(ArgumentTypeError, match="takes a Session, a scoped_session, an Asy"):
        ORM_SEQUENCING.manager(object())  # type: ignore[call-overload]
    with pytest.raises(ArgumentTypeError):  # the class, not a registry
        ORM_SEQUENCING.manager(async_scoped_session)  # type: ignore[call-overload]
