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

from .dialects.sqlite import begin_immediate
from .dialects.sqlite import remove_begin_immediate

__all__ = ["begin_immediate", "remove_begin_immediate"]
