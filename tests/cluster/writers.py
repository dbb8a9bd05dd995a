"""Writers for the Galera cluster tests, and the measurement of retry attempts.

Each writer is a process drawing numbers in short transactions under
:func:`~sa_sequencing.run_in_transaction`, half of them with ``generate`` and half by
inserting an ``Invoice`` numbered by the flush hook, all from one hot counter.  It
returns what it believes it committed and every error that escaped
``run_in_transaction``.  Measure the failure rate per ``attempts``::

    python tools/galera.py start
    python tests/cluster/writers.py --attempts 2,3,5,8,10 --transactions 150
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import multiprocessing
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from sa_sequencing import SequenceColumn
from sa_sequencing import Sequencing
from sa_sequencing import run_in_transaction
from sa_sequencing.faults import classify

SEQUENCE = "galera_seq"
PREFIX = "G-"


class ClusterBase(DeclarativeBase):
    pass


CLUSTER_SEQUENCING = Sequencing(ClusterBase)


class Invoice(ClusterBase):
    __tablename__ = "galera_invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    writer: Mapped[str] = mapped_column(sa.String(20))
    number: Mapped[str | None] = SequenceColumn(SEQUENCE, sequencing=CLUSTER_SEQUENCING)


@dataclass
class WriterResult:
    committed: list[str] = field(default_factory=list)
    """Numbers whose transaction ``run_in_transaction`` reported committed."""
    escaped: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, fault, first line of the message) of each error that escaped it."""
    attempts: list[int] = field(default_factory=list)
    """How many runs of the work each transaction took (escaped ones included)."""
    tracebacks: list[str] = field(default_factory=list)


def reset_schema(urls: list[str]) -> None:
    """Drop and create the tables and define the sequence on the first node; return
    once every node has applied it (``wsrep_sync_wait``: a definition made on one node
    is not yet visible on another the moment its COMMIT returns)."""
    engine = sa.create_engine(urls[0])
    try:
        ClusterBase.metadata.drop_all(engine)
        ClusterBase.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            CLUSTER_SEQUENCING.manager(session).define(SEQUENCE, PREFIX + "{COUNTER}")
    finally:
        engine.dispose()
    for url in urls[1:]:
        engine = sa.create_engine(url)
        try:
            with Session(engine) as session, session.begin():
                session.execute(sa.text("SET SESSION wsrep_sync_wait = 1"))
                CLUSTER_SEQUENCING.manager(session).get(SEQUENCE)
        finally:
            engine.dispose()


def failover_factory(engines: list[sa.Engine], home: int) -> Callable[[], Session]:
    """A session factory for one transaction: its first attempt runs on the home node,
    each further attempt on the next node (client-side failover)."""
    calls = itertools.count()

    def factory() -> Session:
        return Session(engines[(home + next(calls)) % len(engines)])

    return factory


def galera_writer(
    urls: list[str],
    home: int,
    transactions: int,
    seed: int,
    retry: dict[str, Any],
    failover: bool = False,
) -> WriterResult:
    """Run ``transactions`` transactions on node ``home`` (``failover``: a retry moves
    to the next node); ``retry`` is passed to ``run_in_transaction`` (``{}``: its
    defaults)."""
    rng = random.Random(seed)
    engines = [sa.create_engine(url, pool_pre_ping=True) for url in urls]
    result = WriterResult()
    try:
        for i in range(transactions):
            runs = 0
            use_flush = i % 2 == 1

            def work(session: Session, use_flush: bool = use_flush) -> list[str]:
                nonlocal runs
                runs += 1
                if use_flush:
                    invoices = [Invoice(writer=f"w{seed}") for _ in range(rng.choice((1, 2)))]
                    session.add_all(invoices)
                    session.flush()
                    return [str(inv.number) for inv in invoices]
                return [CLUSTER_SEQUENCING.manager(session).generate(SEQUENCE)]

            factory = (
                failover_factory(engines, home) if failover else (lambda: Session(engines[home]))
            )
            try:
                result.committed.extend(run_in_transaction(factory, work, **retry))
            except Exception as exc:
                fault = classify(exc)
                first = str(exc).splitlines()[0][:200] if str(exc) else ""
                result.escaped.append((type(exc).__name__, fault.value, first))
                result.tracebacks.append(traceback.format_exc())
            result.attempts.append(runs)
    finally:
        for engine in engines:
            engine.dispose()
    return result


def run_writers(
    urls: list[str],
    *,
    per_node: int,
    transactions: int,
    retry: dict[str, Any],
    failover: bool = False,
    during: Callable[[], None] | None = None,
) -> list[WriterResult]:
    """``per_node`` writer processes on every node; ``during()`` runs in this process
    while they work."""
    context = multiprocessing.get_context("spawn")
    jobs = [
        (urls, node, transactions, node * 100 + k, retry, failover)
        for node in range(len(urls))
        for k in range(per_node)
    ]
    with context.Pool(len(jobs)) as pool:
        pending = pool.starmap_async(galera_writer, jobs)
        if during is not None:
            during()
        return pending.get(timeout=1800)


def ledger_numbers(url: str) -> list[int]:
    """The committed numbers in the ledger of one node, read after the node has
    applied everything the cluster committed before (``wsrep_sync_wait``)."""
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            session.execute(sa.text("SET SESSION wsrep_sync_wait = 1"))
            entries = CLUSTER_SEQUENCING.manager(session).audit_log(SEQUENCE, limit=None)
            return sorted(
                int(e.number.removeprefix(PREFIX))
                for e in entries
                if e.event == "number_generated" and e.number
            )
    finally:
        engine.dispose()


def invoice_numbers(url: str) -> list[int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SET SESSION wsrep_sync_wait = 1"))
            return sorted(
                int(n.removeprefix(PREFIX))
                for n in conn.execute(sa.select(Invoice.number)).scalars()
                if n is not None
            )
    finally:
        engine.dispose()


def census(results: list[WriterResult]) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for result in results:
        for kind, fault, _ in result.escaped:
            counts[f"{kind} ({fault})"] += 1
    return counts


def measure(urls: list[str], attempts: list[int], per_node: int, transactions: int) -> None:
    """Print, for each ``attempts``, the transactions that escaped run_in_transaction."""
    print(
        f"{per_node} writers per node x {len(urls)} nodes, {transactions} transactions each, "
        "one hot counter; generate and flush hook alternate"
    )
    print("attempts  transactions  failed  rate     runs/tx  max runs  seconds  escaped")
    for count in attempts:
        reset_schema(urls)
        began = time.monotonic()
        results = run_writers(
            urls, per_node=per_node, transactions=transactions, retry={"attempts": count}
        )
        elapsed = time.monotonic() - began
        total = sum(len(r.attempts) for r in results)
        failed = sum(len(r.escaped) for r in results)
        runs = [n for r in results for n in r.attempts]
        stored = [ledger_numbers(url) for url in urls]
        committed = sorted(int(n.removeprefix(PREFIX)) for r in results for n in r.committed)
        consistent = all(s == list(range(1, len(s) + 1)) == committed for s in stored)
        print(
            f"{count:8}  {total:12}  {failed:6}  {100 * failed / total:5.2f}%  "
            f"{sum(runs) / total:7.2f}  {max(runs):8}  {elapsed:7.1f}  "
            f"{dict(census(results))}{'' if consistent else '  LEDGER MISMATCH'}"
        )
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description="retry attempts against a Galera cluster")
    parser.add_argument("--attempts", default="2,3,5,8,10")
    parser.add_argument("--per-node", type=int, default=2)
    parser.add_argument("--transactions", type=int, default=150)
    parser.add_argument("--urls", nargs="*", default=None)
    args = parser.parse_args()
    urls = args.urls
    if not urls:
        sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
        galera = __import__("tools.galera", fromlist=["urls"])
        urls = galera.urls()
    with contextlib.suppress(KeyboardInterrupt):
        measure(urls, [int(a) for a in args.attempts.split(",")], args.per_node, args.transactions)


if __name__ == "__main__":
    main()
