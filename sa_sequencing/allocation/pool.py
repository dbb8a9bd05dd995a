"""Pooled numbers (``cache_size=N``): blocks of counter values served from memory.

A definition with ``cache_size=N`` (1 to 1,000,000) gives up gaplessness for speed,
as Hibernate's pooled optimizer, Odoo's ``standard`` sequences or Business Central's
``Sequence`` do.  Each process keeps a *pool* per (engine, sequence, scope, period,
definition revision): a draw takes its numbers from memory; when the pool runs dry,
one thread of the process takes the next block of N counter values from the counter
row, with the same counter statement as a gapless draw (``count=N``), in a short
transaction of its own on a separate connection, which commits before the draw goes
on.  A pooled draw therefore never waits for another caller's transaction: the
counter row is locked only for the block's own statement.

The numbers are rendered like any other (pattern versions, context, placement by the
document's date), and the ``number_generated`` ledger row (``audit_numbers=True``)
is written in the caller's transaction, so only committed numbers have one; with
``audit_numbers=False`` a draw from a filled pool makes no round trip at all.

What it does not promise:

* no gaplessness: a caller that rolls back loses its numbers, a block's unused end is
  lost when the process stops, and numbers from two processes interleave;
* numbers are not in commit (or time) order across processes;
* a change to the definition (``update``, ``lock``, ``delete``, a new pattern
  version) reaches another process when its pool next takes a block: until then
  that process serves the (at most N) numbers it holds, rendered as before;
* after a crash the unused values stay holes until
  :meth:`~sa_sequencing.SequenceManager.recover_pool_gaps` records them.

Unused values are recorded as gaps with reason ``cache`` where the policy tracks gaps
(``report_gaps_only``, ``fill_gaps``), in a short transaction of their own: when a
pool is dropped (its definition's revision changed, or more than
:attr:`PoolRegistry.max_periods` periods are open for a counter), by
:meth:`~sa_sequencing.Sequencing.release_pools`, and at interpreter exit.  They are
``unfilled``: a ``fill_gaps`` definition serves them again (no process can hold them
any more).

On SQLite, where one transaction writes at a time, a block cannot be taken while the
caller's own transaction holds the write lock (it would wait for itself): such a
draw serves what the pool holds, and otherwise takes its numbers straight from the
counter in the caller's transaction, as a gapless draw would.
"""

from __future__ import annotations

import atexit
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..dialects.base import Advance
from ..dialects.base import StrategyCache
from ..errors import SequenceNotFoundError
from ..rules.counters import CounterKey
from ..rules.counters import CounterState
from ..rules.counters import Draw
from ..rules.counters import Issued
from ..rules.counters import capacity_of
from ..rules.counters import plan_allocation
from ..rules.definitions import SequenceDefinition
from ..rules.enums import OverflowBehavior
from ..rules.enums import ResetPeriod
from ..rules.patterns import Pattern
from ..rules.placement import Placement
from ..rules.placement import render
from ..store.gaps import UNFILLED
from ..store.gaps import record_cache_gaps
from ..store.tables import SequencingTables
from ..store.types import utcnow
from .caches import PlacementCache
from .ledger import Event
from .ledger import Ledger

__all__ = ["NumberPool", "PoolRegistry", "release_all_pools"]

#: (engine, sequence id, scope, period, revision, capacity)
PoolKey = tuple[Engine, int, str, str, int, int]


class NumberPool:
    """The values one process holds for one counter: runs of ``[next, last, cycle]``."""

    def __init__(
        self,
        engine: Engine,
        definition: SequenceDefinition,
        scope: str,
        period: str,
        capacity: int,
    ) -> None:
        self.engine = engine
        self.definition = definition
        self.scope = scope
        self.period = period
        self.capacity = capacity
        self.runs: deque[list[int]] = deque()
        self.available = 0
        self.lock = threading.Lock()
        self.closed = False
        self.used = time.monotonic()
        #: the last draw's (day, context, pattern): how unused values are rendered as gaps
        self.last: tuple[date, Mapping[str, object] | None, Pattern] | None = None

    def add(self, runs: list[list[int]]) -> None:
        step = self.definition.step
        for run in runs:
            self.runs.append(run)
            self.available += (run[1] - run[0]) // step + 1

    def take(self, count: int) -> list[tuple[int, int]]:
        """The next ``count`` (value, cycle) pairs (the caller checked ``available``)."""
        step = self.definition.step
        taken: list[tuple[int, int]] = []
        while len(taken) < count:
            run = self.runs[0]
            first, last, cycle = run
            n = min(count - len(taken), (last - first) // step + 1)
            taken.extend((value, cycle) for value in range(first, first + n * step, step))
            run[0] = first + n * step
            if run[0] > last:
                self.runs.popleft()
        self.available -= count
        return taken

    def head(self) -> tuple[int, int] | None:
        with self.lock:
            return (self.runs[0][0], self.runs[0][2]) if self.runs else None

    def drain(self) -> list[tuple[int, int]]:
        return self.take(self.available)


class PoolRegistry:
    """Every pool of one :class:`~sa_sequencing.allocation.allocator.Allocator`
    (see the module); thread-safe."""

    #: periods whose pools a counter keeps open at once (back-dated documents draw
    #: from an older period's pool); past this, the least recently used is dropped
    max_periods = 4

    def __init__(
        self,
        tables: SequencingTables,
        strategies: StrategyCache,
        ledger: Ledger,
        placements: PlacementCache,
        *,
        load: Callable[..., SequenceDefinition],
        locking: Callable[[Connection, str, str, Any], Any],
    ) -> None:
        self.tables = tables
        self.strategies = strategies
        self.ledger = ledger
        self.placements = placements
        self.load = load  # the allocator's definition loader (shared lock on request)
        self.locking = locking  # the allocator's lock-wait handling
        self._pools: dict[PoolKey, NumberPool] = {}
        self._dropped: list[NumberPool] = []
        self._lock = threading.Lock()
        _registries.add(self)

    # -- drawing -------------------------------------------------------------------

    def draw(
        self, conn: Connection, definition: SequenceDefinition, draw: Draw
    ) -> list[Issued] | None:
        """Issue ``draw.quantity`` numbers from the pool, taking blocks as needed;
        ``None`` when the caller must draw from the counter itself (the definition
        changed meanwhile, or SQLite's write lock is the caller's)."""
        placed = self.placements.place(definition, draw.scope, draw.day, draw.context)
        capacity = capacity_of(definition, placed.pattern)
        if self._dropped and not _shares_writer(conn):
            self._record_dropped()
        while True:
            pool = self._pool(conn.engine, definition, draw.scope, placed.period, capacity)
            with pool.lock:
                if pool.closed:
                    continue  # dropped meanwhile: its values become gaps; take a new pool
                pool.used = time.monotonic()
                pool.last = (placed.day, draw.context, placed.pattern)
                while pool.available < draw.quantity:
                    if _shares_writer(conn) or not self._fetch(
                        pool, draw.quantity - pool.available, placed, draw.performed_by
                    ):
                        return None
                values = pool.take(draw.quantity)
            break
        issued = [
            Issued(
                placed.number(value)
                if cycle == 1
                else render(
                    definition, placed.pattern, draw.scope, placed.day, draw.context, value, cycle
                ),
                value,
                cycle,
                placed.period,
            )
            for value, cycle in values
        ]
        if definition.audit_numbers:
            self.ledger.draw(
                conn, definition, draw.scope, issued, [], placed.data, draw.performed_by, utcnow()
            )
        return issued

    def peek(
        self,
        engine: Engine,
        definition: SequenceDefinition,
        scope: str,
        period: str,
        capacity: int,
    ) -> tuple[int, int] | None:
        """(value, cycle) this process would serve next from its pool, if it holds one."""
        pool = self._pools.get(
            (engine, definition.id, scope, period, definition.revision, capacity)
        )
        return None if pool is None else pool.head()

    def _pool(
        self,
        engine: Engine,
        definition: SequenceDefinition,
        scope: str,
        period: str,
        capacity: int,
    ) -> NumberPool:
        key = (engine, definition.id, scope, period, definition.revision, capacity)
        pool = self._pools.get(key)
        if pool is not None:
            return pool
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                return pool
            siblings = [
                (k, p) for k, p in self._pools.items() if k[:3] == (engine, definition.id, scope)
            ]
            stale = [k for k, _ in siblings if k[4] != definition.revision]
            current = sorted((p.used, k) for k, p in siblings if k[4] == definition.revision)
            stale += [k for _, k in current[: max(0, len(current) + 1 - self.max_periods)]]
            for k in stale:
                self._drop(k)
            pool = self._pools[key] = NumberPool(engine, definition, scope, period, capacity)
            return pool

    def _drop(self, key: PoolKey) -> None:
        pool = self._pools.pop(key)
        pool.closed = True
        self._dropped.append(pool)

    # -- taking a block ----------------------------------------------------------------

    def _fetch(
        self, pool: NumberPool, missing: int, placed: Placement, performed_by: str | None
    ) -> bool:
        """Take the next block(s), at least ``missing`` values in whole blocks, in a
        transaction of their own; ``False`` if the pool's definition is stale."""
        d = pool.definition
        size = -(-missing // d.cache_size) * d.cache_size
        with pool.engine.connect() as block, block.begin():
            taken = self._take_block(block, pool, size)
            if taken is None:
                return False
            runs, events = taken
            if events:
                self.ledger.draw(
                    block, d, pool.scope, [], events, placed.data, performed_by, utcnow()
                )
        pool.add(runs)  # only once the block is committed
        return True

    def _take_block(
        self, conn: Connection, pool: NumberPool, size: int
    ) -> tuple[list[list[int]], list[Event]] | None:
        d, scope, capacity = pool.definition, pool.scope, pool.capacity
        strategy = self.strategies.get(conn)
        key = CounterKey(d.id, scope, pool.period)
        resets = d.reset_period is not ResetPeriod.NEVER
        new_period: Event = ("counter_reset", {"reason": "new period", "period": pool.period})
        # A plain read first, which never waits: a definition the caller's own open
        # transaction created or changed is not the committed one, and the counter
        # statement below would wait for the caller's lock on it (InnoDB's INSERT ...
        # SELECT) or see no row; the caller then draws from the counter itself.
        s = self.tables.sequences
        if conn.execute(select(s.c.revision).where(s.c.id == d.id)).scalar() != d.revision:
            return None
        simple = d.reset_limit is None and d.overflow is not OverflowBehavior.SWITCH_PATTERN
        if simple and d.start + (size - 1) * d.step <= capacity:
            request = Advance(
                key,
                revision=d.revision,
                count=size,
                start=d.start,
                step=d.step,
                capacity=capacity,
                now=utcnow(),
            )
            last = self.locking(conn, d.name, scope, lambda: strategy.advance(conn, request))
            if last is not None:
                first = last - (size - 1) * d.step
                return [[first, last, 1]], [new_period] if resets and first == d.start else []
        # Near capacity, or counting cycles: the counter locked and planned in Python.
        try:
            current = self.load(conn, d.name, scope, shared_lock=True)
        except SequenceNotFoundError:
            return None  # defined in the caller's own uncommitted transaction
        if current.revision != d.revision:
            return None  # changed meanwhile (or in the caller's own transaction)
        empty = CounterState(d.start - d.step, 1)
        state = self.locking(
            conn,
            d.name,
            scope,
            lambda: strategy.lock_counter(conn, key, empty=empty, now=utcnow()),
        )
        if simple:
            # a partial last block at capacity; none left: plan_allocation says why
            size = max(1, min(size, (capacity - state.value) // d.step))
        plan = plan_allocation(d, state, size, capacity, scope=scope)
        strategy.write_counter(conn, key, plan.state, now=utcnow())
        events = list(plan.events)
        if resets and state == empty:
            events.insert(0, new_period)
        runs: list[list[int]] = []
        for value, cycle in plan.values:
            if runs and runs[-1][2] == cycle and runs[-1][1] + d.step == value:
                runs[-1][1] = value
            else:
                runs.append([value, value, cycle])
        return runs, events

    # -- giving values back -------------------------------------------------------------

    def release(
        self,
        engine: Engine | None = None,
        sequence_id: int | None = None,
        *,
        conn: Connection | None = None,
    ) -> int:
        """Drop the pools (of ``engine``, of one sequence) and record their unused values
        as gaps where the policy tracks gaps, each pool in a transaction of its own (or
        in ``conn``'s, uncommitted); returns how many gap rows were added."""
        with self._lock:
            for key in list(self._pools):
                if (engine is None or key[0] is engine) and sequence_id in (None, key[1]):
                    self._drop(key)
        return self._record_dropped(conn)

    def _record_dropped(self, conn: Connection | None = None) -> int:
        with self._lock:
            dropped, self._dropped = self._dropped, []
        added = 0
        for pool in dropped:
            try:
                if conn is not None and pool.engine is conn.engine:
                    added += self._record_unused(pool, conn)
                else:
                    with pool.engine.begin() as own:
                        added += self._record_unused(pool, own)
            except SQLAlchemyError as exc:
                # the database is gone or refuses: recover_pool_gaps() finds them later
                warnings.warn(
                    f"sa_sequencing: the unused pooled values of {pool.definition.name!r} "
                    f"could not be recorded as gaps ({exc.__class__.__name__}); run "
                    "recover_pool_gaps() for it",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return added

    def _record_unused(self, pool: NumberPool, conn: Connection) -> int:
        with pool.lock:
            values = pool.drain()
        d = pool.definition
        if not values or not d.gap_policy.tracks_gaps or pool.last is None:
            return 0
        day, context, pattern = pool.last
        s = self.tables.sequences
        added = 0
        # the sequence may have been deleted (or its id reused) since
        if conn.execute(select(s.c.name).where(s.c.id == d.id)).scalar() != d.name:
            return 0
        for cycle in sorted({c for _, c in values}):
            numbers = [
                (v, render(d, pattern, pool.scope, day, context, v, c))
                for v, c in values
                if c == cycle
            ]
            added += record_cache_gaps(
                conn,
                self.tables,
                sequence_id=d.id,
                scope=pool.scope,
                period=pool.period,
                cycle=cycle,
                numbers=numbers,
                status=UNFILLED,
                performed_by=None,
            )
        return added


def _shares_writer(conn: Connection) -> bool:
    """Whether a block transaction on another connection would wait for ``conn``'s own
    transaction: on SQLite, once it holds a transaction (and so possibly the one write
    lock).  On the server databases the block locks only the counter row, which a
    pooled caller never holds."""
    if conn.dialect.name != "sqlite":
        return False
    return bool(getattr(conn.connection.dbapi_connection, "in_transaction", True))


_registries: weakref.WeakSet[PoolRegistry] = weakref.WeakSet()


def release_all_pools() -> int:
    """Release every pool of the process (the interpreter-exit hook); a database that
    cannot be reached leaves its values to the recovery call."""
    return sum(registry.release() for registry in list(_registries))


atexit.register(release_all_pools)
