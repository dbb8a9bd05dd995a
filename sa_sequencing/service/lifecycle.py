"""What happens to numbers after they are issued: voids, overrides, pattern versions.

These are the :class:`~sa_sequencing.SequenceManager` methods of the number
lifecycle (reservations are in :mod:`sa_sequencing.service.reservations`).  Like the rest of
the manager they work in the session's transaction and write their audit rows there;
every refusal raises before anything is written.

``void(name, number, reason=..., performed_by=...)`` cancels an issued number.  The
number must have been issued (drawn from its counter and not given back) and not be
void already; a number still held by a reservation is released instead.  Under
``report_gaps_only`` and ``fill_gaps`` it becomes a gap with its reason (see
:mod:`sa_sequencing.store.gaps`); under ``allow_gaps`` only the ledger records it.

``override(name, value)`` moves a counter forward: the next number is ``value +
step``.  It is refused unless ``value`` is above every number issued from that
counter (its current value and its reservations): a counter is never moved back,
so numbers cannot repeat.  The values skipped are explained by the
``counter_overridden`` audit row and, under ``report_gaps_only`` and ``fill_gaps``,
by one gap per skipped value (reason ``override``, status ``skipped``, the actor),
so the gap report explains every missing number; such gaps are never served, as
the numbers an override skips are usually those an earlier system issued.  Their
numbers show a context variable as ``?`` (no document had them).  An override may
skip at most 1,000,000 values under those policies.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import date
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import ArgumentTypeError
from ..errors import ConfigurationError
from ..errors import InvalidArgumentError
from ..errors import InvalidCounterValueError
from ..errors import PatternError
from ..errors import describe
from ..rules.checks import check_actor
from ..rules.checks import check_flag
from ..rules.checks import check_text
from ..rules.checks import shown_int
from ..rules.checks import unstorable
from ..rules.counters import CounterKey
from ..rules.counters import CounterState
from ..rules.counters import capacity_of
from ..rules.definitions import SequenceDefinition
from ..rules.definitions import validate_options
from ..rules.enums import OverflowBehavior
from ..rules.limits import MAX_COUNT
from ..rules.limits import MAX_COUNTER
from ..rules.limits import NUMBER_LENGTH
from ..rules.limits import REASON_LENGTH
from ..rules.locate import Location
from ..rules.locate import locate
from ..rules.periods import document_day
from ..rules.placement import counter_key
from ..rules.placement import pattern_for
from ..rules.series import series_pattern
from ..rules.versions import PatternVersion
from ..store.gaps import MISSING
from ..store.gaps import SKIPPED
from ..store.gaps import Gap
from ..store.repositories import count_rows
from ..store.repositories import issued_number_key
from ..store.repositories import matching
from ..store.savepoint import Savepoint
from .base import ManagerBase

if TYPE_CHECKING:
    pass

__all__ = ["LifecycleMixin"]


class LifecycleMixin(ManagerBase):
    """Voids, the gap registry, overrides and pattern versions of a manager."""

    # -- voids and the gap registry ------------------------------------------------

    def void(
        self,
        name: str,
        number: str,
        *,
        scope: str | None = None,
        reason: str | None = None,
        performed_by: str | None = None,
    ) -> None:
        """Record the issued ``number`` as cancelled, with ``reason`` (default
        ``"voided"``, at most 32 characters) and the actor."""
        check_text(number, "number", limit=NUMBER_LENGTH)
        reason = _reason(reason)
        check_actor(performed_by)
        definition, scope_key = self._serving(name, scope)
        where = describe(definition.name, scope_key)
        place = self._place_issued(definition, scope_key, number)
        self._refuse_if_given_back(definition, scope_key, number, place)
        gap = self.repositories.gaps.find(
            definition, scope_key, period=place.period, cycle=place.cycle, value=place.value
        )
        if gap is not None and (gap.status in MISSING or number != gap.filled_number):
            raise _already_void(where, definition, scope_key, number, gap)
        if not definition.gap_policy.tracks_gaps and self._voided_in_ledger(
            definition, scope_key, number
        ):
            raise InvalidCounterValueError(
                f"{where}: {number!r} is already void (see audit_log()); nothing to do",
                sequence=definition.name,
                scope=scope_key,
            )
        if definition.gap_policy.tracks_gaps:
            conn = self._connection
            with Savepoint(conn) as rollback:
                try:
                    self.repositories.gaps.record(
                        definition,
                        scope_key,
                        period=place.period,
                        cycle=place.cycle,
                        value=place.value,
                        number=number,
                        reason=reason,
                        performed_by=performed_by,
                    )
                except IntegrityError as exc:
                    rollback()
                    raise InvalidCounterValueError(
                        f"{where}: {number!r} was voided by another transaction just now",
                        sequence=definition.name,
                        scope=scope_key,
                    ) from exc
            self._forget_cached(definition)
        self._record(
            definition.name,
            scope_key,
            "number_voided",
            number=number,
            counter_value=place.value,
            data={"reason": reason, "period": place.period, "cycle": place.cycle},
            performed_by=performed_by,
        )

    def _place_issued(self, definition: SequenceDefinition, scope: str, number: str) -> Location:
        where = describe(definition.name, scope)
        counters = self.repositories.counters.for_sequence(definition, scope)
        patterns = self._base_patterns(definition)
        places = locate(definition, number, counters, patterns)
        if not places:
            known = any(p.validate(number) for p in patterns)
            why = (
                "was never issued (its counter has not reached it)"
                if known or counters
                else "is not a number of this sequence"
            )
            raise InvalidCounterValueError(
                f"{where}: {number!r} {why}; only issued numbers can be voided",
                sequence=definition.name,
                scope=scope,
            )
        if len(places) > 1:
            periods = ", ".join(repr(p.period) for p in places)
            raise InvalidCounterValueError(
                f"{where}: {number!r} could stand for the counters of periods {periods} (the "
                "pattern does not tell them apart); this version cannot void it",
                sequence=definition.name,
                scope=scope,
            )
        return places[0]

    def _refuse_if_given_back(
        self, definition: SequenceDefinition, scope: str, number: str, place: Location
    ) -> None:
        r = self.sequencing.tables.reservations
        key = issued_number_key(definition, scope, place.period, place.cycle, place.value)
        row = self._connection.execute(
            select(r.c.reservation_id, r.c.status)
            .where(*matching(r, **key))
            .order_by(r.c.id.desc())
            .limit(1)
        ).first()
        # Released and expired numbers are gaps where the policy keeps a registry (which
        # tells whether fill_gaps issued them again); without one they were never used.
        if (
            row is None
            or row.status == "finalized"
            or (row.status != "reserved" and definition.gap_policy.tracks_gaps)
        ):
            return
        what = (
            f"is held by reservation {row.reservation_id!r}: release({row.reservation_id!r}, "
            f"[{number!r}]) gives it back instead"
            if row.status == "reserved"
            else f"was {row.status} with reservation {row.reservation_id!r} and never used"
        )
        raise InvalidCounterValueError(
            f"{describe(definition.name, scope)}: {number!r} {what}",
            sequence=definition.name,
            scope=scope,
        )

    def _voided_in_ledger(self, definition: SequenceDefinition, scope: str, number: str) -> bool:
        voids = matching(
            self.sequencing.tables.audits,
            sequence_name=definition.name,
            scope=scope,
            event="number_voided",
            number=number,
        )
        return bool(count_rows(self._connection, *voids))

    def _forget_cached(self, definition: SequenceDefinition) -> None:
        self.sequencing.allocator.cache.discard(self._connection.engine, definition.name)

    def gaps(
        self, name: str, *, scope: str | None = None, include_filled: bool = False
    ) -> builtins.list[Gap]:
        """The gap registry of ``name`` in ``scope``, in counter order."""
        check_flag(include_filled, "include_filled")
        definition, scope_key = self._serving(name, scope)
        return self.repositories.gaps.list(definition, scope_key, include_filled=include_filled)

    def gap_report(self, name: str, *, scope: str | None = None) -> builtins.list[str]:
        """The numbers missing from ``name`` in ``scope`` (unfilled and skipped gaps), in
        counter order."""
        return [gap.number for gap in self.gaps(name, scope=scope)]

    # -- overrides ------------------------------------------------------------------

    def override(
        self,
        name: str,
        value: int,
        *,
        scope: str | None = None,
        date: date | datetime | None = None,
        performed_by: str | None = None,
        context: Mapping[str, object] | None = None,
    ) -> None:
        """Set the counter serving documents dated ``date`` to ``value``: the next number
        is ``value + step``.  Refused unless above every number issued from it.

        For a ``counter_by`` sequence, ``context`` names the series whose counter is set
        (``context={"DEPARTMENT": "SALES"}``)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgumentTypeError(f"value must be an int, not {type(value).__name__}")
        check_actor(performed_by)
        definition, scope_key = self._serving(name, scope, shared_lock=True)
        where = describe(definition.name, scope_key)
        allocator = self.sequencing.allocator
        day = document_day(date, definition.zone)
        period = counter_key(definition, scope_key, day, context)
        pattern = pattern_for(definition, day)
        capacity = capacity_of(definition, pattern)
        if value > capacity:
            what = (
                "the largest value a counter holds"
                if capacity == MAX_COUNTER
                else "the pattern's capacity"
            )
            raise InvalidCounterValueError(
                f"{where}: {shown_int(value)} does not fit {what} of {capacity}"
                + ("" if capacity == MAX_COUNTER else "; widen {COUNTER:N} first"),
                sequence=definition.name,
                scope=scope_key,
            )
        key = CounterKey(definition.id, scope_key, period)

        def highest_passed(state: CounterState) -> int:
            highest = self._check_override(definition, scope_key, key, state, value)
            skipped = len(range(highest + definition.step, value + 1, definition.step))
            if definition.gap_policy.tracks_gaps and skipped > MAX_COUNT:
                raise InvalidCounterValueError(
                    f"{where}: override to {value} would skip {skipped:,} numbers, and "
                    f"{definition.gap_policy.value} records each in the gap registry (at "
                    f"most {MAX_COUNT:,} per override); choose a closer value",
                    sequence=definition.name,
                    scope=scope_key,
                )
            return highest

        state, highest = allocator.set_counter(
            self._connection, definition, key, value, check=highest_passed
        )
        skipped = range(highest + definition.step, value + 1, definition.step)
        if definition.gap_policy.tracks_gaps:
            if state.cycle > 1 and definition.overflow is OverflowBehavior.SWITCH_PATTERN:
                pattern = series_pattern(pattern, state.cycle)
            self.repositories.gaps.record_skipped(
                definition,
                scope_key,
                period=period,
                cycle=state.cycle,
                skipped=[
                    (
                        skip,
                        pattern.render(
                            skip,
                            day=day,
                            context=context,
                            fiscal_year_start=definition.fiscal_year_start,
                            cycle=state.cycle,
                        )
                        if definition.counter_by  # the series is known: show it
                        else pattern.render_without_context(
                            skip,
                            day=day,
                            fiscal_year_start=definition.fiscal_year_start,
                            cycle=state.cycle,
                        ),
                    )
                    for skip in skipped
                ],
                performed_by=performed_by,
            )
        self._record(
            definition.name,
            scope_key,
            "counter_overridden",
            counter_value=value,
            data={
                "old_value": state.value,
                "new_value": value,
                "period": period,
                "cycle": state.cycle,
            },
            performed_by=performed_by,
        )

    def _check_override(
        self,
        definition: SequenceDefinition,
        scope: str,
        key: CounterKey,
        state: CounterState,
        value: int,
    ) -> int:
        """The highest value issued or reserved from the counter, if ``value`` is above
        it; :class:`InvalidCounterValueError` if not."""
        r = self.sequencing.tables.reservations
        of_counter = matching(
            r, sequence_id=key.sequence_id, scope=key.scope, period=key.period, cycle=state.cycle
        )
        reserved = self._connection.execute(
            select(func.max(r.c.value)).where(*of_counter)
        ).scalar()
        highest = max(state.value, reserved if reserved is not None else state.value)
        if value <= highest:
            period = f" (period {key.period!r})" if key.period else ""
            raise InvalidCounterValueError(
                f"{describe(definition.name, scope)}{period}: override to {shown_int(value)} "
                "refused, "
                f"numbers up to {highest} were already issued or reserved; give a value above "
                f"{highest} (a counter never moves back, so numbers cannot repeat)",
                sequence=definition.name,
                scope=scope,
            )
        return highest

    # -- pattern versions --------------------------------------------------------------

    def define_version(
        self,
        name: str,
        pattern: str,
        *,
        effective_from: date,
        effective_until: date | None = None,
        scope: str | None = None,
        performed_by: str | None = None,
    ) -> PatternVersion:
        """Use ``pattern`` for documents dated ``effective_from`` to ``effective_until``
        (inclusive; ``None``: open-ended).  Overlapping versions are refused."""
        start = _day(effective_from, "effective_from")
        until = None if effective_until is None else _day(effective_until, "effective_until")
        if until is not None and until < start:
            raise InvalidArgumentError(
                f"effective_until {until} is before effective_from {start}: give a range"
            )
        check_actor(performed_by)
        definition = self._own(name, scope, for_update=True)
        try:
            validate_options(definition.name, definition.scope_key, pattern, definition.options())
        except PatternError as exc:
            raise PatternError(
                f"version from {start}: {exc}", sequence=definition.name, scope=definition.scope
            ) from exc
        for existing in self.repositories.pattern_versions.for_definition(definition):
            if existing.overlaps(start, until):
                end = existing.effective_until or "open end"
                raise ConfigurationError(
                    f"{definition.describe()}: a version {existing.pattern!r} is in force from "
                    f"{existing.effective_from} to {end}, which overlaps {start} to "
                    f"{until or 'open end'}; end that version earlier or start this one later",
                    sequence=definition.name,
                    scope=definition.scope,
                )
        version = PatternVersion(pattern, start, until, performed_by)
        self.repositories.pattern_versions.create(definition, version)
        self.repositories.sequences.update(
            definition, {}
        )  # a new revision: cached copies go stale
        self._record(
            definition.name,
            definition.scope_key,
            "pattern_version_created",
            data={
                "pattern": pattern,
                "previous_pattern": definition.pattern,
                "effective_from": start.isoformat(),
                "effective_until": None if until is None else until.isoformat(),
            },
            performed_by=performed_by,
        )
        self._forget_cached(definition)
        return version

    def versions(self, name: str, *, scope: str | None = None) -> builtins.list[PatternVersion]:
        """The pattern versions of the definition made for ``scope``, by start date."""
        return self.repositories.pattern_versions.for_definition(self._own(name, scope))


def _day(value: object, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise ArgumentTypeError(f"{what} must be a datetime.date, not {type(value).__name__}")
    return value


def _reason(reason: object) -> str:
    if reason is None:
        return "voided"
    if not isinstance(reason, str):
        raise ArgumentTypeError(f"reason must be a str or None, not {type(reason).__name__}")
    error = unstorable(reason, "reason")
    if error is not None:
        raise error
    if not reason.strip() or len(reason) > REASON_LENGTH:
        raise InvalidArgumentError(
            f"reason {reason[:40]!r} must be 1 to {REASON_LENGTH} characters "
            "(a short code such as 'customer_cancelled')"
        )
    return reason


def _already_void(
    where: str, definition: SequenceDefinition, scope: str, number: str, gap: Gap
) -> InvalidCounterValueError:
    if gap.status in MISSING:
        by = f" by {gap.performed_by}" if gap.performed_by else ""
        never = ", never issued" if gap.status == SKIPPED else ""
        what = f"is already a gap ({gap.reason}{by}{never}); nothing to do"
    else:
        what = (
            f"was voided ({gap.reason}) and its counter value reissued as "
            f"{gap.filled_number!r}; void that number instead"
        )
    return InvalidCounterValueError(
        f"{where}: {number!r} {what}", sequence=definition.name, scope=scope
    )
