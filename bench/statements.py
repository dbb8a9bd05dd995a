"""What our SQL costs the database, without SQLAlchemy: the statements one ``generate``
sends, replayed through the raw DB-API driver beside the floor's statement.

``generate.py`` compares whole transactions through SQLAlchemy; this script splits
off the part no Python change can remove.  For each database it

1. records, through ``before_cursor_execute``, the exact SQL and driver parameters
   that ``generate`` sends per number in steady state, for the default definition
   (per-number audit on) and for ``audit_numbers=False``;
2. replays each list through one raw driver connection (execute each statement,
   fetch what it returns, commit), interleaved number by number with the floor's
   statement (``UPDATE ... RETURNING`` / ``INSERT ... ON DUPLICATE KEY UPDATE value =
   LAST_INSERT_ID(value + 1)``) on its own table;
3. prints the median microseconds per transaction and ``floor / ours``.

The gap between this ratio and ``generate.py``'s is Python time (ours and
SQLAlchemy's); the gap between this ratio and 1.0 is the database's work on our
statements: the composite counter key, the revision guard, the ledger row.

Usage::

    python bench/statements.py [--backends sqlite,postgresql,mysql] [--numbers 2000]

Server URLs come from ``SA_SEQUENCING_TEST_POSTGRESQL_URL`` and
``SA_SEQUENCING_TEST_MYSQL_URL``; SQLite uses a temporary file (WAL, as in
``generate.py``).  Tables are prefixed ``benchstmt_`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import sqlalchemy as sa
from flush import url_for
from sqlalchemy import event
from sqlalchemy.orm import Session

from sa_sequencing import Sequencing

METADATA = sa.MetaData()
SEQUENCING = Sequencing(METADATA, table_prefix="benchstmt_")
FLOOR = sa.Table(
    "benchstmt_floor",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.BigInteger, nullable=False),
)
FLOOR_SQL = {
    "postgresql": "UPDATE benchstmt_floor SET value = value + 1 WHERE id = 1 RETURNING value",
    "sqlite": "UPDATE benchstmt_floor SET value = value + 1 WHERE id = 1 RETURNING value",
    "mysql": (
        "INSERT INTO benchstmt_floor (id, value) VALUES (1, 1) "
        "ON DUPLICATE KEY UPDATE value = LAST_INSERT_ID(value + 1)"
    ),
}

Statements = list[tuple[str, Any]]


def recorded(engine: sa.Engine, name: str) -> Statements:
    """The statements one steady-state ``generate(name)`` sends, with driver params."""
    sent: Statements = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        sent.append((statement, params))

    for _ in range(2):  # the second call: definition cached, counter existing
        sent.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            with Session(engine) as session, session.begin():
                SEQUENCING.manager(session).generate(name)
        finally:
            event.remove(engine, "before_cursor_execute", record)
    return sent


def replay(raw: Any, statements: Statements) -> float:
    began = time.perf_counter()
    cursor = raw.cursor()
    for statement, params in statements:
        if params is None:
            cursor.execute(statement)
        else:
            cursor.execute(statement, params)
        if cursor.description is not None:
            cursor.fetchall()
    cursor.close()
    raw.commit()
    return time.perf_counter() - began


def measure(url: str, numbers: int) -> dict[str, float]:
    engine = sa.create_engine(url)
    METADATA.drop_all(engine)
    METADATA.create_all(engine)
    try:
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        with Session(engine) as session, session.begin():
            seqs = SEQUENCING.manager(session)
            seqs.define("audit_on", "B-{COUNTER}")
            seqs.define("audit_off", "B-{COUNTER}", audit_numbers=False)
            session.execute(FLOOR.insert().values(id=1, value=0))
        lists = {
            "ours, audit on": recorded(engine, "audit_on"),
            "ours, audit off": recorded(engine, "audit_off"),
            "floor": [(FLOOR_SQL[engine.dialect.name], None)],
        }
        for name, statements in lists.items():
            print(f"  {name}: {len(statements)} statement(s) per number")
        raw = engine.raw_connection()
        try:
            times: dict[str, list[float]] = {name: [] for name in lists}
            for _ in range(numbers // 10):  # warm up the server's caches and plans
                for statements in lists.values():
                    replay(raw.driver_connection, statements)
            for _ in range(numbers):
                for name, statements in lists.items():
                    times[name].append(replay(raw.driver_connection, statements))
        finally:
            raw.close()
        return {name: statistics.median(values) for name, values in times.items()}
    finally:
        METADATA.drop_all(engine)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument("--numbers", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for backend in args.backends.split(","):
            print(f"{backend}:")
            results[backend] = measure(
                url_for(backend, os.path.join(tmp, "stmt.db")), args.numbers
            )
        print(f"\nraw driver, median us per number in its own transaction ({args.numbers} each)")
        print(f"{'database':<12}{'floor':>8}{'audit off':>18}{'audit on':>18}")
        for backend, medians in results.items():
            floor = medians["floor"]
            cells = [
                f"{medians[name] * 1e6:7.0f} ({floor / medians[name]:.2f})"
                for name in ("ours, audit off", "ours, audit on")
            ]
            print(f"{backend:<12}{floor * 1e6:8.0f}{cells[0]:>18}{cells[1]:>18}")


if __name__ == "__main__":
    sys.exit(main())
