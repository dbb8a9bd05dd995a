"""Drawing numbers from several counters at once, in one fixed lock order.

A transaction that draws from sequences ``A`` and ``B`` holds both counter rows until
it commits.  If another transaction took them the other way round, each would wait
for the other: a deadlock.  Every multi-counter draw of :mod:`sa_sequencing` (the ORM
flush hook, :meth:`SequenceManager.generate_batch
<sa_sequencing.SequenceManager.generate_batch>`) therefore

1. groups the numbers it needs by counter, ``(sequence, scope, period)``;
2. checks everything that can be checked before the first write: the definitions
   exist, every number's context fills its pattern;
3. takes the counters in sorted ``(sequence, scope, period)`` order, one counter
   statement per counter however many numbers it gives;
4. hands the numbers of each counter out in the order they were asked for.

Numbers of one counter may need different contexts or dates (a ``{DEPARTMENT}`` token,
a ``{MONTH}`` token in a yearly sequence): :func:`allocate_each` still draws them with
one counter statement and renders each with its own.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import Any
from typing import NoReturn

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ..errors import ArgumentTypeError
from ..errors import SequencingError
from ..faults import busy_error
from ..rules.checks import check_actor
from ..rules.checks import check_count
from ..rules.counters import Issued
from ..rules.definitions import normalize_name
from ..rules.definitions import normalize_scope
from ..rules.periods import document_day
from ..rules.placement import audit_data
from ..rules.placement import counter_key
from ..rules.placement import pattern_for
from ..rules.placement import render
from ..rules.placement import render_parts
from ..store.savepoint import Savepoint
from .allocator import Allocator

__all__ = ["Batch", "NumberRequest", "allocate_each"]

Wanted = tuple[Mapping[str, object] | None, date]
"""The context and document day of one number."""


@dataclass(frozen=True)
class NumberRequest:
    """``count`` numbers of one sequence, for :meth:`SequenceManager.generate_batch
    <sa_sequencing.SequenceManager.generate_batch>`."""

    name: str
    count: int = 1
    scope: str | None = None
    context: Mapping[str, object] | None = None
    date: date | datetime | None = None


@dataclass(frozen=True)
class CounterGroup:
    """The numbers a batch draws from one counter, with the allocator that draws them."""

    allocator: Allocator
    name: str
    scope: str
    period: str
    wanted: list[Wanted]
    tickets: list[int]
    """The position of each number in the batch's answer."""
    labels: set[str]
    """Who asked (``Model.attribute``), for messages."""

    @property
    def order(self) -> tuple[str, str, str, str]:
        return (self.name, self.scope, self.period, self.allocator.tables.counters.fullname)


class Batch:
    """Numbers to draw on one connection, collected first and drawn in lock order.

    :meth:`add` checks the number (definition, context) and returns its ticket;
    :meth:`draw` draws every counter in lock order and returns the numbers by ticket.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.groups: dict[tuple[int, str, str, str], CounterGroup] = {}
        self.size = 0
        self._placed: dict[tuple[Any, ...], tuple[CounterGroup, Wanted]] = {}

    def add(
        self,
        allocator: Allocator,
        name: str,
        scope: object,
        context: Mapping[str, object] | None,
        day: date | datetime | None,
        *,
        label: str | None = None,
    ) -> int:
        """Ask for one number; raises before anything is written if it cannot be drawn."""
        # Most numbers of a flush share their inputs: place each distinct one once.
        key: tuple[Any, ...] | None = None
        placed = None
        try:
            frozen = None if context is None else tuple(sorted(context.items()))
            inputs = (id(allocator), name, scope, frozen, day)
            placed = self._placed.get(inputs)
            key = inputs
        except (TypeError, AttributeError):
            # unhashable context values, or no mapping at all: place this number on its
            # own (rendering refuses a context that is not a mapping)
            pass
        if placed is None:
            try:
                placed = self._place(allocator, name, scope, context, day)
            except (SequencingError, DBAPIError) as exc:
                raise_named(exc, label, sequence=name, scope=scope)
            if key is not None:
                self._placed[key] = placed
        group, wanted = placed
        if label is not None:
            group.labels.add(label)
        ticket = self.size
        self.size += 1
        group.wanted.append(wanted)
        group.tickets.append(ticket)
        return ticket

    def _place(
        self,
        allocator: Allocator,
        name: str,
        scope: object,
        context: Mapping[str, object] | None,
        day_input: date | datetime | None,
    ) -> tuple[CounterGroup, Wanted]:
        name = normalize_name(name)
        scope_key = normalize_scope(scope)
        definition = allocator.definition(self.conn, name, scope_key)
        # "Today" is fixed once per batch, so every number of a group shares a period.
        day = document_day(day_input, definition.zone)
        # Rendering the text around the counter checks the context now, before any write.
        pattern = pattern_for(definition, day)
        parts = render_parts(definition, pattern, scope_key, day, context, 1)
        # The period key holds a counter_by definition's series values, so the groups,
        # and with them the lock order, are per series.
        period = counter_key(definition, scope_key, day, context, (pattern, *parts))
        group_key = (id(allocator), name, scope_key, period)
        group = self.groups.get(group_key)
        if group is None:
            group = self.groups[group_key] = CounterGroup(
                allocator, name, scope_key, period, [], [], set()
            )
        return group, (context, day)

    def in_lock_order(self) -> list[CounterGroup]:
        return sorted(self.groups.values(), key=lambda group: group.order)

    def draw(self, *, performed_by: str | None = None) -> list[str]:
        """Draw every group, counters in lock order; the numbers by ticket.

        With several counters the draw runs under a savepoint: if a later counter
        refuses (locked, exhausted), the earlier ones are put back and the caller's
        transaction is as it was.
        """
        numbers: list[str] = [""] * self.size
        groups = self.in_lock_order()
        with Savepoint(self.conn) if len(groups) > 1 else contextlib.nullcontext():
            for group in groups:
                try:
                    issued = allocate_each(
                        group.allocator,
                        self.conn,
                        group.name,
                        group.scope or None,  # '' is the global scope's key, not a scope
                        group.wanted,
                        performed_by=performed_by,
                    )
                except (SequencingError, DBAPIError) as exc:
                    label = ", ".join(sorted(group.labels)) or None
                    raise_named(exc, label, sequence=group.name, scope=group.scope)
                for ticket, item in zip(group.tickets, issued, strict=True):
                    numbers[ticket] = item.number
        return numbers


def raise_named(
    exc: SequencingError | DBAPIError, label: str | None, *, sequence: str, scope: object
) -> NoReturn:
    """Raise ``exc`` again, its message led by who asked for the number
    (``Model.attr``): a database error as the
    :class:`~sa_sequencing.SequenceBusyError` it means (raised as it is when it means
    none, a lost connection say), its cause kept as the cause."""
    scope_text = scope if isinstance(scope, str) else None
    if isinstance(exc, DBAPIError):
        busy = busy_error(exc, sequence=sequence, scope=scope_text)
        if busy is None:
            raise exc
        if label is not None:
            busy.args = (f"{label}: {busy}",)
        raise busy from exc
    if label is None:
        raise exc
    renamed = copy.copy(exc)
    renamed.args = (f"{label}: {exc}",)
    raise renamed from exc.__cause__ or exc


def allocate_each(
    allocator: Allocator,
    conn: Connection,
    name: str,
    scope: object,
    wanted: Sequence[Wanted],
    *,
    performed_by: str | None,
) -> list[Issued]:
    """Draw ``len(wanted)`` numbers of one counter with one counter statement, the
    i-th rendered with the i-th (context, document day).

    The days must fall in one counter period.  The values come from
    :meth:`Allocator.allocate`, so they follow every rule it applies (gaps served
    first, pattern versions, locks); only the text around the counter differs
    between the numbers, and the per-number audit rows are reworded to match.
    """
    first_context, first_day = wanted[0]
    mixed = any(item != wanted[0] for item in wanted)
    a = allocator.tables.audits
    # The audit rows this draw writes are found again by number and value among the
    # rows written after this point (a sequence that may repeat numbers has older ones).
    floor = (conn.execute(select(func.max(a.c.id))).scalar() or 0) if mixed else 0
    issued = allocator.allocate(
        conn,
        name,
        scope,
        len(wanted),
        context=first_context,
        day=first_day,
        performed_by=performed_by,
    )
    if not mixed:
        return issued
    name = normalize_name(name)
    scope_key = normalize_scope(scope)
    definition = allocator.definition(conn, name, scope_key)
    rendered: list[Issued] = []
    reworded: list[dict[str, Any]] = []
    for item, (context, day) in zip(issued, wanted, strict=True):
        if (context, day) == wanted[0]:
            rendered.append(item)
            continue
        pattern = pattern_for(definition, day)
        number = render(definition, pattern, scope_key, day, context, item.value, item.cycle)
        rendered.append(Issued(number, item.value, item.cycle, item.period))
        # the audit row was written with the first number's context and date
        reworded.append(
            {
                "b_old": item.number,
                "b_value": item.value,
                "b_number": number,
                "b_data": audit_data(item.period, day, context),
            }
        )
    allocator.ledger.reword(conn, definition, scope_key, reworded, after_id=floor)
    return rendered


def generate_batch(
    allocator: Allocator,
    conn: Connection,
    requests: Iterable[NumberRequest],
    *,
    performed_by: str | None,
) -> list[list[str]]:
    """The numbers of each request, drawn in lock order (see the module docs)."""
    check_actor(performed_by)
    batch = Batch(conn)
    tickets: list[list[int]] = []
    for request in requests:
        if not isinstance(request, NumberRequest):
            raise ArgumentTypeError(
                f"generate_batch() takes NumberRequest items, not {type(request).__name__}"
            )
        check_count(request.count, minimum=0)
        tickets.append(
            [
                batch.add(allocator, request.name, request.scope, request.context, request.date)
                for _ in range(request.count)
            ]
        )
    numbers = batch.draw(performed_by=performed_by)
    return [[numbers[ticket] for ticket in wanted] for wanted in tickets]
