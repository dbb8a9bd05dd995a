"""Reads that a screen or a monitor calls, as the ledger and the gap registry grow.

    python bench/reads.py [--backends postgresql,mysql,sqlite] [--sizes 0,100000,1000000]

For each size N it fills the tables of one sequence with N ledger rows (``number_generated``
rows over 10 scopes, and the sequence's other events), N/10 gaps and N/100 scopes with a
counter each, straight in SQL (``generate_series`` / MariaDB's ``seq_`` tables / a
recursive CTE), then times, as the median of 5 calls in their own transactions:

* ``audit_log(name, limit=100)`` (every scope) and ``audit_log(name, scope=S, limit=100)``
* ``metrics(name, scope=S)``
* ``gaps(name, scope=S)`` and ``gap_report(name, scope=S)`` streamed to the end
* ``void(name, number)`` of one issued number (finds its counter, checks the ledger)
* ``generate(name, scope=S)`` (the hot path must not feel the history)

and prints each in milliseconds with its ratio to the same read on the empty database (N=0)
measured in the same run. The target: every ratio within 2x at 10^6 (not 100x).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session

from sa_sequencing import Sequencing

URLS = {
    "postgresql": os.environ.get(
        "SA_SEQUENCING_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get(
        "SA_SEQUENCING_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
    ),
    "sqlite": "sqlite:///bench_reads.sqlite",
}
SCOPES = 10


class Base(DeclarativeBase):
    pass


SEQ = Sequencing(Base, table_prefix="benchr_")


def series(dialect: str, n: int) -> str:
    """A one-column ``i`` row source 1..n in the database's own SQL."""
    if dialect == "postgresql":
        return f"(SELECT generate_series(1, {n}) AS i) AS s"
    if dialect in ("mysql", "mariadb"):
        return f"(SELECT seq AS i FROM seq_1_to_{n}) AS s"
    return (
        f"(WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {n}) "
        "SELECT i FROM r) AS s"
    )


def fill(engine: sa.Engine, n: int) -> None:
    """The history of N numbers of sequence 'inv' in 10 scopes, written in SQL."""
    t = SEQ.tables
    with Session(engine) as s, s.begin():
        m = SEQ.manager(s)
        m.define("inv", "INV-{COUNTER:9}", gap_policy="report_gaps_only")
        for k in range(SCOPES):
            m.generate("inv", scope=f"s{k}")
    if n == 0:
        return
    d = engine.dialect.name
    a, g, c = t.audits.name, t.gaps.name, t.counters.name
    per = n // SCOPES
    cat = "||" if d != "mysql" and d != "mariadb" else None

    def num(expr: str) -> str:
        if cat:
            return (
                f"'INV-' || lpad(CAST({expr} AS TEXT), 9, '0')"
                if d == "postgresql"
                else (f"'INV-' || printf('%09d', {expr})")
            )
        return f"CONCAT('INV-', LPAD({expr}, 9, '0'))"

    now = "CURRENT_TIMESTAMP"
    mod = f"(i % {SCOPES})" if d == "sqlite" else f"MOD(i, {SCOPES})"
    with engine.begin() as conn:
        sid = conn.execute(sa.select(t.sequences.c.id).where(t.sequences.c.name == "inv")).scalar()
        # ledger: per rows per scope, values 2..per+1 (value 1 was drawn above)
        conn.exec_driver_sql(
            f"INSERT INTO {a} (sequence_name, scope, event, number, counter_value, data, "
            f"performed_by, created_at) SELECT 'inv', CONCAT('s', {mod}), "
            f"'number_generated', {num(f'(i / {SCOPES}) + 2')}, (i / {SCOPES}) + 2, NULL, NULL, "
            f"{now} FROM {series(d, n)}"
            if not cat
            else f"INSERT INTO {a} (sequence_name, scope, event, number, counter_value, data, "
            f"performed_by, created_at) SELECT 'inv', 's' || ({mod}), "
            f"'number_generated', {num(f'(i / {SCOPES}) + 2')}, (i / {SCOPES}) + 2, NULL, NULL, "
            f"{now} FROM {series(d, n)}"
        )
        conn.execute(
            t.counters.update().where(t.counters.c.sequence_id == sid).values(value=per + 1)
        )
        # gaps: n/10, spread over the scopes
        gaps = max(1, n // 10)
        scope_expr = f"CONCAT('s', {mod})" if not cat else f"'s' || ({mod})"
        conn.exec_driver_sql(
            f"INSERT INTO {g} (sequence_id, scope, period, cycle, value, number, reason, status, "
            f"performed_by, created_at) SELECT {sid}, {scope_expr}, '', 1, "
            f"(i / {SCOPES}) + 2, {num(f'(i / {SCOPES}) + 2')}, 'voided', 'unfilled', NULL, {now} "
            f"FROM {series(d, gaps)}"
        )
        # many scopes: n/100 counters of other scopes
        scopes = max(1, n // 100)
        other = "CONCAT('x', i)" if not cat else "'x' || i"
        conn.exec_driver_sql(
            f"INSERT INTO {c} (sequence_id, scope, period, value, cycle, updated_at) "
            f"SELECT {sid}, {other}, '', 5, 1, {now} FROM {series(d, scopes)}"
        )


def timed(engine: sa.Engine, call: Callable[[Any], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        with Session(engine) as s, s.begin():
            m = SEQ.manager(s)
            began = time.perf_counter()
            call(m)
            times.append(time.perf_counter() - began)
            s.rollback()
    return statistics.median(times) * 1000


READS: dict[str, Callable[[Any], Any]] = {
    "audit_log(name)": lambda m: m.audit_log("inv", limit=100),
    "audit_log(name, scope)": lambda m: m.audit_log("inv", scope="s3", limit=100),
    "metrics(name, scope)": lambda m: m.metrics("inv", scope="s3"),
    "gaps(name, scope)": lambda m: sum(1 for _ in m.gaps("inv", scope="s3")),
    "gap_report(name, scope)": lambda m: sum(1 for _ in m.gap_report("inv", scope="s3")),
    "void(name, number)": lambda m: m.void("inv", "INV-000000001", scope="s4"),
    "generate(name, scope)": lambda m: m.generate("inv", scope="s5"),
}


def run(backend: str, sizes: list[int]) -> int:
    engine = sa.create_engine(URLS[backend])
    results: dict[str, dict[int, float]] = {name: {} for name in READS}
    for n in sizes:
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        began = time.perf_counter()
        fill(engine, n)
        # fresh statistics, as autovacuum / InnoDB's persistent stats would have them
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in SEQ.tables.all():
                if engine.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"ANALYZE {table.name}")
                elif engine.dialect.name in ("mysql", "mariadb"):
                    conn.exec_driver_sql(f"ANALYZE TABLE {table.name}").fetchall()
                else:
                    conn.exec_driver_sql(f"ANALYZE {table.name}")
        print(f"{backend}: filled N={n:,} in {time.perf_counter() - began:.1f}s", flush=True)
        for name, call in READS.items():
            results[name][n] = timed(engine, call)
    Base.metadata.drop_all(engine)
    engine.dispose()
    head = f"{'read (' + backend + ')':32}" + "".join(
        f"{'N=' + format(n, ','):>14}" for n in sizes
    )
    print("\n" + head + "   ratio to N=0")
    worst = 0.0
    for name, by_size in results.items():
        base = by_size[sizes[0]] or 1e-9
        ratios = [by_size[n] / base for n in sizes]
        worst = max(worst, ratios[-1])
        cells = "".join(f"{by_size[n]:>11.2f} ms" for n in sizes)
        print(f"{name:32}{cells}   " + " ".join(f"{r:.1f}x" for r in ratios))
    print(f"worst ratio at N={sizes[-1]:,}: {worst:.1f}x (target: within 2x)")
    return 0 if worst <= 2.0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgresql")
    parser.add_argument("--sizes", default="0,100000,1000000")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    status = 0
    for backend in args.backends.split(","):
        status |= run(backend, sizes)
    return status


if __name__ == "__main__":
    sys.exit(main())
