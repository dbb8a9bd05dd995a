"""The CSV report: one table, a row per counter, day, gap, reservation, override, lock."""

from __future__ import annotations

import csv
from datetime import datetime
from datetime import timezone
from typing import IO
from typing import Any

from .. import SequenceDefinition
from .reader import ReportSummary
from .reader import SequenceFigures
from .reader import override_detail
from .reader import text

__all__ = ["CSV_COLUMNS", "CsvTable"]

CSV_COLUMNS = (
    "record",
    "sequence",
    "definition_scope",
    "scope",
    "period",
    "cycle",
    "number",
    "value",
    "first_value",
    "last_value",
    "count",
    "ledger_count",
    "first_number",
    "last_number",
    "reason",
    "status",
    "actor",
    "at",
    "detail",
)
"""The columns of the CSV report, in order.  Every row fills ``record`` (what the row
is), ``sequence`` and ``definition_scope`` (the definition's scope, empty for a global
one), and then:

* ``sequence``: ``period`` (the reset period), ``reason`` (the gap policy), ``status``
  (``locked`` or empty), ``detail`` (the pattern);
* ``counter``: ``scope``, ``period``, ``cycle``, ``first_value``, ``last_value``,
  ``count`` (values drawn), ``ledger_count`` (numbers in the ledger; empty when the
  sequence does not audit numbers), ``first_number``, ``last_number``, ``at`` (the last
  number's time);
* ``day``: ``at`` (a UTC day, ``YYYY-MM-DD``) and ``count`` (numbers issued that day);
* ``gap``: ``scope``, ``period``, ``cycle``, ``number``, ``value``, ``reason``,
  ``status``, ``actor``, ``at``, ``detail`` (the number that filled it);
* ``reservation``: ``scope``, ``period``, ``cycle``, ``number``, ``value``, ``status``,
  ``actor``, ``at`` (reserved at), ``detail`` (``RESERVATION_ID until EXPIRY``);
* ``override``: ``scope``, ``period``, ``actor``, ``at``, ``detail`` (``OLD -> NEW``);
* ``lock``: ``scope``, ``status`` (``sequence_locked`` or ``sequence_unlocked``),
  ``actor``, ``at``.

Times are ISO 8601 in UTC with microseconds (``2026-03-01T09:30:00.123456+00:00``).
A cell that would start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
starts with ``'`` before it, so that a spreadsheet program shows it as text instead
of running it as a formula (a program reading the file strips that quote).
"""


#: What a spreadsheet program would read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    cell = text(value)
    # Text from users (an actor, a scope, a reason) must not run as a formula when an
    # auditor opens the file in a spreadsheet (CSV injection): a leading quote makes
    # it text there.
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


class CsvTable:
    """Writes the CSV report as the rows arrive."""

    def __init__(self, stream: IO[str]) -> None:
        self.out = csv.DictWriter(stream, CSV_COLUMNS, lineterminator="\r\n")

    def row(self, record: str, definition: SequenceDefinition, **values: object) -> None:
        cells = {k: _cell(v) for k, v in values.items()}
        self.out.writerow(
            {
                "record": record,
                "sequence": definition.name,
                "definition_scope": definition.scope or "",
                **cells,
            }
        )

    def start(self, title: str, scope: Any) -> None:
        self.out.writeheader()

    def sequence(self, s: SequenceFigures) -> None:
        d = s.definition
        self.row(
            "sequence",
            d,
            detail=d.pattern,
            status="locked" if d.is_locked else "",
            reason=d.gap_policy.value,
            period=d.reset_period.value,
        )
        for c in s.counters.values():
            self.row(
                "counter",
                d,
                scope=c.scope,
                period=c.period,
                cycle=c.cycle,
                first_value=c.first_value,
                last_value=c.last_value,
                count=c.count,
                ledger_count=c.ledger_count if d.audit_numbers else None,
                first_number=c.first_number,
                last_number=c.last_number,
                at=c.last_at,
            )
        for day in sorted(s.days):
            self.row("day", d, at=day.isoformat(), count=s.days[day])

    def section(self, title: str, headers: tuple[str, ...]) -> None:
        pass

    def end_section(self) -> None:
        pass

    def gap(self, d: SequenceDefinition, g: Any) -> None:
        self.row(
            "gap",
            d,
            scope=g.scope,
            period=g.period,
            cycle=g.cycle,
            number=g.number,
            value=g.value,
            reason=g.reason,
            status=g.status,
            actor=g.performed_by,
            at=g.created_at,
            detail=g.filled_number,
        )

    def reservation(self, d: SequenceDefinition, r: Any) -> None:
        self.row(
            "reservation",
            d,
            scope=r.scope,
            period=r.period,
            cycle=r.cycle,
            number=r.number,
            value=r.value,
            status=r.status,
            actor=r.performed_by,
            at=r.created_at,
            detail=f"{r.reservation_id} until {_cell(r.expires_at)}",
        )

    def events(self, s: SequenceFigures) -> None:
        for row in s.overrides:
            period, detail = override_detail(row)
            self.row(
                "override",
                s.definition,
                scope=row.scope,
                period=period,
                actor=row.performed_by,
                at=row.created_at,
                detail=detail,
            )
        for row in s.locks:
            self.row(
                "lock",
                s.definition,
                scope=row.scope,
                status=row.event,
                actor=row.performed_by,
                at=row.created_at,
            )

    def finish(self, summary: ReportSummary) -> None:
        pass
