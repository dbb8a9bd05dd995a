"""The gap registry: every hole in a counter, with its reason and actor.

A *gap* is a counter value that was drawn but will not stand: a number voided
after it was issued (reason ``voided``), a reserved number given back (``released``)
or left to expire (``expired``).  A counter moved forward by ``override`` skips
values that were never issued: each is a gap too (reason ``override``, status
``skipped``), reported but never served, because the numbers an override skips are
typically those an earlier system already issued.  What happens to the others is
the definition's ``gap_policy``:

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
database has it, a guarded ``UPDATE`` elsewhere; see :mod:`sa_sequencing.claims`).
The common definition pays nothing for this: only ``fill_gaps`` definitions look at
the registry (one indexed statement per allocation, see :class:`GapPool`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Connection

from .claims import claim_rows
from .definitions import SequenceDefinition
from .placement import audit_data
from .placement import pattern_for
from .placement import render
from .repositories import _Repository
from .repositories import count_rows
from .repositories import issued_number_key
from .repositories import ledger_row
from .repositories import matching
from .repositories import snapshot
from .types import utcnow

if TYPE_CHECKING:
    from .allocation import Allocator
    from .allocation import Draw
    from .allocation import Issued

__all__ = ["GAP_REASONS", "Gap", "GapPool", "GapRepository"]

#: Why a gap exists.
GAP_REASONS = ("voided", "released", "expired", "override")
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


class GapRepository(_Repository):
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


def _free(g: Table, sequence_id: Any, scope: Any, period: Any) -> list[ColumnElement[bool]]:
    """The filter for the unfilled gaps of a counter (given as values, or as bind
    parameters for the prepared lookup)."""
    return matching(g, sequence_id=sequence_id, scope=scope, period=period, status=UNFILLED)


class GapPool:
    """The allocator's side of ``fill_gaps``: serving free gaps before the counter.

    A ``fill_gaps`` allocation first looks for a free gap of the document's counter
    with a plain indexed read; only when there is one does it claim up to ``count``
    of them, lowest first (``FOR UPDATE SKIP LOCKED`` where available), and it draws
    only the rest from the counter.  The read is the whole cost of the policy while
    no gap is free: one statement per allocation, paid by ``fill_gaps`` definitions
    only.  (Remembering "no free gap" per process would
    need every new gap to change the definition's revision, and that row lock
    deadlocks with generators that hold the definition's share lock while they wait
    for the counter.)
    """

    def __init__(self, allocator: Allocator) -> None:
        self.allocator = allocator
        self.tables = allocator.tables
        g, s = self.tables.gaps, self.tables.sequences
        self._lowest = (
            select(g.c.value, g.c.cycle, s.c.revision)
            .join(s, s.c.id == g.c.sequence_id)
            .where(
                *_free(
                    g,
                    bindparam("sequence_id", type_=Integer),
                    bindparam("scope", type_=String),
                    bindparam("period", type_=String),
                )
            )
            .order_by(g.c.cycle, g.c.value)
            .limit(1)
        )

    def lowest(
        self, conn: Connection, definition: SequenceDefinition, scope: str, period: str
    ) -> tuple[int, int] | None:
        """(value, cycle) of the lowest free gap, without claiming it (for ``preview``)."""
        row = conn.execute(
            self._lowest, {"sequence_id": definition.id, "scope": scope, "period": period}
        ).first()
        return None if row is None else (row.value, row.cycle)

    def serve(self, conn: Connection, definition: SequenceDefinition, draw: Draw) -> list[Issued]:
        """Claim up to ``draw.quantity`` free gaps and issue their numbers (possibly none)."""
        from .allocation import Issued
        from .allocation import _locked

        allocator = self.allocator
        scope, count, context = draw.scope, draw.quantity, draw.context
        placed = allocator.placements.place(definition, scope, draw.day, context)
        day, period, pattern = placed.day, placed.period, placed.pattern
        params = {"sequence_id": definition.id, "scope": scope, "period": period}
        first = conn.execute(self._lowest, params).first()
        if first is None:
            # A plain read first: with no free gap (the usual state) nothing is locked, so
            # InnoDB takes no gap lock that would block concurrent voids and releases.
            return []
        if first.revision != definition.revision:
            # A cached copy issues no number without a counter statement to check it:
            # read the definition again (locked meanwhile? another pattern?).
            definition = allocator.load(conn, definition.name, scope)
            if definition.is_locked:
                raise _locked(definition, scope)
            pattern = pattern_for(definition, day)
        numbers: dict[int, str] = {}

        def fill(row: Any) -> dict[str, Any]:
            numbers[row.id] = render(
                definition, pattern, scope, day, context, row.value, row.cycle
            )
            return {"status": FILLED, "filled_at": utcnow(), "filled_number": numbers[row.id]}

        g = self.tables.gaps
        strategy = allocator.strategies.get(conn)
        rows = claim_rows(
            conn,
            g,
            _free(g, definition.id, scope, period),
            order_by=[g.c.cycle, g.c.value],
            limit=count,
            values=fill,
            skip_locked=strategy.supports_skip_locked,
            gap_locks=strategy.locks_index_gaps,
        )
        issued = [
            Issued(numbers[row.id], row.value, row.cycle, period, reclaimed=True) for row in rows
        ]
        if not rows:
            return []
        data = audit_data(period, day, context)
        self._audit(conn, definition, scope, rows, issued, data, draw.performed_by)
        return issued

    def _audit(
        self,
        conn: Connection,
        definition: SequenceDefinition,
        scope: str,
        rows: list[Any],
        issued: list[Issued],
        data: dict[str, Any],
        performed_by: str | None,
    ) -> None:
        now = utcnow()
        entries: list[dict[str, Any]] = []
        for row, item in zip(rows, issued, strict=True):
            events = [
                ("gap_reclaimed", {**data, "gap_number": row.number, "gap_reason": row.reason})
            ]
            if definition.audit_numbers:
                events.append(("number_generated", data))
            entries += [
                ledger_row(
                    definition.name,
                    scope,
                    event,
                    number=item.number,
                    counter_value=item.value,
                    data=details,
                    performed_by=performed_by,
                    created_at=now,
                )
                for event, details in events
            ]
        conn.execute(insert(self.tables.audits), entries)
