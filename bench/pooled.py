"""Throughput of pooled ``generate()`` (``cache_size=N``) against gapless ``generate()``
and PostgreSQL's own ``nextval``, measured in the same run.

For every database and thread count it measures committed numbers per second, each
number drawn in its own short transaction (``with Session(engine) as s, s.begin():``,
the shape of ``bench/generate.py``), for:

* ``pooled (audit on)``: ``define("pooled", "P-{COUNTER}", cache_size=N)``;
* ``pooled (audit off)``: the same with ``audit_numbers=False``;
* ``gapless``: the default definition (``cache_size=0``, audit on);
* ``nextval`` (PostgreSQL only): ``SELECT nextval('bench_pool_seq')`` on a
  ``CREATE SEQUENCE ... CACHE 1`` through the same driver and Session shape.

It prints the ratios pooled/gapless and pooled/nextval.  The issue's targets: pooled
``generate`` at 4 threads on PostgreSQL >= 20x gapless and >= nextval.  Every run is
checked: no number drawn twice.  Each cell is the median of ``--rounds`` slices,
methods interleaved, so a burst of load elsewhere does not decide a ratio.

Usage::

    python bench/pooled.py [--backends sqlite,postgresql,mysql] [--seconds 2]
                           [--threads 1,4] [--cache-size 1000] [--rounds 3]

Server URLs come from ``SA_SEQUENCING_TEST_POSTGRESQL_URL`` and
``SA_SEQUENCING_TEST_MYSQL_URL``; SQLite uses a temporary file.  The tables are
prefixed ``bench_pool_`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session

from sa_sequencing import Sequencing

URL_ENV = {
    "postgresql": "SA_SEQUENCING_TEST_POSTGRESQL_URL",
    "mysql": "SA_SEQUENCING_TEST_MYSQL_URL",
}
DEFAULT_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
}
PG_SEQUENCE = "bench_pool_seq"
METHODS = ("pooled_audit", "pooled_noaudit", "gapless", "nextval")
LABELS = {
    "pooled_audit": "pooled (audit on)",
    "pooled_noaudit": "pooled (audit off)",
    "gapless": "gapless",
    "nextval": "nextval (PostgreSQL SEQUENCE)",
}


class Base(DeclarativeBase):
    pass


SEQUENCING = Sequencing(Base, table_prefix="bench_pool_")


def draw_function(method: str) -> Callable[[Session], Any]:
    if method == "nextval":
        statement = text(f"SELECT nextval('{PG_SEQUENCE}')")
        return lambda session: session.execute(statement).scalar_one()
    name = {"pooled_audit": "pa", "pooled_noaudit": "pn", "gapless": "g"}[method]
    return lambda session: SEQUENCING.manager(session).generate(name)


def measure(
    engine: sa.Engine, method: str, threads: int, seconds: float
) -> tuple[float, list[Any]]:
    """Numbers per second over ``seconds`` with ``threads`` threads, and every value."""
    draw = draw_function(method)
    barrier = threading.Barrier(threads + 1)
    values: list[list[Any]] = [[] for _ in range(threads)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            while not stop.is_set():
                with Session(engine) as session, session.begin():
                    values[i].append(draw(session))
        except BaseException as exc:  # reported below
            errors.append(exc)
            stop.set()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    drawn = [v for per_thread in values for v in per_thread]
    return len(drawn) / elapsed, drawn


def prepare(engine: sa.Engine, backend: str, cache_size: int) -> None:
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        seqs = SEQUENCING.manager(session)
        seqs.define("pa", "P-{COUNTER}", cache_size=cache_size)
        seqs.define("pn", "P-{COUNTER}", cache_size=cache_size, audit_numbers=False)
        seqs.define("g", "G-{COUNTER}")
    if backend == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"DROP SEQUENCE IF EXISTS {PG_SEQUENCE}"))
            conn.execute(text(f"CREATE SEQUENCE {PG_SEQUENCE} CACHE 1"))


def bench(backend: str, url: str, args: argparse.Namespace) -> list[str]:
    threads_list = [int(t) for t in args.threads.split(",")]
    engine = sa.create_engine(url, pool_size=max(threads_list) + 4, max_overflow=8)
    methods = [m for m in METHODS if m != "nextval" or backend == "postgresql"]
    failures: list[str] = []
    try:
        prepare(engine, backend, args.cache_size)
        for method in methods:  # warm-up: connections, compiled statements, first block
            measure(engine, method, max(threads_list), 0.3)
        drawn: dict[str, list[Any]] = {m: [] for m in methods}
        rates: dict[tuple[str, int], list[float]] = {}
        for threads in threads_list:
            for _ in range(args.rounds):
                for method in methods:
                    rate, values = measure(engine, method, threads, args.seconds)
                    rates.setdefault((method, threads), []).append(rate)
                    drawn[method] += values
        for method, values in drawn.items():
            if len(values) != len(set(values)):
                failures.append(f"{backend} {method}: a number was drawn twice")
        print(f"\n{backend} ({engine.dialect.driver}), cache_size={args.cache_size}")
        print(f"  {'method':32}" + "".join(f"{t:>10} thr" for t in threads_list))
        med = {k: statistics.median(v) for k, v in rates.items()}
        for method in methods:
            cells = "".join(f"{med[(method, t)]:>14,.0f}" for t in threads_list)
            print(f"  {LABELS[method]:32}{cells}  numbers/s")
        for pooled in ("pooled_audit", "pooled_noaudit"):
            for base in ("gapless", "nextval"):
                if base not in methods:
                    continue
                ratios = "".join(
                    f"{med[(pooled, t)] / med[(base, t)]:>14.2f}" for t in threads_list
                )
                print(f"  {LABELS[pooled] + ' / ' + base:32}{ratios}")
        if backend == "postgresql" and 4 in threads_list:
            pooled4 = med[("pooled_audit", 4)]
            for base, target in (("gapless", 20.0), ("nextval", 1.0)):
                ratio = pooled4 / med[(base, 4)]
                verdict = "met" if ratio >= target else "NOT met"
                print(f"  target pooled (audit on) >= {target:g}x {base} at 4 threads: {verdict}")
    finally:
        SEQUENCING.release_pools(engine)
        if backend == "postgresql":
            with engine.begin() as conn:
                conn.execute(text(f"DROP SEQUENCE IF EXISTS {PG_SEQUENCE}"))
        Base.metadata.drop_all(engine)
        engine.dispose()
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", default="1,4")
    parser.add_argument("--cache-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{tmp}/bench.db"
            else:
                url = os.environ.get(URL_ENV[backend], DEFAULT_URLS[backend])
            failures += bench(backend, url, args)
    for failure in failures:
        print("FAILED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
