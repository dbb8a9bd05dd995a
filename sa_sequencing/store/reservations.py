"""Reservations (``sequence_reservations``): the value and the repository; the
manager's side is :mod:`sa_sequencing.service.reservations`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import insert
from sqlalchemy import select

from ..rules.counters import Issued
from ..rules.definitions import SequenceDefinition
from .claims import claim_rows
from .claims import update_by_id
from .repositories import RepositoryBase
from .repositories import count_rows
from .repositories import issued_number_key
from .repositories import matching
from .savepoint import Savepoint
from .types import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Row


__all__ = ["EXPIRED", "FINALIZED", "RELEASED", "RESERVED", "Reservation", "ReservationRepository"]


RESERVED = "reserved"


FINALIZED = "finalized"


RELEASED = "released"


EXPIRED = "expired"


@dataclass(frozen=True)
class Reservation:
    """Numbers held under one reservation id."""

    id: str
    sequence_name: str
    scope: str | None
    numbers: tuple[str, ...]
    expires_at: datetime


class ReservationRepository(RepositoryBase):
    """Reserved numbers (``sequence_reservations``), one row per number."""

    def create(
        self,
        definition: SequenceDefinition,
        scope: str,
        reservation_id: str,
        issued: Iterable[Issued],
        *,
        expires_at: datetime,
        performed_by: str | None,
    ) -> None:
        now = utcnow()
        self.connection.execute(
            insert(self.tables.reservations),
            [
                {
                    "reservation_id": reservation_id,
                    **issued_number_key(definition, scope, item.period, item.cycle, item.value),
                    "number": item.number,
                    "status": RESERVED,
                    "expires_at": expires_at,
                    "performed_by": performed_by,
                    "created_at": now,
                }
                for item in issued
            ],
        )

    def rows(
        self, reservation_id: str, *, for_update: bool = False, of_supported: bool = True
    ) -> list[Any]:
        """The numbers of a reservation with their sequence's name, in counter order;
        ``for_update``: locked, as they are now."""
        r, s = self.tables.reservations, self.tables.sequences
        order = (r.c.period, r.c.cycle, r.c.value)
        stmt = (
            select(r, s.c.name.label("sequence_name"))
            .join(s, s.c.id == r.c.sequence_id)
            .where(r.c.reservation_id == reservation_id)
            .order_by(*order)
        )
        if not for_update:
            return list(self.connection.execute(stmt))
        if of_supported:
            return list(self.connection.execute(stmt.with_for_update(of=r)))
        # MariaDB has no FOR UPDATE OF: the join would lock the definition's row too,
        # and every generator of the sequence would wait for it.  Lock the reservation's
        # rows alone (a plain read could not find them reliably: it shows this
        # transaction's snapshot, plus the rows it changed itself), then read the name.
        conn = self.connection
        locked = conn.execute(
            select(r)
            .where(r.c.reservation_id == reservation_id)
            .order_by(*order)
            .with_for_update()
        ).all()
        if not locked:
            return []
        name = conn.execute(select(s.c.name).where(s.c.id == locked[0].sequence_id)).scalar_one()
        return [SimpleNamespace(**row._mapping, sequence_name=name) for row in locked]

    def close(self, ids: list[int], status: str, *, gap_locks: bool = False) -> bool:
        """Move still-reserved rows to ``status``; False (nothing changed) if another
        transaction closed one of them first."""
        r = self.tables.reservations
        conn = self.connection
        with Savepoint(conn) as rollback:
            values = {"status": status, "closed_at": utcnow()}
            done = update_by_id(conn, r, ids, values, r.c.status == RESERVED, one_by_one=gap_locks)
            if done != len(ids):
                rollback()
                return False
        return True

    def active_count(self, definition: SequenceDefinition, scope: str, now: datetime) -> int:
        r = self.tables.reservations
        return count_rows(
            self.connection,
            *matching(r, sequence_id=definition.id, scope=scope, status=RESERVED),
            r.c.expires_at > now,
        )

    def claim_expired(
        self, now: datetime, *, skip_locked: bool, gap_locks: bool = False
    ) -> list[Row[Any]]:
        """Mark every reserved number whose time ran out ``expired`` and return those this
        transaction claimed."""
        r = self.tables.reservations
        return claim_rows(
            self.connection,
            r,
            [r.c.status == RESERVED, r.c.expires_at <= now],
            order_by=[r.c.id],
            limit=None,
            values={"status": EXPIRED, "closed_at": now},
            skip_locked=skip_locked,
            gap_locks=gap_locks,
        )
