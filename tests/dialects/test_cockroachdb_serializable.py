"""CockroachDB's path, run on PostgreSQL at ``SERIALIZABLE`` (no CockroachDB server
can run here).

CockroachDB runs every transaction at ``SERIALIZABLE`` and answers a conflict with
SQLSTATE ``40001`` at any statement, ``COMMIT`` included; on CockroachDB an
application numbers documents inside :func:`~sa_sequencing.run_in_transaction`.
These tests do the same on PostgreSQL at ``SERIALIZABLE``, which is harsher than
CockroachDB for a hot counter: a PostgreSQL transaction whose snapshot predates the
counter's last update always fails with ``40001`` once it gets the row lock, where
CockroachDB can often refresh the waiter's read timestamp and go on.  Each scenario
runs three ways (:data:`MODES`): PostgreSQL's dialect and strategy; PostgreSQL's
dialect with :class:`~sa_sequencing.dialects.CockroachDBCounterStrategy` put in its
place; and a dialect named ``cockroachdb`` (``sqlalchemy-cockroachdb``'s own, whose
``psycopg.crdb`` connection works on a PostgreSQL server, where it is installed),
which finds the CockroachDB strategy as an application does and makes every decision
the library takes by dialect name as on CockroachDB.  With real threads on real
connections, each checks:

* the committed numbers are exactly 1..N, no duplicate, no hole, and the ledger
  holds exactly them;
* every error a library call raised inside a transaction was a retryable
  :class:`~sa_sequencing.SequenceBusyError` whose ``__cause__`` is the driver's
  ``40001`` (or ``40P01``): nothing raw, nothing non-retryable, and nothing escaped
  ``run_in_transaction`` with its default attempts.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import threading
from collections.abc import Callable
from collections.abc import Iterator
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import sessionmaker
from threads import Cancelled
from threads import commit_in_threads
from threads import run_together

from sa_sequencing import SequenceBusyError
from sa_sequencing import SequenceColumn
from sa_sequencing import Sequencing
from sa_sequencing import async_run_in_transaction
from sa_sequencing import run_in_transaction
from sa_sequencing.dialects import CockroachDBCounterStrategy
from sa_sequencing.dialects import PostgreSQLCounterStrategy
from sa_sequencing.faults import sqlstate

STRATEGIES = {"postgresql": PostgreSQLCounterStrategy, "cockroachdb": CockroachDBCounterStrategy}


class StandIn(PGDialect_psycopg):
    """PostgreSQL's psycopg dialect under CockroachDB's name, where
    ``sqlalchemy-cockroachdb`` is missing: every decision the library makes by
    dialect name is then made as on CockroachDB."""

    name = "cockroachdb"
    supports_statement_cache = True


registry.register("cockroachdb.pgstandin", __name__, "StandIn")

#: the driver name of a dialect named "cockroachdb": sqlalchemy-cockroachdb's own
#: (whose psycopg.crdb connection and dialect work on a PostgreSQL server too) where
#: it is installed, else the stand-in above
CRDB_DRIVER = (
    "cockroachdb+psycopg"
    if importlib.util.find_spec("sqlalchemy_cockroachdb") is not None
    else "cockroachdb+pgstandin"
)

#: postgresql: PostgreSQL's dialect and strategy; cockroachdb-strategy: PostgreSQL's
#: dialect with the CockroachDB strategy put in its place; cockroachdb-dialect: a
#: dialect named "cockroachdb", the strategy found as an application finds it
MODES = ["postgresql", "cockroachdb-strategy", "cockroachdb-dialect"]


@pytest.fixture
def server(backend: str, url: str) -> str:
    if not backend.startswith("postgresql"):
        pytest.skip("PostgreSQL is the stand-in for CockroachDB")
    return url


def serializable_engine(url: str, *, cockroachdb: bool, **options: str) -> sa.Engine:
    """An engine on ``url``'s server whose transactions are SERIALIZABLE; with
    ``cockroachdb``, through a dialect named so; ``options``: libpq ``-c`` settings."""
    made = sa.make_url(url)
    if cockroachdb:
        made = made.set(drivername=CRDB_DRIVER)
    if options:
        libpq = " ".join(f"-c {k}={v}" for k, v in options.items())
        made = made.update_query_dict({"options": libpq})
    return sa.create_engine(made, pool_size=12, max_overflow=4, isolation_level="SERIALIZABLE")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def serializable(server: str, mode: str) -> Iterator[sa.Engine]:
    engine = serializable_engine(server, cockroachdb=mode == "cockroachdb-dialect")
    yield engine
    engine.dispose()


def twin(engine: sa.Engine, strategy: str | None, **options: Any) -> Sequencing:
    """A Sequencing over the test tables; with ``strategy``, that strategy is put in
    place of the one the registry picks for ``engine``."""

    class TwinBase(DeclarativeBase):
        pass

    seq = Sequencing(TwinBase, **options)
    if strategy is not None:
        seq.strategies.put(
            engine.dialect,
            STRATEGIES[strategy](
                seq.tables,
                engine.dialect,
                lock_timeout=seq.strategies.lock_timeout,
                lock_retries=seq.strategies.lock_retries,
                stats=seq.stats,
            ),
        )
    return seq


@pytest.fixture
def seq(mode: str, serializable: sa.Engine, sequencing: Sequencing) -> Sequencing:
    made = twin(serializable, "cockroachdb" if mode == "cockroachdb-strategy" else None)
    with serializable.connect() as conn:
        expected = (
            PostgreSQLCounterStrategy if mode == "postgresql" else CockroachDBCounterStrategy
        )
        assert type(made.strategy(conn)) is expected
    return made


@pytest.fixture
def sessions(serializable: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(serializable)


class Census:
    """Keeps every error a transaction's work met, and counts the runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.errors: list[BaseException] = []
        self.runs = 0

    def watch(self, work: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            with self.lock:
                self.runs += 1
            try:
                return work(*args)
            except Cancelled:
                raise
            except BaseException as exc:
                with self.lock:
                    self.errors.append(exc)
                raise

        return run

    def assert_only_retryable_serialization_failures(self) -> None:
        for exc in self.errors:
            assert isinstance(exc, SequenceBusyError), repr(exc)
            assert exc.retryable, repr(exc)
            cause = exc.__cause__
            assert sqlstate(getattr(cause, "orig", cause)) in ("40001", "40P01"), repr(cause)


def committed_ledger(sessions: sessionmaker[Session], seq: Sequencing, name: str) -> list[str]:
    with sessions() as session, session.begin():
        return [
            e.number
            for e in seq.manager(session).audit_log(name, limit=None)
            if e.event == "number_generated"
        ]


def assert_one_to_n(numbers: list[str], prefix: str) -> None:
    values = sorted(int(n.removeprefix(prefix)) for n in numbers)
    assert len(values) == len(set(values)), "duplicate numbers"
    assert values == list(range(1, len(values) + 1)), "a hole in the committed numbers"


def test_the_engine_really_is_serializable(serializable):
    with serializable.connect() as conn:
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "serializable"


def test_threads_commit_exactly_one_to_n(seq, sessions):
    with sessions() as session, session.begin():
        seq.manager(session).define("hot", "N-{COUNTER}")
    census = Census()

    def draw(thread: int, round_: int, session: Session) -> list[str]:
        rng = random.Random(thread * 1000 + round_)
        seqs = seq.manager(session)
        count = rng.choice((1, 1, 2, 3))  # generate_many: the fused ledger CTE's join
        numbers = seqs.generate_many("hot", count) if count > 1 else [seqs.generate("hot")]
        if rng.random() < 0.2:
            raise Cancelled
        return numbers

    results = commit_in_threads(6, 10, sessions, census.watch(draw))
    committed = [n for numbers in results for n in numbers]
    assert len(committed) > 40
    assert_one_to_n(committed, "N-")
    assert sorted(committed_ledger(sessions, seq, "hot")) == sorted(committed)
    census.assert_only_retryable_serialization_failures()


def test_threads_on_the_slow_path_are_gapless(seq, sessions):
    """A count-based reset plans under the counter's lock (lock_counter's upsert)."""
    with sessions() as session, session.begin():
        seq.manager(session).define("books", "B{CYCLE}-{COUNTER}", reset_limit=5)
    census = Census()

    def work(thread: int, round_: int, session: Session) -> str:
        number = seq.manager(session).generate("books")
        if random.Random(thread * 100 + round_).random() < 0.2:
            raise Cancelled
        return number

    committed = commit_in_threads(5, 8, sessions, census.watch(work))
    ordinals = []
    for number in committed:
        cycle, counter = number.removeprefix("B").split("-")
        assert 1 <= int(counter) <= 5
        ordinals.append((int(cycle) - 1) * 5 + int(counter))
    assert sorted(ordinals) == list(range(1, len(committed) + 1))
    census.assert_only_retryable_serialization_failures()


def test_gaps_are_served_exactly_once_by_concurrent_generators(seq, sessions):
    """fill_gaps: the claims (SKIP LOCKED where claimed, else the guarded UPDATE)."""
    with sessions() as session, session.begin():
        seqs = seq.manager(session)
        seqs.define("po", "PO-{COUNTER:4}", gap_policy="fill_gaps")
        voided = seqs.generate_many("po", 24)[1::3]
        for number in voided:
            seqs.void("po", number, reason="cancelled")
    census = Census()
    draw = census.watch(lambda session: seq.manager(session).generate("po"))
    served = run_together(len(voided), lambda i: run_in_transaction(sessions, draw))
    assert sorted(served) == sorted(voided)  # each gap exactly once, the counter untouched
    with sessions() as session, session.begin():
        seqs = seq.manager(session)
        assert seqs.gap_report("po") == []
        assert seqs.generate("po") == "PO-0025"
    census.assert_only_retryable_serialization_failures()


def test_serving_and_voiding_side_by_side(seq, sessions):
    """Each transaction is served a gap and voids a number; a retried one may be served
    the gap the other just registered, so the check is on the registry's books."""
    with sessions() as session, session.begin():
        seqs = seq.manager(session)
        seqs.define("inv", "INV-{COUNTER:4}", gap_policy="fill_gaps")
        numbers = seqs.generate_many("inv", 6)
        seqs.void("inv", numbers[1])
        seqs.void("inv", numbers[4])
    census = Census()

    def serve_then_void(session: Session) -> tuple[str, str]:
        seqs = seq.manager(session)
        served = seqs.generate("inv")
        # next to the other's gap; never the number just served (a retried transaction
        # may be served the gap the other one registered)
        voided = numbers[3] if served in (numbers[0], numbers[1]) else numbers[0]
        seqs.void("inv", voided)
        return served, voided

    work = census.watch(serve_then_void)
    outcomes = run_together(2, lambda i: run_in_transaction(sessions, work))
    served = {s for s, _ in outcomes}
    voided = {v for _, v in outcomes}
    assert len(served) == 2  # no gap served twice
    gaps = {numbers[1], numbers[4]} | voided
    assert served <= gaps
    with sessions() as session, session.begin():
        assert seq.manager(session).gap_report("inv") == sorted(gaps - served)
    census.assert_only_retryable_serialization_failures()


def test_reservations_finalized_and_released_among_generators(seq, sessions):
    with sessions() as session, session.begin():
        seq.manager(session).define("q", "Q-{COUNTER:4}", gap_policy="fill_gaps")
    census = Census()

    def draw(i: int, j: int, session: Session) -> list[str]:
        seqs = seq.manager(session)
        if (i + j) % 2:
            held = seqs.reserve("q", 2)
            kept = seqs.finalize(held.id, [held.numbers[0]])
            seqs.release(held.id, [held.numbers[1]])
            return kept
        return [seqs.generate("q")]

    used = [n for ns in commit_in_threads(4, 6, sessions, census.watch(draw)) for n in ns]
    assert len(used) == len(set(used))
    with sessions() as session, session.begin():
        seqs = seq.manager(session)
        free = seqs.gap_report("q")
        top = seqs.metrics("q").current_value
    assert not set(free) & set(used)
    assert sorted(used + free) == [f"Q-{v:04d}" for v in range(1, top + 1)]
    census.assert_only_retryable_serialization_failures()


def test_a_lock_wait_that_runs_out_is_not_retried_as_a_serialization_failure(
    serializable, sessions, sequencing
):
    """SET LOCAL lock_timeout, 55P03 under a savepoint, retried lock_retries times."""
    patient = twin(serializable, "cockroachdb", lock_timeout=0.2, lock_retries=1)
    with sessions() as session, session.begin():
        patient.manager(session).define("held", "H-{COUNTER}")
    with sessions() as holder, holder.begin():
        assert patient.manager(holder).generate("held") == "H-1"
        with sessions() as waiter, waiter.begin():
            with pytest.raises(SequenceBusyError) as caught:
                patient.manager(waiter).generate("held")
            assert not caught.value.retryable
            cause = caught.value.__cause__
            assert sqlstate(getattr(cause, "orig", cause)) == "55P03"
    with sessions() as session, session.begin():
        assert patient.manager(session).generate("held") == "H-2"


# -- the flush hook ------------------------------------------------------------------


class CrdbBase(DeclarativeBase):
    pass


CRDB_SEQUENCING = Sequencing(CrdbBase, table_prefix="crdb_")


class Left(CrdbBase):
    __tablename__ = "crdb_left"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = SequenceColumn("left")


class Right(CrdbBase):
    __tablename__ = "crdb_right"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = SequenceColumn("right")


@pytest.fixture
def flushing(serializable: sa.Engine, mode: str) -> Iterator[sessionmaker[Session]]:
    CrdbBase.metadata.drop_all(serializable)
    CrdbBase.metadata.create_all(serializable)
    if mode == "cockroachdb-strategy":
        CRDB_SEQUENCING.strategies.put(
            serializable.dialect,
            CockroachDBCounterStrategy(
                CRDB_SEQUENCING.tables, serializable.dialect, stats=CRDB_SEQUENCING.stats
            ),
        )
    try:
        yield sessionmaker(serializable, expire_on_commit=False)
    finally:
        CrdbBase.metadata.drop_all(serializable)


def test_flushes_numbering_two_models_in_opposite_orders(flushing):
    with flushing() as session, session.begin():
        seqs = CRDB_SEQUENCING.manager(session)
        seqs.define("left", "L-{COUNTER}")
        seqs.define("right", "R-{COUNTER}")
    census = Census()

    def add(thread: int, _round: int, session: Session) -> None:
        models = [Left, Right] if thread % 2 else [Right, Left]
        session.add_all(model() for model in models)
        session.flush()  # the hook numbers them here, inside the census

    commit_in_threads(4, 8, flushing, census.watch(add))
    with flushing() as session:
        for model, prefix in ((Left, "L-"), (Right, "R-")):
            assert_one_to_n(list(session.scalars(sa.select(model.number))), prefix)
            assert session.scalar(sa.select(sa.func.count()).select_from(model)) == 32
    census.assert_only_retryable_serialization_failures()


# -- asyncio ---------------------------------------------------------------------------


def test_async_transactions_commit_exactly_one_to_n(server, sequencing):
    async_url = sa.make_url(server).set(drivername="postgresql+psycopg_async")
    census = Census()

    async def main() -> list[str]:
        engine = create_async_engine(async_url, pool_size=6, isolation_level="SERIALIZABLE")
        try:
            seq = twin(engine.sync_engine, "cockroachdb")
            factory = async_sessionmaker(engine)
            async with factory() as session, session.begin():
                await seq.manager(session).define("a", "A-{COUNTER}")

            async def draw(session: Any) -> str:
                census.runs += 1
                try:
                    return await seq.manager(session).generate("a")
                except BaseException as exc:
                    census.errors.append(exc)
                    raise

            async def worker() -> list[str]:
                return [await async_run_in_transaction(factory, draw) for _ in range(6)]

            results = await asyncio.gather(*(worker() for _ in range(4)))
            return [n for numbers in results for n in numbers]
        finally:
            await engine.dispose()

    committed = asyncio.run(main())
    assert len(committed) == 24
    assert_one_to_n(committed, "A-")
    census.assert_only_retryable_serialization_failures()


# -- the whole library under a dialect named "cockroachdb" ----------------------------


class StandInBase(DeclarativeBase):
    pass


STANDIN_SEQUENCING = Sequencing(StandInBase, table_prefix="crdbsi_")


@pytest.fixture
def standin(server: str) -> Iterator[Callable[..., sa.Engine]]:
    engines: list[sa.Engine] = []

    def make(**options: str) -> sa.Engine:
        engine = serializable_engine(server, cockroachdb=True, **options)
        engines.append(engine)
        StandInBase.metadata.drop_all(engine)
        StandInBase.metadata.create_all(engine)
        return engine

    yield make
    for engine in engines:
        StandInBase.metadata.drop_all(engine)
        engine.dispose()


def test_a_dialect_named_cockroachdb_numbers_end_to_end(standin):
    engine = standin()
    seq = STANDIN_SEQUENCING
    with Session(engine) as session, session.begin():
        seqs = seq.manager(session)
        assert type(seq.strategy(session.connection())) is CockroachDBCounterStrategy
        seqs.define("inv", "INV-{YEAR}-{COUNTER:3}", reset_period="yearly", gap_policy="fill_gaps")
        assert seqs.generate("inv") == f"INV-{date.today().year}-001"
        assert seqs.generate_many("inv", 3)[-1] == f"INV-{date.today().year}-004"
        seqs.void("inv", f"INV-{date.today().year}-002")
        held = seqs.reserve("inv", 2)
        assert held.numbers[0] == f"INV-{date.today().year}-002"  # the gap, filled
        assert seqs.finalize(held.id) == list(held.numbers)
    with Session(engine) as session, session.begin():
        log = seq.manager(session).audit_log("inv", limit=None)
        issued = [e for e in log if e.event == "number_generated"]
        year = date.today().year
        assert {e.number for e in issued} == {f"INV-{year}-{i:03d}" for i in range(1, 6)}
        now = datetime.now(timezone.utc)
        assert all(abs(e.created_at - now) < timedelta(minutes=5) for e in log)


def test_times_are_stored_in_utc_whatever_the_session_time_zone(standin):
    engine = standin(timezone="Europe/Berlin")
    seq = STANDIN_SEQUENCING
    with Session(engine) as session, session.begin():
        seqs = seq.manager(session)
        seqs.define("q", "Q-{COUNTER}")
        held = seqs.reserve("q", 1, ttl=timedelta(minutes=30))
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(STANDIN_SEQUENCING.tables.reservations.c.expires_at)
        ).scalar_one()
    assert stored == held.expires_at
