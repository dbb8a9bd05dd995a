"""Claiming registry rows so that each is taken by exactly one transaction.

Free gaps (``fill_gaps``) and expired reservations are work items that concurrent
transactions compete for.  Where the database has ``FOR UPDATE SKIP LOCKED``
(PostgreSQL, MySQL 8, MariaDB 10.6+), each transaction locks the rows it takes and
passes over the ones others hold, so nobody waits.  Elsewhere a guarded ``UPDATE``
re-checks the row's status while it holds the row: a row another transaction took
first fails the guard and is simply not ours (on SQLite the write lock serialises
the claims anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Row

__all__ = ["claim_rows"]


def claim_rows(
    conn: Connection,
    table: Table,
    where: Sequence[Any],
    *,
    order_by: Sequence[Any],
    limit: int | None,
    values: dict[str, Any] | Callable[[Row[Any]], dict[str, Any]],
    skip_locked: bool,
) -> list[Row[Any]]:
    """Set ``values`` (or ``values(row)``) on up to ``limit`` rows matching ``where``
    (which must include the status guard that the values falsify) and return the rows
    claimed, as they were before the claim, in ``order_by`` order."""
    candidates = select(table).where(*where).order_by(*order_by)
    if skip_locked:
        stmt = candidates if limit is None else candidates.limit(limit)
        rows = list(conn.execute(stmt.with_for_update(skip_locked=True)))
        if isinstance(values, dict):
            if rows:
                ids = [r.id for r in rows]
                conn.execute(update(table).where(table.c.id.in_(ids)).values(**values))
        else:
            for row in rows:
                conn.execute(update(table).where(table.c.id == row.id).values(**values(row)))
        return rows
    claimed: list[Row[Any]] = []
    tried: set[int] = set()
    while limit is None or len(claimed) < limit:
        stmt = candidates
        if tried:
            stmt = stmt.where(table.c.id.not_in(tried))
        if limit is not None:
            stmt = stmt.limit(limit - len(claimed))
        rows = list(conn.execute(stmt))
        if not rows:
            break
        for row in rows:
            tried.add(row.id)
            changes = values if isinstance(values, dict) else values(row)
            guarded = update(table).where(table.c.id == row.id, *where).values(**changes)
            if conn.execute(guarded).rowcount == 1:
                claimed.append(row)
        if limit is None:
            break
    return claimed
