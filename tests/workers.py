"""Worker functions for multi-process tests (imported by name in spawned children)."""

from __future__ import annotations

import random

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session

from sa_sequencing import Sequencing


class WorkerBase(DeclarativeBase):
    pass


WORKER_SEQUENCING = Sequencing(WorkerBase)


def draw_numbers(url: str, name: str, transactions: int, seed: int) -> list[str]:
    """Draw numbers in short transactions, rolling back about a fifth of them;
    return the numbers of the committed ones."""
    rng = random.Random(seed)
    engine = sa.create_engine(url)
    committed: list[str] = []
    try:
        for _ in range(transactions):
            with Session(engine) as session:
                session.begin()
                seqs = WORKER_SEQUENCING.manager(session)
                count = rng.choice((1, 1, 1, 2, 3))
                numbers = seqs.generate_many(name, count) if count > 1 else [seqs.generate(name)]
                if rng.random() < 0.2:
                    session.rollback()
                else:
                    session.commit()
                    committed.extend(numbers)
    finally:
        engine.dispose()
    return committed
