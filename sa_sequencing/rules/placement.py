"""Where a number drawn now belongs, and how it reads.

A number's *placement* is everything about it that does not depend on the counter:
the document day (``date=``, else today in the sequence's time zone), the counter
period that day falls in, the pattern in force (a pattern version's, else the
definition's own), the rendered text around the counter, and the ``data`` of its
ledger row.  Rendering it checks the context, so a bad context fails before any
counter moves.

Most numbers are drawn with no context, for the same few (definition, scope, day)
keys all day long; :class:`PlacementCache` keeps those placements, so the hot path
renders a pattern once per day and sequence instead of once per number.  A
definition change replaces the cached definition object, and with it the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..errors import PatternError
from ..errors import describe
from .checks import check_context
from .definitions import SequenceDefinition
from .definitions import max_counter_digits
from .enums import OverflowBehavior
from .limits import NUMBER_LENGTH
from .patterns import Pattern
from .periods import period_key
from .series import series_pattern
from .versions import version_for

__all__ = ["Placement", "audit_data", "glue", "pattern_for", "place", "render", "render_parts"]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a number drawn now belongs (see the module docstring)."""

    day: date
    period: str
    pattern: Pattern
    prefix: str
    width: int | None
    suffix: str
    data: dict[str, Any]
    """The ledger row's ``data``; shared by every number of the placement, never mutated."""

    def number(self, value: int) -> str:
        return glue(self.prefix, value, self.width, self.suffix)


def pattern_for(definition: SequenceDefinition, day: date) -> Pattern:
    """The pattern in force for documents dated ``day``: a pattern version's, else the
    definition's own."""
    version = version_for(definition.versions, day) if definition.versions else None
    return definition.compiled if version is None else version.compiled


def render_parts(
    definition: SequenceDefinition,
    pattern: Pattern,
    scope: str,
    day: date,
    context: Mapping[str, object] | None,
    cycle: int,
) -> tuple[str, int | None, str]:
    """The text before the counter, the counter's width and the text after it.

    Refused (before any counter moves) when the number *could* outgrow the number
    column: the counter counted at the most digits it can reach, not at today's.
    """
    check_context(context)
    if cycle > 1 and definition.overflow is OverflowBehavior.SWITCH_PATTERN:
        # The next series: 'INV-0001' becomes 'INV-A-0001' (one separator, not two).
        pattern = series_pattern(pattern, cycle)
    try:
        before, width, after = pattern.render_around_counter(
            day=day,
            context=context,
            fiscal_year_start=definition.fiscal_year_start,
            cycle=cycle,
        )
    except PatternError as exc:
        raise PatternError(
            f"{describe(definition.name, scope)}: {exc}", sequence=definition.name, scope=scope
        ) from exc
    digits = max_counter_digits(
        width, bounded=definition.overflow is not OverflowBehavior.EXTEND_PADDING
    )
    if len(before) + len(after) + digits > NUMBER_LENGTH:
        raise PatternError(
            f"{describe(definition.name, scope)}: with this context numbers could be "
            f"{len(before) + len(after) + digits} characters long ({digits} for the counter), "
            f"more than the {NUMBER_LENGTH} a number holds; shorten the context values",
            sequence=definition.name,
            scope=scope,
        )
    return before, width, after


def render(
    definition: SequenceDefinition,
    pattern: Pattern,
    scope: str,
    day: date,
    context: Mapping[str, object] | None,
    value: int,
    cycle: int,
) -> str:
    """The number for counter ``value`` in ``cycle``."""
    prefix, width, suffix = render_parts(definition, pattern, scope, day, context, cycle)
    return glue(prefix, value, width, suffix)


def glue(prefix: str, value: int, width: int | None, suffix: str) -> str:
    digits = str(value)
    if width:
        digits = digits.zfill(width)
    return f"{prefix}{digits}{suffix}"


def audit_data(period: str, day: date, context: Mapping[str, object] | None) -> dict[str, Any]:
    """The ``data`` of a ``number_generated`` ledger row."""
    data: dict[str, Any] = {"date": day.isoformat()}
    if period:
        data["period"] = period
    if context:
        data["context"] = {str(k): v for k, v in context.items()}
    return data


def place(
    definition: SequenceDefinition,
    scope: str,
    day: date,
    context: Mapping[str, object] | None,
) -> Placement:
    period = period_key(definition.reset_period, day, definition.fiscal_year_start)
    pattern = pattern_for(definition, day)
    prefix, width, suffix = render_parts(definition, pattern, scope, day, context, 1)
    return Placement(day, period, pattern, prefix, width, suffix, audit_data(period, day, context))
