"""Reading the report's data: one sequence at a time, in the manager's transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timezone
from typing import Any

from sqlalchemy import Select
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.engine import Connection

from .. import ALL_SCOPES
from .. import SequenceDefinition
from .. import SequenceManager

__all__ = ["Reader", "ReportSummary", "SequenceFigures", "label", "override_detail", "text"]

_ISSUED = "number_generated"
_OVERRIDDEN = "counter_overridden"
_LOCKS = ("sequence_locked", "sequence_unlocked")
_STREAM = 1000  # rows fetched at a time


@dataclass
class ReportSummary:
    """What a report covered (also what ``sa-sequencing report --json`` prints)."""

    format: str
    sequences: int = 0
    counters: int = 0
    drawn: int = 0
    """Counter values drawn, as the counters count them (values an override skipped
    included)."""
    issued: int = 0
    """Numbers the ledger recorded as issued (``number_generated`` rows)."""
    gaps: int = 0
    open_reservations: int = 0
    overrides: int = 0
    lock_events: int = 0


@dataclass
class CounterFigures:
    """One counter: its range of values, and what the ledger says of its numbers."""

    scope: str
    period: str
    cycle: int
    first_value: int | None
    last_value: int | None
    count: int
    first_number: str | None = None
    last_number: str | None = None
    ledger_count: int = 0
    last_at: datetime | None = None


@dataclass
class SequenceFigures:
    """One definition: its counters, numbers per day, overrides and lock events."""

    definition: SequenceDefinition
    counters: dict[tuple[str, str], CounterFigures]
    days: dict[date, int] = field(default_factory=dict)
    overrides: list[Any] = field(default_factory=list)
    locks: list[Any] = field(default_factory=list)


class Reader:
    """Reads one sequence at a time, in the manager's transaction."""

    def __init__(
        self,
        manager: SequenceManager,
        conn: Connection,
        definitions: list[SequenceDefinition],
        scope: Any,
    ) -> None:
        self.manager = manager
        self.conn = conn
        self.tables = manager.sequencing.tables
        self.scope = scope
        self.now = datetime.now(timezone.utc)
        # Scopes with a definition of their own: the global one does not serve them.
        self.own_scopes: dict[str, set[str]] = {}
        for d in manager.list() if scope is ALL_SCOPES else definitions:
            if d.scope:
                self.own_scopes.setdefault(d.name, set()).add(d.scope)

    def _of_scope(self, table: Any, definition: SequenceDefinition, stmt: Select[Any]) -> Any:
        if self.scope is not ALL_SCOPES:
            return stmt.where(table.c.scope == (self.scope or ""))
        if definition.scope:
            return stmt.where(table.c.scope == definition.scope)
        return stmt.where(table.c.scope.not_in(sorted(self.own_scopes.get(definition.name, ()))))

    def _stream(self, stmt: Select[Any]) -> Iterator[Any]:
        result = self.conn.execution_options(yield_per=_STREAM).execute(stmt)
        try:
            yield from result
        finally:
            result.close()

    def sequence(self, definition: SequenceDefinition) -> SequenceFigures:
        counters: dict[tuple[str, str], CounterFigures] = {}
        counter_scope = None if self.scope is ALL_SCOPES else (self.scope or "")
        for c in self.manager.repositories.counters.for_sequence(definition, counter_scope):
            empty = c.value < definition.start
            counters[(c.scope or "", c.period)] = CounterFigures(
                scope=c.scope or "",
                period=c.period,
                cycle=c.cycle,
                first_value=None if empty else definition.start,
                last_value=None if empty else c.value,
                count=0 if empty else (c.value - definition.start) // definition.step + 1,
            )
        sequence = SequenceFigures(definition, counters)
        a = self.tables.audits
        since = a.c.created_at >= definition.created_at if definition.created_at else true()
        ledger = self._of_scope(
            a,
            definition,
            select(a.c.scope, a.c.event, a.c.number, a.c.data, a.c.performed_by, a.c.created_at)
            .where(a.c.sequence_name == definition.name, since)
            .where(a.c.event.in_([_ISSUED, _OVERRIDDEN]))
            .order_by(a.c.id),
        )
        for row in self._stream(ledger):
            if row.event == _OVERRIDDEN:
                sequence.overrides.append(row)
                continue
            day = row.created_at.astimezone(timezone.utc).date()
            sequence.days[day] = sequence.days.get(day, 0) + 1
            period = (row.data or {}).get("period", "")
            counter = counters.get((row.scope, period))
            if counter is None:  # a counter deleted since, or another scope's
                continue
            counter.first_number = counter.first_number or row.number
            counter.last_number = row.number
            counter.ledger_count += 1
            counter.last_at = row.created_at
        locks = (
            select(a.c.scope, a.c.event, a.c.performed_by, a.c.created_at)
            .where(a.c.sequence_name == definition.name, since)
            .where(a.c.scope == definition.scope_key, a.c.event.in_(_LOCKS))
            .order_by(a.c.id)
        )
        sequence.locks = list(self.conn.execute(locks))
        return sequence

    def gaps(self, definition: SequenceDefinition) -> Iterator[Any]:
        g = self.tables.gaps
        stmt = select(g).where(g.c.sequence_id == definition.id)
        stmt = self._of_scope(g, definition, stmt)
        return self._stream(stmt.order_by(g.c.scope, g.c.period, g.c.cycle, g.c.value))

    def reservations(self, definition: SequenceDefinition) -> Iterator[Any]:
        r = self.tables.reservations
        stmt = select(r).where(r.c.sequence_id == definition.id, r.c.status == "reserved")
        stmt = self._of_scope(r, definition, stmt)
        return self._stream(stmt.order_by(r.c.scope, r.c.period, r.c.cycle, r.c.value))


def text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


def override_detail(row: Any) -> tuple[str, str]:
    data = row.data or {}
    detail = f"{data.get('old_value')} -> {data.get('new_value')}"
    return str(data.get("period", "")), detail


def label(scope: object) -> str:
    return str(scope) if scope else "(global)"
