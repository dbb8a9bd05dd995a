"""Finding where an issued number came from: its counter period, cycle and value.

``void`` is given a number as text.  The number is read back with the patterns that
could have rendered it (the definition's, its versions', those an ``update`` replaced,
and the series patterns of ``switch_pattern``), and matched against the counters of its
sequence and scope: the period must be consistent with the date tokens the number
carries and the value must have been drawn from that counter already.  A number that
matches no counter was never issued; one that matches several (a pattern without the
tokens that tell its periods apart) needs the document date.

A ``counter_by`` definition's counters are keyed by period *and* series values
(``2026|DEPARTMENT=SALES``): a number matches only the counters whose series values
are the ones it shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import timedelta

from .counters import CounterSnapshot
from .definitions import SequenceDefinition
from .enums import OverflowBehavior
from .enums import ResetPeriod
from .patterns import Pattern
from .patterns import date_fields
from .placement import split_counter_key
from .series import series_pattern

__all__ = ["Location", "locate"]


@dataclass(frozen=True)
class Location:
    """Where a number sits: the counter (period, cycle) and its value."""

    period: str
    cycle: int
    value: int


def locate(
    definition: SequenceDefinition,
    number: str,
    counters: Iterable[CounterSnapshot],
    patterns: Sequence[Pattern] | None = None,
) -> list[Location]:
    """Every issued place ``number`` can stand for (normally exactly one).

    ``patterns`` are the patterns numbers of the definition may have (without the
    series of ``switch_pattern``, which are derived here); by default its own and its
    versions'.
    """
    if patterns is None:
        patterns = [definition.compiled, *(v.compiled for v in definition.versions)]
    found: list[Location] = []
    for counter in counters:
        period, series = split_counter_key(counter.period)
        for pattern, cycles in _readings(definition, patterns, counter.cycle):
            fields = pattern.parse(number) if pattern.validate(number) else None
            if fields is None or not _in_period(definition, period, fields):
                continue
            if any(fields.get(name) != value for name, value in series.items()):
                continue  # another series' counter
            value = int(fields["COUNTER"])
            for cycle in [int(fields["CYCLE"])] if "CYCLE" in fields else cycles:
                place = Location(counter.period, cycle, value)
                if _issued(definition, counter, place) and place not in found:
                    found.append(place)
    return found


def _readings(
    definition: SequenceDefinition, patterns: Sequence[Pattern], last_cycle: int
) -> Iterable[tuple[Pattern, list[int]]]:
    if definition.overflow is OverflowBehavior.SWITCH_PATTERN:
        for cycle in range(1, last_cycle + 1):
            for pattern in patterns:
                yield series_pattern(pattern, cycle), [cycle]
    else:
        for pattern in patterns:
            yield pattern, list(range(1, last_cycle + 1))


def _issued(definition: SequenceDefinition, counter: CounterSnapshot, place: Location) -> bool:
    start, step = definition.start, definition.step
    if place.value < start or (place.value - start) % step:
        return False
    if place.cycle < counter.cycle:
        return place.cycle >= 1
    return place.cycle == counter.cycle and place.value <= counter.value


def _in_period(definition: SequenceDefinition, period: str, fields: dict[str, int | str]) -> bool:
    """Whether some day of ``period`` gives the date tokens found in the number."""
    if definition.reset_period is ResetPeriod.NEVER:
        return True
    first, last = period_range(definition.reset_period, period, definition.fiscal_year_start)
    probe = date_fields(first, fiscal_year_start=definition.fiscal_year_start)
    wanted = {k: v for k, v in fields.items() if k in probe}
    if not wanted:
        return True
    day = first
    while day <= last:
        values = date_fields(day, fiscal_year_start=definition.fiscal_year_start)
        if all(values[k] == v for k, v in wanted.items()):
            return True
        day += timedelta(days=1)
    return False


def period_range(
    reset_period: ResetPeriod, period: str, fiscal_year_start: int
) -> tuple[date, date]:
    """First and last day of a counter period key (a ``counter_by`` key's series
    values, after the reset period's key, are ignored)."""
    period = split_counter_key(period)[0]
    if reset_period is ResetPeriod.DAILY:
        day = date.fromisoformat(period)
        return day, day
    if reset_period is ResetPeriod.MONTHLY:
        year, month = (int(part) for part in period.split("-"))
        return date(year, month, 1), _day_before(year + month // 12, month % 12 + 1)
    if reset_period is ResetPeriod.YEARLY:
        return date(int(period), 1, 1), date(int(period), 12, 31)
    year = int(period.removeprefix("FY"))
    # FY0000 is the fiscal year that started in year 0: its days before
    # fiscal_year_start in year 1 are the first Python knows
    first = date(year, fiscal_year_start, 1) if year >= date.min.year else date.min
    return first, _day_before(year + 1, fiscal_year_start)


def _day_before(year: int, month: int) -> date:
    """The day before the 1st of ``month`` in ``year``; the last day Python knows when
    that 1st is past 9999-12-31 (a period that starts in December 9999)."""
    if year > date.max.year:
        return date.max
    return date(year, month, 1) - timedelta(days=1)
