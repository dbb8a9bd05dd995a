"""The base of :class:`~sa_sequencing.SequenceManager`: what its parts share.

The manager's methods live in :mod:`~sa_sequencing.service.manager` (definitions,
numbers), :mod:`~sa_sequencing.service.lifecycle` (voids, gaps, overrides, versions),
:mod:`~sa_sequencing.service.reservations` and :mod:`~sa_sequencing.service.metrics`;
each part subclasses :class:`ManagerBase`, which holds the session, the connection the
numbers are drawn on, the repositories (:attr:`ManagerBase.repositories`, made on first
use) and the lookups of definitions.
"""

from __future__ import annotations

import builtins
import functools
import inspect
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..allocation.runtime import Runtime
from ..errors import SequenceNotFoundError
from ..errors import describe
from ..faults import busy_error
from ..faults import classify
from ..logs import ledger_event
from ..logs import locks as _lock_log
from ..rules.definitions import SequenceDefinition
from ..rules.definitions import normalize_name
from ..rules.definitions import normalize_scope
from ..rules.enums import OverflowBehavior
from ..rules.patterns import Pattern
from ..rules.series import series_pattern
from ..store.gaps import GapRepository
from ..store.repositories import AuditRepository
from ..store.repositories import CounterRepository
from ..store.repositories import SequenceRepository
from ..store.reservations import ReservationRepository
from ..store.versions import PatternVersionRepository

__all__ = ["ManagerBase", "Repositories", "translates_database_errors"]

_R = TypeVar("_R")
_C = TypeVar("_C", bound=type)


def _translating(method: Callable[..., _R]) -> Callable[..., _R]:
    signature = inspect.signature(method)

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> _R:
        try:
            return method(*args, **kwargs)
        except DBAPIError as exc:
            # Only on the error path: which sequence the call was about, for the message.
            given = signature.bind_partial(*args, **kwargs).arguments
            name, scope = given.get("name"), given.get("scope")
            busy = busy_error(
                exc,
                sequence=name if isinstance(name, str) else None,
                scope=scope if isinstance(scope, str) else None,
            )
            if busy is None:
                raise
            _lock_log.warning(
                "%s raised SequenceBusyError: %s",
                method.__name__,
                busy,
                extra={
                    "event": "busy",
                    "sequence": getattr(busy, "sequence", None),
                    "scope": getattr(busy, "scope", None),
                    "fault": classify(exc).value,
                    "retryable": getattr(busy, "retryable", False),
                },
            )
            raise busy from exc

    return call


def translates_database_errors(cls: _C) -> _C:
    """Make every public method of ``cls`` (its bases' included) raise a database
    error as the :class:`~sa_sequencing.SequenceBusyError` it means to a caller
    (:func:`sa_sequencing.faults.busy_error`: a serialization failure, a deadlock, a
    Galera conflict or a node not ready is ``retryable``; a lock wait that ran out is
    not), with the driver's error as ``__cause__``.  Errors that mean no such thing
    (a lost connection) are raised as they are.

    The manager's entry points are its public methods, and every statement the
    library sends for a caller runs inside one of them (the flush hook has its own
    boundary in :mod:`sa_sequencing.allocation.batch`), so this is the one place where
    the library's database errors are given their meaning.
    """
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attribute = inspect.getattr_static(cls, name)
        if inspect.isfunction(attribute):
            setattr(cls, name, _translating(attribute))
    return cls


class Repositories:
    """A manager's repositories, by role: the host's classes where
    :class:`~sa_sequencing.Sequencing` was given some, the library's elsewhere.

    Each is made on first use: a manager that only draws numbers (the hot path, one
    manager per transaction) makes none of them.
    """

    def __init__(self, runtime: Runtime, session: Session) -> None:
        self._runtime = runtime
        self._session = session

    def _make(self, role: str, default: type[_R]) -> _R:
        cls: Any = self._runtime.repository_class(role, default)
        repository: _R = cls(self._session, self._runtime.tables)
        return repository

    @functools.cached_property
    def sequences(self) -> SequenceRepository:
        return self._make("sequence", SequenceRepository)

    @functools.cached_property
    def counters(self) -> CounterRepository:
        return self._make("counter", CounterRepository)

    @functools.cached_property
    def audits(self) -> AuditRepository:
        return self._make("audit", AuditRepository)

    @functools.cached_property
    def gaps(self) -> GapRepository:
        return self._make("gap", GapRepository)

    @functools.cached_property
    def reservations(self) -> ReservationRepository:
        return self._make("reservation", ReservationRepository)

    @functools.cached_property
    def pattern_versions(self) -> PatternVersionRepository:
        return self._make("pattern_version", PatternVersionRepository)


class ManagerBase:
    """What every part of :class:`~sa_sequencing.SequenceManager` stands on: its
    session and connection, its repositories, and the definitions it works on."""

    def __init__(self, sequencing: Runtime, session: Session) -> None:
        self.sequencing = sequencing
        self.session = session
        self.repositories = Repositories(sequencing, session)

    @property
    def _connection(self) -> Connection:
        return self.session.connection(
            bind_arguments={"mapper": self.sequencing.tables.sequence_class}
        )

    def _record(
        self,
        sequence: str,
        scope: str,
        event: str,
        *,
        number: str | None = None,
        counter_value: int | None = None,
        data: dict[str, Any] | None = None,
        performed_by: str | None = None,
    ) -> None:
        """Write a lifecycle event's ledger row, and log it (INFO, ``sa_sequencing.lifecycle``)."""
        self.repositories.audits.record(
            sequence,
            scope,
            event,
            number=number,
            counter_value=counter_value,
            data=data,
            performed_by=performed_by,
        )
        ledger_event(
            event,
            sequence,
            scope,
            performed_by=performed_by,
            data=data,
            number=number,
            value=counter_value,
        )

    def _own(
        self, name: str, scope: str | None, *, for_update: bool = False
    ) -> SequenceDefinition:
        name = normalize_name(name)
        scope_key = normalize_scope(scope)
        definition = self.repositories.sequences.get_exact(name, scope_key, for_update=for_update)
        if definition is None:
            hint = (
                "; the global definition serves this scope: pass scope=None to change it, "
                "or define one for the scope"
                if scope_key and self.repositories.sequences.get_exact(name, "") is not None
                else ""
            )
            raise SequenceNotFoundError(
                f"{describe(name, scope_key)} is not defined{hint}",
                sequence=name,
                scope=scope_key,
            )
        return definition

    def _serving(
        self, name: str, scope: object, *, shared_lock: bool = False
    ) -> tuple[SequenceDefinition, str]:
        """The definition serving (name, scope), with its versions, and the scope key."""
        name = normalize_name(name)
        scope_key = normalize_scope(scope)
        allocator = self.sequencing.allocator
        definition = allocator.load(self._connection, name, scope_key, shared_lock=shared_lock)
        return definition, scope_key

    def _base_patterns(self, definition: SequenceDefinition) -> builtins.list[Pattern]:
        """The patterns numbers of ``definition`` may have, before ``switch_pattern``'s
        series: its own, its versions' and those ``update(pattern=...)`` replaced."""
        patterns = [definition.compiled]
        patterns += [
            v.compiled for v in self.repositories.pattern_versions.for_definition(definition)
        ]
        for source in self.repositories.audits.former_patterns(
            definition.name, definition.scope_key
        ):
            if all(p.source != source for p in patterns):
                patterns.append(Pattern.compile(source))
        return patterns

    def _patterns(self, definition: SequenceDefinition) -> builtins.list[Pattern]:
        """Every pattern numbers of ``definition`` may have: :meth:`_base_patterns`
        and the series patterns of ``switch_pattern`` reached so far."""
        patterns = self._base_patterns(definition)
        if definition.overflow is OverflowBehavior.SWITCH_PATTERN:
            cycles = max(
                (c.cycle for c in self.repositories.counters.for_sequence(definition)), default=1
            )
            base = list(patterns)
            patterns += [series_pattern(p, c) for c in range(2, cycles + 1) for p in base]
        return patterns
