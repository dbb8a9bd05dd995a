"""The allocator's side of ``fill_gaps``: free gaps served before the counter moves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..dialects.base import StrategyCache
from ..rules.counters import Draw
from ..rules.counters import Issued
from ..rules.definitions import SequenceDefinition
from ..rules.definitions import locked_error
from ..rules.placement import audit_data
from ..rules.placement import pattern_for
from ..rules.placement import render
from ..store.claims import claim_rows
from ..store.gaps import FILLED
from ..store.gaps import free_gaps
from ..store.tables import SequencingTables
from ..store.types import utcnow
from .caches import PlacementCache
from .ledger import Ledger

__all__ = ["GapPool"]


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

    def __init__(
        self,
        tables: SequencingTables,
        strategies: StrategyCache,
        ledger: Ledger,
        placements: PlacementCache,
        *,
        reload: Callable[[Connection, str, str], SequenceDefinition],
    ) -> None:
        self.tables = tables
        self.strategies = strategies
        self.ledger = ledger
        self.placements = placements
        # The allocator's definition loader: a gap's revision check that finds the
        # cached definition stale reads it again, as the counter statement would.
        self.reload = reload
        g, s = self.tables.gaps, self.tables.sequences
        self._lowest = (
            select(g.c.value, g.c.cycle, s.c.revision)
            .join(s, s.c.id == g.c.sequence_id)
            .where(
                *free_gaps(
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

        scope, count, context = draw.scope, draw.quantity, draw.context
        placed = self.placements.place(definition, scope, draw.day, context)
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
            definition = self.reload(conn, definition.name, scope)
            if definition.is_locked:
                raise locked_error(definition, scope)
            pattern = pattern_for(definition, day)
        numbers: dict[int, str] = {}

        def fill(row: Any) -> dict[str, Any]:
            numbers[row.id] = render(
                definition, pattern, scope, day, context, row.value, row.cycle
            )
            return {"status": FILLED, "filled_at": utcnow(), "filled_number": numbers[row.id]}

        g = self.tables.gaps
        strategy = self.strategies.get(conn)
        rows = claim_rows(
            conn,
            g,
            free_gaps(g, definition.id, scope, period),
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
        events: list[tuple[Issued, str, dict[str, Any]]] = []
        for row, item in zip(rows, issued, strict=True):
            reclaimed = {**data, "gap_number": row.number, "gap_reason": row.reason}
            events.append((item, "gap_reclaimed", reclaimed))
            if definition.audit_numbers:
                events.append((item, "number_generated", data))
        self.ledger.about_numbers(conn, definition, scope, events, draw.performed_by, utcnow())
        return issued
