"""Running a whole transaction again when the database says so.

Inside a transaction, a serialization failure (SQLSTATE 40001, PostgreSQL at
REPEATABLE READ or SERIALIZABLE, CockroachDB), a deadlock (PostgreSQL 40P01, MySQL
1213) or a Galera certification failure (1213 at any statement, ``COMMIT`` included)
cannot be cured by repeating the statement: the database has doomed or rolled back
the whole transaction.  :func:`run_in_transaction` owns the transaction, so it can
run it again::

    number = run_in_transaction(
        Session_factory,
        lambda session: sequencing.manager(session).generate("invoice_number"),
    )

What is run again (:func:`is_retryable`, by :func:`sa_sequencing.faults.classify`):

* a serialization failure, deadlock or certification failure, from any statement or
  from ``COMMIT`` (a retryable :class:`~sa_sequencing.SequenceBusyError`, or the
  driver's error where it reaches us raw);
* a node that cannot take work yet (Galera ``1047 WSREP has not yet prepared node``,
  a refused connection);
* a connection lost *before* ``COMMIT`` (the server rolled the transaction back).

What is not: a lock wait that outlasted ``lock_retries`` (``SequenceBusyError`` with
``retryable=False``: the counter is held by a long transaction, and more load would
not help), every other error, and a connection lost *during* ``COMMIT``: then the
transaction may or may not have committed, and :class:`CommitOutcomeUnknownError` is
raised instead (with the driver's error as its ``__cause__``).  Look up what the
transaction wrote (a document with its number) before doing it again.

Between attempts the wait is *capped exponential backoff with full jitter*: a random
time between 0 and ``min(max_backoff, backoff * 2 ** (attempt - 1))`` seconds, so that
transactions which collided do not collide again in step.  ``attempts=20`` (the
default) lost nothing in the measurements of ``docs/galera.rst``: writers on all
three nodes of a Galera cluster on one counter, where transactions took 1.1 to 1.5
runs on average and one needed 14; 3 attempts let 12 % of the transactions fail
there, 8 attempts 0.1-0.4 %.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.orm import Session

from .errors import InvalidArgumentError
from .errors import SequencingError
from .faults import Fault
from .faults import classify
from .faults import sqlstate
from .logs import transactions as _log

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_BACKOFF",
    "DEFAULT_MAX_BACKOFF",
    "CommitOutcomeUnknownError",
    "async_run_in_transaction",
    "backoff_delay",
    "is_retryable",
    "run_in_transaction",
]

_T = TypeVar("_T")

#: Attempts in all (the first run included).
DEFAULT_ATTEMPTS = 20
#: Seconds: the cap of the first wait, doubled at each attempt...
DEFAULT_BACKOFF = 0.05
#: ...up to this many seconds.
DEFAULT_MAX_BACKOFF = 2.0


class CommitOutcomeUnknownError(SequencingError):
    """The connection broke during ``COMMIT``: the transaction may have committed or
    not, and the library cannot tell.

    Never retried by :func:`run_in_transaction`, since running the work again could
    store the document twice.  The driver's error is the ``__cause__``.  Check what
    the transaction was to write (its document, the ledger row of its number in
    ``sequence_audits``) before acting.
    """


def is_retryable(exc: BaseException) -> bool:
    """Whether running the whole transaction again may succeed: a serialization failure,
    deadlock or certification failure (a retryable
    :class:`~sa_sequencing.SequenceBusyError` or the raw driver error), a node not ready
    for work, a connection lost before ``COMMIT``."""
    if isinstance(exc, CommitOutcomeUnknownError):
        return False
    return classify(exc).retryable


def backoff_delay(attempt: int, backoff: float, max_backoff: float) -> float:
    """The wait after failed attempt number ``attempt`` (1 for the first): full
    jitter, uniform between 0 and ``min(max_backoff, backoff * 2 ** (attempt - 1))``."""
    ceiling = min(max_backoff, backoff * 2.0 ** min(attempt - 1, 62))
    return random.uniform(0.0, ceiling)


def _check(attempts: object, backoff: object, max_backoff: object) -> None:
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise InvalidArgumentError(f"attempts must be an int >= 1, not {attempts!r}")
    for name, value in (("backoff", backoff), ("max_backoff", max_backoff)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not value >= 0  # NaN too
            or value == float("inf")
        ):
            raise InvalidArgumentError(f"{name} must be a finite number >= 0, not {value!r}")


def _at_commit(exc: BaseException) -> BaseException:
    """What an error at ``COMMIT`` becomes: a lost connection, or CockroachDB's
    ``40003`` "result is ambiguous", is an unknown outcome."""
    if sqlstate(getattr(exc, "orig", exc)) == "40003":
        return CommitOutcomeUnknownError(
            "the database does not know whether COMMIT took effect (40003, result is "
            "ambiguous); check what the transaction wrote before running it again "
            f"({str(exc).splitlines()[0] if str(exc) else ''})"
        )
    if classify(exc) is not Fault.CONNECTION_LOST or isinstance(exc, PendingRollbackError):
        # SQLAlchemy refused to send COMMIT on a connection invalidated earlier: the
        # outcome is known (rolled back), and the transaction may run again
        return exc
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return CommitOutcomeUnknownError(
        "the connection was lost during COMMIT: the transaction may or may not have "
        f"committed; check what it wrote before running it again ({first_line})"
    )


def _log_retry(exc: BaseException, attempt: int, attempts: int, delay: float) -> None:
    """The WARNING record of a transaction run again."""
    fault = classify(exc).value
    _log.warning(
        "transaction failed (%s: %s), attempt %d of %d; running it again in %.3f s",
        fault,
        type(exc).__name__,
        attempt,
        attempts,
        delay,
        extra={
            "event": "transaction_retry",
            "sequence": getattr(exc, "sequence", None),
            "scope": getattr(exc, "scope", None),
            "attempt": attempt,
            "attempts": attempts,
            "delay": delay,
            "fault": fault,
        },
    )


def run_in_transaction(
    session_factory: Callable[[], Session],
    work: Callable[[Session], _T],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    max_backoff: float = DEFAULT_MAX_BACKOFF,
) -> _T:
    """Run ``work(session)`` in a new session's transaction and commit it, running it
    again (up to ``attempts`` times in all) after a retryable failure
    (:func:`is_retryable`), waiting :func:`backoff_delay` in between.

    ``work`` must be safe to run more than once: everything it did in a failed
    attempt was rolled back.  The session is flushed before ``COMMIT``, so that a
    failure of the flush (numbering by the flush hook included) is told apart from a
    failure of ``COMMIT`` itself.  The last error is raised when the attempts run out;
    a connection lost during ``COMMIT`` raises :class:`CommitOutcomeUnknownError` at
    once.
    """
    _check(attempts, backoff, max_backoff)
    attempt = 1
    while True:
        committing = False
        try:
            with session_factory() as session:
                with session.begin():
                    result = work(session)
                    session.flush()
                    committing = True
                return result
        except Exception as exc:
            error = _at_commit(exc) if committing else exc
            if error is not exc:
                raise error from exc
            if attempt >= attempts or not is_retryable(exc):
                raise
            delay = backoff_delay(attempt, backoff, max_backoff)
            _log_retry(exc, attempt, attempts, delay)
        time.sleep(delay)
        attempt += 1


async def async_run_in_transaction(
    session_factory: Callable[[], Any],
    work: Callable[[Any], Awaitable[_T]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    max_backoff: float = DEFAULT_MAX_BACKOFF,
) -> _T:
    """:func:`run_in_transaction` for :class:`~sqlalchemy.ext.asyncio.AsyncSession`:
    ``session_factory`` is an ``async_sessionmaker`` (or anything returning an
    ``AsyncSession``), ``work`` a coroutine function taking the session::

        async def draw(session: AsyncSession) -> str:
            return await sequencing.manager(session).generate("invoice_number")

        number = await async_run_in_transaction(async_sessionmaker(engine), draw)

    The same retries, backoff (``asyncio.sleep``) and :class:`CommitOutcomeUnknownError`.
    """
    _check(attempts, backoff, max_backoff)
    attempt = 1
    while True:
        committing = False
        try:
            async with session_factory() as session:
                async with session.begin():
                    result = await work(session)
                    await session.flush()
                    committing = True
                return result
        except Exception as exc:
            error = _at_commit(exc) if committing else exc
            if error is not exc:
                raise error from exc
            if attempt >= attempts or not is_retryable(exc):
                raise
            delay = backoff_delay(attempt, backoff, max_backoff)
            _log_retry(exc, attempt, attempts, delay)
        await asyncio.sleep(delay)
        attempt += 1
