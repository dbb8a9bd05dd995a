"""run_in_transaction and async_run_in_transaction against real failures: connections
killed before and during COMMIT, serialization failures at COMMIT, stale SQLite
snapshots, and threads drawing from one counter at SERIALIZABLE, with the defaults."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sys
import time
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from stale_snapshot import run_past_a_stale_snapshot
from threads import run_together

from sa_sequencing import CommitOutcomeUnknownError
from sa_sequencing import InvalidArgumentError
from sa_sequencing import SequencingError
from sa_sequencing import async_run_in_transaction
from sa_sequencing import run_in_transaction
from sa_sequencing.faults import Fault
from sa_sequencing.faults import classify
from sa_sequencing.retry import backoff_delay
from sa_sequencing.retry import is_retryable

PID_SQL = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
KILL_SQL = {"postgresql": "SELECT pg_terminate_backend({pid})", "mysql": "KILL {pid}"}


def server_only(engine: sa.Engine) -> str:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has no connection to lose")
    return engine.dialect.name


def kill_own_connection(engine: sa.Engine, session: Session) -> None:
    """Have the server end the session's connection, from another connection."""
    name = engine.dialect.name
    pid = session.connection().exec_driver_sql(PID_SQL[name]).scalar_one()
    with engine.connect() as killer:
        killer.exec_driver_sql(KILL_SQL[name].format(pid=pid))
        killer.commit()
    time.sleep(0.3)  # the server ends it asynchronously


def test_connection_lost_before_commit_is_run_again(engine, tx, sessions, sequencing):
    server_only(engine)
    with tx() as seqs:
        seqs.define("lost", "L-{COUNTER}")
    runs: list[str] = []

    def work(session: Session) -> str:
        seqs = sequencing.manager(session)
        number = seqs.generate("lost")
        runs.append(number)
        if len(runs) == 1:
            kill_own_connection(engine, session)
            seqs.generate("lost")  # meets the dead connection
        return number

    assert run_in_transaction(sessions, work) == "L-1"
    assert runs == ["L-1", "L-1"]  # the first attempt was rolled back with its number
    with tx() as seqs:
        assert seqs.generate("lost") == "L-2"


def test_connection_lost_during_commit_is_an_unknown_outcome(engine, tx, sessions, sequencing):
    """Nothing is sent between the end of the work and COMMIT: the connection dies in
    between, so COMMIT itself fails. run_in_transaction must not run the work again."""
    server_only(engine)
    with tx() as seqs:
        seqs.define("lost", "L-{COUNTER}")
    runs: list[str] = []

    def work(session: Session) -> str:
        number = sequencing.manager(session).generate("lost")
        runs.append(number)
        session.flush()
        kill_own_connection(engine, session)
        return number

    with pytest.raises(CommitOutcomeUnknownError, match="during COMMIT") as caught:
        run_in_transaction(sessions, work)
    assert runs == ["L-1"]
    assert isinstance(caught.value, SequencingError)
    assert isinstance(caught.value.__cause__, DBAPIError)
    assert classify(caught.value.__cause__) is Fault.CONNECTION_LOST
    assert not is_retryable(caught.value)
    with tx() as seqs:  # here it did not commit (the server never saw COMMIT)
        assert seqs.generate("lost") == "L-1"


def test_a_lost_connection_the_work_swallowed_is_run_again(engine, tx, sessions, sequencing):
    """The work catches the error of its dead connection and returns: SQLAlchemy then
    refuses COMMIT (PendingRollbackError) without sending it, so the outcome is known
    (rolled back) and the transaction runs again."""
    server_only(engine)
    with tx() as seqs:
        seqs.define("lost", "L-{COUNTER}")
    runs: list[str] = []

    def work(session: Session) -> str:
        number = sequencing.manager(session).generate("lost")
        runs.append(number)
        if len(runs) == 1:
            kill_own_connection(engine, session)
            with contextlib.suppress(DBAPIError):
                session.execute(sa.text("SELECT 1"))
        return number

    assert run_in_transaction(sessions, work) == "L-1"
    assert runs == ["L-1", "L-1"]


def test_serialization_failure_at_commit_is_run_again(engine, url, tx, sequencing):
    """Write skew at SERIALIZABLE on PostgreSQL: our transaction reads A and writes B,
    another reads B, writes A and commits first; our COMMIT is refused (40001)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's serializable snapshot isolation")
    with tx() as seqs:
        seqs.define("a", "A-{COUNTER}")
        seqs.define("b", "B-{COUNTER}")
    serializable = sa.create_engine(url, isolation_level="SERIALIZABLE")
    returned: list[str] = []
    seen_at: list[str] = []

    def listen(ctx: Any) -> None:
        seen_at.append("COMMIT" if ctx.statement is None else ctx.statement.split()[0])

    sa.event.listen(serializable, "handle_error", listen)

    def metrics(session: Session, name: str) -> int:
        return sequencing.manager(session).metrics(name).current_value

    def work(session: Session) -> str:
        metrics(session, "a")  # reads A
        number = sequencing.manager(session).generate("b")  # writes B
        if not returned:
            with Session(serializable) as other, other.begin():
                metrics(other, "b")  # reads B
                sequencing.manager(other).generate("a")  # writes A, commits first
        returned.append(number)
        return number

    try:
        assert run_in_transaction(sessionmaker(serializable), work) == "B-1"
    finally:
        serializable.dispose()
    assert returned == ["B-1", "B-1"]  # the work ended, then COMMIT failed, then again
    assert seen_at == ["COMMIT"]


def test_stale_sqlite_snapshot_is_run_again(tmp_path):
    """WAL: a transaction that read before another writer committed cannot write
    (SQLITE_BUSY_SNAPSHOT); waiting does not cure it, running it again does."""
    if sys.version_info < (3, 11):
        pytest.skip("Python < 3.11: sqlite3 errors carry no error code")
    assert run_past_a_stale_snapshot(str(tmp_path / "snap.db")) == [0, 10]


def test_other_errors_pass_through_at_once(engine, tx, sessions, sequencing):
    with tx() as seqs:
        seqs.define("dup", "D-{COUNTER}")
    runs: list[int] = []

    def work(session: Session) -> None:
        runs.append(1)
        sequencing.manager(session).define("dup", "D-{COUNTER}")

    with pytest.raises(SequencingError):
        run_in_transaction(sessions, work)
    runs.clear()

    def bad_sql(session: Session) -> None:
        runs.append(1)
        session.execute(sa.text("SELECT * FROM no_such_table"))

    with pytest.raises(DBAPIError) as caught:
        run_in_transaction(sessions, bad_sql)
    assert runs == [1]
    assert classify(caught.value) is Fault.OTHER


def test_threads_at_serializable_lose_nothing_with_the_defaults(url, tx, sequencing):
    """8 threads on their own connections draw from one counter at SERIALIZABLE (a
    fifth roll back on purpose): conflicts are run again, nothing escapes the
    defaults, the committed numbers are exactly 1..N."""
    with tx() as seqs:
        seqs.define("hot", "H-{COUNTER}")
    engine = sa.create_engine(url, isolation_level="SERIALIZABLE", pool_size=10)
    factory = sessionmaker(engine)
    runs = [0] * 8

    class Cancelled(Exception):
        pass

    def writer(thread: int) -> list[str]:
        rng = random.Random(thread)
        committed: list[str] = []

        def work(session: Session) -> str:
            runs[thread] += 1
            number = sequencing.manager(session).generate("hot")
            if rng.random() < 0.2:
                raise Cancelled
            return number

        for _ in range(12):
            with contextlib.suppress(Cancelled):
                committed.append(run_in_transaction(factory, work))
        return committed

    try:
        results = run_together(8, writer)
    finally:
        engine.dispose()
    values = sorted(int(n.removeprefix("H-")) for r in results for n in r)
    assert values == list(range(1, len(values) + 1))
    assert len(values) > 40


# -- async ------------------------------------------------------------------------------

ASYNC_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+asyncmy"}


def async_url(url: str) -> str:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    driver = ASYNC_DRIVERS[parsed.get_backend_name()]
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def test_async_writers_lose_nothing(url, tx, sequencing):
    """Eight tasks on their own AsyncSessions draw from one counter through
    async_run_in_transaction: exactly 1..N."""
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from sqlalchemy.ext.asyncio import create_async_engine

    with tx() as seqs:
        seqs.define("hot", "H-{COUNTER}")

    async def main() -> list[str]:
        engine = create_async_engine(async_url(url), pool_size=10)
        factory = async_sessionmaker(engine)

        async def draw(session: Any) -> str:
            return str(await sequencing.manager(session).generate("hot"))

        async def writer() -> list[str]:
            return [await async_run_in_transaction(factory, draw) for _ in range(8)]

        try:
            results = await asyncio.gather(*(writer() for _ in range(8)))
        finally:
            await engine.dispose()
        return [n for r in results for n in r]

    numbers = asyncio.run(main())
    assert sorted(int(n.removeprefix("H-")) for n in numbers) == list(range(1, 65))


def test_async_connection_lost_during_commit_is_an_unknown_outcome(engine, url, tx, sequencing):
    name = server_only(engine)
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from sqlalchemy.ext.asyncio import create_async_engine

    with tx() as seqs:
        seqs.define("lost", "L-{COUNTER}")
    runs: list[str] = []

    async def main() -> None:
        aengine = create_async_engine(async_url(url))

        async def work(session: Any) -> str:
            number = str(await sequencing.manager(session).generate("lost"))
            runs.append(number)
            pid = (await session.execute(sa.text(PID_SQL[name]))).scalar_one()
            with engine.connect() as killer:
                killer.exec_driver_sql(KILL_SQL[name].format(pid=pid))
                killer.commit()
            await asyncio.sleep(0.3)
            return number

        try:
            await async_run_in_transaction(async_sessionmaker(aengine), work)
        finally:
            await aengine.dispose()

    with pytest.raises(CommitOutcomeUnknownError):
        asyncio.run(main())
    assert runs == ["L-1"]


# -- options ----------------------------------------------------------------------------


def test_backoff_is_capped_exponential_with_full_jitter():
    for attempt in (1, 2, 3, 6, 20, 1000):
        ceiling = min(2.0, 0.05 * 2 ** min(attempt - 1, 62))
        delays = [backoff_delay(attempt, 0.05, 2.0) for _ in range(400)]
        assert all(0 <= d <= ceiling for d in delays)
        # full jitter: spread over the whole range, not bunched at the ceiling
        assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9
    assert backoff_delay(5, 0, 2.0) == 0


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"attempts": True},
        {"attempts": 2.0},
        {"backoff": -1},
        {"backoff": math.nan},
        {"max_backoff": math.inf},
        {"max_backoff": "1"},
    ],
)
def test_bad_options_are_refused_before_anything_runs(sessions, options):
    runs: list[int] = []
    with pytest.raises(InvalidArgumentError):
        run_in_transaction(sessions, lambda s: runs.append(1), **options)

    async def work(session: Any) -> None:
        runs.append(1)

    with pytest.raises(InvalidArgumentError):
        asyncio.run(async_run_in_transaction(lambda: None, work, **options))
    assert runs == []
