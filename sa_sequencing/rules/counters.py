"""Planning an allocation: the arithmetic every path shares.

:func:`plan_allocation` is a pure function of a definition and a counter's state.
The slow path runs it on the locked counter and ``preview`` on the unlocked one, and
the dialects' one-statement fast path does the same arithmetic in SQL for the
definitions it serves, so all three agree on the next number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from ..errors import SequenceExhaustedError
from ..errors import describe
from .definitions import SequenceDefinition
from .enums import OverflowBehavior
from .limits import MAX_COUNTER
from .patterns import Pattern

if TYPE_CHECKING:
    pass


__all__ = [
    "CounterKey",
    "CounterSnapshot",
    "CounterState",
    "Draw",
    "Issued",
    "Plan",
    "capacity_of",
    "plan_allocation",
]


@dataclass(frozen=True)
class Plan:
    values: list[tuple[int, int]]
    """(counter value, cycle) of each number, in order."""
    state: CounterState
    events: list[tuple[str, dict[str, Any]]]


def capacity_of(definition: SequenceDefinition, pattern: Pattern) -> int:
    """Where the counter must stop: the pattern's capacity, else (no padding, or
    ``extend_padding``) the largest value the signed 64-bit counter column holds."""
    if definition.overflow is OverflowBehavior.EXTEND_PADDING or pattern.capacity is None:
        return MAX_COUNTER
    return pattern.capacity


def plan_allocation(
    definition: SequenceDefinition,
    state: CounterState | None,
    count: int,
    capacity: int,
    *,
    scope: str,
) -> Plan:
    """The next ``count`` values after ``state``; raises if the counter is exhausted."""
    step, start, limit = definition.step, definition.start, definition.reset_limit
    value, cycle = (state.value, state.cycle) if state is not None else (start - step, 1)
    values: list[tuple[int, int]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    for _ in range(count):
        following = value + step
        if limit is not None and value >= start and (value - start) // step + 1 >= limit:
            following, cycle = start, cycle + 1
            events.append(("counter_reset", {"reason": "reset_limit", "cycle": cycle}))
        if following > capacity:
            if capacity == MAX_COUNTER:
                raise SequenceExhaustedError(
                    f"{describe(definition.name, scope)} is exhausted: the next value "
                    f"{following} passes {MAX_COUNTER}, the largest value a counter holds; "
                    "define a new sequence",
                    sequence=definition.name,
                    scope=scope,
                )
            if definition.overflow is not OverflowBehavior.SWITCH_PATTERN:
                raise SequenceExhaustedError(
                    f"{describe(definition.name, scope)} is exhausted: the next value "
                    f"{following} does not fit the pattern's capacity of {capacity}; widen "
                    "{COUNTER:N} with update(), or set overflow='extend_padding' or "
                    "'switch_pattern'",
                    sequence=definition.name,
                    scope=scope,
                )
            following, cycle = start, cycle + 1
            events.append(("series_switched", {"cycle": cycle, "capacity": capacity}))
        values.append((following, cycle))
        value = following
    return Plan(values, CounterState(value, cycle), events)


class Issued(NamedTuple):
    """One number drawn from a counter (a tuple: a flush makes thousands)."""

    number: str
    value: int
    cycle: int
    period: str
    reclaimed: bool = False
    """Served from the gap registry (``fill_gaps``) rather than the counter."""


class Draw(NamedTuple):
    """What a caller asked for: ``quantity`` numbers of sequence ``name`` in ``scope``
    (its stored key), for documents with ``context`` dated ``day``, drawn by
    ``performed_by``."""

    name: str
    scope: str
    quantity: int
    context: Mapping[str, object] | None
    day: date | datetime | None
    performed_by: str | None


@dataclass(frozen=True)
class CounterSnapshot:
    """A counter row: the last issued value of a (sequence, scope, period)."""

    sequence_id: int
    scope: str | None
    period: str
    value: int
    cycle: int
    updated_at: datetime | None


@dataclass(frozen=True)
class CounterKey:
    sequence_id: int
    scope: str
    period: str


@dataclass(frozen=True)
class CounterState:
    value: int
    """The last issued value (``start - step`` when nothing was issued yet)."""
    cycle: int
