"""Worker functions for multi-process tests (imported by name in spawned children)."""

from __future__ import annotations

import contextlib
import random

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session

from sa_sequencing import Sequencing
from sa_sequencing import run_in_transaction


class WorkerBase(DeclarativeBase):
    pass


WORKER_SEQUENCING = Sequencing(WorkerBase)


def draw_numbers(url: str, name: str, transactions: int, seed: int) -> list[str]:
    """Draw numbers in short transactions, rolling back about a fifth of them;
    return the numbers of the committed ones."""
    rng = random.Random(seed)
    engine = sa.create_engine(url)
    committed: list[str] = []

    class Cancelled(Exception):
        pass

    def draw(session: Session) -> list[str]:
        seqs = WORKER_SEQUENCING.manager(session)
        count = rng.choice((1, 1, 1, 2, 3))
        numbers = seqs.generate_many(name, count) if count > 1 else [seqs.generate(name)]
        if rng.random() < 0.2:
            raise Cancelled
        return numbers

    try:
        for _ in range(transactions):
            # a deadlock victim (InnoDB, a counter's first use) runs again
            with contextlib.suppress(Cancelled):
                committed.extend(run_in_transaction(lambda: Session(engine), draw, attempts=5))
    finally:
        engine.dispose()
    return committed
