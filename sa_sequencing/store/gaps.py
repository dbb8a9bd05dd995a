"""The gap registry: every hole in a counter, with its reason and actor.

A *gap* is a counter value that was drawn but will not stand: a number voided
after it was issued (reason ``voided``), a reserved number given back (``released``)
or left to expire (``expired``), and the values a pooled definition
(``cache_size=N``) took from its counter but never issued (``cache``: the unused
end of a block, recorded at clean shutdown or by the recovery call after a crash).
A counter moved forward by ``override`` skips values that were never issued: each
is a gap too (reason ``override``, status ``skipped``), reported but never served,
because the numbers an override skips are typically those an earlier system
already issued.  What happens to the others is the definition's ``gap_policy``:

* ``allow_gaps``: nothing is recorded (the ledger still has the void);
* ``report_gaps_only``: the gap is recorded and never reused, so :meth:`gap_report
  <sa_sequencing.SequenceManager.gap_report>` explains every missing number;
* ``fill_gaps``: the gap is recorded, and ``generate``, ``generate_many``, the flush
  hook and ``preview`` serve the lowest free gap of the document's counter (its
  sequence, scope and period) before the counter moves.

A filled gap keeps its counter value and cycle, and the number is rendered again
for the document that takes it, with that document's context and date (which lie in
the same period): ``INV-2026-SALES-00005`` voided and then filled by an ``HR``
document gives ``INV-2026-HR-00005``.  The registry keeps both the original
``number`` and the ``filled_number``; ``preview`` renders the gap it would serve the
same way.

Concurrent generators take different gaps (``FOR UPDATE SKIP LOCKED`` where the
database has it, a guarded ``UPDATE`` elsewhere; see :mod:`sa_sequencing.store.claims`).
The common definition pays nothing for this: only ``fill_gaps`` definitions look at
the registry (one indexed statement per allocation, see :class:`GapPool`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Table
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Connection

from ..rules.definitions import SequenceDefinition
from .repositories import RepositoryBase
from .repositories import count_rows
from .repositories import issued_number_key
from .repositories import matching
from .repositories import snapshot
from .tables import SequencingTables
from .types import utcnow

if TYPE_CHECKING:
    pass


__all__ = [
    "FILLED",
    "GAP_REASONS",
    "MISSING",
    "SKIPPED",
    "UNFILLED",
    "Gap",
    "GapRepository",
    "free_gaps",
    "record_cache_gaps",
]


#: Why a gap exists.
GAP_REASONS = ("voided", "released", "expired", "override", "cache")


UNFILLED = "unfilled"


FILLED = "filled"


SKIPPED = "skipped"
"""A value ``override`` passed over: reported as missing, never served."""


MISSING = (UNFILLED, SKIPPED)


@dataclass(frozen=True)
class Gap:
    """One row of the gap registry."""

    sequence_id: int
    scope: str | None
    period: str
    cycle: int
    value: int
    number: str
    """The number as it was issued."""
    reason: str
    status: str
    """``unfilled``; ``filled`` once ``fill_gaps`` served the value again; ``skipped``
    for a value an ``override`` passed over (never served)."""
    performed_by: str | None
    created_at: datetime
    filled_at: datetime | None
    filled_number: str | None
    """The number the value was issued as when the gap was filled."""

    @classmethod
    def from_row(cls, row: Any) -> Gap:
        return snapshot(cls, row)


class GapRepository(RepositoryBase):
    """The gap registry (``sequence_gaps``)."""

    def record(
        self,
        definition: SequenceDefinition,
        scope: str,
        *,
        period: str,
        cycle: int,
        value: int,
        number: str,
        reason: str,
        performed_by: str | None,
    ) -> None:
        """Register a gap (or reopen a filled one: its number was voided again)."""
        g = self.tables.gaps
        conn = self.connection
        key = issued_number_key(definition, scope, period, cycle, value)
        gap = {
            "number": number,
            "reason": reason,
            "status": UNFILLED,
            "performed_by": performed_by,
            "created_at": utcnow(),
        }
        # A plain read, not an UPDATE that may find no row: on InnoDB that takes a gap
        # lock, and two transactions holding one on the same empty range deadlock on
        # their INSERTs (void, release and expiry run concurrently).
        status = conn.execute(select(g.c.status).where(*matching(g, **key))).scalar()
        if (
            status != FILLED
            or not conn.execute(
                update(g)
                .where(*matching(g, **key), g.c.status == FILLED)
                .values(**gap, filled_at=None, filled_number=None)
            ).rowcount
        ):
            conn.execute(insert(g).values(**key, **gap))

    def record_skipped(
        self,
        definition: SequenceDefinition,
        scope: str,
        *,
        period: str,
        cycle: int,
        skipped: list[tuple[int, str]],
        performed_by: str | None,
    ) -> None:
        """Register the ``(value, number)`` pairs an override passed over (values above
        every issued one, so none has a row yet)."""
        if not skipped:
            return
        g = self.tables.gaps
        now = utcnow()
        rows = [
            {
                **issued_number_key(definition, scope, period, cycle, value),
                "number": number,
                "reason": "override",
                "status": SKIPPED,
                "performed_by": performed_by,
                "created_at": now,
            }
            for value, number in skipped
        ]
        self.connection.execute(insert(g), rows)

    def find(
        self, definition: SequenceDefinition, scope: str, *, period: str, cycle: int, value: int
    ) -> Gap | None:
        g = self.tables.gaps
        key = issued_number_key(definition, scope, period, cycle, value)
        row = self.connection.execute(select(g).where(*matching(g, **key))).first()
        return None if row is None else Gap.from_row(row)

    def list(
        self, definition: SequenceDefinition, scope: str | None, *, include_filled: bool = False
    ) -> list[Gap]:
        """Gaps of a definition (of one scope, or of all when ``scope`` is ``None``),
        in counter order."""
        g = self.tables.gaps
        stmt = self._of_sequence(g, definition, scope, g.c.cycle, g.c.value)
        if not include_filled:
            stmt = stmt.where(g.c.status.in_(MISSING))
        return self._snapshots(Gap, stmt)

    def count(
        self, definition: SequenceDefinition, scope: str, *, status: str | None = None
    ) -> int:
        """How many gaps of the definition's ``scope`` have ``status`` (default: the
        missing numbers, unfilled or skipped)."""
        g = self.tables.gaps
        return count_rows(
            self.connection,
            *matching(g, sequence_id=definition.id, scope=scope),
            g.c.status.in_(MISSING) if status is None else g.c.status == status,
        )


def free_gaps(g: Table, sequence_id: Any, scope: Any, period: Any) -> list[ColumnElement[bool]]:
    """The filter for the unfilled gaps of a counter (given as values, or as bind
    parameters for the prepared lookup)."""
    return matching(g, sequence_id=sequence_id, scope=scope, period=period, status=UNFILLED)


def record_cache_gaps(
    conn: Connection,
    tables: SequencingTables,
    *,
    sequence_id: int,
    scope: str,
    period: str,
    cycle: int,
    numbers: Sequence[tuple[int, str]],
    status: str,
    performed_by: str | None,
) -> int:
    """Register ``(value, number)`` pairs of one counter as gaps with reason ``cache``
    (values a pool took and never issued), skipping values that already have a gap
    row; returns how many rows were added.  One read and one multi-row ``INSERT``."""
    if not numbers:
        return 0
    g = tables.gaps
    key = {"sequence_id": sequence_id, "scope": scope, "period": period, "cycle": cycle}
    low, high = min(v for v, _ in numbers), max(v for v, _ in numbers)
    known = set(
        conn.execute(
            select(g.c.value).where(*matching(g, **key), g.c.value >= low, g.c.value <= high)
        ).scalars()
    )
    now = utcnow()
    rows = [
        {
            **key,
            "value": value,
            "number": number,
            "reason": "cache",
            "status": status,
            "performed_by": performed_by,
            "created_at": now,
        }
        for value, number in numbers
        if value not in known
    ]
    if rows:
        conn.execute(insert(g), rows)
    return len(rows)
