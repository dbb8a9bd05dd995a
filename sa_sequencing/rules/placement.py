"""Where a number drawn now belongs, and how it reads.

A number's *placement* is everything about it that does not depend on the counter:
the document day (``date=``, else today in the sequence's time zone), the counter
period that day falls in, the pattern in force (a pattern version's, else the
definition's own), the rendered text around the counter, and the ``data`` of its
ledger row.  Rendering it checks the context, so a bad context fails before any
counter moves.

The counter a number draws from is keyed by (sequence, scope, period key).  For a
definition with ``counter_by`` the period key also carries the values of those
context variables as they stand in the number: ``2026|DEPARTMENT=SALES``
(:func:`counter_key`, the one place that builds it; :func:`split_counter_key` reads
it back).  The values are read from the rendered number, so two contexts that give
the same text (``7`` and ``007`` under ``{DEPARTMENT:3}``) share a counter, as they
must, and two that give different texts have their own.  Counters, gaps,
reservations and the ledger's ``period`` all follow the key.  Context values are
letters, digits and ``_`` (see :mod:`~sa_sequencing.rules.patterns`) and variable names
are identifiers, so ``|`` and ``=`` never occur inside a value and the key cannot be
read two ways.

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

from ..errors import ConfigurationError
from ..errors import PatternError
from ..errors import describe
from .checks import check_context
from .definitions import SequenceDefinition
from .definitions import max_counter_digits
from .enums import OverflowBehavior
from .limits import NUMBER_LENGTH
from .limits import PERIOD_LENGTH
from .patterns import Pattern
from .periods import period_key
from .series import series_pattern
from .versions import version_for

__all__ = [
    "Placement",
    "audit_data",
    "counter_key",
    "glue",
    "pattern_for",
    "place",
    "render",
    "render_parts",
    "split_counter_key",
]

#: Between the reset period's key and each ``NAME=value`` of the series.
SERIES_SEPARATOR = "|"


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


def counter_key(
    definition: SequenceDefinition,
    scope: str,
    day: date,
    context: Mapping[str, object] | None,
    parts: tuple[Pattern, str, int | None, str] | None = None,
) -> str:
    """The period key of the counter serving a document dated ``day`` with ``context``.

    The reset period's key (:func:`~sa_sequencing.rules.periods.period_key`), followed
    for a ``counter_by`` definition by ``|NAME=value`` for each of its variables, the
    value as the number shows it.  ``parts`` (the pattern, and the text before and
    after the counter) saves rendering again when the caller has them.  A context
    that lacks a variable is a :class:`~sa_sequencing.PatternError`; values too long
    for the key a :class:`~sa_sequencing.ConfigurationError`.
    """
    period = period_key(definition.reset_period, day, definition.fiscal_year_start)
    if not definition.counter_by:
        return period
    if parts is None:
        pattern = pattern_for(definition, day)
        parts = (pattern, *render_parts(definition, pattern, scope, day, context, 1))
    pattern, before, width, after = parts
    # Read the values back from the number itself: the key is what the number shows.
    fields = pattern.parse(glue(before, 0, width, after))
    key = period + "".join(
        f"{SERIES_SEPARATOR}{name}={fields[name]}" for name in definition.counter_by
    )
    if len(key) > PERIOD_LENGTH:
        raise ConfigurationError(
            f"{describe(definition.name, scope)}: the counter_by values "
            f"{', '.join(f'{n}={fields[n]!s:.40}' for n in definition.counter_by)} make a "
            f"counter key of {len(key)} characters, more than the {PERIOD_LENGTH} it holds; "
            "use shorter values",
            sequence=definition.name,
            scope=scope,
        )
    return key


def split_counter_key(key: str) -> tuple[str, dict[str, str]]:
    """A counter's period key read back: the reset period's key (``''`` for a
    sequence that never resets) and the series values by variable name."""
    period, *series = key.split(SERIES_SEPARATOR)
    return period, dict(item.split("=", 1) for item in series)


def place(
    definition: SequenceDefinition,
    scope: str,
    day: date,
    context: Mapping[str, object] | None,
) -> Placement:
    pattern = pattern_for(definition, day)
    prefix, width, suffix = render_parts(definition, pattern, scope, day, context, 1)
    period = counter_key(definition, scope, day, context, (pattern, prefix, width, suffix))
    return Placement(day, period, pattern, prefix, width, suffix, audit_data(period, day, context))
