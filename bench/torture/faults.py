"""The fault injector: what the harness does to the workers and the server.

Every fault runs in the harness process, on a schedule drawn from the run's seed:

* ``worker_kill``: SIGKILL of a random worker, which is started again at once
  (a new process with a new log file);
* ``connection_kill``: one worker connection terminated from the server side
  (``pg_terminate_backend`` / MariaDB ``KILL``);
* ``restart`` and ``crash``, alternating: ``pg_ctl stop -m fast`` + start, or SIGKILL
  of the whole server + start (crash recovery);
* ``hold``: an outside transaction that locks a random counter row (``SELECT ... FOR
  UPDATE``; SQLite: ``BEGIN IMMEDIATE``) for 0.5-3 s, on its own thread.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import sqlalchemy as sa

from .servers import Server


class Holder(threading.Thread):
    """Outside transactions holding counter rows, one at a time, until stopped."""

    def __init__(self, server: Server, rng: random.Random, every: float) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.rng = rng
        self.every = every
        self.stop = threading.Event()
        self.held = 0
        self.failed: Counter[str] = Counter()

    def run(self) -> None:
        engine = sa.create_engine(self.server.url, poolclass=sa.pool.NullPool)
        try:
            while not self.stop.wait(self.rng.uniform(0.5, 1.5) * self.every):
                try:
                    self._hold(engine)
                    self.held += 1
                except sa.exc.DBAPIError as exc:  # the server was restarted under it
                    line = str(exc.orig).strip().splitlines()[0][:120] if str(exc.orig) else ""
                    self.failed[f"{type(exc.orig).__name__}: {line}"] += 1
        finally:
            engine.dispose()

    def _hold(self, engine: sa.Engine) -> None:
        seconds = self.rng.uniform(0.5, 3.0)
        if self.server.name == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    self.stop.wait(seconds)
                finally:
                    conn.exec_driver_sql("ROLLBACK")
            return
        with engine.begin() as conn:
            rows = conn.execute(
                sa.text("SELECT sequence_id, scope, period FROM sequence_counters")
            ).all()
            if not rows:
                return
            sequence_id, scope, period = self.rng.choice(rows)
            conn.execute(
                sa.text(
                    "SELECT value FROM sequence_counters WHERE sequence_id = :i "
                    "AND scope = :s AND period = :p FOR UPDATE"
                ),
                {"i": sequence_id, "s": scope, "p": period},
            )
            self.stop.wait(seconds)
            conn.rollback()


class Schedule:
    """When each fault is next due (seconds on the monotonic clock): at random
    intervals around each mean, except the ``fixed`` ones (server restarts and
    crashes), which come exactly every so often so that a short run has both."""

    def __init__(
        self, rng: random.Random, rates: dict[str, float], fixed: frozenset[str] = frozenset()
    ) -> None:
        self.rng = rng
        self.fixed = fixed
        self.rates = {name: every for name, every in rates.items() if every > 0}
        now = time.monotonic()
        self.due = {name: now + self._gap(name) for name in self.rates}

    def _gap(self, name: str) -> float:
        every = self.rates[name]
        return every if name in self.fixed else self.rng.uniform(0.5, 1.5) * every

    def soon(self, name: str, seconds: float = 0.3) -> None:
        """Try ``name`` again shortly (it found nothing to act on)."""
        self.due[name] = time.monotonic() + seconds

    def ready(self) -> list[str]:
        now = time.monotonic()
        fired = [name for name, at in self.due.items() if at <= now]
        for name in fired:
            self.due[name] = now + self._gap(name)
        return fired
