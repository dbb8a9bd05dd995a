"""Running a whole transaction again when the database says so.

Inside a transaction, a serialization failure (SQLSTATE 40001, PostgreSQL at
REPEATABLE READ or SERIALIZABLE, CockroachDB) or a deadlock (PostgreSQL 40P01,
MySQL 1213) cannot be cured by repeating the statement: the database has doomed or
rolled back the whole transaction.  :func:`run_in_transaction` owns the transaction,
so it can run it again, a bounded number of times::

    number = run_in_transaction(
        Session_factory,
        lambda session: sequencing.manager(session).generate("invoice_number"),
        attempts=3,
    )
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .errors import InvalidArgumentError
from .errors import SequenceBusyError

__all__ = ["is_retryable", "run_in_transaction"]

_T = TypeVar("_T")

_SQLSTATES = {"40001", "40P01"}
_MYSQL_CODES = {1213}


def is_retryable(exc: BaseException) -> bool:
    """Whether running the transaction again may succeed."""
    if isinstance(exc, SequenceBusyError):
        return exc.retryable
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if code in _SQLSTATES:
            return True
        args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
        return bool(args) and args[0] in _MYSQL_CODES
    return False


def run_in_transaction(
    session_factory: Callable[[], Session],
    work: Callable[[Session], _T],
    *,
    attempts: int = 3,
    backoff: float = 0.05,
) -> _T:
    """Run ``work(session)`` in a new session's transaction and commit it, running it
    again (up to ``attempts`` times in all) after a serialization failure or deadlock.

    ``work`` must be safe to run more than once: everything it did in a failed
    attempt was rolled back.  The last error is raised when the attempts run out.
    """
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise InvalidArgumentError(f"attempts must be an int >= 1, not {attempts!r}")
    attempt = 1
    while True:
        try:
            with session_factory() as session, session.begin():
                return work(session)
        except (SequenceBusyError, DBAPIError) as exc:
            if attempt >= attempts or not is_retryable(exc):
                raise
        # Jitter keeps two transactions that collided from colliding again in step.
        time.sleep(backoff * attempt * (1 + random.random()))
        attempt += 1
