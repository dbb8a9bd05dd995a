"""The one-statement counter shared by databases with ``INSERT ... ON CONFLICT``.

PostgreSQL and SQLite (3.35+) both run::

    INSERT INTO sequence_counters (sequence_id, scope, period, value, cycle, updated_at)
    SELECT :sequence_id, :scope, :period, :first_last, 1, :now
      FROM sequences
     WHERE sequences.id = :sequence_id AND sequences.revision = :revision
       AND :first_last <= :capacity
    ON CONFLICT (sequence_id, scope, period)
    DO UPDATE SET value = sequence_counters.value + :increment, updated_at = :now
         WHERE sequence_counters.value + :increment <= :capacity
    RETURNING value

It checks that the cached definition is still current, creates the counter on first
use, takes the row lock, increments and reads back, in one round trip.  When the
definition changed, or the numbers would pass the pattern's capacity, it returns no
row and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import bindparam
from sqlalchemy.engine import Connection

from ..rules.counters import CounterKey
from ..rules.counters import CounterState
from ..store.types import UTCDateTime
from .base import Advance
from .base import CounterStrategy

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.sql.dml import Insert

__all__ = ["UpsertCounterStrategy"]


class UpsertCounterStrategy(CounterStrategy):
    """Shared ``ON CONFLICT`` implementation; subclasses supply :meth:`dialect_insert`."""

    def dialect_insert(self, table: Any) -> Any:
        raise NotImplementedError

    def upsert_advance(self) -> Insert:
        """The guarded upsert, without ``RETURNING``."""
        c = self.tables.counters
        capacity = bindparam("capacity", type_=BigInteger)
        first_last = bindparam("first_last", type_=BigInteger)
        increment = bindparam("increment", type_=BigInteger)
        now = bindparam("now", type_=UTCDateTime)
        source = self.guarded_source(first_last, first_last <= capacity)
        stmt = self.dialect_insert(c).from_select(self.INSERTED_COLUMNS, source)
        result: Insert = stmt.on_conflict_do_update(
            index_elements=[c.c.sequence_id, c.c.scope, c.c.period],
            set_={"value": c.c.value + increment, "updated_at": now},
            where=c.c.value <= bindparam("headroom", type_=BigInteger),
        )
        return result

    def _advance_statement(self) -> Any:
        return self.upsert_advance().returning(self.tables.counters.c.value)

    def advance(self, conn: Connection, request: Advance) -> int | None:
        result = self.run_prepared(conn, "advance", self._advance_statement, request.params())
        value: int | None = result.scalar()
        return value

    def lock_counter(
        self, conn: Connection, key: CounterKey, *, empty: CounterState, now: datetime
    ) -> CounterState:
        # A write first: on SQLite this takes the database's write lock at once (a
        # read first would let another writer slip in and make the upgrade fail).
        stmt = getattr(self, "_lock_stmt", None)
        if stmt is None:
            c = self.tables.counters
            stmt = self._lock_stmt = (
                self.dialect_insert(c)
                .values(self.new_counter_row)
                .on_conflict_do_update(
                    index_elements=[c.c.sequence_id, c.c.scope, c.c.period],
                    set_={"value": c.c.value},
                )
                .returning(c.c.value, c.c.cycle)
            )
        row = conn.execute(
            stmt,
            {**self._params(key), "new_value": empty.value, "new_cycle": empty.cycle, "now": now},
        ).one()
        return CounterState(row.value, row.cycle)
