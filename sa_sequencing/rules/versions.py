"""Pattern versions: a different layout for documents dated within a range.

::

    seqs.define("invoice_number", "INV-{YEAR}-{COUNTER:5}", reset_period="yearly")
    seqs.define_version(
        "invoice_number", "INV/{YEAR}/{COUNTER:6}", effective_from=date(2027, 1, 1)
    )

The *document date* (``date=``, else today in the sequence's time zone) picks the
version: the one whose ``[effective_from, effective_until]`` range (both days
included, ``effective_until=None`` open-ended) holds the date, else the definition's
own pattern.  Ranges may not overlap.  A version changes only the layout: the
counter, its resets and its policies stay the definition's, so a version starting
mid-year continues the year's counter.

Versions are cached with the definition they belong to; adding one changes the
definition's ``revision``, so cached copies elsewhere take the slow path and
re-read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING
from typing import Any

from .patterns import Pattern

if TYPE_CHECKING:
    pass


__all__ = ["PatternVersion", "version_for"]


@dataclass(frozen=True)
class PatternVersion:
    """A pattern in force for documents dated from ``effective_from`` to
    ``effective_until`` (inclusive; ``None``: no end)."""

    pattern: str
    effective_from: date
    effective_until: date | None
    performed_by: str | None = None
    created_at: datetime | None = None

    @cached_property
    def compiled(self) -> Pattern:
        return Pattern.compile(self.pattern)

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_until is None or day <= self.effective_until
        )

    def overlaps(self, start: date, until: date | None) -> bool:
        """Whether ``[start, until]`` shares a day with this version's range."""
        starts_before_end = self.effective_until is None or start <= self.effective_until
        ends_after_start = until is None or until >= self.effective_from
        return starts_before_end and ends_after_start

    @classmethod
    def from_row(cls, row: Any) -> PatternVersion:
        return cls(
            row.pattern, row.effective_from, row.effective_until, row.performed_by, row.created_at
        )


def version_for(versions: tuple[PatternVersion, ...], day: date) -> PatternVersion | None:
    """The version in force on ``day``, if any."""
    for version in versions:
        if version.covers(day):
            return version
    return None
