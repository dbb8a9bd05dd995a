"""Carry django-sequences' counters over to sa_sequencing, in one transaction.

django-sequences keeps one row per sequence name in ``sequences_sequence`` (``name``,
``last``: the last value it returned).  For each name this defines a sa_sequencing
sequence whose first number is ``last + 1``; a name that is defined already is left
alone, so the script may run again.  Run it while nothing draws numbers::

    python from_django_sequences.py postgresql+psycopg://app@localhost/app
    invoice_numbers: the next number is 1043
"""

from __future__ import annotations

import sys

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sa_sequencing import Sequencing

DJANGO_TABLE = sa.table("sequences_sequence", sa.column("name"), sa.column("last"))


def carry_over(
    session: Session, sequencing: Sequencing, pattern: str = "{COUNTER}"
) -> dict[str, str]:
    """Define a sequence per django-sequences row, continuing after its ``last``;
    return each name's next number."""
    seqs = sequencing.manager(session)
    rows = session.execute(sa.select(DJANGO_TABLE.c.name, DJANGO_TABLE.c.last)).all()
    following = {}
    for name, last in rows:
        if seqs.find(name) is None:
            # django-sequences never resets and has no periods, so start= (the
            # first value of a counter) carries the numbering over exactly.
            seqs.define(name, pattern, start=last + 1, performed_by="django-sequences import")
        following[name] = seqs.preview(name)
    return following


def main(url: str) -> None:
    engine = sa.create_engine(url)
    sequencing = Sequencing(sa.MetaData())
    sequencing.create_all(engine)
    with Session(engine) as session, session.begin():
        for name, number in carry_over(session, sequencing).items():
            print(f"{name}: the next number is {number}")
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
