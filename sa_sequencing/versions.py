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

import threading
import weakref
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from .patterns import Pattern
from .repositories import _Repository
from .types import utcnow

if TYPE_CHECKING:
    from .definitions import SequenceDefinition
    from .sequencing import SequencingTables

__all__ = ["PatternVersion", "PatternVersionRepository", "VersionCache"]


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


def _select_versions(tables: SequencingTables, sequence_id: int) -> Any:
    v = tables.pattern_versions
    return select(v).where(v.c.sequence_id == sequence_id).order_by(v.c.effective_from)


class PatternVersionRepository(_Repository):
    """Pattern versions (``sequence_pattern_versions``)."""

    def for_definition(self, definition: SequenceDefinition) -> list[PatternVersion]:
        """The definition's versions, by ``effective_from``."""
        rows = self.connection.execute(_select_versions(self.tables, definition.id))
        return [PatternVersion.from_row(row) for row in rows]

    def create(self, definition: SequenceDefinition, version: PatternVersion) -> None:
        self.connection.execute(
            insert(self.tables.pattern_versions).values(
                sequence_id=definition.id,
                pattern=version.pattern,
                effective_from=version.effective_from,
                effective_until=version.effective_until,
                performed_by=version.performed_by,
                created_at=utcnow(),
            )
        )


class VersionCache:
    """Versions per (engine, definition id), valid for one definition revision."""

    def __init__(self, tables: SequencingTables) -> None:
        self.tables = tables
        self._entries: weakref.WeakKeyDictionary[
            Engine, dict[int, tuple[int, tuple[PatternVersion, ...]]]
        ]
        self._entries = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def versions(
        self, conn: Connection, definition: SequenceDefinition
    ) -> tuple[PatternVersion, ...]:
        entries = self._entries.get(conn.engine)
        entry = None if entries is None else entries.get(definition.id)
        if entry is not None and entry[0] == definition.revision:
            return entry[1]
        rows = conn.execute(_select_versions(self.tables, definition.id))
        found = tuple(PatternVersion.from_row(row) for row in rows)
        with self._lock:
            self._entries.setdefault(conn.engine, {})[definition.id] = (
                definition.revision,
                found,
            )
        return found


def version_for(versions: tuple[PatternVersion, ...], day: date) -> PatternVersion | None:
    """The version in force on ``day``, if any."""
    for version in versions:
        if version.covers(day):
            return version
    return None
