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

__all__ = ["claim_rows", "update_by_id"]


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
    if not skip_locked:
        return _in_batches(
            conn,
            table,
            where,
            order_by,
            limit,
            lambda found: _guarded(conn, table, where, found, values),
        )
    if gap_locks:
        # one row per statement, as update_by_id does: id IN (...) may be a scan
        locked = select(table).where(*where)
        rows = _in_batches(
            conn,
            table,
            where,
            order_by,
            limit,
            lambda found: _lock_rows(conn, locked, table, found),
        )
    else:
        stmt = select(table).where(*where).order_by(*order_by)
        stmt = stmt if limit is None else stmt.limit(limit)
        rows = list(conn.execute(stmt.with_for_update(skip_locked=True)))
    if isinstance(values, dict):
        update_by_id(conn, table, [r.id for r in rows], values, one_by_one=gap_locks)
    else:
        for row in rows:
            conn.execute(update(table).where(table.c.id == row.id).values(**values(row)))
    return rows


def _guarded(
    conn: Connection,
    table: Table,
    where: Sequence[Any],
    found: list[Row[Any]],
    values: dict[str, Any] | Callable[[Row[Any]], dict[str, Any]],
) -> list[Row[Any]]:
    """The rows of ``found`` that an ``UPDATE`` re-checking ``where`` could still claim."""
    taken = []
    for row in found:
        changes = values if isinstance(values, dict) else values(row)
        stmt = update(table).where(table.c.id == row.id, *where).values(**changes)
        if conn.execute(stmt).rowcount == 1:
            taken.append(row)
    return taken


def _in_batches(
    conn: Connection,
    table: Table,
    where: Sequence[Any],
    order_by: Sequence[Any],
    limit: int | None,
    take: Callable[[list[Row[Any]]], list[Row[Any]]],
) -> list[Row[Any]]:
    """Read candidates with a plain read, lowest first, and ``take`` what can be had of
    them; read more (the ones not tried yet) until ``limit`` rows are taken or none is
    left.  Without a limit, one pass takes every candidate there is."""
    candidates = select(table).where(*where).order_by(*order_by)
    taken: list[Row[Any]] = []
    tried: list[Any] = []
    while limit is None or len(taken) < limit:
        stmt = candidates.where(table.c.id.not_in(tried)) if tried else candidates
        if limit is not None:
            stmt = stmt.limit(limit - len(taken))
        found = list(conn.execute(stmt))
        if not found:
            break
        tried += [row.id for row in found]
        taken += take(found)
        if limit is None:
            break
    return taken


def _lock_rows(
    conn: Connection, query: Any, table: Table, found: list[Row[Any]]
) -> list[Row[Any]]:
    """The rows of ``query`` (a select of ``table``) that are in ``found``, in that
    order, each locked by its own ``SELECT ... WHERE id = ? FOR UPDATE SKIP LOCKED``: an
    equality on the primary key locks that row alone, where ``id IN (...)`` on a small
    InnoDB table may be answered with a scan that locks every row it passes.  The
    query's conditions are checked again on the latest version of each row, so a row
    another transaction claimed since the plain read's snapshot is not ours; rows
    other transactions hold are left out."""
    one = query.where(table.c.id == bindparam("locked_id")).with_for_update(skip_locked=True)
    rows = (conn.execute(one, {"locked_id": row.id}).first() for row in found)
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
