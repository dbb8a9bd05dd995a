"""The cost of per-series counters: ``generate`` from a ``counter_by`` definition
against the same pattern and context from a definition without it.

For every database, each round runs, interleaved transactions of each:

* ``one counter``: ``INV-{YEAR}-{DEPARTMENT}-{COUNTER:6}`` without ``counter_by``:
  every department draws from the one counter;
* ``per series``: the same pattern with ``counter_by=("DEPARTMENT",)``: three
  departments, three counters (the period key carries the department).

A round is ``--numbers`` transactions of one ``generate`` of each, interleaved
(departments in turn).  It prints the median time of each and the median over the
rounds of the ratio ``per series`` / ``one counter`` *in the same round* (pairing
cancels the drift of a shared machine).  The extra work is reading the series back
from the rendered text and a longer key: expected within noise of a transaction.

Usage::

    python bench/counter_by.py [--backends sqlite,postgresql,mysql] [--numbers 600]
                               [--rounds 7]

Server URLs come from ``SA_SEQUENCING_TEST_POSTGRESQL_URL`` and
``SA_SEQUENCING_TEST_MYSQL_URL``; SQLite uses a temporary file.  The tables are
prefixed ``benchcb_`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sa_sequencing import Sequencing

PATTERN = "INV-{YEAR}-{DEPARTMENT}-{COUNTER:6}"
DEPARTMENTS = ("SALES", "HR", "IT")
METHODS = {"one counter": "plain", "per series": "series"}


def url_of(backend: str, tmp: str) -> str | None:
    if backend == "sqlite":
        return f"sqlite:///{os.path.join(tmp, 'bench.db')}"
    return os.environ.get(f"SA_SEQUENCING_TEST_{backend.upper()}_URL")


def bench(url: str, numbers: int, rounds: int) -> None:
    metadata = sa.MetaData()
    sequencing = Sequencing(metadata, table_prefix="benchcb_")
    engine = sa.create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    try:
        with Session(engine) as session, session.begin():
            seqs = sequencing.manager(session)
            seqs.define("plain", PATTERN, reset_period="yearly")
            seqs.define("series", PATTERN, reset_period="yearly", counter_by=("DEPARTMENT",))

        def draw(name: str, i: int) -> float:
            start = time.perf_counter()
            with Session(engine) as session, session.begin():
                context = {"DEPARTMENT": DEPARTMENTS[i % len(DEPARTMENTS)]}
                sequencing.manager(session).generate(name, context=context)
            return time.perf_counter() - start

        for i in range(50):  # warm up: statements compiled, counters made
            for name in METHODS.values():
                draw(name, i)
        times: dict[str, list[float]] = {m: [] for m in METHODS}
        ratios: list[float] = []
        labels = list(METHODS)
        for _ in range(rounds):
            # one transaction of each in turn, the first alternating: both methods see
            # the same moment of a shared machine
            measured = dict.fromkeys(labels, 0.0)
            for i in range(numbers):
                for label in labels[i % 2 :] + labels[: i % 2]:
                    measured[label] += draw(METHODS[label], i)
            for label, seconds in measured.items():
                times[label].append(seconds)
            ratios.append(measured["per series"] / measured["one counter"])
        print(f"{engine.dialect.name}: {numbers} transactions x {rounds} rounds")
        for label, values in times.items():
            print(f"  {label:12} median {statistics.median(values):.3f}s")
        print(
            f"  per series / one counter, median of paired ratios: {statistics.median(ratios):.3f}"
        )
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument("--numbers", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            url = url_of(backend.strip(), tmp)
            if url is None:
                print(f"{backend}: no server (set SA_SEQUENCING_TEST_{backend.upper()}_URL)")
                continue
            bench(url, args.numbers, args.rounds)


if __name__ == "__main__":
    main()
