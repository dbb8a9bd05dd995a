"""SQLite's stale snapshot (WAL, SQLITE_BUSY_SNAPSHOT), provoked for real: the tests of
run_in_transaction and of its logging both need one."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from sa_sequencing import run_in_transaction


def run_past_a_stale_snapshot(path: str) -> list[int]:
    """Run, through run_in_transaction, a transaction that reads a row and then writes
    it, while another connection commits a write in between on its first run only;
    return the values each run read (the first run cannot write: its snapshot is
    stale, and only running it again cures that)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INT)")
        conn.execute("INSERT INTO t VALUES (1, 0)")
        conn.commit()
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.5})

    # SQLAlchemy's recipe for real SQLite transactions: a read begins one too
    @sa.event.listens_for(engine, "connect")
    def connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    runs: list[int] = []

    def work(session: Session) -> int:
        v = session.execute(sa.text("SELECT v FROM t")).scalar_one()
        runs.append(v)
        if len(runs) == 1:
            with engine.begin() as other:
                other.exec_driver_sql("UPDATE t SET v = v + 10")
        session.execute(sa.text("UPDATE t SET v = :v"), {"v": v + 1})
        return v + 1

    try:
        assert run_in_transaction(sessionmaker(engine), work) == 11
    finally:
        engine.dispose()
    return runs
