"""SQLite: the guarded upsert as the transaction's first write.

SQLite has one writer at a time.  A transaction that reads first and writes later
cannot always upgrade its lock (in WAL mode it fails at once if another writer
committed meanwhile), so the counter is always taken by a write: the upsert, or a
no-op upsert that locks before reading on the slow path.  With Python's ``sqlite3``
in its default mode, the implicit ``BEGIN`` comes right before that write, so the
lock is held from the start of the transaction; engines that read and then draw
numbers in one transaction should use :func:`sa_sequencing.sqlite.begin_immediate`.
Concurrent writers wait up to ``busy_timeout`` (``timeout=`` of ``sqlite3.connect``,
5 seconds by default); a wait that runs out is retried ``lock_retries`` times.

SQLite before 3.35 has no ``RETURNING``: the generic strategy is used there, and
``begin_immediate`` is then required for concurrent use.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from ..errors import ArgumentTypeError
from ..errors import InvalidArgumentError
from ..errors import UnsupportedDialectError
from ..rules.counters import CounterKey
from ..rules.counters import CounterState
from .base import Advance
from .base import CounterStrategy
from .upsert import UpsertCounterStrategy

__all__ = ["SQLiteCounterStrategy", "begin_immediate", "on_begin", "remove_begin_immediate"]


class SQLiteCounterStrategy(UpsertCounterStrategy):
    __dialect__ = "sqlite"

    def dialect_insert(self, table: Any) -> Any:
        return sqlite_insert(table)

    @property
    def renders_number_runs(self) -> bool:
        return True

    def render_number_sql(self, value: Any) -> Any:
        return (
            bindparam("prefix", type_=String)
            + func.printf("%0*d", bindparam("width", type_=Integer), value)
            + bindparam("suffix", type_=String)
        )

    def in_autocommit(self, conn: Connection) -> bool:
        if super().in_autocommit(conn):
            return True
        # sqlite3 with isolation_level=None and no BEGIN of ours (begin_immediate
        # sends one) runs each statement in a transaction of its own.
        raw = conn.connection.dbapi_connection
        return getattr(raw, "isolation_level", "") is None and not getattr(
            raw, "in_transaction", True
        )

    @property
    def _has_returning(self) -> bool:
        return bool(self.dialect.insert_returning)

    def _check_old_sqlite(self, conn: Connection) -> None:
        """Without RETURNING the counter is read, then written: safe only when every
        transaction holds the write lock from its start."""
        engine = conn.engine
        if not event.contains(engine, "begin", on_begin):
            raise UnsupportedDialectError(
                f"SQLite {self.dialect.server_version_info} has no RETURNING (3.35+), so "
                "numbers are drawn with a read and a write; call "
                "sa_sequencing.sqlite.begin_immediate(engine) so that no two transactions "
                "can read the same counter value"
            )

    def advance(self, conn: Connection, request: Advance) -> int | None:
        if not self._has_returning:
            self._check_old_sqlite(conn)
        advance = super().advance if self._has_returning else CounterStrategy.advance.__get__(self)
        return advance(conn, request)

    def lock_counter(
        self, conn: Connection, key: CounterKey, *, empty: CounterState, now: datetime
    ) -> CounterState:
        if self._has_returning:
            return super().lock_counter(conn, key, empty=empty, now=now)
        self._check_old_sqlite(conn)
        return CounterStrategy.lock_counter(self, conn, key, empty=empty, now=now)

    def prepare_lock_wait(self, conn: Connection) -> None:
        if self.lock_timeout is None:
            return
        millis = max(1, math.ceil(self.lock_timeout * 1000))
        if conn.info.get("sa_sequencing.busy_timeout") != millis:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {millis}")
            conn.info["sa_sequencing.busy_timeout"] = millis


# -- BEGIN IMMEDIATE (documented in sa_sequencing.sqlite) ----------------------------


def on_begin(conn: Connection) -> None:
    # Switch the driver's implicit transactions off on each connection as it is
    # used, so connections opened before installation are covered too.
    dbapi_connection = conn.connection.dbapi_connection
    if getattr(dbapi_connection, "isolation_level", None) is not None:
        dbapi_connection.isolation_level = None  # type: ignore[union-attr]
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sync_engine(engine: Any) -> Engine:
    sync = getattr(engine, "sync_engine", engine)
    if not isinstance(sync, Engine):
        raise ArgumentTypeError(f"expected an Engine or AsyncEngine, not {type(engine).__name__}")
    if sync.dialect.name != "sqlite":
        raise InvalidArgumentError(
            f"begin_immediate() is for SQLite engines, not {sync.dialect.name}"
        )
    return sync


def begin_immediate(engine: Any) -> None:
    """Make every transaction on ``engine`` start with ``BEGIN IMMEDIATE``.

    Idempotent; accepts an :class:`~sqlalchemy.ext.asyncio.AsyncEngine` too.
    """
    sync = _sync_engine(engine)
    if not event.contains(sync, "begin", on_begin):
        event.listen(sync, "begin", on_begin)


def remove_begin_immediate(engine: Any) -> None:
    """Undo :func:`begin_immediate`; pooled connections are discarded so that new ones
    get the driver's default transaction handling back."""
    sync = _sync_engine(engine)
    if event.contains(sync, "begin", on_begin):
        event.remove(sync, "begin", on_begin)
        sync.dispose()
