"""Running workers in real threads, each on its own connection, started together."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sa_sequencing import run_in_transaction


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at once; return the results in
    order, re-raising the first error a worker met."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


class Cancelled(Exception):
    """Raised by the work of :func:`commit_in_threads` to roll its transaction back on
    purpose."""


def commit_in_threads(
    count: int,
    rounds: int,
    sessions: Callable[[], Session],
    work: Callable[[int, int, Session], Any],
    **retry: Any,
) -> list[Any]:
    """Run ``rounds`` transactions in each of ``count`` threads released at once: each
    runs ``work(thread, round, session)`` under :func:`~sa_sequencing.run_in_transaction`
    (``retry``: its ``attempts`` and ``backoff``), which runs a deadlock victim again.
    Return what the committed transactions returned, thread by thread; one whose work
    raised :class:`Cancelled` was rolled back and returns nothing."""

    def run(thread: int) -> list[Any]:
        committed = []
        for round_ in range(rounds):
            try:
                attempt = functools.partial(work, thread, round_)
                committed.append(run_in_transaction(sessions, attempt, **retry))
            except Cancelled:
                continue
        return committed

    return [result for results in run_together(count, run) for result in results]


@contextlib.contextmanager
def meet_before(engine: sa.Engine, statement_start: str, *, parties: int) -> Iterator[None]:
    """Within the block, every statement on ``engine`` that starts with
    ``statement_start`` waits until ``parties`` threads are about to run one: all of
    them have done everything that comes before it, in their open transactions."""
    meeting = threading.Barrier(parties)
    start = statement_start.upper()

    def wait(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.lstrip().upper().startswith(start):
            meeting.wait(timeout=10)

    sa.event.listen(engine, "before_cursor_execute", wait)
    try:
        yield
    finally:
        sa.event.remove(engine, "before_cursor_execute", wait)
