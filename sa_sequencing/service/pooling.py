"""Pooled sequences after a crash: :meth:`recover_pool_gaps`.

A process that stops without :meth:`~sa_sequencing.Sequencing.release_pools` (killed,
crashed, its database unreachable at exit) takes the unused end of its blocks with it,
and a caller that rolled back leaves its pooled numbers unused: both are holes that no
registry explains.  :meth:`PoolingMixin.recover_pool_gaps` finds them from what the
database knows: every value the counter passed that has no ledger row, no gap and no
reservation is recorded as a gap with reason ``cache``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from ..errors import ConfigurationError
from ..errors import describe
from ..rules.checks import check_actor
from ..rules.enums import OverflowBehavior
from ..rules.periods import document_day
from ..rules.placement import pattern_for
from ..store.gaps import SKIPPED
from ..store.gaps import record_cache_gaps
from .base import ManagerBase

__all__ = ["PoolingMixin"]


class PoolingMixin(ManagerBase):
    """The recovery call of pooled sequences (``cache_size=N``)."""

    def recover_pool_gaps(
        self, name: str, *, scope: str | None = None, performed_by: str | None = None
    ) -> int:
        """Record, as gaps with reason ``cache`` and status ``skipped``, every value the
        counters of ``name`` in ``scope`` passed that was never issued: no ledger row,
        no gap, no reservation (the holes a crash or a rolled-back caller left in a
        pooled sequence, see :ref:`pooled-numbers`).  Returns how many were recorded.

        It reads every ledger row of the scope's numbers, so it costs time and memory
        in proportion to the numbers issued: run it once after a crash, with no process
        drawing from the sequence (a value another live process still holds in its pool
        would be recorded too, and then issued; ``skipped`` keeps ``fill_gaps`` from
        serving it a second time).  This process's own pools for the sequence are
        released first, their values recorded in this transaction (``unfilled``).
        Requires ``audit_numbers=True`` (the ledger is the only record of which values
        were issued) and a definition without ``reset_limit`` or
        ``switch_pattern`` (the ledger does not record a number's cycle); under
        ``allow_gaps`` nothing is recorded (0).  The gaps' numbers are rendered with
        the date of the period's last ledger row and ``?`` for context variables.
        """
        check_actor(performed_by)
        definition, scope_key = self._serving(name, scope)
        where = describe(definition.name, scope_key)
        if not definition.audit_numbers:
            raise ConfigurationError(
                f"{where}: recover_pool_gaps() needs audit_numbers=True: without the "
                "ledger's number_generated rows nothing tells an issued value from a lost one",
                sequence=definition.name,
                scope=scope_key,
            )
        if definition.reset_limit is not None or (
            definition.overflow is OverflowBehavior.SWITCH_PATTERN
        ):
            raise ConfigurationError(
                f"{where}: recover_pool_gaps() cannot tell the cycles of a counter that "
                "restarts (reset_limit, overflow='switch_pattern') apart in the ledger",
                sequence=definition.name,
                scope=scope_key,
            )
        conn = self._connection
        self.sequencing.allocator.pools.release(conn.engine, definition.id, conn=conn)
        if not definition.gap_policy.tracks_gaps:
            return 0
        counters = [
            c for c in self.repositories.counters.for_sequence(definition, scope_key) if c.value
        ]
        if not counters:
            return 0
        known, days = self._accounted(definition.name, definition.id, scope_key)
        today = document_day(None, definition.zone)
        added = 0
        for counter in counters:
            seen = known.get(counter.period, set())
            day = days.get(counter.period, today)
            pattern = pattern_for(definition, day)
            lost = [
                (
                    value,
                    pattern.render_without_context(
                        value, day=day, fiscal_year_start=definition.fiscal_year_start
                    ),
                )
                for value in range(definition.start, counter.value + 1, definition.step)
                if value not in seen
            ]
            added += record_cache_gaps(
                conn,
                self.sequencing.tables,
                sequence_id=definition.id,
                scope=scope_key,
                period=counter.period,
                cycle=counter.cycle,
                numbers=lost,
                status=SKIPPED,
                performed_by=performed_by,
            )
        self.repositories.audits.record(
            definition.name,
            scope_key,
            "pool_gaps_recovered",
            data={"count": added},
            performed_by=performed_by,
        )
        return added

    def _accounted(
        self, name: str, sequence_id: int, scope: str
    ) -> tuple[dict[str, set[int]], dict[str, date]]:
        """The values of each period that the ledger, the gap registry or a reservation
        names, and the date of each period's last ledger row."""
        tables = self.sequencing.tables
        a, g, r = tables.audits, tables.gaps, tables.reservations
        known: dict[str, set[int]] = {}
        days: dict[str, date] = {}
        conn = self._connection
        ledger = conn.execute(
            select(a.c.counter_value, a.c.data)
            .where(a.c.sequence_name == name, a.c.scope == scope, a.c.counter_value.is_not(None))
            .order_by(a.c.id)
            .execution_options(yield_per=10_000)
        )
        for value, data in ledger:
            info: dict[str, Any] = data if isinstance(data, dict) else {}
            period = str(info.get("period", ""))
            known.setdefault(period, set()).add(value)
            if "date" in info:
                days[period] = date.fromisoformat(str(info["date"]))
        for table in (g, r):
            rows = conn.execute(
                select(table.c.period, table.c.value).where(
                    table.c.sequence_id == sequence_id, table.c.scope == scope
                )
            )
            for period, value in rows:
                known.setdefault(period, set()).add(value)
        return known, days
