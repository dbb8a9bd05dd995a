"""What the gap policies cost per generated number, as ratios measured in one run.

For each database, one thread draws numbers for ``--seconds``, each in its own short
transaction, from three definitions: ``allow_gaps`` (the baseline), ``fill_gaps``
with an empty registry (the plain read that finds no free gap), and ``fill_gaps``
serving voided numbers (claim, re-render, two audit rows).  It prints numbers per
second and each as a ratio of the baseline, so the figure holds on a noisy machine.

Usage::

    python bench/lifecycle.py [--backends sqlite,postgresql,mysql] [--seconds 2]

Server URLs come from ``SA_SEQUENCING_TEST_POSTGRESQL_URL`` and
``SA_SEQUENCING_TEST_MYSQL_URL``; SQLite uses a temporary file.  Tables are prefixed
``benchlc_`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sa_sequencing import Sequencing


def _rate(engine: sa.Engine, seq: Sequencing, name: str, seconds: float) -> float:
    drawn, deadline = 0, time.perf_counter() + seconds
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        with Session(engine) as session, session.begin():
            seq.manager(session).generate(name)
        drawn += 1
    return drawn / (time.perf_counter() - began)


def bench(url: str, seconds: float) -> list[tuple[str, float]]:
    engine = sa.create_engine(url)
    seq = Sequencing(sa.MetaData(), table_prefix="benchlc_")
    seq.drop_all(engine)
    seq.create_all(engine)
    try:
        with Session(engine) as session, session.begin():
            seqs = seq.manager(session)
            seqs.define("plain", "P-{COUNTER}")
            seqs.define("fill", "F-{COUNTER}", gap_policy="fill_gaps")
            seqs.define("gappy", "G-{COUNTER}", gap_policy="fill_gaps")
            numbers = seqs.generate_many("gappy", 200_000)
        with Session(engine) as session, session.begin():
            seqs = seq.manager(session)
            for number in numbers[: int(seconds * 3000)]:
                seqs.void("gappy", number)
        for name in ("plain", "fill", "gappy"):
            _rate(engine, seq, name, 0.3)  # warm-up
        return [
            ("allow_gaps", _rate(engine, seq, "plain", seconds)),
            ("fill_gaps, no free gap", _rate(engine, seq, "fill", seconds)),
            ("fill_gaps, serving gaps", _rate(engine, seq, "gappy", seconds)),
        ]
    finally:
        seq.drop_all(engine)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = {
            "sqlite": f"sqlite:///{tmp}/bench.db",
            "postgresql": os.environ.get("SA_SEQUENCING_TEST_POSTGRESQL_URL"),
            "mysql": os.environ.get("SA_SEQUENCING_TEST_MYSQL_URL"),
        }
        for backend in args.backends.split(","):
            url = urls.get(backend)
            if not url:
                print(f"{backend}: skipped (no URL)")
                continue
            rows = bench(url, args.seconds)
            base = rows[0][1]
            print(backend)
            for label, rate in rows:
                print(f"  {label:<26} {rate:8.0f} numbers/s  {rate / base:5.2f} x allow_gaps")


if __name__ == "__main__":
    main()
