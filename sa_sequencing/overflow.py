"""Overflow: the capacity of ``{COUNTER:N}``, the early warning and what happens at
the end.

``{COUNTER:N}`` holds at most ``10**N - 1``.  When a counter first draws a value at
or past ``exhaustion_threshold`` percent of that capacity (90 by default), an
``exhaustion_threshold_reached`` row goes to the audit ledger, in the transaction
that drew it, and a :class:`SequenceExhaustionWarning` is issued with
:func:`warnings.warn`: once per crossing, that is once per counter (sequence,
scope, period) and series.  At capacity the definition's ``overflow`` decides:

* ``throw_exception``: :class:`~sa_sequencing.SequenceExhaustedError`, nothing drawn;
* ``extend_padding``: the counter keeps going and numbers grow one digit wider;
* ``switch_pattern``: the next series starts from ``start``: ``INV-0001`` ...
  ``INV-9999``, then ``INV-A-0001`` (one separator, not the original's two), ``B``,
  ... ``Z``, ``AA``.  Each series is a pattern of its own (:func:`series_pattern`),
  which :meth:`~sa_sequencing.SequenceManager.validate`, ``parse`` and ``void``
  understand.

``preview`` plans with the same arithmetic, so it shows the next series (or raises
the same error) exactly as ``generate`` would.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from datetime import date
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from .definitions import SequenceDefinition
from .errors import describe
from .patterns import Pattern
from .patterns import Text
from .patterns import Token
from .periods import document_day
from .planning import series_label
from .types import utcnow

if TYPE_CHECKING:
    from .allocation import Allocator
    from .allocation import Issued

__all__ = ["OverflowWatch", "SequenceExhaustionWarning", "SequencingWarning", "series_pattern"]


class SequencingWarning(UserWarning):
    """Base class of the warnings of :mod:`sa_sequencing`."""


class SequenceExhaustionWarning(SequencingWarning):
    """A counter crossed its definition's ``exhaustion_threshold``."""


def threshold_value(capacity: int, percent: int) -> int:
    """The first counter value at or past ``percent`` of ``capacity``."""
    return max(1, math.ceil(capacity * percent / 100))


def series_pattern(pattern: Pattern, cycle: int) -> Pattern:
    """The pattern of series ``cycle`` (1: the pattern itself) under ``switch_pattern``.

    The series label goes right before the counter, reusing the separator written
    there: ``INV-{COUNTER:4}`` gives ``INV-A-{COUNTER:4}``, ``INV{COUNTER:4}`` gives
    ``INV-A-{COUNTER:4}``.
    """
    if cycle <= 1:
        return pattern
    label = series_label(cycle)
    segments = pattern.segments
    cut = next(i for i, s in enumerate(segments) if isinstance(s, Token) and s.kind == "counter")
    counter = segments[cut]
    assert isinstance(counter, Token)
    position = counter.position
    before = segments[cut - 1] if cut else None
    if before is None:
        insert_text = f"{label}-"
    elif isinstance(before, Text) and before.text[-1:] and not before.text[-1].isalnum():
        separator = before.text[-1]
        insert_text = f"{label}{separator * 2 if separator in '{}' else separator}"
    else:
        insert_text = f"-{label}-"
    return Pattern.compile(pattern.source[:position] + insert_text + pattern.source[position:])


class OverflowWatch:
    """Audits and warns when an allocation crosses the exhaustion threshold."""

    def __init__(self, allocator: Allocator) -> None:
        self.allocator = allocator

    def check(
        self,
        conn: Connection,
        definition: SequenceDefinition,
        scope: str,
        issued: Sequence[Issued],
        day: date | datetime | None,
        performed_by: str | None,
    ) -> None:
        from .placement import pattern_for  # placement renders series with this module

        step = definition.step
        crossing = None
        capacity = None
        for item in issued:
            if item.reclaimed:
                continue
            if capacity is None:
                pattern = pattern_for(definition, document_day(day, definition.zone))
                capacity = pattern.capacity
                if capacity is None:
                    return
                mark = threshold_value(capacity, definition.exhaustion_threshold)
            first = item.value == definition.start  # a counter starting past the mark
            if item.value >= mark and (first or item.value - step < mark):
                crossing = item
                break
        if crossing is None or capacity is None:
            return
        percent = definition.exhaustion_threshold
        conn.execute(
            insert(self.allocator.tables.audits).values(
                sequence_name=definition.name,
                scope=scope,
                event="exhaustion_threshold_reached",
                number=crossing.number,
                counter_value=crossing.value,
                data={
                    "current_value": crossing.value,
                    "threshold_percentage": percent,
                    "capacity": capacity,
                    "period": crossing.period,
                    "cycle": crossing.cycle,
                },
                performed_by=performed_by,
                created_at=utcnow(),
            )
        )
        warnings.warn(
            SequenceExhaustionWarning(
                f"{describe(definition.name, scope)} drew {crossing.number!r}, counter "
                f"{crossing.value} of at most {capacity}: past its exhaustion threshold of "
                f"{percent}%; at capacity it will {definition.overflow.value.replace('_', ' ')} "
                "(widen {COUNTER:N} with update() or define_version() in time)"
            ),
            stacklevel=4,
        )
