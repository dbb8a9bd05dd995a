"""The allocator's watch on the capacity of ``{COUNTER:N}``: the audit row and the
warning when a counter crosses its ``exhaustion_threshold`` (the rules themselves are in
:mod:`sa_sequencing.rules.series`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import date
from datetime import datetime

from sqlalchemy.engine import Connection

from ..errors import SequenceExhaustionWarning
from ..errors import describe
from ..logs import allocation as _log
from ..rules.counters import Issued
from ..rules.definitions import SequenceDefinition
from ..rules.periods import document_day
from ..rules.placement import pattern_for
from ..rules.series import threshold_value
from ..store.types import utcnow
from .ledger import Ledger

__all__ = ["OverflowWatch"]


class OverflowWatch:
    """Audits and warns when an allocation crosses the exhaustion threshold."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def check(
        self,
        conn: Connection,
        definition: SequenceDefinition,
        scope: str,
        issued: Sequence[Issued],
        day: date | datetime | None,
        performed_by: str | None,
    ) -> None:

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
        details = {
            "current_value": crossing.value,
            "threshold_percentage": percent,
            "capacity": capacity,
            "period": crossing.period,
            "cycle": crossing.cycle,
        }
        self.ledger.about_numbers(
            conn,
            definition,
            scope,
            [(crossing, "exhaustion_threshold_reached", details)],
            performed_by,
            utcnow(),
        )
        message = (
            f"{describe(definition.name, scope)} drew {crossing.number!r}, counter "
            f"{crossing.value} of at most {capacity}: past its exhaustion threshold of "
            f"{percent}%; at capacity it will {definition.overflow.value.replace('_', ' ')} "
            "(widen {COUNTER:N} with update() or define_version() in time)"
        )
        _log.warning(
            "%s",
            message,
            extra={
                "event": "exhaustion_threshold",
                "sequence": definition.name,
                "scope": scope,
                "period": crossing.period,
                "number": crossing.number,
                "value": crossing.value,
                "capacity": capacity,
                "actor": performed_by,
            },
        )
        warnings.warn(SequenceExhaustionWarning(message), stacklevel=4)
