"""The quickstart: tables, a definition, numbers, the ORM, a void, a reservation.

Run it (a SQLite file by default, or any SQLAlchemy URL)::

    pip install sa_sequencing
    python quickstart.py                       # sqlite:///quickstart.db
    python quickstart.py postgresql+psycopg://app@localhost/app
"""

from __future__ import annotations

import sys
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import sessionmaker

from sa_sequencing import GapPolicy
from sa_sequencing import ResetPeriod
from sa_sequencing import SequenceColumn
from sa_sequencing import Sequencing


# 1. Sequencing adds six tables to your metadata.
class Base(DeclarativeBase):
    pass


sequencing = Sequencing(Base)


# 2. A numbered model: the flush fills `number` in the transaction that stores it.
class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (sa.UniqueConstraint("tenant", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(sa.String(40))
    issued_on: Mapped[date]
    number: Mapped[str] = SequenceColumn("invoice", scope="tenant", date="issued_on")


def main(url: str) -> None:
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine)

    # 3. Define the sequence once; exist_ok=True makes this safe at every start.
    with sessions.begin() as session:
        sequencing.manager(session).define(
            "invoice",
            "INV-{YEAR}-{COUNTER:5}",
            reset_period=ResetPeriod.YEARLY,  # a new counter every year
            gap_policy=GapPolicy.REPORT_GAPS_ONLY,  # voids are registered gaps
            exist_ok=True,
        )

    # 4. Numbers are drawn in your transaction: commit keeps them ...
    with sessions.begin() as session:
        session.add(Invoice(tenant="acme", issued_on=date(2026, 3, 1)))
        session.add(Invoice(tenant="acme", issued_on=date(2026, 3, 2)))
    # ... and a rollback gives them back.
    with sessions() as session:
        session.add(Invoice(tenant="acme", issued_on=date(2026, 3, 3)))
        session.flush()  # INV-2026-00003 is drawn here
        session.rollback()  # ... and given back
    with sessions.begin() as session:
        invoice = Invoice(tenant="acme", issued_on=date(2026, 3, 4))
        session.add(invoice)
        session.flush()
        print("after the rollback:", invoice.number)  # INV-2026-00003 again

    # 5. The manager does the rest: preview, draw without the ORM, void, report.
    day = date(2026, 3, 5)
    with sessions.begin() as session:
        seqs = sequencing.manager(session)
        print("next for globex:", seqs.preview("invoice", scope="globex", date=day))
        number = seqs.generate("invoice", scope="acme", date=day)
        print("drawn:", number, seqs.parse("invoice", number))
        seqs.void("invoice", number, scope="acme", reason="customer_cancelled")
        print("missing numbers:", seqs.gap_report("invoice", scope="acme"))

    # 6. Reserve numbers for a form the user is filling in; finalize what is used.
    with sessions.begin() as session:
        reservation = sequencing.manager(session).reserve("invoice", 2, scope="acme", date=day)
        print("reserved:", list(reservation.numbers))
    with sessions.begin() as session:
        seqs = sequencing.manager(session)
        print("finalized:", seqs.finalize(reservation.id, [reservation.numbers[0]]))
        print("released:", seqs.release(reservation.id))  # the rest becomes a gap

    # 7. Every change is in the audit ledger.
    with sessions() as session:
        for entry in sequencing.manager(session).audit_log("invoice", limit=3):
            print("audit:", entry.event, entry.data)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///quickstart.db")
