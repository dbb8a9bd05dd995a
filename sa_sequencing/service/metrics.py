"""``metrics()``: how full a counter is, what it holds back, and how long it waits.

:class:`SequenceMetrics` has the original package's fields in snake_case.  The
counter figures are those of the counter serving documents dated ``date`` (today by
default); the registry figures cover every period of the scope.  The lock-wait
figures are measured, in this process, around every counter statement by the
dialect strategy (:class:`~sa_sequencing.dialects.stats.LockStats`): under contention a
counter statement's time is the wait for the counter row's lock plus one round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select

from ..rules.counters import CounterKey
from ..rules.definitions import SequenceDefinition
from ..rules.periods import document_day
from ..rules.placement import counter_key
from ..rules.placement import pattern_for
from ..store.types import utcnow
from .base import ManagerBase

if TYPE_CHECKING:
    pass

__all__ = ["MetricsMixin", "SequenceMetrics"]


@dataclass(frozen=True)
class SequenceMetrics:
    """A snapshot of one sequence's counter in one scope."""

    sequence_name: str
    scope: str | None
    period: str
    """The counter's period key (``""`` for a sequence that never resets)."""
    pattern: str
    """The pattern in force on the date asked about."""
    current_value: int | None
    """The last value issued from the counter, ``None`` before the first."""
    cycle: int
    generation_count: int
    """Numbers drawn from the counter in its current cycle."""
    total_capacity: int | None
    """``10**N - 1`` for ``{COUNTER:N}``; ``None`` for an unpadded counter."""
    remaining_capacity: int | None
    utilization_percentage: float
    exhaustion_threshold: int
    is_approaching_exhaustion: bool
    active_reservations: int
    """Numbers reserved and not yet expired."""
    gap_count: int
    """Unfilled gaps in the registry."""
    filled_gap_count: int
    last_generated_number: str | None
    """From the ledger (``None`` when per-number audit is off)."""
    last_generated_at: datetime | None
    last_reset_at: datetime | None
    is_locked: bool
    lock_wait_statements: int
    lock_wait_failures: int
    avg_lock_wait_ms: float
    max_lock_wait_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MetricsMixin(ManagerBase):
    """The ``metrics`` method of :class:`~sa_sequencing.SequenceManager`."""

    def metrics(
        self,
        name: str,
        *,
        scope: str | None = None,
        date: date | datetime | None = None,
        context: Mapping[str, object] | None = None,
    ) -> SequenceMetrics:
        """Figures of the counter serving documents dated ``date`` (default: today).

        For a ``counter_by`` sequence, ``context`` picks the series
        (``context={"DEPARTMENT": "SALES"}``); its ``period`` then reads
        ``2026|DEPARTMENT=SALES``."""
        definition, scope_key = self._serving(name, scope)
        conn = self._connection
        day = document_day(date, definition.zone)
        period = counter_key(definition, scope_key, day, context)
        pattern = pattern_for(definition, day)
        state = self.sequencing.strategy(conn).read_counter(
            conn, CounterKey(definition.id, scope_key, period)
        )
        empty = definition.start - definition.step
        value = None if state is None or state.value == empty else state.value
        count = 0 if value is None else (value - definition.start) // definition.step + 1
        capacity = pattern.capacity
        used = 0.0 if not capacity or value is None else min(100.0, value / capacity * 100.0)
        last = self._last_event(definition, scope_key, "number_generated")
        reset = self._last_event(definition, scope_key, "counter_reset")
        figures = self.sequencing.stats.figures(definition.name)
        return SequenceMetrics(
            sequence_name=definition.name,
            scope=scope_key or None,
            period=period,
            pattern=pattern.source,
            current_value=value,
            cycle=1 if state is None else state.cycle,
            generation_count=count,
            total_capacity=capacity,
            remaining_capacity=None if capacity is None else max(0, capacity - (value or 0)),
            utilization_percentage=round(used, 4),
            exhaustion_threshold=definition.exhaustion_threshold,
            is_approaching_exhaustion=used >= definition.exhaustion_threshold,
            active_reservations=self.repositories.reservations.active_count(
                definition, scope_key, utcnow()
            ),
            gap_count=self.repositories.gaps.count(definition, scope_key),
            filled_gap_count=self.repositories.gaps.count(definition, scope_key, status="filled"),
            last_generated_number=None if last is None else last.number,
            last_generated_at=None if last is None else last.created_at,
            last_reset_at=None if reset is None else reset.created_at,
            is_locked=definition.is_locked,
            lock_wait_statements=figures.statements,
            lock_wait_failures=figures.failures,
            avg_lock_wait_ms=figures.average_ms,
            max_lock_wait_ms=figures.max_seconds * 1000.0,
        )

    def _last_event(self, definition: SequenceDefinition, scope: str, event: str) -> Any:
        a = self.sequencing.tables.audits
        stmt = (
            select(a.c.number, a.c.created_at)
            .where(a.c.sequence_name == definition.name, a.c.scope == scope, a.c.event == event)
            .order_by(a.c.id.desc())
            .limit(1)
        )
        return self._connection.execute(stmt).first()
