"""Pooled sequences (``cache_size=N``): real threads and processes, on every database.

What a user relies on: no number is ever issued twice, every number comes from the
counter's drawn blocks, and once pools are released (clean shutdown) or recovered
(after a crash or a rolled-back caller), every value the counter passed is either an
issued number or a gap with reason ``cache``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from threads import Cancelled
from threads import commit_in_threads
from threads import run_together

from sa_sequencing import ConfigurationError
from sa_sequencing import SequenceColumn
from sa_sequencing import SequenceExhaustedError
from sa_sequencing import Sequencing
from sa_sequencing import run_in_transaction


@pytest.fixture(autouse=True)
def _release(sequencing: Any) -> Iterator[None]:
    """Pools outlive a test; give them back before the tables are emptied."""
    yield
    sequencing.release_pools()


def _counter(engine: sa.Engine, sequencing: Any, period: str = "") -> int:
    c = sequencing.tables.counters
    with engine.connect() as conn:
        return int(conn.execute(sa.select(c.c.value).where(c.c.period == period)).scalar_one())


def _issued(tx: Any, name: str) -> list[str]:
    with tx() as seqs:
        return [
            e.number for e in seqs.audit_log(name, limit=None) if e.event == "number_generated"
        ]


def _gap_values(tx: Any, name: str, reason: str = "cache") -> list[int]:
    with tx() as seqs:
        return [g.value for g in seqs.gaps(name) if g.reason == reason]


def _accounted(committed: list[str], gaps: list[int], prefix: str = "P-") -> list[int]:
    values = [int(n.removeprefix(prefix)) for n in committed]
    assert len(values) == len(set(values)), "a number was issued twice"
    assert not set(values) & set(gaps), "an issued number is also a gap"
    return sorted(values + gaps)


def test_threads_share_a_pool_without_duplicates(tx, sessions, sequencing, engine):
    """8 threads, a fifth of their transactions rolled back: no duplicate; after
    release and recovery the issued numbers and the cache gaps are exactly 1..counter."""
    with tx() as seqs:
        seqs.define("p", "P-{COUNTER}", cache_size=7, gap_policy="report_gaps_only")

    def draw(thread: int, round_: int, session: Any) -> list[str]:
        rng = random.Random(thread * 1000 + round_)
        seqs = sequencing.manager(session)
        count = rng.choice((1, 1, 2, 9))
        numbers = seqs.generate_many("p", count) if count > 1 else [seqs.generate("p")]
        if rng.random() < 0.2:
            raise Cancelled
        return numbers

    results = commit_in_threads(8, 15, sessions, draw, attempts=5)
    committed = [n for numbers in results for n in numbers]
    assert len(committed) > 50
    top = _counter(engine, sequencing)
    assert all(int(n[2:]) <= top for n in committed), "a number outside the drawn blocks"
    assert sorted(_issued(tx, "p")) == sorted(committed)
    released = sequencing.release_pools()
    with tx() as seqs:
        recovered = seqs.recover_pool_gaps("p")
    gaps = _gap_values(tx, "p")
    assert len(gaps) == released + recovered
    assert _accounted(committed, gaps) == list(range(1, top + 1))


def _pooled_worker(url: str, name: str, transactions: int) -> tuple[list[str], str]:
    """A process drawing from a pooled sequence, released at clean shutdown; returns
    its committed numbers and the error that stopped it (as text: a driver's error
    that does not unpickle would leave the parent's pool waiting forever)."""
    from workers import WORKER_SEQUENCING

    engine = sa.create_engine(url)
    committed: list[str] = []

    def draw(session: Session, i: int) -> list[str]:
        seqs = WORKER_SEQUENCING.manager(session)
        return seqs.generate_many(name, 2) if i % 3 else [seqs.generate(name)]

    try:
        for i in range(transactions):
            committed += run_in_transaction(
                lambda: Session(engine), lambda s, i=i: draw(s, i), attempts=5
            )
        WORKER_SEQUENCING.release_pools()
    except Exception as exc:
        return committed, f"{type(exc).__name__}: {exc}"
    finally:
        engine.dispose()
    return committed, ""


def test_processes_draw_disjoint_blocks(tx, url, engine, sequencing):
    """3 processes: no duplicate; after each released its pool at shutdown, every value
    the counter passed is an issued number or a cache gap, with no recovery call."""
    with tx() as seqs:
        seqs.define("p", "P-{COUNTER}", cache_size=10, gap_policy="report_gaps_only")
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        results = pool.starmap_async(_pooled_worker, [(url, "p", 20)] * 3).get(timeout=300)
    assert [error for _, error in results] == ["", "", ""]
    committed = [n for numbers, _ in results for n in numbers]
    assert len(committed) == 3 * (20 + 13)
    gaps = _gap_values(tx, "p")
    assert _accounted(committed, gaps) == list(range(1, _counter(engine, sequencing) + 1))


def test_switching_gapless_and_pooled_under_load(tx, sessions, sequencing, engine):
    with tx() as seqs:
        seqs.define("p", "P-{COUNTER}", gap_policy="report_gaps_only")
    stop = threading.Event()

    def toggle() -> None:
        for size in (5, 0, 3, 0, 8, 0, 4):
            run_in_transaction(
                sessions,
                lambda s, size=size: sequencing.manager(s).update("p", cache_size=size),
                attempts=10,
            )
        stop.set()

    def draw(thread: int) -> list[str]:
        if thread == 0:
            toggle()
            return []
        numbers: list[str] = []
        while not stop.is_set() or len(numbers) < 10:
            numbers.append(
                run_in_transaction(
                    sessions, lambda s: sequencing.manager(s).generate("p"), attempts=10
                )
            )
        return numbers

    committed = [n for numbers in run_together(5, draw) for n in numbers]
    sequencing.release_pools()
    with tx() as seqs:
        seqs.recover_pool_gaps("p")
    gaps = _gap_values(tx, "p")
    assert _accounted(committed, gaps) == list(range(1, _counter(engine, sequencing) + 1))


def test_a_pooled_draw_does_not_wait_for_an_open_transaction(tx, sessions, sequencing, backend):
    """One caller keeps its transaction open after drawing; another draws enough to
    take two new blocks, and commits, while the first is still open."""
    if backend == "sqlite":
        pytest.skip("SQLite has one writer: the second caller's ledger row waits anyway")
    with tx() as seqs:
        seqs.define("p", "P-{COUNTER}", cache_size=3)
    done = threading.Event()
    numbers: list[str] = []

    def second() -> None:
        for _ in range(7):
            with sessions() as session, session.begin():
                numbers.append(sequencing.manager(session).generate("p"))
        done.set()

    with sessions() as holder:
        holder.begin()
        first = sequencing.manager(holder).generate("p")
        thread = threading.Thread(target=second)
        thread.start()
        finished = done.wait(30)
        holder.commit()
    thread.join()
    assert finished, "the pooled draws waited for the open transaction"
    assert len(set([*numbers, first])) == 8


def test_period_reset_gives_each_period_its_pool(tx, engine, sequencing):
    with tx() as seqs:
        seqs.define("p", "M-{YEAR}{MONTH}-{COUNTER}", reset_period="monthly", cache_size=5)
    jan, feb = date(2026, 1, 15), date(2026, 2, 1)
    drawn = []
    for day in (jan, jan, feb, jan, feb):
        with tx() as seqs:
            drawn.append(seqs.generate("p", date=day))
    assert drawn == ["M-202601-1", "M-202601-2", "M-202602-1", "M-202601-3", "M-202602-2"]
    assert _counter(engine, sequencing, "2026-02") == 5
    with tx() as seqs:
        resets = [e for e in seqs.audit_log("p", limit=None) if e.event == "counter_reset"]
    assert sorted(e.data["period"] for e in resets) == ["2026-01", "2026-02"]


@pytest.mark.filterwarnings("ignore::sa_sequencing.SequenceExhaustionWarning")
@pytest.mark.parametrize("overflow", ["throw_exception", "extend_padding", "switch_pattern"])
def test_overflow_at_capacity(tx, overflow):
    pattern = "P-{COUNTER:2}" + ("-{CYCLE}" if overflow == "switch_pattern" else "")
    with tx() as seqs:
        seqs.define(
            "p",
            pattern,
            cache_size=30,
            overflow=overflow,
            audit_numbers=False,
        )
    with tx() as seqs:
        # blocks of 60, then a partial one of 39 at capacity
        numbers = seqs.generate_many("p", 50) + seqs.generate_many("p", 49)
    assert len(set(numbers)) == 99
    if overflow != "switch_pattern":
        assert numbers == [f"P-{v:02}" for v in range(1, 100)]
    if overflow == "throw_exception":
        with pytest.raises(SequenceExhaustedError), tx() as seqs:
            seqs.generate("p")
        return
    with tx() as seqs:
        more = seqs.generate_many("p", 3)
    assert len(set(numbers + more)) == 102
    if overflow == "extend_padding":
        assert more == ["P-100", "P-101", "P-102"]


def test_preview_is_what_this_process_serves_next(tx):
    with tx() as seqs:
        seqs.define("p", "P-{COUNTER}", cache_size=10)
    with tx() as seqs:
        assert seqs.preview("p") == "P-1"
    with tx() as seqs:
        assert seqs.generate("p") == "P-1"
    with tx() as seqs:
        assert seqs.preview("p") == "P-2"
    with tx() as seqs:
        assert seqs.generate("p") == "P-2"


def test_generate_many_spans_blocks(tx, engine, sequencing):
    with tx() as seqs:
        seqs.define("p", "P-{COUNTER}", cache_size=7)
    with tx() as seqs:
        numbers = seqs.generate_many("p", 20)
    assert numbers == [f"P-{v}" for v in range(1, 21)]
    assert _counter(engine, sequencing) == 21  # three whole blocks


def test_released_values_are_served_again_under_fill_gaps(tx, sequencing):
    with tx() as seqs:
        seqs.define("p", "P-{COUNTER}", cache_size=5, gap_policy="fill_gaps")
    with tx() as seqs:
        assert seqs.generate_many("p", 2) == ["P-1", "P-2"]
    assert sequencing.release_pools() == 3
    with tx() as seqs:
        assert seqs.gap_report("p") == ["P-3", "P-4", "P-5"]
        assert seqs.generate_many("p", 4) == ["P-3", "P-4", "P-5", "P-6"]


def test_allow_gaps_records_nothing(tx, sequencing):
    with tx() as seqs:
        seqs.define("p", "P-{COUNTER}", cache_size=5)
        seqs.generate("p")
    assert sequencing.release_pools() == 0
    with tx() as seqs:
        assert seqs.gaps("p") == []
        assert seqs.recover_pool_gaps("p") == 0


def test_cache_size_is_checked_and_switchable(tx, engine, sequencing):
    with pytest.raises(ConfigurationError, match="cache_size"), tx() as seqs:
        seqs.define("p", "P-{COUNTER}", cache_size=1_000_001)
    with tx() as seqs:
        seqs.define("p", "P-{COUNTER}", cache_size=1_000_000)
        seqs.update("p", cache_size=0)
        assert seqs.get("p").cache_size == 0


def test_recovery_needs_the_ledger_and_changes_nothing_without_it(tx, snapshot):
    with tx() as seqs:
        seqs.define(
            "p", "P-{COUNTER}", cache_size=5, audit_numbers=False, gap_policy="report_gaps_only"
        )
    with tx() as seqs:
        seqs.generate("p")
    before = snapshot()
    with pytest.raises(ConfigurationError, match="audit_numbers"), tx() as seqs:
        seqs.recover_pool_gaps("p")
    assert snapshot() == before


class PoolBase(DeclarativeBase):
    pass


POOLED = Sequencing(PoolBase, table_prefix="pl_")


class Ticket(PoolBase):
    __tablename__ = "pl_tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = SequenceColumn("ticket", unique=True)


def test_the_flush_hook_draws_from_the_pool(engine, sequencing):
    PoolBase.metadata.drop_all(engine)
    PoolBase.metadata.create_all(engine)
    try:
        with Session(engine) as session, session.begin():
            POOLED.manager(session).define("ticket", "T-{COUNTER}", cache_size=4)
        for size in (3, 6):
            with Session(engine) as session, session.begin():
                session.add_all([Ticket() for _ in range(size)])
        with Session(engine) as session:
            numbers = sorted(session.scalars(sa.select(Ticket.number)), key=lambda n: int(n[2:]))
        assert numbers == [f"T-{v}" for v in range(1, 10)]
        c = POOLED.tables.counters
        with engine.connect() as conn:
            assert conn.execute(sa.select(c.c.value)).scalar_one() == 12  # blocks of 4
        POOLED.release_pools()
    finally:
        PoolBase.metadata.drop_all(engine)


_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg_async",
    "mysql": "mysql+asyncmy",
}


def test_async_sessions_draw_from_the_pool(url, sequencing, tx, engine):
    """An AsyncSession's draws take blocks like any other; its pools are released
    through run_sync (the async engine's connections need the greenlet)."""
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import create_async_engine

    with tx() as seqs:
        seqs.define("p", "P-{COUNTER}", cache_size=4, gap_policy="report_gaps_only")
    parsed = sa.make_url(url)
    async_url = parsed.set(drivername=_ASYNC_DRIVERS[parsed.get_backend_name()])

    async def main() -> tuple[list[str], int]:
        aengine = create_async_engine(async_url)
        drawn: list[str] = []
        try:
            for _ in range(2):
                async with AsyncSession(aengine) as session, session.begin():
                    seqs = sequencing.manager(session)
                    drawn += [await seqs.generate("p"), *await seqs.generate_many("p", 2)]
            async with AsyncSession(aengine) as session:
                released = await session.run_sync(
                    lambda _: sequencing.release_pools(aengine.sync_engine)
                )
        finally:
            await aengine.dispose()
        return drawn, released

    drawn, released = asyncio.run(main())
    assert len(set(drawn)) == 6
    gaps = _gap_values(tx, "p")
    assert len(gaps) == released
    assert _accounted(drawn, gaps) == list(range(1, _counter(engine, sequencing) + 1))
