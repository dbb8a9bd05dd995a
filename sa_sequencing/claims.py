"""Claiming registry rows so that each is taken by exactly one transaction.

Free gaps (``fill_gaps``) and expired reservations are work items that concurrent
transactions compete for.  Where the database has ``FOR UPDATE SKIP LOCKED``
(PostgreSQL, MySQL 8, MariaDB 10.6+), each transaction locks the rows it takes and
passes over the ones others hold, so nobody waits.  Elsewhere a guarded ``UPDATE``
re-checks the row's status while it holds the row: a row another transaction took
first fails the guard and is simply not ours (on SQLite the write lock serialises
the claims anyway).

On InnoDB (MySQL, MariaDB) a locking read that scans a range of an index also locks
the gaps between the rows it scans, until commit; another transaction inserting a
row there (voiding a number next to a gap being served, releasing a reservation)
waits for it, and two such transactions deadlock.  There the candidates are found
with a plain read and locked by primary key, which locks the rows alone.  One lock
remains: when MariaDB's ``SKIP LOCKED`` passes over a row that another transaction
holds, it locks the gap after that row, which for the newest row is where the next
registered gap goes.  A transaction that was passed over and then voids or releases
a number may therefore still deadlock with the one it passed; the database picks
one victim, which ``run_in_transaction`` runs again.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Row

__all__ = ["claim_rows", "lock_by_id", "update_by_id"]


def claim_rows(
    conn: Connection,
    table: Table,
    where: Sequence[Any],
    *,
    order_by: Sequence[Any],
    limit: int | None,
    values: dict[str, Any] | Callable[[Row[Any]], dict[str, Any]],
    skip_locked: bool,
    gap_locks: bool = False,
) -> list[Row[Any]]:
    """Set ``values`` (or ``values(row)``) on up to ``limit`` rows matching ``where``
    (which must include the status guard that the values falsify) and return the rows
    claimed, as they were before the claim, in ``order_by`` order.

    ``gap_locks``: the database's locking reads lock the gaps of the ranges they scan
    (InnoDB); the rows are then locked by primary key."""
    candidates = select(table).where(*where).order_by(*order_by)
    if skip_locked:
        if gap_locks:
            rows = _lock_by_id(conn, table, where, order_by, limit)
        else:
            stmt = candidates if limit is None else candidates.limit(limit)
            rows = list(conn.execute(stmt.with_for_update(skip_locked=True)))
        if isinstance(values, dict):
            update_by_id(conn, table, [r.id for r in rows], values, one_by_one=gap_locks)
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


def _lock_by_id(
    conn: Connection,
    table: Table,
    where: Sequence[Any],
    order_by: Sequence[Any],
    limit: int | None,
) -> list[Row[Any]]:
    """Up to ``limit`` rows matching ``where``, locked with ``SKIP LOCKED`` through their
    primary key after a plain read found them.  The locking read checks ``where``
    again on the rows' latest versions, so a row another transaction claimed since
    the plain read's snapshot is not ours; more candidates are read until ``limit``
    rows are locked or none is left."""
    claimed: list[Row[Any]] = []
    tried: list[Any] = []
    while limit is None or len(claimed) < limit:
        found = select(table.c.id).where(*where).order_by(*order_by)
        if tried:
            found = found.where(table.c.id.not_in(tried))
        if limit is not None:
            found = found.limit(limit - len(claimed))
        ids = list(conn.execute(found).scalars())
        if not ids:
            break
        tried += ids
        # one row per statement, as update_by_id does: id IN (...) may be a scan
        claimed += lock_by_id(conn, select(table).where(*where), table, ids, skip_locked=True)
        if limit is None:
            break
    return claimed


def lock_by_id(
    conn: Connection, query: Any, table: Table, ids: Sequence[Any], *, skip_locked: bool = False
) -> list[Row[Any]]:
    """The rows of ``query`` (a select of ``table``) whose ids are ``ids``, in that
    order, each locked by its own ``SELECT ... WHERE id = ? FOR UPDATE``: an equality on
    the primary key locks that row alone, where ``id IN (...)`` on a small InnoDB table
    may be answered with a scan that locks every row it passes.  With ``skip_locked``,
    rows other transactions hold are left out."""
    one = query.where(table.c.id == bindparam("locked_id")).with_for_update(
        skip_locked=skip_locked
    )
    rows = (conn.execute(one, {"locked_id": id_}).first() for id_ in ids)
    return [row for row in rows if row is not None]


def update_by_id(
    conn: Connection,
    table: Table,
    ids: Sequence[Any],
    values: dict[str, Any],
    *where: Any,
    one_by_one: bool,
) -> int:
    """Set ``values`` on the rows ``ids`` that match ``where``; return how many changed.

    ``one_by_one``: one ``UPDATE ... WHERE id = ?`` per row.  On a small InnoDB table
    the optimizer may answer ``id IN (...)`` with a scan of the whole primary key,
    which locks every row it passes, other transactions' claims included."""
    if not ids:
        return 0
    if not one_by_one:
        stmt = update(table).where(table.c.id.in_(ids), *where).values(**values)
        return int(conn.execute(stmt).rowcount)
    stmt = update(table).where(table.c.id == bindparam("claimed_id"), *where).values(**values)
    return sum(int(conn.execute(stmt, {"claimed_id": id_}).rowcount) for id_ in ids)
