"""The one writer of the ledger rows a draw makes.

Every row that drawing numbers adds to the audit table goes through :class:`Ledger`:
the ``number_generated`` rows, ``counter_reset`` at the start of a period,
``gap_reclaimed`` when ``fill_gaps`` serves a gap, ``exhaustion_threshold_reached``,
and the rewording of a flush's rows whose documents differ in context.  It writes
them the fastest way the connection's database allows (a prepared multi-row
``INSERT``, a run of numbers counted in SQL, or nothing at all where the counter
statement already wrote them: see :mod:`sa_sequencing.dialects.ledger`), and builds
every row with :func:`~sa_sequencing.store.repositories.ledger_row`, the same
function the :class:`~sa_sequencing.AuditRepository` uses for the manager's events.

The manager's own events (``sequence_created``, ``number_voided``, ...) are recorded
through the host's audit repository, which a host may subclass to mirror them; the
rows of a draw are not, because most of them are written inside the counter's round
trip, where no Python code runs per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import update
from sqlalchemy.engine import Connection

from ..dialects.base import AuditSpec
from ..dialects.base import StrategyCache
from ..rules.counters import Issued
from ..rules.definitions import SequenceDefinition
from ..store.repositories import ledger_row
from ..store.tables import SequencingTables

__all__ = ["Event", "Ledger"]

#: A ledger event without a number: (event name, its ``data``).
Event = tuple[str, dict[str, Any]]


class Ledger:
    """Writes the ledger rows of draws on ``tables`` through ``strategies``."""

    def __init__(self, tables: SequencingTables, strategies: StrategyCache) -> None:
        self.tables = tables
        self.strategies = strategies

    def write(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` (built by ``ledger_row``), one prepared statement."""
        if rows:
            self.strategies.get(conn).insert_audit_rows(conn, list(rows))

    def draw(
        self,
        conn: Connection,
        definition: SequenceDefinition,
        scope: str,
        issued: Iterable[Issued],
        events: Iterable[Event],
        data: dict[str, Any],
        performed_by: str | None,
        now: datetime,
    ) -> None:
        """The rows of one draw: its events first, then one ``number_generated`` row
        per issued number when the definition audits numbers."""
        rows = [
            ledger_row(
                definition.name,
                scope,
                event,
                number=None,
                counter_value=None,
                data=details,
                performed_by=performed_by,
                created_at=now,
            )
            for event, details in events
        ]
        if definition.audit_numbers:
            numbered = ((item, "number_generated", data) for item in issued)
            rows += self._number_rows(definition, scope, numbered, performed_by, now)
        self.write(conn, rows)

    def about_numbers(
        self,
        conn: Connection,
        definition: SequenceDefinition,
        scope: str,
        events: Iterable[tuple[Issued, str, dict[str, Any]]],
        performed_by: str | None,
        now: datetime,
    ) -> None:
        """Events about issued numbers: (number, event name, data) each."""
        self.write(conn, self._number_rows(definition, scope, events, performed_by, now))

    @staticmethod
    def _number_rows(
        definition: SequenceDefinition,
        scope: str,
        events: Iterable[tuple[Issued, str, dict[str, Any]]],
        performed_by: str | None,
        now: datetime,
    ) -> list[dict[str, Any]]:
        return [
            ledger_row(
                definition.name,
                scope,
                event,
                number=item.number,
                counter_value=item.value,
                data=data,
                performed_by=performed_by,
                created_at=now,
            )
            for item, event, data in events
        ]

    def number_run(
        self,
        conn: Connection,
        spec: AuditSpec,
        *,
        first: int,
        last: int,
        step: int,
        now: datetime,
    ) -> bool:
        """The ``number_generated`` rows of ``first, first + step, ... last`` counted and
        rendered in SQL; ``False`` (nothing written) where the database cannot."""
        return self.strategies.get(conn).insert_number_run(
            conn, spec, first=first, last=last, step=step, now=now
        )

    def reword(
        self,
        conn: Connection,
        definition: SequenceDefinition,
        scope: str,
        rewordings: Sequence[dict[str, Any]],
        *,
        after_id: int,
    ) -> None:
        """Give ``number_generated`` rows written after row ``after_id`` their own
        document's number and data (``b_old``, ``b_value`` -> ``b_number``, ``b_data``):
        a flush draws a counter's numbers in one statement, written with the first
        document's context."""
        if not rewordings or not definition.audit_numbers:
            return
        a = self.tables.audits
        conn.execute(
            update(a)
            .where(
                a.c.sequence_name == definition.name,
                a.c.scope == scope,
                a.c.event == "number_generated",
                a.c.id > after_id,
                a.c.number == bindparam("b_old", type_=a.c.number.type),
                a.c.counter_value == bindparam("b_value", type_=a.c.counter_value.type),
            )
            .values(
                number=bindparam("b_number", type_=a.c.number.type),
                data=bindparam("b_data", type_=a.c.data.type),
            ),
            list(rewordings),
        )
