"""SQLModel: a numbered table model, through ``sa_column``.

Run it (``DATABASE_URL`` defaults to a SQLite file)::

    pip install sa_sequencing sqlmodel fastapi uvicorn
    DATABASE_URL=postgresql+psycopg://app@localhost/app uvicorn --factory sqlmodel_app:create_app

    curl -X POST localhost:8000/quotes -H 'content-type: application/json' \
         -d '{"tenant": "acme", "title": "Spare parts"}'
    {"title":"Spare parts","tenant":"acme","id":1,"number":"Q-2026-000001"}
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi import HTTPException
from sqlmodel import Field
from sqlmodel import Session
from sqlmodel import SQLModel
from sqlmodel import UniqueConstraint
from sqlmodel import create_engine

from sa_sequencing import ResetPeriod
from sa_sequencing import SequenceColumn
from sa_sequencing import Sequencing
from sa_sequencing import run_in_transaction
from sa_sequencing.sqlite import begin_immediate

sequencing = Sequencing(SQLModel.metadata)  # the sequencing tables join SQLModel's


class QuoteIn(SQLModel):
    tenant: str = Field(max_length=40)
    title: str = Field(max_length=100)


class Quote(QuoteIn, table=True):
    __tablename__ = "quotes"
    __table_args__ = (UniqueConstraint("tenant", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    # SQLModel takes a ready SQLAlchemy column through sa_column; the flush fills it.
    number: str | None = Field(
        default=None, sa_column=SequenceColumn("quote", scope="tenant").column
    )


class QuoteOut(QuoteIn):
    id: int
    number: str


def create_app(database_url: str | None = None) -> FastAPI:
    engine = create_engine(database_url or os.environ.get("DATABASE_URL", "sqlite:///app.db"))
    if engine.dialect.name == "sqlite":
        begin_immediate(engine)  # writers queue for SQLite's one write lock
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        sequencing.manager(session).define(
            "quote", "Q-{YEAR}-{COUNTER:6}", reset_period=ResetPeriod.YEARLY, exist_ok=True
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()  # at shutdown

    app = FastAPI(title="Quotes", lifespan=lifespan)

    @app.post("/quotes", status_code=201, response_model=QuoteOut)
    def create_quote(data: QuoteIn) -> Quote:
        def work(session: Session) -> Quote:
            quote = Quote.model_validate(data)
            session.add(quote)
            session.flush()  # numbered here, in this transaction
            return quote

        # the response is built from the committed row; run_in_transaction runs the
        # transaction again after a deadlock or serialization failure
        return run_in_transaction(lambda: Session(engine, expire_on_commit=False), work)

    @app.get("/quotes/{quote_id}", response_model=QuoteOut)
    def read_quote(quote_id: int) -> Quote:
        with Session(engine) as session:
            quote = session.get(Quote, quote_id)
            if quote is None:
                raise HTTPException(404, "no such quote")
            return quote

    return app
