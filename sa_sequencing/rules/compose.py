"""``compose_child``: numbers for the parts of a numbered document.

Sub-identifiers (the lines of an invoice, the parcels of a shipment) belong to their
parent and need no counter of their own::

    compose_child("INV-2026-00042", "-{COUNTER:3}", 2)     # 'INV-2026-00042-002'

The child pattern is an ordinary pattern with one ``{COUNTER}``; date tokens take
today's date (pass ``day=`` for another) and context variables come from ``context``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from ..errors import ArgumentTypeError
from ..errors import InvalidArgumentError
from .patterns import Pattern

__all__ = ["compose_child"]


def compose_child(
    parent_number: str,
    child_pattern: str,
    counter: int = 1,
    *,
    context: Mapping[str, object] | None = None,
    day: date | None = None,
) -> str:
    """``parent_number`` followed by ``child_pattern`` rendered for ``counter``."""
    if not isinstance(parent_number, str):
        raise ArgumentTypeError(f"parent_number must be a str, not {type(parent_number).__name__}")
    if not parent_number:
        raise InvalidArgumentError("parent_number is empty: give the parent document's number")
    if isinstance(counter, bool) or not isinstance(counter, int):
        raise ArgumentTypeError(f"counter must be an int, not {type(counter).__name__}")
    if counter < 0:
        shown = counter if counter.bit_length() <= 64 else "a negative int of that size"
        raise InvalidArgumentError(f"counter must be 0 or more, not {shown}")
    child = Pattern.compile(child_pattern).render(
        counter, day=day or date.today(), context=context
    )
    return parent_number + child
