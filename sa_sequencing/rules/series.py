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

from typing import TYPE_CHECKING

from .patterns import Pattern
from .patterns import Text
from .patterns import Token

if TYPE_CHECKING:
    pass


__all__ = ["series_label", "series_pattern", "threshold_value"]


def threshold_value(capacity: int, percent: int) -> int:
    """The first counter value at or past ``percent`` of ``capacity``."""
    return max(1, -(-capacity * percent // 100))  # exact: a float loses digits past 2**53


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


def series_label(cycle: int) -> str:
    """``''`` for the first series, then ``A`` ... ``Z``, ``AA`` ..."""
    label = ""
    n = cycle - 1
    while n > 0:
        n, rest = divmod(n - 1, 26)
        label = chr(ord("A") + rest) + label
    return label
