"""Drawing numbers: the fast path, the slow path and preview, from one plan.

Every number comes from :func:`plan_allocation`, a pure function of the definition
and the counter's state; the slow path runs it on the locked counter, ``preview``
on the unlocked one, so ``preview`` returns what ``generate`` would return and
raises what it would raise.  The fast path covers the common definition (no
count-based reset, no series switch): there the dialect's one-statement counter does
the same arithmetic (``value + step``) in SQL, checking that the definition it
was planned with is still current.

Definitions are cached per engine and checked by every counter statement against
the row's ``revision`` token, which every change replaces: a stale copy never issues a
number, it sends the allocation down the slow path, which re-reads the definition
under a share lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from datetime import datetime
from typing import Any
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..dialects.base import Advance
from ..dialects.base import AuditSpec
from ..dialects.base import ErrorKind
from ..dialects.base import LockBusy
from ..dialects.base import StrategyCache
from ..errors import ConfigurationError
from ..errors import SequenceBusyError
from ..errors import SequenceNotFoundError
from ..errors import describe
from ..logs import allocation as _log
from ..logs import locks as _lock_log
from ..rules.checks import check_actor
from ..rules.checks import check_count
from ..rules.counters import CounterKey
from ..rules.counters import CounterState
from ..rules.counters import Draw
from ..rules.counters import Issued
from ..rules.counters import capacity_of
from ..rules.counters import plan_allocation
from ..rules.definitions import SequenceDefinition
from ..rules.definitions import locked_error
from ..rules.definitions import normalize_name
from ..rules.definitions import normalize_scope
from ..rules.enums import OverflowBehavior
from ..rules.enums import ResetPeriod
from ..rules.placement import audit_data
from ..rules.placement import render
from ..store.tables import SequencingTables
from ..store.types import utcnow
from .caches import DefinitionCache
from .caches import PlacementCache
from .caches import VersionCache
from .gap_pool import GapPool
from .ledger import Ledger
from .overflow import OverflowWatch
from .pool import PoolRegistry

__all__ = ["Allocator", "Issued"]

_T = TypeVar("_T")


class Allocator:
    """Draws numbers from the counters of ``tables``, through the strategy of each
    connection's database (``strategies``); it holds no reference back to the
    :class:`~sa_sequencing.Sequencing` it serves."""

    def __init__(self, tables: SequencingTables, strategies: StrategyCache) -> None:
        self.tables = tables
        self.strategies = strategies
        self.cache = DefinitionCache()
        s = self.tables.sequences
        self._lookup = (
            select(s)
            .where(s.c.name == _param("name"), s.c.scope.in_([_param("scope"), ""]))
            .order_by(s.c.scope.desc())
            .limit(1)
        )
        self._lookup_shared = self._lookup.with_for_update(read=True)
        self.ledger = Ledger(tables, strategies)
        self.versions = VersionCache(self.tables)
        self.placements = PlacementCache()
        self.gap_pool = GapPool(tables, strategies, self.ledger, self.placements, reload=self.load)
        self.overflow = OverflowWatch(self.ledger)
        #: Called with (connection, name, scope) when no definition serves a draw; it
        #: may create one and return True (set by the service, which knows how).
        self.on_missing: Callable[[Connection, str, str], bool] | None = None
        self.pools = PoolRegistry(
            tables, strategies, self.ledger, self.placements, load=self.load, locking=self._locking
        )

    # -- definitions ---------------------------------------------------------------

    def load(
        self, conn: Connection, name: str, scope: str, *, shared_lock: bool = False
    ) -> SequenceDefinition:
        """The definition serving (name, scope): the scope's own, else the global one."""
        stmt = self._lookup_shared if shared_lock else self._lookup
        row = conn.execute(stmt, {"name": name, "scope": scope}).first()
        if row is None:
            self.cache.discard(conn.engine, name)
            raise SequenceNotFoundError(
                f"{describe(name, scope)} is not defined: define it with "
                f"define({name!r}, pattern, ...) globally (scope=None) or for this scope",
                sequence=name,
                scope=scope,
            )
        definition = SequenceDefinition.from_row(row)
        definition = replace(definition, versions=self.versions.versions(conn, definition))
        self.cache.put(conn.engine, name, scope, definition)
        return definition

    def definition(self, conn: Connection, name: str, scope: str) -> SequenceDefinition:
        cached = self.cache.get(conn.engine, name, scope)
        if cached is not None and not cached.is_locked:
            return cached
        try:
            return self.load(conn, name, scope)
        except SequenceNotFoundError:
            # Sequencing(create_declared="on_first_use"): a declared sequence is
            # created here, in the caller's transaction, then read as if it had been.
            if self.on_missing is None or not self.on_missing(conn, name, scope):
                raise
        # Shared and locking: it sees a row a concurrent first use committed after
        # this transaction's snapshot (InnoDB's REPEATABLE READ).
        return self.load(conn, name, scope, shared_lock=True)

    # -- drawing numbers -------------------------------------------------------------

    def allocate(
        self,
        conn: Connection,
        name: str,
        scope: object,
        count: int,
        *,
        context: Mapping[str, object] | None,
        day: date | datetime | None,
        performed_by: str | None,
    ) -> list[Issued]:
        """Draw ``count`` numbers in the connection's transaction (``count=0``: none,
        the name, scope, actor and definition checked all the same)."""
        name = normalize_name(name)
        scope_key = normalize_scope(scope)
        check_count(count, minimum=0)
        check_actor(performed_by)
        if self.strategies.get(conn).in_autocommit(conn):
            raise _autocommit_refused(name, scope_key)
        definition = self.definition(conn, name, scope_key)
        if count == 0:
            # django-sequences and Odoo give [] too: generate_many(name, len(rows)) must
            # not fail on an empty batch, whose context may well be None (taken from
            # its first row), so neither context nor date is looked at.
            return []
        if definition.is_locked:
            raise locked_error(definition, scope_key)
        draw = Draw(name, scope_key, count, context, day, performed_by)
        # One check per draw; with DEBUG off no lock wait is timed and no record built.
        waits: list[float] | None = [] if _log.isEnabledFor(logging.DEBUG) else None
        reclaimed: list[Issued] = []
        if definition.gap_policy.fills_gaps:
            # fill_gaps: free gaps are served before the counter moves.
            reclaimed = self.gap_pool.serve(conn, definition, draw)
            if len(reclaimed) == count:
                if waits is not None:
                    _log_draw(draw, reclaimed, "gaps", waits)
                return reclaimed
            draw = draw._replace(quantity=count - len(reclaimed))
        issued = None
        path = "pool"
        if definition.cache_size:  # pooled (see .pool); None: draw from the counter
            issued = self.pools.draw(conn, definition, draw)
        if issued is None and self._fast_path_fits(definition):
            path = "fast"
            issued = self._fast(conn, definition, draw, waits)
        if issued is None:
            path = "slow"
            issued = self._slow(conn, draw, waits)
        self.overflow.check(conn, definition, scope_key, issued, day, performed_by)
        if waits is not None:
            _log_draw(draw, reclaimed + issued, path, waits)
        return reclaimed + issued

    @staticmethod
    def _fast_path_fits(definition: SequenceDefinition) -> bool:
        return (
            definition.reset_limit is None
            and definition.overflow is not OverflowBehavior.SWITCH_PATTERN
        )

    def _fast(
        self,
        conn: Connection,
        definition: SequenceDefinition,
        draw: Draw,
        waits: list[float] | None = None,
    ) -> list[Issued] | None:
        scope, count, performed_by = draw.scope, draw.quantity, draw.performed_by
        placed = self.placements.place(definition, scope, draw.day, draw.context)
        capacity = capacity_of(definition, placed.pattern)
        if definition.start + (count - 1) * definition.step > capacity:
            return None  # not even a new counter holds them: the slow path says why
        strategy = self.strategies.get(conn)
        spec = AuditSpec(
            definition.name,
            scope,
            placed.prefix,
            placed.width or 0,
            placed.suffix,
            placed.data,
            performed_by,
        )
        audit = spec if definition.audit_numbers and strategy.fuses_number_audit else None
        request = Advance(
            CounterKey(definition.id, scope, placed.period),
            revision=definition.revision,
            count=count,
            start=definition.start,
            step=definition.step,
            capacity=capacity,
            now=utcnow(),
            audit=audit,
        )
        last = self._locking(
            conn, definition.name, scope, lambda: strategy.advance(conn, request), waits
        )
        if last is None:
            return None
        step, period = definition.step, placed.period
        issued = [
            Issued(placed.number(value), value, 1, period)
            for value in range(last - (count - 1) * step, last + 1, step)
        ]
        now = utcnow()  # issued now, after the lock wait: the ledger's times follow its order
        if (
            issued[0].value == definition.start
            and definition.reset_period is not ResetPeriod.NEVER
        ):
            reset = ("counter_reset", {"reason": "new period", "period": period})
            self.ledger.draw(conn, definition, scope, [], [reset], placed.data, performed_by, now)
        if (
            audit is None
            and definition.audit_numbers
            and (
                count == 1
                or not self.ledger.number_run(
                    conn, spec, first=issued[0].value, last=last, step=step, now=now
                )
            )
        ):
            self.ledger.draw(conn, definition, scope, issued, [], placed.data, performed_by, now)
        return issued

    def _slow(
        self, conn: Connection, draw: Draw, waits: list[float] | None = None
    ) -> list[Issued]:
        name, scope, count, context, day_input, performed_by = draw
        definition = self.load(conn, name, scope, shared_lock=True)
        if definition.is_locked:
            raise locked_error(definition, scope)
        # Placing the number renders it once: a bad context fails before any write.
        placed = self.placements.place(definition, scope, day_input, context)
        day, period, pattern = placed.day, placed.period, placed.pattern
        strategy = self.strategies.get(conn)
        now = utcnow()
        key = CounterKey(definition.id, scope, period)
        empty = CounterState(definition.start - definition.step, 1)
        state = self._locking(
            conn,
            name,
            scope,
            lambda: strategy.lock_counter(conn, key, empty=empty, now=now),
            waits,
        )
        plan = plan_allocation(
            definition, state, count, capacity_of(definition, pattern), scope=scope
        )
        now = utcnow()
        strategy.write_counter(conn, key, plan.state, now=now)
        issued = [
            Issued(
                render(definition, pattern, scope, day, context, value, cycle),
                value,
                cycle,
                period,
            )
            for value, cycle in plan.values
        ]
        events = list(plan.events)
        if (
            state.value == empty.value
            and state.cycle == 1
            and definition.reset_period is not ResetPeriod.NEVER
        ):
            events.insert(0, ("counter_reset", {"reason": "new period", "period": period}))
        data = audit_data(period, day, context)
        self.ledger.draw(conn, definition, scope, issued, events, data, performed_by, now)
        return issued

    def preview(
        self,
        conn: Connection,
        name: str,
        scope: object,
        *,
        context: Mapping[str, object] | None,
        day: date | datetime | None,
    ) -> Issued:
        """What :meth:`allocate` would issue next, changing nothing."""
        name = normalize_name(name)
        scope_key = normalize_scope(scope)
        definition = self.load(conn, name, scope_key)
        if definition.is_locked:
            raise locked_error(definition, scope_key)
        placed = self.placements.place(definition, scope_key, day, context)
        the_day, period, pattern = placed.day, placed.period, placed.pattern
        if definition.gap_policy.fills_gaps:
            gap = self.gap_pool.lowest(conn, definition, scope_key, period)
            if gap is not None:
                value, cycle = gap
                text = render(definition, pattern, scope_key, the_day, context, value, cycle)
                return Issued(text, value, cycle, period, reclaimed=True)
        capacity = capacity_of(definition, pattern)
        held = (
            self.pools.peek(conn.engine, definition, scope_key, period, capacity)
            if definition.cache_size
            else None
        )
        if held is not None:  # pooled: what this process serves next
            text = render(definition, pattern, scope_key, the_day, context, *held)
            return Issued(text, *held, period)
        strategy = self.strategies.get(conn)
        state = strategy.read_counter(conn, CounterKey(definition.id, scope_key, period))
        plan = plan_allocation(definition, state, 1, capacity, scope=scope_key)
        value, cycle = plan.values[0]
        number = render(definition, pattern, scope_key, the_day, context, value, cycle)
        return Issued(number, value, cycle, period)

    def set_counter(
        self,
        conn: Connection,
        definition: SequenceDefinition,
        key: CounterKey,
        value: int,
        *,
        check: Callable[[CounterState], _T],
    ) -> tuple[CounterState, _T]:
        """Set the counter ``key`` to ``value`` (``override``): the one other way, besides
        drawing, that a counter moves.

        ``check`` refuses by raising; it runs on the counter as last committed, before
        the counter is locked (locking may create its row, so a refusal writes nothing),
        and again under the lock, against a generator that drew meanwhile.  Returns the
        locked state the counter had, and what ``check`` returned for it.
        """
        strategy = self.strategies.get(conn)
        empty = CounterState(definition.start - definition.step, 1)
        check(strategy.read_counter(conn, key) or empty)
        state: CounterState = self._locking(
            conn,
            definition.name,
            key.scope,
            lambda: strategy.lock_counter(conn, key, empty=empty, now=utcnow()),
        )
        result = check(state)
        strategy.write_counter(conn, key, CounterState(value, state.cycle), now=utcnow())
        return state, result

    # -- audit and errors ----------------------------------------------------------

    def _locking(
        self,
        conn: Connection,
        name: str,
        scope: str,
        action: Any,
        waits: list[float] | None = None,
    ) -> Any:
        """Run ``action`` under the strategy's lock retries; where ``waits`` is given
        (DEBUG logging on), append the seconds it took."""
        began = time.perf_counter() if waits is not None else 0.0
        try:
            result = self.strategies.get(conn).run_locking(conn, name, action)
            if waits is not None:
                waits.append(time.perf_counter() - began)
            return result
        except LockBusy as busy:
            retryable = busy.kind is ErrorKind.SERIALIZATION
            fault = "serialization" if retryable else "lock_wait"
            _lock_log.warning(
                "%s: SequenceBusyError after %d counter lock attempts (%s)",
                describe(name, scope),
                busy.attempts,
                fault,
                extra={
                    "event": "busy",
                    "sequence": name,
                    "scope": scope,
                    "attempt": busy.attempts,
                    "fault": fault,
                    "retryable": retryable,
                },
            )
            if busy.kind is ErrorKind.SERIALIZATION:
                raise SequenceBusyError(
                    f"{describe(name, scope)}: the database rolled the transaction back "
                    "(serialization failure or deadlock) while it waited for the counter; "
                    "run the whole transaction again (sa_sequencing.run_in_transaction "
                    "does that for you)",
                    sequence=name,
                    scope=scope,
                    retryable=True,
                ) from busy.__cause__
            raise SequenceBusyError(
                f"{describe(name, scope)}: the counter stayed locked by other transactions "
                f"through {busy.attempts} lock waits; keep transactions that draw numbers "
                "short, raise lock_timeout/lock_retries, or try again later",
                sequence=name,
                scope=scope,
            ) from busy.__cause__


def _log_draw(draw: Draw, issued: list[Issued], path: str, waits: list[float]) -> None:
    """The DEBUG record of one draw (made only when DEBUG is on for the logger)."""
    numbers = [item.number for item in issued]
    _log.debug(
        "%s: drew %s (%s path, lock wait %.6f s)",
        describe(draw.name, draw.scope),
        ", ".join(numbers),
        path,
        sum(waits),
        extra={
            "event": "draw",
            "sequence": draw.name,
            "scope": draw.scope,
            "period": issued[0].period if issued else "",
            "numbers": numbers,
            "reclaimed": [item.number for item in issued if item.reclaimed],
            "path": path,
            "lock_wait": sum(waits),
            "actor": draw.performed_by,
        },
    )


def _param(name: str) -> Any:
    from sqlalchemy import String
    from sqlalchemy import bindparam

    return bindparam(name, type_=String)


def _autocommit_refused(name: str, scope: str) -> ConfigurationError:
    """Numbers drawn on a connection whose statements commit one by one would be
    consumed at once, and a later rollback could not give them back."""
    return ConfigurationError(
        f"{describe(name, scope)}: numbers must be drawn inside a transaction that can "
        "hold the counter's lock until it commits, but this connection is in autocommit "
        "mode; use a Session/connection with a normal isolation level (for SQLite "
        "without the driver's transactions, install sa_sequencing.sqlite.begin_immediate)",
        sequence=name,
        scope=scope,
    )
