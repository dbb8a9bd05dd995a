"""FastAPI: invoices numbered by the flush, answered only after the commit.

Run it (``DATABASE_URL`` defaults to a SQLite file)::

    pip install sa_sequencing fastapi uvicorn
    DATABASE_URL=postgresql+psycopg://app@localhost/app uvicorn --factory fastapi_app:create_app

    curl -X POST localhost:8000/invoices -H 'content-type: application/json' \
         -d '{"tenant": "acme", "customer": "Globex"}'
    {"id":1,"tenant":"acme","number":"INV-2026-00001"}
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi import HTTPException
from pydantic import BaseModel
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import sessionmaker

from sa_sequencing import ResetPeriod
from sa_sequencing import SequenceBusyError
from sa_sequencing import SequenceColumn
from sa_sequencing import Sequencing
from sa_sequencing import run_in_transaction
from sa_sequencing.sqlite import begin_immediate


class Base(DeclarativeBase):
    pass


sequencing = Sequencing(Base)  # the six sequencing tables join Base.metadata


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (sa.UniqueConstraint("tenant", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(sa.String(40))
    customer: Mapped[str] = mapped_column(sa.String(100))
    # Each tenant counts on its own counter: INV-2026-00001 for every tenant's first.
    number: Mapped[str] = SequenceColumn("invoice_number", scope="tenant")


class InvoiceIn(BaseModel):
    tenant: str
    customer: str


class InvoiceOut(BaseModel):
    id: int
    tenant: str
    number: str


def create_app(database_url: str | None = None) -> FastAPI:
    engine = sa.create_engine(database_url or os.environ.get("DATABASE_URL", "sqlite:///app.db"))
    if engine.dialect.name == "sqlite":
        begin_immediate(engine)  # writers queue for SQLite's one write lock
    sessions = sessionmaker(engine)
    Base.metadata.create_all(engine)
    with sessions.begin() as session:  # at every start: exist_ok keeps what is stored
        sequencing.manager(session).define(
            "invoice_number",
            "INV-{YEAR}-{COUNTER:5}",
            reset_period=ResetPeriod.YEARLY,
            exist_ok=True,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()  # at shutdown

    app = FastAPI(title="Invoices", lifespan=lifespan)

    # A plain ``def`` endpoint runs in FastAPI's thread pool, so blocking database
    # calls are fine.  The transaction lives inside the endpoint, not in a dependency
    # with ``yield``: the client hears of the number only once it is committed.
    @app.post("/invoices", status_code=201)
    def create_invoice(data: InvoiceIn) -> InvoiceOut:
        def work(session: Session) -> InvoiceOut:
            invoice = Invoice(tenant=data.tenant, customer=data.customer)
            session.add(invoice)
            session.flush()  # the flush hook draws the number in this transaction
            return InvoiceOut(id=invoice.id, tenant=invoice.tenant, number=invoice.number)

        try:
            # runs the transaction again after a deadlock or serialization failure
            return run_in_transaction(sessions, work)
        except SequenceBusyError as exc:  # the counter stayed locked past the retries
            raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc

    @app.get("/invoices/{invoice_id}")
    def read_invoice(invoice_id: int) -> InvoiceOut:
        with sessions() as session:
            invoice = session.get(Invoice, invoice_id)
            if invoice is None:
                raise HTTPException(404, "no such invoice")
            return InvoiceOut(id=invoice.id, tenant=invoice.tenant, number=invoice.number)

    return app
