"""SQLite transaction control: ``BEGIN IMMEDIATE`` for engines that draw numbers.

SQLite allows one writer at a time.  Python's ``sqlite3`` begins a transaction
lazily, right before the first ``INSERT``/``UPDATE``/``DELETE``, with a plain
(deferred) ``BEGIN``; a transaction that reads first holds only a read lock, and
when it later tries to write while another connection writes, SQLite may refuse at
once with "database is locked" instead of waiting (the busy handler is not called for
a lock upgrade that could deadlock, and in WAL mode a stale snapshot cannot be
upgraded at all).

``sa_sequencing`` always takes the counter with a write, so drawing numbers at the
start of a transaction is safe by default.  An application that reads and *then* draws
numbers in one transaction should make its engine begin every transaction with
``BEGIN IMMEDIATE``, which takes the write lock up front and waits ``busy_timeout`` for
it::

    from sa_sequencing.sqlite import begin_immediate

    engine = create_engine("sqlite:///app.db")
    begin_immediate(engine)

This is SQLAlchemy's documented pysqlite recipe (the driver's own transaction handling
off, ``BEGIN`` emitted on the engine's ``begin`` event) with ``IMMEDIATE``.  Writers are
then serialized from the first statement; readers in WAL mode are not blocked.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from .errors import ArgumentTypeError
from .errors import InvalidArgumentError

__all__ = ["begin_immediate", "remove_begin_immediate"]


def _on_begin(conn: Connection) -> None:
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
    if not event.contains(sync, "begin", _on_begin):
        event.listen(sync, "begin", _on_begin)


def remove_begin_immediate(engine: Any) -> None:
    """Undo :func:`begin_immediate`; pooled connections are discarded so that new ones
    get the driver's default transaction handling back."""
    sync = _sync_engine(engine)
    if event.contains(sync, "begin", _on_begin):
        event.remove(sync, "begin", _on_begin)
        sync.dispose()
