"""What the workers number: four sequences and one document table.

One sequence per gap policy, and a second ``fill_gaps`` one that resets monthly, each
counted per tenant (``t1``, ``t2``) and per period (documents are dated on one of two
fixed days in different years and months).  A document row stores its number in the
column of its sequence; ``generate``/``generate_many``/``finalize`` fill it by hand,
the flush hook (:func:`~sa_sequencing.SequenceColumn` with ``when=``) fills it
otherwise.  ``status`` is ``live`` or ``void``: a void is recorded in the same
transaction as :meth:`~sa_sequencing.SequenceManager.void`.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from sa_sequencing import GapPolicy
from sa_sequencing import ResetPeriod
from sa_sequencing import SequenceColumn
from sa_sequencing import Sequencing


class Base(DeclarativeBase):
    pass


SEQUENCING = Sequencing(Base)

#: name -> (pattern, reset period, gap policy)
SEQUENCES: dict[str, tuple[str, ResetPeriod, GapPolicy]] = {
    "t_ag": ("AG-{YEAR}-{COUNTER}", ResetPeriod.YEARLY, GapPolicy.ALLOW_GAPS),
    "t_rg": ("RG-{YEAR}-{COUNTER}", ResetPeriod.YEARLY, GapPolicy.REPORT_GAPS_ONLY),
    "t_fg": ("FG-{YEAR}-{COUNTER}", ResetPeriod.YEARLY, GapPolicy.FILL_GAPS),
    "t_fm": ("FM-{YEAR}{MONTH}-{COUNTER}", ResetPeriod.MONTHLY, GapPolicy.FILL_GAPS),
}
TENANTS = ("t1", "t2")
DATES = (date(2025, 6, 15), date(2026, 2, 10))


def column(seq: str) -> str:
    """The document column that holds numbers of ``seq``."""
    return "n_" + seq.removeprefix("t_")


def _when(seq: str) -> object:
    return lambda doc: doc.seq == seq


class Doc(Base):
    __tablename__ = "torture_docs"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    seq: Mapped[str] = mapped_column(sa.String(8))
    tenant: Mapped[str] = mapped_column(sa.String(8))
    doc_date: Mapped[date] = mapped_column(sa.Date)
    worker: Mapped[int] = mapped_column(sa.Integer, index=True)
    status: Mapped[str] = mapped_column(sa.String(8), default="live")
    n_ag: Mapped[str | None] = SequenceColumn(
        "t_ag",
        scope="tenant",
        date="doc_date",
        when=_when("t_ag"),
        sequencing=SEQUENCING,
        nullable=True,  # type: ignore[arg-type]
    )
    n_rg: Mapped[str | None] = SequenceColumn(
        "t_rg",
        scope="tenant",
        date="doc_date",
        when=_when("t_rg"),
        sequencing=SEQUENCING,
        nullable=True,  # type: ignore[arg-type]
    )
    n_fg: Mapped[str | None] = SequenceColumn(
        "t_fg",
        scope="tenant",
        date="doc_date",
        when=_when("t_fg"),
        sequencing=SEQUENCING,
        nullable=True,  # type: ignore[arg-type]
    )
    n_fm: Mapped[str | None] = SequenceColumn(
        "t_fm",
        scope="tenant",
        date="doc_date",
        when=_when("t_fm"),
        sequencing=SEQUENCING,
        nullable=True,  # type: ignore[arg-type]
    )

    @property
    def number(self) -> str | None:
        value: str | None = getattr(self, column(self.seq))
        return value


def place(seq: str, number: str) -> tuple[str, int]:
    """``(period key, counter value)`` of a number of ``seq``: ``FM-202506-7`` is
    ``("2025-06", 7)``, ``AG-2025-3`` is ``("2025", 3)``."""
    _, middle, value = number.split("-")
    period = f"{middle[:4]}-{middle[4:]}" if SEQUENCES[seq][1] is ResetPeriod.MONTHLY else middle
    return period, int(value)


def day_of(period: str) -> date:
    """The document date the harness uses for a counter's period."""
    for day in DATES:
        if period in (f"{day.year:04d}", f"{day.year:04d}-{day.month:02d}"):
            return day
    raise ValueError(f"no harness date in period {period!r}")


def setup(engine: sa.Engine) -> None:
    """Create the tables and define the sequences (a fresh database)."""
    from sqlalchemy.orm import Session

    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        seqs = SEQUENCING.manager(session)
        for name, (pattern, reset, policy) in SEQUENCES.items():
            seqs.define(name, pattern, reset_period=reset, gap_policy=policy, exist_ok=True)
