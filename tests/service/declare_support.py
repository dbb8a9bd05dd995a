"""A Sequencing of its own for the declaration tests (tables ``decl_*``), made fresh for
each test so that its declarations are the test's only; and the worker of the
multi-process test (imported by name in spawned children)."""

from __future__ import annotations

import functools
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import sessionmaker

from sa_sequencing import Sequencing
from sa_sequencing import run_in_transaction

PREFIX = "decl_"


def fresh_sequencing(**options: Any) -> tuple[type[DeclarativeBase], Sequencing]:
    """A new declarative base with a new Sequencing on it (tables ``decl_*``)."""

    class Base(DeclarativeBase):
        pass

    return Base, Sequencing(Base, table_prefix=PREFIX, **options)


def snapshot(engine: sa.Engine, sequencing: Sequencing) -> dict[str, list[tuple[str, ...]]]:
    """Every row of the six tables, to assert that a refusal wrote nothing."""
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(str(v) for v in row) for row in conn.execute(sa.select(t)))
            for t in sequencing.tables.all()
        }


def declare_invoices(sequencing: Sequencing) -> None:
    """The declarations every process of the multi-process test makes."""
    sequencing.declare("inv", "INV-{YEAR}-{COUNTER:5}", reset_period="yearly")
    sequencing.declare("inv", "T1-{COUNTER:4}", scope="t1", gap_policy="report_gaps_only")
    sequencing.declare("po", "PO-{COUNTER}")


def sync_at(url: str, start_at: float) -> list[tuple[str, str]]:
    """Sync the declarations of :func:`declare_invoices` at wall-clock ``start_at`` (so
    that processes started one after another sync together); return what it created."""
    _, sequencing = fresh_sequencing()
    declare_invoices(sequencing)
    engine = sa.create_engine(url)
    try:
        time.sleep(max(0.0, start_at - time.time()))
        sync = functools.partial(sequencing.sync, performed_by="deploy")
        return run_in_transaction(sessionmaker(engine), sync).created
    finally:
        engine.dispose()
