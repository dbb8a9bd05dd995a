"""The :class:`SequenceManager`: everything a caller does with sequences, in the
caller's transaction.

A manager is cheap: ``sequencing.manager(session)`` per unit of work.  Nothing it
does commits: definitions, numbers and audit rows become permanent when the
session's transaction commits, and a rollback takes them all back.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import date
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from ..allocation.batch import NumberRequest
from ..allocation.batch import generate_batch
from ..errors import ArgumentTypeError
from ..errors import ConfigurationError
from ..errors import DuplicateSequenceError
from ..errors import PatternError
from ..errors import SequenceNotFoundError
from ..errors import describe
from ..rules.checks import check_actor
from ..rules.checks import check_count
from ..rules.checks import check_flag
from ..rules.definitions import COUNTING_OPTIONS
from ..rules.definitions import DEFAULTS
from ..rules.definitions import SequenceDefinition
from ..rules.definitions import check_counter_by
from ..rules.definitions import normalize_name
from ..rules.definitions import normalize_scope
from ..rules.definitions import validate_options
from ..rules.enums import GapPolicy
from ..rules.enums import OverflowBehavior
from ..rules.enums import ResetPeriod
from ..store.repositories import ALL_SCOPES
from ..store.repositories import AuditEntry
from .base import translates_database_errors
from .lifecycle import LifecycleMixin
from .metrics import MetricsMixin
from .pooling import PoolingMixin
from .reservations import ReservationsMixin

if TYPE_CHECKING:
    pass

__all__ = ["SequenceManager"]


@translates_database_errors
class SequenceManager(LifecycleMixin, ReservationsMixin, MetricsMixin, PoolingMixin):
    """Define sequences and draw numbers from them within one :class:`Session`.

    The number lifecycle (voids, gaps, reservations, overrides, pattern versions,
    metrics) comes from :class:`~sa_sequencing.service.lifecycle.LifecycleMixin`,
    :class:`~sa_sequencing.service.reservations.ReservationsMixin` and
    :class:`~sa_sequencing.service.metrics.MetricsMixin`.
    """

    # -- definitions -------------------------------------------------------------------

    def define(
        self,
        name: str,
        pattern: str,
        *,
        scope: str | None = None,
        reset_period: ResetPeriod | str = ResetPeriod.NEVER,
        reset_limit: int | None = None,
        step: int = 1,
        start: int = 1,
        gap_policy: GapPolicy | str = GapPolicy.ALLOW_GAPS,
        overflow: OverflowBehavior | str = OverflowBehavior.THROW_EXCEPTION,
        exhaustion_threshold: int = 90,
        timezone: str = "UTC",
        fiscal_year_start: int = 1,
        cache_size: int = 0,
        audit_numbers: bool = True,
        allow_repeats: bool = False,
        counter_by: tuple[str, ...] | builtins.list[str] = (),
        metadata: Mapping[str, Any] | None = None,
        performed_by: str | None = None,
        exist_ok: bool = False,
    ) -> SequenceDefinition:
        """Create a definition; :class:`~sa_sequencing.DuplicateSequenceError` if it exists.

        ``scope=None`` makes a global definition, the template for every scope that has
        none of its own (each scope still counts on its own counter).

        With ``exist_ok=True`` an application can define its sequences at every start:
        a stored definition identical to this one (pattern and every option) is
        returned unchanged, with no audit row; one that differs raises
        :class:`~sa_sequencing.DuplicateSequenceError` naming each difference (its
        ``differences`` maps option to ``(stored, given)``), and nothing is changed:
        use :meth:`update` for that.

        :param name: the sequence's name (up to 100 characters, no control characters).
        :param pattern: the number's pattern, such as ``"INV-{YEAR}-{COUNTER:5}"`` (see
          :mod:`sa_sequencing.rules.patterns`); it must hold ``{COUNTER}`` once.
        :param scope: the tenant this definition is for; ``None`` (the default) makes
          the global definition that serves every scope without one of its own.
        :param reset_period: when the counter restarts at ``start``: ``"never"``,
          ``"daily"``, ``"monthly"``, ``"yearly"`` or ``"fiscal_yearly"``, by the
          document's date in ``timezone``.
        :param reset_limit: restart the counter after this many numbers (within the
          period); ``None``: no count-based restart.
        :param step: what each number adds to the counter (``>= 1``).
        :param start: the first counter value of every period (``>= 0``).
        :param gap_policy: what becomes of a voided or released number:
          ``"allow_gaps"`` (only the ledger records it), ``"report_gaps_only"`` (the
          gap registry records it) or ``"fill_gaps"`` (recorded and served again).
        :param overflow: what happens when ``{COUNTER:N}`` is full:
          ``"throw_exception"`` (:class:`~sa_sequencing.SequenceExhaustedError`),
          ``"extend_padding"`` (numbers grow a digit) or ``"switch_pattern"`` (the
          next series, ``INV-A-0001``).
        :param exhaustion_threshold: the percentage of ``{COUNTER:N}``'s capacity at
          which a ledger row and a :class:`~sa_sequencing.SequenceExhaustionWarning`
          say the end is near (1-100).
        :param timezone: the IANA zone in which document dates are read.
        :param fiscal_year_start: the month (1-12) a fiscal year starts in, for
          ``fiscal_yearly`` resets and the ``{FY}`` token.
        :param cache_size: ``0`` (the default): gapless.  ``N`` (1 to 1,000,000):
          pooled, not gapless: each process serves numbers from blocks of ``N`` taken
          in a short transaction of their own (see :ref:`pooled-numbers`);
          ``update(cache_size=...)`` switches between the two at any time.
        :param audit_numbers: write one ``number_generated`` ledger row per issued
          number (the default); ``False`` keeps only the events.
        :param allow_repeats: accept a pattern that would repeat numbers (a reset
          period without the period's date tokens, a ``reset_limit`` without
          ``{CYCLE}``), refused otherwise.
        :param counter_by: context variables of the pattern whose values each get their
          own counter, gap registry and ledger story (a per-series counter, as
          Frappe's naming series): with ``counter_by=("DEPARTMENT",)`` the pattern
          ``INV-{YEAR}-{DEPARTMENT}-{COUNTER:5}`` gives ``INV-2026-SALES-00001`` and
          ``INV-2026-HR-00001``.  Each name must be a context variable of the pattern
          (and of every pattern version); a series is the value as the number shows
          it.  Fixed once numbers were issued.  Default ``()``: one counter for all.
        :param performed_by: the actor recorded in the ledger (up to 255 characters).
        :param exist_ok: return an identical stored definition instead of raising.
        """
        name = normalize_name(name)
        scope_key = normalize_scope(scope)
        options = {
            "reset_period": reset_period,
            "reset_limit": reset_limit,
            "step": step,
            "start": start,
            "gap_policy": gap_policy,
            "overflow": overflow,
            "exhaustion_threshold": exhaustion_threshold,
            "timezone": timezone,
            "fiscal_year_start": fiscal_year_start,
            "cache_size": cache_size,
            "audit_numbers": audit_numbers,
            "allow_repeats": allow_repeats,
            "metadata": metadata,
            "counter_by": counter_by,
        }
        values = validate_options(name, scope_key, pattern, options)
        check_flag(exist_ok, "exist_ok")
        check_actor(performed_by)
        if exist_ok:
            existing = self.repositories.sequences.get_exact(name, scope_key)
            if existing is not None:
                return _same_definition(existing, values)
        try:
            definition = self.repositories.sequences.create(name, scope_key, values)
        except DuplicateSequenceError:
            # A concurrent define won the race: with exist_ok, compare against it.  A
            # locking read sees its row even where this transaction's snapshot predates
            # it (InnoDB's REPEATABLE READ); a shared one, because every loser of the
            # insert race already holds a shared lock on the key, and two of them
            # upgrading to exclusive deadlock each other (MariaDB, 3+ racers).
            existing = (
                self.repositories.sequences.get_exact(name, scope_key, for_share=True)
                if exist_ok
                else None
            )
            if existing is None:
                raise
            return _same_definition(existing, values)
        self._record(
            name,
            scope_key,
            "pattern_created",
            data={"pattern": pattern, **_jsonable(definition.options())},
            performed_by=performed_by,
        )
        return definition

    def find(self, name: str, *, scope: str | None = None) -> SequenceDefinition | None:
        """The definition serving ``scope`` (its own, else the global one), or ``None``."""
        return self.repositories.sequences.find(normalize_name(name), normalize_scope(scope))

    def get(self, name: str, *, scope: str | None = None) -> SequenceDefinition:
        """Like :meth:`find`, but :class:`~sa_sequencing.SequenceNotFoundError` if none."""
        definition = self.find(name, scope=scope)
        if definition is None:
            raise SequenceNotFoundError(
                f"{describe(name, normalize_scope(scope))} is not defined: define it first",
                sequence=name,
                scope=normalize_scope(scope),
            )
        return definition

    def list(self, *, scope: Any = ALL_SCOPES) -> builtins.list[SequenceDefinition]:
        """Definitions ordered by name: all of them, or those made for ``scope``
        (``scope=None``: the global ones)."""
        if scope is ALL_SCOPES:
            return self.repositories.sequences.list()
        return self.repositories.sequences.list(normalize_scope(scope))

    def update(
        self,
        name: str,
        *,
        scope: str | None = None,
        performed_by: str | None = None,
        **changes: Any,
    ) -> SequenceDefinition:
        """Change options (and/or ``pattern``) of the definition made for ``scope``.

        The whole changed definition is validated as ``define`` would; options that
        decide which counter a document draws from (``reset_period``, ``reset_limit``,
        ``fiscal_year_start``, ``counter_by``) cannot change once numbers were issued,
        because the counters already issued would be orphaned and numbers could repeat.

        :param name: the sequence to change.
        :param scope: the scope whose own definition changes (``None``: the global
          one; a scope served by the global definition has none to change).
        :param performed_by: the actor recorded with the ``sequence_updated`` row.
        :param changes: ``pattern=`` and any option of :meth:`define`, with the same
          meaning and checks.  A change of pattern that should apply only to documents
          dated from some day on is :meth:`define_version`'s job.
        """
        check_actor(performed_by)
        definition = self._own(name, scope, for_update=True)
        allowed = set(DEFAULTS) | {"pattern"}
        unknown = set(changes) - allowed
        if unknown:
            raise ArgumentTypeError(
                f"update() got unknown option(s) {', '.join(sorted(unknown))}; "
                f"changeable: {', '.join(sorted(allowed))}"
            )
        current = definition.options()
        merged = {**current, **{k: v for k, v in changes.items() if k != "pattern"}}
        pattern = changes.get("pattern", definition.pattern)
        values = validate_options(definition.name, definition.scope_key, pattern, merged)
        old = {"pattern": definition.pattern, **_jsonable(current)}
        new = {"pattern": values["pattern"], **_jsonable(_options_view(values))}
        changed = {k: [old[k], new[k]] for k in new if old.get(k) != new[k]}
        if not changed:
            return definition
        counting = sorted(COUNTING_OPTIONS & set(changed))
        if counting and self.repositories.sequences.has_counters(definition):
            raise ConfigurationError(
                f"{definition.describe()}: {', '.join(counting)} cannot change once numbers "
                "were issued (documents already numbered would share counters with new "
                "ones); define a new sequence instead",
                sequence=definition.name,
                scope=definition.scope,
            )
        if "counter_by" in changed:
            # The pattern versions must show the series too (define_version checks the
            # versions made after counter_by; these were made before it).
            for version in self.repositories.pattern_versions.for_definition(definition):
                check_counter_by(
                    values["counter_by"],
                    version.compiled,
                    f"{definition.describe()}: pattern version from {version.effective_from}",
                    definition.name,
                    definition.scope_key,
                )
        columns = {
            k: values[k]
            for k in values
            if k in changed or (k == "metadata_" and "metadata" in changed)
        }
        updated = self.repositories.sequences.update(definition, columns)
        self._record(
            definition.name,
            definition.scope_key,
            "pattern_modified",
            data={"changes": changed},
            performed_by=performed_by,
        )
        self.sequencing.allocator.cache.discard(self._connection.engine, definition.name)
        return updated

    def delete(
        self, name: str, *, scope: str | None = None, performed_by: str | None = None
    ) -> None:
        """Delete the definition made for ``scope`` with its counters and registries.

        The audit ledger keeps its rows, and gets a ``sequence_deleted`` one.
        """
        check_actor(performed_by)
        definition = self._own(name, scope, for_update=True)
        self.repositories.sequences.delete(definition)
        self._record(
            definition.name,
            definition.scope_key,
            "sequence_deleted",
            data={"pattern": definition.pattern},
            performed_by=performed_by,
        )
        self.sequencing.allocator.cache.discard(self._connection.engine, definition.name)

    def lock(
        self, name: str, *, scope: str | None = None, performed_by: str | None = None
    ) -> None:
        """Freeze a sequence: it issues nothing until :meth:`unlock`."""
        self._set_locked(name, scope, True, performed_by)

    def unlock(
        self, name: str, *, scope: str | None = None, performed_by: str | None = None
    ) -> None:
        """Lift :meth:`lock`."""
        self._set_locked(name, scope, False, performed_by)

    def _set_locked(
        self, name: str, scope: str | None, locked: bool, performed_by: str | None
    ) -> None:
        check_actor(performed_by)
        definition = self._own(name, scope, for_update=True)
        if definition.is_locked == locked:
            return
        self.repositories.sequences.update(definition, {"is_locked": locked})
        self._record(
            definition.name,
            definition.scope_key,
            "sequence_locked" if locked else "sequence_unlocked",
            performed_by=performed_by,
        )
        self.sequencing.allocator.cache.discard(self._connection.engine, definition.name)

    # -- numbers --------------------------------------------------------------------------

    def generate(
        self,
        name: str,
        *,
        scope: str | None = None,
        context: Mapping[str, object] | None = None,
        date: date | datetime | None = None,
        performed_by: str | None = None,
    ) -> str:
        """The next number, drawn in the session's transaction.

        The counter row stays locked until the transaction ends; a rollback gives the
        number back.  ``date`` is the document date (default: today in the sequence's
        time zone): it picks the reset period and fills the date tokens.
        """
        issued = self.sequencing.allocator.allocate(
            self._connection, name, scope, 1, context=context, day=date, performed_by=performed_by
        )
        return issued[0].number

    def generate_many(
        self,
        name: str,
        count: int,
        *,
        scope: str | None = None,
        context: Mapping[str, object] | None = None,
        date: date | datetime | None = None,
        performed_by: str | None = None,
    ) -> builtins.list[str]:
        """``count`` consecutive numbers, with one counter statement."""
        issued = self.sequencing.allocator.allocate(
            self._connection,
            name,
            scope,
            count,
            context=context,
            day=date,
            performed_by=performed_by,
        )
        return [item.number for item in issued]

    def generate_batch(
        self,
        requests: Iterable[NumberRequest],
        *,
        performed_by: str | None = None,
    ) -> builtins.list[builtins.list[str]]:
        """Numbers from several sequences at once: for each
        :class:`~sa_sequencing.NumberRequest`, its ``count`` numbers.

        The counters are locked in one fixed order, sorted by (sequence, scope,
        period), whatever the order of the requests, so two transactions drawing
        from the same sequences never deadlock; each counter moves once.
        """
        return generate_batch(
            self.sequencing.allocator, self._connection, requests, performed_by=performed_by
        )

    def preview(
        self,
        name: str,
        *,
        scope: str | None = None,
        context: Mapping[str, object] | None = None,
        date: date | datetime | None = None,
    ) -> str:
        """Exactly what :meth:`generate` would return now, changing nothing.

        It raises what :meth:`generate` would raise (locked, exhausted, a missing
        context variable).  Another transaction may of course draw the number first.
        """
        return self.sequencing.allocator.preview(
            self._connection, name, scope, context=context, day=date
        ).number

    # -- reading numbers back -------------------------------------------------------------

    def validate(self, name: str, number: str, *, scope: str | None = None) -> bool:
        """Whether ``number`` has the form of the sequence's pattern.

        Safe on untrusted text: any ``str`` (empty, huge, with NUL characters or lone
        surrogates) gives ``True`` or ``False``; only a non-``str`` is an error.
        """
        if not isinstance(number, str):
            raise ArgumentTypeError(f"number must be a str, not {type(number).__name__}")
        return any(p.validate(number) for p in self._patterns(self.get(name, scope=scope)))

    def parse(self, name: str, number: str, *, scope: str | None = None) -> dict[str, int | str]:
        """The fields of ``number`` (``{'YEAR': 2026, 'COUNTER': 42, ...}``)."""
        if not isinstance(number, str):
            raise ArgumentTypeError(f"number must be a str, not {type(number).__name__}")
        definition = self.get(name, scope=scope)
        patterns = self._patterns(definition)
        try:
            return next((p for p in patterns if p.validate(number)), patterns[0]).parse(number)
        except PatternError as exc:
            raise PatternError(
                f"{definition.describe(normalize_scope(scope))}: {exc}",
                sequence=definition.name,
                scope=normalize_scope(scope),
            ) from exc

    def audit_log(
        self, name: str | None = None, *, scope: Any = ALL_SCOPES, limit: int | None = 100
    ) -> builtins.list[AuditEntry]:
        """The latest ``limit`` ledger entries (of one sequence, or all), oldest first."""
        if limit is not None:
            check_count(limit, minimum=0, what="limit")
        if name is not None:
            name = normalize_name(name)
        if scope is not ALL_SCOPES:
            scope = normalize_scope(scope)
        return self.repositories.audits.entries(name, scope=scope, limit=limit)


def _same_definition(
    existing: SequenceDefinition, values: Mapping[str, Any]
) -> SequenceDefinition:
    """``existing`` when ``values`` (validated) define it exactly; else the
    :class:`~sa_sequencing.DuplicateSequenceError` of ``define(exist_ok=True)``."""
    stored = {"pattern": existing.pattern, **_jsonable(existing.options())}
    given = {"pattern": values["pattern"], **_jsonable(_options_view(values))}
    differences = {k: (stored.get(k), given[k]) for k in given if stored.get(k) != given[k]}
    if not differences:
        return existing
    listed = "; ".join(f"{k}: stored {a!r}, given {b!r}" for k, (a, b) in differences.items())
    error = DuplicateSequenceError(
        f"{existing.describe()} is already defined differently ({listed}): change it with "
        "update(), or define it as stored",
        sequence=existing.name,
        scope=existing.scope,
    )
    error.differences = differences
    raise error


def _options_view(values: Mapping[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in values.items() if k in DEFAULTS}
    view["metadata"] = values.get("metadata_")
    return view


def _jsonable(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if hasattr(v, "value") else v) for k, v in options.items()}
