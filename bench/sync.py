"""How long ``sequencing.sync(session)`` takes at startup, per database.

    python bench/sync.py [--declarations 100] [--repeat 5]

Declares ``--declarations`` sequences (half global, half for a scope), then times, in
milliseconds, the first ``sync`` (which creates them all) and the median of
``--repeat`` later ones (which find them unchanged and write nothing): the cost a
deployment pays at every start.  The databases are those of
``SA_SEQUENCING_TEST_POSTGRESQL_URL`` and ``SA_SEQUENCING_TEST_MYSQL_URL`` (skipped
when unset) and a SQLite file; the tables are ``benchsync_*``, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session

from sa_sequencing import Sequencing


def _urls() -> dict[str, str]:
    urls = {"sqlite": f"sqlite:///{tempfile.mkdtemp()}/bench-sync.db"}
    for backend in ("postgresql", "mysql"):
        url = os.environ.get(f"SA_SEQUENCING_TEST_{backend.upper()}_URL")
        if url:
            urls[backend] = url
    return urls


def _measure(url: str, declarations: int, repeat: int) -> tuple[float, float]:
    class Base(DeclarativeBase):
        pass

    sequencing = Sequencing(Base, table_prefix="benchsync_")
    for i in range(declarations):
        scope = "acme" if i % 2 else None
        sequencing.declare(
            f"seq{i:04d}", f"S{i}-{{YEAR}}-{{COUNTER:6}}", scope=scope, reset_period="yearly"
        )
    engine = sa.create_engine(url)
    sequencing.drop_all(engine)
    sequencing.create_all(engine)
    try:
        timings = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            with Session(engine) as session, session.begin():
                sequencing.sync(session)
            timings.append((time.perf_counter() - started) * 1000)
        return timings[0], statistics.median(timings[1:])
    finally:
        sequencing.drop_all(engine)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declarations", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.declarations} declarations; milliseconds per sync")
    print(f"{'database':<12}{'first (creates)':>18}{'later (unchanged)':>20}")
    for backend, url in _urls().items():
        first, later = _measure(url, args.declarations, args.repeat)
        print(f"{backend:<12}{first:>18.1f}{later:>20.1f}")


if __name__ == "__main__":
    main()
