"""Litestar on asyncio: an ``AsyncSession`` and the ``AsyncSequenceManager``.

Run it (``DATABASE_URL`` defaults to a SQLite file; asyncio drivers:
``postgresql+psycopg``, ``mysql+asyncmy``, ``sqlite+aiosqlite``)::

    pip install "sa_sequencing[asyncio]" "litestar>=2.25" uvicorn
    DATABASE_URL=postgresql+psycopg://app@localhost/app uvicorn --factory litestar_app:create_app

    curl -X POST localhost:8000/receipts -H 'content-type: application/json' \
         -d '{"store": "berlin-1", "amount_cents": 1250}'
    {"id": 1, "store": "berlin-1", "number": "R-20260701-0001"}
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from litestar import Litestar
from litestar import get
from litestar import post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from sa_sequencing import ResetPeriod
from sa_sequencing import Sequencing
from sa_sequencing.sqlite import begin_immediate


class Base(DeclarativeBase):
    pass


sequencing = Sequencing(Base)


class Receipt(Base):
    __tablename__ = "receipts"
    __table_args__ = (sa.UniqueConstraint("store", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    store: Mapped[str] = mapped_column(sa.String(40))
    amount_cents: Mapped[int]
    number: Mapped[str] = mapped_column(sa.String(255))


@dataclass
class ReceiptIn:
    store: str
    amount_cents: int


@dataclass
class ReceiptOut:
    id: int
    store: str
    number: str


def create_app(database_url: str | None = None) -> Litestar:
    url = database_url or os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///app.db")
    engine: AsyncEngine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        begin_immediate(engine)  # writers queue for SQLite's one write lock
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with sessions.begin() as session:  # exist_ok keeps what is stored
            await sequencing.manager(session).define(
                "receipt",
                "R-{YEAR}{MONTH}{DAY}-{COUNTER:4}",
                reset_period=ResetPeriod.DAILY,
                exist_ok=True,
            )
        yield
        await engine.dispose()

    @post("/receipts")
    async def create_receipt(data: JSONBody[ReceiptIn]) -> ReceiptOut:
        async with sessions.begin() as session:  # committed before the response
            seqs = sequencing.manager(session)  # an AsyncSequenceManager
            number = await seqs.generate("receipt", scope=data.store)
            receipt = Receipt(store=data.store, amount_cents=data.amount_cents, number=number)
            session.add(receipt)
            await session.flush()
        return ReceiptOut(id=receipt.id, store=receipt.store, number=receipt.number)

    @get("/receipts/{receipt_id:int}")
    async def read_receipt(receipt_id: FromPath[int]) -> ReceiptOut:
        async with sessions() as session:
            receipt = await session.get(Receipt, receipt_id)
        if receipt is None:
            raise NotFoundException("no such receipt")
        return ReceiptOut(id=receipt.id, store=receipt.store, number=receipt.number)

    return Litestar([create_receipt, read_receipt], lifespan=[lifespan])
