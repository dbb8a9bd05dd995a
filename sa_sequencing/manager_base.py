"""The base of :class:`~sa_sequencing.SequenceManager`: what its parts share.

The manager's methods live in :mod:`sa_sequencing.manager` (definitions, numbers),
:mod:`sa_sequencing.lifecycle` (voids, gaps, overrides, versions),
:mod:`sa_sequencing.reservations` and :mod:`sa_sequencing.metrics`; each part
subclasses :class:`ManagerBase`, which holds the session, the connection the numbers
are drawn on, the repositories (made on first use) and the lookups of definitions.
"""

from __future__ import annotations

import builtins
import functools
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .definitions import SequenceDefinition
from .definitions import normalize_name
from .definitions import normalize_scope
from .enums import OverflowBehavior
from .errors import SequenceNotFoundError
from .errors import describe
from .gaps import GapRepository
from .overflow import series_pattern
from .patterns import Pattern
from .repositories import AuditRepository
from .repositories import CounterRepository
from .repositories import SequenceRepository
from .versions import PatternVersionRepository

if TYPE_CHECKING:
    from .reservations import ReservationRepository
    from .sequencing import Sequencing

__all__ = ["ManagerBase"]

_R = TypeVar("_R")


class ManagerBase:
    """What every part of :class:`~sa_sequencing.SequenceManager` stands on: its
    session and connection, its repositories, and the definitions it works on."""

    sequencing: Sequencing
    session: Session

    # The repositories are made on first use: a manager that only draws numbers (the
    # hot path, one manager per transaction) needs none of them.

    @functools.cached_property
    def sequences(self) -> SequenceRepository:
        return self._repository("sequence", SequenceRepository)

    @functools.cached_property
    def counters(self) -> CounterRepository:
        return self._repository("counter", CounterRepository)

    @functools.cached_property
    def audits(self) -> AuditRepository:
        return self._repository("audit", AuditRepository)

    @functools.cached_property
    def gap_registry(self) -> GapRepository:
        return self._repository("gap", GapRepository)

    @functools.cached_property
    def reservations(self) -> ReservationRepository:
        from .reservations import ReservationRepository  # it imports this module

        return self._repository("reservation", ReservationRepository)

    @functools.cached_property
    def pattern_versions(self) -> PatternVersionRepository:
        return self._repository("pattern_version", PatternVersionRepository)

    def _repository(self, role: str, default: type[_R]) -> _R:
        cls: Any = self.sequencing.repository_class(role, default)
        repository: _R = cls(self.session, self.sequencing.tables)
        return repository

    @property
    def _connection(self) -> Connection:
        return self.session.connection(
            bind_arguments={"mapper": self.sequencing.tables.sequence_class}
        )

    def _own(
        self, name: str, scope: str | None, *, for_update: bool = False
    ) -> SequenceDefinition:
        name = normalize_name(name)
        scope_key = normalize_scope(scope)
        definition = self.sequences.get_exact(name, scope_key, for_update=for_update)
        if definition is None:
            hint = (
                "; the global definition serves this scope: pass scope=None to change it, "
                "or define one for the scope"
                if scope_key and self.sequences.get_exact(name, "") is not None
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

    def _patterns(self, definition: SequenceDefinition) -> builtins.list[Pattern]:
        """Every pattern numbers of ``definition`` may have: its own, its versions', and
        the series patterns of ``switch_pattern`` reached so far."""
        patterns = [definition.compiled]
        patterns += [v.compiled for v in self.pattern_versions.for_definition(definition)]
        if definition.overflow is OverflowBehavior.SWITCH_PATTERN:
            cycles = max((c.cycle for c in self.counters.for_sequence(definition)), default=1)
            base = list(patterns)
            patterns += [series_pattern(p, c) for c in range(2, cycles + 1) for p in base]
        return patterns
