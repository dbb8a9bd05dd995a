"""The one savepoint helper of the package: a raw ``SAVEPOINT`` on a Connection.

Raw, not ``Session.begin_nested()``: the flush hook runs while the Session is
flushing and may not begin a nested transaction, and the manager's statements must
not change the Session's own bookkeeping.  Each nesting level has its own name, since
on MySQL a ``SAVEPOINT`` replaces an outer one of the same name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

__all__ = ["Savepoint"]


class Savepoint:
    """A raw savepoint, invisible to the Session's own transaction bookkeeping::

        with Savepoint(conn) as rollback:
            try:
                conn.execute(...)
            except IntegrityError:
                rollback()  # undo the statement, keep the transaction

    Leaving the block releases it; leaving with an error rolls back to it first.
    """

    _DEPTH = "sa_sequencing.savepoint_depth"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rolled_back = False
        self.name = "sa_sequencing"

    def __enter__(self) -> Callable[[], None]:
        # the driver's own connection: aiosqlite's says whether its sqlite3 has begun
        raw = self.conn.connection.driver_connection
        if getattr(raw, "in_transaction", True) is False:
            # Python's sqlite3 opens its transaction lazily; a SAVEPOINT outside one
            # would start its own, and releasing it would commit the caller's work.
            self.conn.exec_driver_sql("BEGIN")
        # One name per nesting level: on MySQL a SAVEPOINT replaces an outer one of
        # the same name, whose RELEASE would then fail.
        depth = self.conn.info.get(self._DEPTH, 0)
        self.name = f"sa_sequencing_{depth}"
        self.conn.exec_driver_sql(f"SAVEPOINT {self.name}")
        self.conn.info[self._DEPTH] = depth + 1
        return self.rollback

    def rollback(self) -> None:
        self.conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {self.name}")
        self.rolled_back = True

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.conn.info[self._DEPTH] -= 1
        if exc_type is None:
            self.conn.exec_driver_sql(f"RELEASE SAVEPOINT {self.name}")
            return
        # A deadlock may have rolled back the whole transaction, savepoint included:
        # then cleaning up fails too, and the original error is the one to report.
        with contextlib.suppress(DBAPIError):
            if not self.rolled_back:
                self.rollback()
            self.conn.exec_driver_sql(f"RELEASE SAVEPOINT {self.name}")
