r"""Reservations: numbers held for a while, then used or given back.

::

    held = seqs.reserve("purchase_order", 3, ttl=timedelta(minutes=30))
    held.numbers                              # ('PO-202603-0007', ..., 'PO-202603-0009')
    seqs.finalize(held.id, ["PO-202603-0007"])   # used
    seqs.release(held.id)                     # the rest given back: gaps 'released'

``reserve`` draws the numbers from the counter at once, in the caller's transaction
(so a rollback gives them back like any other draw, and a locked sequence refuses).
Each number then is *reserved* until it is ``finalize``\ d, ``release``\ d, or its
``expires_at`` passes and ``release_expired`` (a scheduled job) turns it *expired*.
Released and expired numbers become gaps with that reason, and the sequence's gap
policy decides whether they are reused.  Finalizing a number that expired, was
released or finalized already, or that the reservation does not hold is a
:class:`~sa_sequencing.ReservationError`, raised before anything is written.

``release_expired`` is safe to run from several workers at once: each expired number
is claimed by exactly one of them (``FOR UPDATE SKIP LOCKED`` where available, a
guarded ``UPDATE`` elsewhere).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select

from ..errors import ArgumentTypeError
from ..errors import InvalidArgumentError
from ..errors import ReservationError
from ..errors import describe
from ..rules.checks import check_actor
from ..rules.checks import check_count
from ..rules.checks import check_text
from ..rules.checks import check_ttl
from ..rules.definitions import SequenceDefinition
from ..rules.limits import NUMBER_LENGTH
from ..rules.limits import RESERVATION_ID_LENGTH
from ..store.reservations import EXPIRED
from ..store.reservations import FINALIZED
from ..store.reservations import RELEASED
from ..store.reservations import RESERVED
from ..store.reservations import Reservation
from ..store.types import utcnow
from .base import ManagerBase

if TYPE_CHECKING:
    pass


__all__ = ["ReservationsMixin"]


class ReservationsMixin(ManagerBase):
    """The reservation methods of :class:`~sa_sequencing.SequenceManager`."""

    def reserve(
        self,
        name: str,
        count: int,
        *,
        scope: str | None = None,
        ttl: timedelta = timedelta(minutes=30),
        context: Mapping[str, object] | None = None,
        date: date | datetime | None = None,
        performed_by: str | None = None,
    ) -> Reservation:
        """Draw ``count`` numbers now and hold them for ``ttl``."""
        check_ttl(ttl, utcnow())  # before the draw: a refusal after it would lose numbers
        check_count(count)
        conn = self._connection
        issued = self.sequencing.allocator.allocate(
            conn, name, scope, count, context=context, day=date, performed_by=performed_by
        )
        definition, scope_key = self._serving(name, scope)
        reservation_id = str(uuid.uuid4())
        expires_at = check_ttl(ttl, utcnow())
        self.repositories.reservations.create(
            definition,
            scope_key,
            reservation_id,
            issued,
            expires_at=expires_at,
            performed_by=performed_by,
        )
        numbers = tuple(item.number for item in issued)
        self._record(
            definition.name,
            scope_key,
            "numbers_reserved",
            data={
                "reservation_id": reservation_id,
                "numbers": list(numbers),
                "expires_at": expires_at.isoformat(),
            },
            performed_by=performed_by,
        )
        return Reservation(reservation_id, definition.name, scope_key or None, numbers, expires_at)

    def finalize(
        self,
        reservation_id: str,
        numbers: Iterable[str] | None = None,
        *,
        performed_by: str | None = None,
    ) -> builtins.list[str]:
        """Make reserved numbers final: ``numbers``, or all the reservation still holds."""
        return self._close(reservation_id, numbers, FINALIZED, performed_by)

    def release(
        self,
        reservation_id: str,
        numbers: Iterable[str] | None = None,
        *,
        performed_by: str | None = None,
    ) -> builtins.list[str]:
        """Give reserved numbers back (``numbers``, or all the reservation still holds):
        they become gaps with reason ``released``."""
        return self._close(reservation_id, numbers, RELEASED, performed_by)

    def _close(
        self,
        reservation_id: str,
        numbers: Iterable[str] | None,
        status: str,
        performed_by: str | None,
    ) -> builtins.list[str]:
        check_text(reservation_id, "reservation_id", limit=RESERVATION_ID_LENGTH)
        check_actor(performed_by)
        wanted = _numbers(numbers)
        strategy = self.sequencing.strategy(self._connection)
        rows = self.repositories.reservations.rows(
            reservation_id, for_update=True, of_supported=strategy.renders_for_update_of
        )
        if not rows:
            raise ReservationError(
                f"reservation {reservation_id!r} is unknown: check the id that reserve() "
                "returned (a rolled-back reservation does not exist)"
            )
        first = rows[0]
        where = f"reservation {reservation_id!r} of {describe(first.sequence_name, first.scope)}"
        error = _error(first.sequence_name, first.scope)
        if wanted is None:
            rows = [row for row in rows if row.status == RESERVED]
            if not rows:
                raise error(f"{where} holds no reserved numbers any more; nothing to do")
        else:
            held = {row.number for row in rows}
            foreign = [n for n in wanted if n not in held]
            if foreign:
                raise error(f"{where} does not hold {', '.join(map(repr, foreign))}")
            rows = [row for row in rows if row.number in wanted]
        now = utcnow()
        for row in rows:
            if row.status != RESERVED:
                raise error(f"{where}: {row.number!r} was already {row.status}; nothing to do")
            if status == FINALIZED and row.expires_at <= now:
                raise error(
                    f"{where}: {row.number!r} expired at {row.expires_at:%Y-%m-%d %H:%M:%S} UTC "
                    "and can no longer be finalized; reserve again"
                )
        gap_locks = strategy.locks_index_gaps
        if not self.repositories.reservations.close(
            [row.id for row in rows], status, gap_locks=gap_locks
        ):
            raise error(f"{where} was closed by another transaction meanwhile; look again")
        if status == RELEASED:
            self._record_gaps(rows, RELEASED, performed_by)
        self._record(
            first.sequence_name,
            first.scope,
            f"reservation_{status}",
            data={"reservation_id": reservation_id, "numbers": [row.number for row in rows]},
            performed_by=performed_by,
        )
        return [row.number for row in rows]

    def release_expired(
        self, *, now: datetime | None = None, performed_by: str | None = None
    ) -> int:
        """Turn every reservation past its ``expires_at`` into gaps (reason ``expired``);
        return how many numbers this call expired."""
        check_actor(performed_by)
        if now is None:
            now = utcnow()
        elif not isinstance(now, datetime) or now.tzinfo is None:
            raise ArgumentTypeError(
                "now must be an aware datetime.datetime (or None for the time now)"
            )
        conn = self._connection
        strategy = self.sequencing.strategy(conn)
        rows = self.repositories.reservations.claim_expired(
            now, skip_locked=strategy.supports_skip_locked, gap_locks=strategy.locks_index_gaps
        )
        if not rows:
            return 0
        self._record_gaps(rows, EXPIRED, performed_by)
        names = self._names({row.sequence_id for row in rows})
        by_reservation: dict[str, list[Any]] = {}
        for row in rows:
            by_reservation.setdefault(row.reservation_id, []).append(row)
        for reservation_id, held in by_reservation.items():
            self._record(
                names[held[0].sequence_id],
                held[0].scope,
                "reservation_expired",
                data={"reservation_id": reservation_id, "numbers": [r.number for r in held]},
                performed_by=performed_by,
            )
        return len(rows)

    def _names(self, ids: set[int]) -> dict[int, str]:
        s = self.sequencing.tables.sequences
        stmt = select(s.c.id, s.c.name).where(s.c.id.in_(ids))
        return {row.id: row.name for row in self._connection.execute(stmt)}

    def _record_gaps(self, rows: list[Any], reason: str, performed_by: str | None) -> None:
        s = self.sequencing.tables.sequences
        ids = {row.sequence_id for row in rows}
        definitions = {
            row.id: SequenceDefinition.from_row(row)
            for row in self._connection.execute(select(s).where(s.c.id.in_(ids)))
        }
        for row in sorted(rows, key=lambda r: (r.sequence_id, r.scope, r.period, r.value)):
            definition = definitions[row.sequence_id]
            if not definition.gap_policy.tracks_gaps:
                continue
            self.repositories.gaps.record(
                definition,
                row.scope,
                period=row.period,
                cycle=row.cycle,
                value=row.value,
                number=row.number,
                reason=reason,
                performed_by=performed_by,
            )
        for definition in definitions.values():
            if definition.gap_policy.fills_gaps:
                self.sequencing.allocator.cache.discard(self._connection.engine, definition.name)


def _numbers(numbers: Iterable[str] | None) -> set[str] | None:
    if numbers is None:
        return None
    if isinstance(numbers, str):
        raise ArgumentTypeError("numbers must be a list of numbers, not one str: write [number]")
    try:
        chosen = set(numbers)
    except TypeError:
        raise ArgumentTypeError(
            f"numbers must be an iterable of strs or None, not {type(numbers).__name__}"
        ) from None
    for number in chosen:
        check_text(number, "each of numbers", limit=NUMBER_LENGTH)
    if not chosen:
        raise InvalidArgumentError(
            "numbers is empty: pass None for all of the reservation's numbers"
        )
    return chosen


def _error(sequence: str, scope: str) -> Any:
    def build(message: str) -> ReservationError:
        return ReservationError(message, sequence=sequence, scope=scope)

    return build
