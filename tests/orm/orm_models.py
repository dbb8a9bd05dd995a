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


# -- column defaults the flush hook must see (issue 10) ---------------------------------

#: The booking date ``Posting`` takes by default: a closed year, so a number drawn in
#: today's period instead is caught.
BOOKED_ON = date(2019, 12, 31)


class RefMaker:
    """A zero-argument default that hands out a fresh value per call and remembers
    them, so a test can tell whether the row got the value the hook saw."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self) -> str:
        self.made.append(f"R{len(self.made) + 1}")
        return self.made[-1]


POSTING_REFS = RefMaker()


class Posting(OrmBase):
    """Every input of its number comes from a Python-side column default."""

    __tablename__ = "orm_postings"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(20), default="t-default")
    status: Mapped[str] = mapped_column(String(10), default="posted")
    booked_on: Mapped[date] = mapped_column(default=lambda: BOOKED_ON)
    ref: Mapped[str] = mapped_column(String(20), default=POSTING_REFS)
    number: Mapped[str | None] = SequenceColumn(
        "posting",
        scope="tenant_id",
        date="booked_on",
        context=lambda p: {"REF": p.ref},
        when=lambda p: p.status == "posted",
    )


class Dated(OrmBase):
    """Attribute-name getters only: the hook knows which columns it reads."""

    __tablename__ = "orm_dated"
    id: Mapped[int] = mapped_column(primary_key=True)
    desk: Mapped[str] = mapped_column(String(10), default="front")
    issued_on: Mapped[date] = mapped_column(default=date.today)
    stamp: Mapped[str] = mapped_column(String(20), default=POSTING_REFS)
    number: Mapped[str | None] = SequenceColumn("dated", scope="desk", date="issued_on")


class Shelved(OrmBase):
    """An input named by a property, which reads a column with a default."""

    __tablename__ = "orm_shelved"
    id: Mapped[int] = mapped_column(primary_key=True)
    shelf: Mapped[str] = mapped_column(String(10), default="A")
    number: Mapped[str | None] = SequenceColumn("shelved", scope="shelf_code")

    @property
    def shelf_code(self) -> str:
        return f"shelf_{self.shelf}"


class ServerFilled(OrmBase):
    """Columns only the database (or the INSERT's execution context) fills: each
    numbered attribute reads one of them."""

    __tablename__ = "orm_server_filled"
    id: Mapped[int] = mapped_column(primary_key=True)  # autoincrement
    kept_on: Mapped[date | None] = mapped_column(server_default="2019-06-30")
    desk: Mapped[str | None] = mapped_column(String(10), server_default="back")
    day: Mapped[date | None] = mapped_column(default=sa.func.current_date())
    at_insert: Mapped[str | None] = mapped_column(
        String(20), default=lambda context: f"desk-{context.current_parameters['desk']}"
    )
    status: Mapped[str | None] = mapped_column(String(10), server_default="posted")
    note: Mapped[str | None] = mapped_column(String(10), server_default="n")
    by_date: Mapped[str | None] = SequenceColumn("sf_date", date="kept_on")
    by_scope: Mapped[str | None] = SequenceColumn("sf_scope", scope="desk")
    by_sql_default: Mapped[str | None] = SequenceColumn("sf_sql", date="day")
    by_context_default: Mapped[str | None] = SequenceColumn("sf_ctx", scope="at_insert")
    by_when: Mapped[str | None] = SequenceColumn("sf_when", when=lambda s: s.status == "posted")
    by_context: Mapped[str | None] = SequenceColumn(
        "sf_context", context=lambda s: {"NOTE": s.note or "none"}
    )
    by_id: Mapped[str | None] = SequenceColumn("sf_id", scope=lambda s: f"row-{s.id}")


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


def posting_rows(session: Session) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in session.execute(
            sa.select(
                Posting.tenant_id, Posting.status, Posting.booked_on, Posting.ref, Posting.number
            ).order_by(Posting.id)
        )
    ]


SERVER_FILLED_SEQUENCES = (
    "sf_date",
    "sf_scope",
    "sf_sql",
    "sf_ctx",
    "sf_when",
    "sf_context",
    "sf_id",
)


def server_filled(**values: Any) -> ServerFilled:
    """A ServerFilled with every database-filled input set, but those given as
    ``...`` (left unset) or None."""
    given: dict[str, Any] = {
        "id": 7,
        "kept_on": date(2024, 5, 6),
        "desk": "front",
        "day": date(2024, 5, 6),
        "at_insert": "desk-front",
        "status": "posted",
        "note": "n",
    }
    given.update(values)
    return ServerFilled(**{k: v for k, v in given.items() if v is not ...})
