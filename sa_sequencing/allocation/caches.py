"""What the process remembers between draws: definitions, pattern versions, placements.

All three are guarded the same way.
A cached definition is only ever used together with its ``revision`` token, which
the counter statement checks against the row, so a stale entry costs a slow path,
never a wrong number.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from datetime import date
from datetime import datetime

from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from ..rules.checks import check_context
from ..rules.definitions import SequenceDefinition
from ..rules.periods import document_day
from ..rules.placement import Placement
from ..rules.placement import place
from ..rules.versions import PatternVersion
from ..store.tables import SequencingTables
from ..store.versions import select_versions

__all__ = ["DefinitionCache", "PlacementCache", "VersionCache"]


class DefinitionCache:
    """Definitions by (name, requested scope), per engine, bounded."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self.maxsize = maxsize
        self._by_engine: weakref.WeakKeyDictionary[
            Engine, dict[tuple[str, str], SequenceDefinition]
        ]
        self._by_engine = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, engine: Engine, name: str, scope: str) -> SequenceDefinition | None:
        entries = self._by_engine.get(engine)
        return None if entries is None else entries.get((name, scope))

    def put(self, engine: Engine, name: str, scope: str, definition: SequenceDefinition) -> None:
        with self._lock:
            entries = self._by_engine.setdefault(engine, {})
            if len(entries) >= self.maxsize:
                entries.clear()
            entries[(name, scope)] = definition

    def discard(self, engine: Engine, name: str) -> None:
        with self._lock:
            entries = self._by_engine.get(engine)
            if entries:
                for key in [k for k in entries if k[0] == name]:
                    entries.pop(key, None)


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
        rows = conn.execute(select_versions(self.tables, definition.id))
        found = tuple(PatternVersion.from_row(row) for row in rows)
        with self._lock:
            self._entries.setdefault(conn.engine, {})[definition.id] = (
                definition.revision,
                found,
            )
        return found


class PlacementCache:
    """Placements of numbers drawn without a context, by (definition, scope, day)."""

    maxsize = 512

    def __init__(self) -> None:
        # id(definition) is safe as a key: each entry holds its definition, so the id
        # cannot be reused by another object while the entry lives
        self._entries: dict[tuple[int, str, date], tuple[SequenceDefinition, Placement]] = {}
        self._lock = threading.Lock()

    def place(
        self,
        definition: SequenceDefinition,
        scope: str,
        day_input: date | datetime | None,
        context: Mapping[str, object] | None,
    ) -> Placement:
        """The placement of a number of ``definition`` in ``scope`` dated ``day_input``."""
        day = document_day(day_input, definition.zone)
        if context:
            # the text depends on the context (render_parts checks it)
            return place(definition, scope, day, context)
        check_context(context)  # None, or an empty mapping; not [] or ""
        key = (id(definition), scope, day)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is definition:
            return entry[1]
        placement = place(definition, scope, day, context)
        with self._lock:
            if len(self._entries) >= self.maxsize:
                self._entries.clear()
            self._entries[key] = (definition, placement)
        return placement
