"""Lock-wait figures measured around every counter statement.

The time a counter statement takes is, under contention, the time spent waiting for
the counter row's lock plus one round trip.  The strategies time each statement and
record it here per sequence name, in this process; ``metrics()`` reports them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["LockStats", "LockWaitFigures"]


@dataclass(frozen=True)
class LockWaitFigures:
    """Counter-statement timings of one sequence in this process."""

    statements: int
    failures: int
    total_seconds: float
    max_seconds: float

    @property
    def average_ms(self) -> float:
        return 0.0 if not self.statements else self.total_seconds / self.statements * 1000.0


class LockStats:
    """Thread-safe accumulator of :class:`LockWaitFigures` by sequence name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._figures: dict[str, list[float]] = {}

    def record(self, sequence: str, seconds: float, *, failed: bool = False) -> None:
        with self._lock:
            entry = self._figures.setdefault(sequence, [0, 0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += int(failed)
            entry[2] += seconds
            entry[3] = max(entry[3], seconds)

    def figures(self, sequence: str) -> LockWaitFigures:
        with self._lock:
            count, failures, total, longest = self._figures.get(sequence, [0, 0, 0.0, 0.0])
        return LockWaitFigures(int(count), int(failures), total, longest)

    def reset(self) -> None:
        with self._lock:
            self._figures.clear()
