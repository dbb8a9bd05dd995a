"""The per-engine cache of sequence definitions.

A cached definition is only ever used together with its ``revision`` token, which
the counter statement checks against the row, so a stale entry costs a slow path,
never a wrong number.
"""

from __future__ import annotations

import threading
import weakref

from sqlalchemy.engine import Engine

from .definitions import SequenceDefinition

__all__ = ["DefinitionCache"]


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
