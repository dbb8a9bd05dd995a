"""Planning an allocation: the arithmetic every path shares.

:func:`plan_allocation` is a pure function of a definition and a counter's state.
The slow path runs it on the locked counter and ``preview`` on the unlocked one, and
the dialects' one-statement fast path does the same arithmetic in SQL for the
definitions it serves, so all three agree on the next number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .definitions import SequenceDefinition
from .dialects.base import CounterState
from .enums import OverflowBehavior
from .errors import SequenceExhaustedError
from .errors import describe
from .limits import MAX_COUNTER
from .patterns import Pattern

__all__ = ["Plan", "capacity_of", "plan_allocation", "series_label"]


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


def series_label(cycle: int) -> str:
    """``''`` for the first series, then ``A`` ... ``Z``, ``AA`` ..."""
    label = ""
    n = cycle - 1
    while n > 0:
        n, rest = divmod(n - 1, 26)
        label = chr(ord("A") + rest) + label
    return label
