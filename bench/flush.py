"""The cost of the flush hook: 10,000 new objects numbered by ``SequenceColumn``
against the same flush with the numbers set by hand.

For every database, each round runs, in rotating order, one transaction of each:

* ``by hand``: ``session.add_all(10,000 objects with number="B-1".."B-10000")``, flush,
  commit (the hook still runs, and leaves the values alone);
* ``hook, audit off``: the same objects without numbers, from a definition with
  ``audit_numbers=False``: the hook's own cost (one counter statement);
* ``hook, audit on``: the default definition, which also writes one
  ``number_generated`` audit row per number (10,000 more rows in the same flush).

It prints the median time of each over the rounds and, for each hook method, the
median over the rounds of its ratio to ``by hand`` *in the same round*: pairing the
methods round by round cancels the drift of a shared machine (background writes,
vacuum, checkpoints) that a ratio of two medians taken from different rounds
keeps.  The target is at most 1.15x.
Every hook round is checked: the objects hold exactly ``B-1`` .. ``B-N`` in insert
order.

Usage::

    python bench/flush.py [--backends sqlite,postgresql,mysql] [--objects 10000]
                          [--rounds 9]

Server URLs come from ``SA_SEQUENCING_TEST_POSTGRESQL_URL`` and
``SA_SEQUENCING_TEST_MYSQL_URL``; SQLite uses a temporary file.  The tables are
prefixed ``benchflush_`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import sqlalchemy as sa

# the same server URLs as bench/generate.py (run as a script, bench/ is on sys.path)
from generate import DEFAULT_URLS
from generate import URL_ENV
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from sa_sequencing import SequenceColumn
from sa_sequencing import Sequencing


class Base(DeclarativeBase):
    pass


SEQUENCING = Sequencing(Base, table_prefix="benchflush_")


class Doc(Base):
    __tablename__ = "benchflush_docs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(String(40))
    number: Mapped[str | None] = SequenceColumn(
        "docs", scope="kind", sequencing=SEQUENCING, unique=True
    )


def url_for(backend: str, sqlite_file: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{sqlite_file}"
    return os.environ.get(URL_ENV[backend]) or DEFAULT_URLS[backend]


def reset(engine: sa.Engine) -> None:
    """Empty the tables a round writes.

    On the servers by ``TRUNCATE``, as ``generate.py`` does: a ``DELETE`` of the last
    round's 20,000 rows would leave dead rows for vacuum (InnoDB: purge) to clean up
    in the background during the next round.
    """
    tables = [Doc.__table__, SEQUENCING.tables.counters, SEQUENCING.tables.audits]
    name = engine.dialect.name
    with engine.begin() as conn:
        if name == "sqlite":
            for table in tables:
                conn.execute(table.delete())
            return
        for table in tables:
            conn.exec_driver_sql(
                f"TRUNCATE TABLE {engine.dialect.identifier_preparer.format_table(table)}"
            )


def one_flush(engine: sa.Engine, count: int, kind: str, by_hand: bool) -> float:
    docs = [
        Doc(kind=kind, body=f"document {i}", number=f"B-{i}" if by_hand else None)
        for i in range(1, count + 1)
    ]
    began = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add_all(docs)
    elapsed = time.perf_counter() - began
    expected = [f"B-{i}" for i in range(1, count + 1)]
    if [d.number for d in docs] != expected:
        sys.exit(f"{engine.dialect.name}: the objects do not hold B-1 .. B-{count} in order")
    return elapsed


def measure(backend: str, url: str, count: int, rounds: int) -> dict[str, float]:
    engine = sa.create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as session, session.begin():
            seqs = SEQUENCING.manager(session)
            seqs.define("docs", "B-{COUNTER}", audit_numbers=False, scope="quiet")
            seqs.define("docs", "B-{COUNTER}", scope="audited")
        methods: dict[str, Callable[[], float]] = {
            "by hand": lambda: one_flush(engine, count, "audited", True),
            "hook, audit off": lambda: one_flush(engine, count, "quiet", False),
            "hook, audit on": lambda: one_flush(engine, count, "audited", False),
        }
        times: dict[str, list[float]] = {name: [] for name in methods}
        names = list(methods)
        one_flush(engine, 100, "quiet", False)  # warm up caches and compiled statements
        for r in range(rounds):
            for name in names[r % 3 :] + names[: r % 3]:
                reset(engine)
                times[name].append(methods[name]())
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name in ("hook, audit off", "hook, audit on"):
            ratios = [t / hand for t, hand in zip(times[name], times["by hand"], strict=True)]
            medians[f"{name} ratio"] = statistics.median(ratios)
        return medians
    finally:
        Base.metadata.drop_all(engine)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{args.objects} new objects per flush, median of {args.rounds} rounds")
        print(f"{'database':<12}{'by hand':>10}{'hook/audit off':>26}{'hook/audit on':>26}")
        for backend in args.backends.split(","):
            url = url_for(backend, os.path.join(tmp, "flush.db"))
            medians = measure(backend, url, args.objects, args.rounds)
            hand = medians["by hand"]
            cells = [
                f"{medians[name]:7.3f}s ({medians[f'{name} ratio']:.2f}x)"
                for name in ("hook, audit off", "hook, audit on")
            ]
            print(f"{backend:<12}{hand:9.3f}s{cells[0]:>26}{cells[1]:>26}")


if __name__ == "__main__":
    main()
