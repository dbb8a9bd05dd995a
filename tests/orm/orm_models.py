"""Models of the ORM tests: their own metadata, their own sequencing tables
(prefix ``orm_``), so they live beside the core tests' tables."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from typing import Any
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import sessionmaker

from sa_sequencing import SequenceColumn
from sa_sequencing import SequenceManager
from sa_sequencing import Sequencing


class OrmBase(DeclarativeBase):
    pass


ORM_SEQUENCING = Sequencing(OrmBase, table_prefix="orm_")


class Invoice(OrmBase):
    __tablename__ = "orm_invoices"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(20), default="SALES")
    issued_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(10), default="draft")
    number: Mapped[str | None] = SequenceColumn(
        "invoice_number",
        scope="tenant_id",
        context=lambda inv: {"DEPARTMENT": inv.department},
        date="issued_on",
        when=lambda inv: inv.status == "posted",
    )


class Note(OrmBase):
    """Numbered on insert, global scope, today's date."""

    __tablename__ = "orm_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(50), default="")
    number: Mapped[str] = SequenceColumn("note", unique=True)


class RefMixin:
    """A mixin: two models share its sequence."""

    @declared_attr
    def ref(cls) -> Mapped[str | None]:
        return SequenceColumn("ref", scope=lambda obj: obj.region)

    region: Mapped[str | None] = mapped_column(String(10), default=None)


class Order(RefMixin, OrmBase):
    __tablename__ = "orm_orders"
    id: Mapped[int] = mapped_column(primary_key=True)


class Quote(RefMixin, OrmBase):
    __tablename__ = "orm_quotes"
    id: Mapped[int] = mapped_column(primary_key=True)


class Document(OrmBase):
    """Joined inheritance: the subclass inherits the numbered column."""

    __tablename__ = "orm_documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str | None] = SequenceColumn("document")
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "polymorphic_on": "kind",
        "polymorphic_identity": "document",
    }


class Receipt(Document):
    __tablename__ = "orm_receipts"
    id: Mapped[int] = mapped_column(ForeignKey("orm_documents.id"), primary_key=True)
    amount: Mapped[int] = mapped_column(default=0)
    __mapper_args__: ClassVar[dict[str, Any]] = {"polymorphic_identity": "receipt"}


class AItem(OrmBase):
    __tablename__ = "orm_a_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = SequenceColumn("seq_a", unique=True)


class BItem(OrmBase):
    __tablename__ = "orm_b_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = SequenceColumn("seq_b", unique=True)


class Ticket(OrmBase):
    """Its context callable gives no REGION, which its sequence's pattern needs."""

    __tablename__ = "orm_tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = SequenceColumn("ticket", context=lambda t: {"DESK": "x"})


class Orphan(OrmBase):
    """Names a sequence nobody defines."""

    __tablename__ = "orm_orphans"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = SequenceColumn("never_defined")


@contextlib.contextmanager
def managed(orm: sessionmaker[Session]) -> Iterator[SequenceManager]:
    with orm() as session, session.begin():
        yield ORM_SEQUENCING.manager(session)


def orm_snapshot(engine: sa.Engine) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every ORM test table, to check that a failure changed nothing."""
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(str(v) for v in row) for row in conn.execute(sa.select(t)))
            for t in OrmBase.metadata.sorted_tables
        }


def numbers_of(session: Session, model: type[Any]) -> list[str]:
    return list(session.scalars(sa.select(model.number).order_by(model.id)))
