"""What every manager and flush of one :class:`~sa_sequencing.Sequencing` shares.

:class:`Runtime` holds the tables, the lock settings, the per-database counter
strategies, the lock statistics, the host's repository classes and the one
:class:`~sa_sequencing.allocation.allocator.Allocator`.  :class:`~sa_sequencing.Sequencing`
is a :class:`Runtime` that can also make managers; the layers below the service (the
ORM hook included) are typed against :class:`Runtime`, so nothing below reaches up.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine

from ..dialects.base import CounterStrategy
from ..dialects.base import StrategyCache
from ..dialects.stats import LockStats
from ..errors import ConfigurationError
from ..rules.declarations import COLUMN_INFO_KEY
from ..rules.declarations import DeclarationRegistry
from ..rules.declarations import SequenceDeclaration
from ..rules.declarations import declare_sequence
from ..store.gaps import GapRepository
from ..store.repositories import AuditRepository
from ..store.repositories import CounterRepository
from ..store.repositories import SequenceRepository
from ..store.reservations import ReservationRepository
from ..store.tables import SequencingTables
from ..store.versions import PatternVersionRepository
from .allocator import Allocator

__all__ = ["DEFAULT_REPOSITORIES", "Runtime", "declare_for_column", "instances"]

_R = TypeVar("_R")

#: The library's repository class of each role; a host's must subclass it.
DEFAULT_REPOSITORIES: dict[str, type[Any]] = {
    "sequence": SequenceRepository,
    "counter": CounterRepository,
    "reservation": ReservationRepository,
    "gap": GapRepository,
    "pattern_version": PatternVersionRepository,
    "audit": AuditRepository,
}

_instances: weakref.WeakSet[Runtime] = weakref.WeakSet()

#: Declarations of ``SequenceColumn(..., pattern=...)`` without ``sequencing=``, with
#: their column: which Sequencing they belong to is known only once the column is on a
#: table (see :meth:`Runtime.declared`).
_column_declarations: list[tuple[SequenceDeclaration, weakref.ref[Any]]] = []


def instances() -> list[Runtime]:
    """Every live :class:`Runtime` (the ORM hook picks a column's from them)."""
    return list(_instances)


def declare_for_column(
    declaration: SequenceDeclaration, column: Any, sequencing: Runtime | None
) -> None:
    """Record the declaration of a ``SequenceColumn``: on ``sequencing`` when the column
    names one, else until :meth:`Runtime.declared` finds the column's Sequencing."""
    if sequencing is not None:
        sequencing.declarations.add(declaration)
    else:
        _column_declarations.append((declaration, weakref.ref(column)))


def _serving(column: Any) -> Runtime | None:
    """The Sequencing that numbers ``column`` when its ``SequenceColumn`` named none,
    by the ORM hook's rule: the one on the column's metadata, else the only one."""
    every = instances()
    metadata = getattr(getattr(column, "table", None), "metadata", None)
    mine = [s for s in every if s.metadata is metadata]
    if len(mine) == 1:
        return mine[0]
    if not mine and len(every) == 1:
        return every[0]
    return None


def check_repositories(given: Mapping[str, type[Any]]) -> dict[str, type[Any]]:
    """``given`` (the host's repository classes by role), checked."""
    for role, cls in given.items():
        if role not in DEFAULT_REPOSITORIES:
            raise ConfigurationError(
                f"unknown repository role {role!r}: use one of {', '.join(DEFAULT_REPOSITORIES)}"
            )
        default = DEFAULT_REPOSITORIES[role]
        if not (isinstance(cls, type) and issubclass(cls, default)):
            raise ConfigurationError(
                f"repositories[{role!r}] must subclass {default.__name__}, got {cls!r}"
            )
    return dict(given)


class Runtime:
    """The tables and machinery one set of sequencing tables shares (see the module)."""

    def __init__(
        self,
        tables: SequencingTables,
        *,
        lock_timeout: float | None,
        lock_retries: int,
        repositories: Mapping[str, type[Any]],
    ) -> None:
        self.tables = tables
        self.lock_timeout = lock_timeout
        self.lock_retries = lock_retries
        self._repositories = dict(repositories)  # checked by check_repositories
        self.stats = LockStats()
        self.strategies = StrategyCache(
            tables, lock_timeout=lock_timeout, lock_retries=lock_retries, stats=self.stats
        )
        self.allocator = Allocator(tables, self.strategies)
        self.declarations = DeclarationRegistry()
        _instances.add(self)

    def declare(
        self, name: str, pattern: str, *, scope: str | None = None, **options: Any
    ) -> SequenceDeclaration:
        """Declare a sequence in code, where the models are declared; return the
        :class:`~sa_sequencing.SequenceDeclaration`.

        Takes what :meth:`~sa_sequencing.SequenceManager.define` takes (but
        ``performed_by`` and ``exist_ok``), and checks it now by the same rules: a bad
        option fails at import.  Nothing is written: :meth:`sync` stores the
        declarations (or, with ``create_declared="on_first_use"``, the first number
        drawn does).  Declaring the same (name, scope) again identically is harmless;
        differently, a :class:`~sa_sequencing.ConfigurationError`.

        :param scope: ``None`` (the default) declares the global definition, which
          serves every scope without one of its own; a scope declares that scope's.
        """
        return self.declarations.add(declare_sequence(name, pattern, scope=scope, **options))

    def declared(self) -> list[SequenceDeclaration]:
        """Every declaration this Sequencing serves, by (name, scope): those of
        :meth:`declare` and those of the ``SequenceColumn(..., pattern=...)`` it numbers."""
        found = DeclarationRegistry()
        for declaration in self.declarations:
            found.add(declaration)
        for declaration, ref in list(_column_declarations):
            column = ref()
            if column is None:
                # Another thread may have dropped it first: both mean it is gone.
                with contextlib.suppress(ValueError):
                    _column_declarations.remove((declaration, ref))
            elif _serving(column) is self:
                found.add(declaration)
        # A column copied from a mixin is not the one SequenceColumn made: find it here.
        for table in self.metadata.tables.values():
            for column in table.columns:
                spec = column.info.get(COLUMN_INFO_KEY)
                declared = getattr(spec, "declaration", None)
                if declared is not None and getattr(spec, "sequencing", None) is None:
                    found.add(declared)
        return sorted(found, key=lambda d: d.key)

    def release_pools(self, engine: Engine | None = None) -> int:
        """Give back the numbers this process holds for pooled sequences
        (``cache_size=N``, see :ref:`pooled-numbers`): every pool (of ``engine``) is
        dropped, and its unused values are recorded as gaps with reason ``cache``
        where the definition's policy tracks gaps, in a short transaction of their own
        per pool.  Call it at clean shutdown (it also runs at interpreter exit) or
        before :meth:`~sqlalchemy.engine.Engine.dispose`; later draws take new blocks.
        Returns how many gap rows were added."""
        return self.allocator.pools.release(engine)

    def repository_class(self, role: str, default: type[_R]) -> type[_R]:
        """The repository class managers use for ``role``: the host's, else ``default``."""
        return self._repositories.get(role, default)

    @property
    def metadata(self) -> MetaData:
        return self.tables.sequences.metadata

    def strategy(self, conn: Connection) -> CounterStrategy:
        """The counter strategy for the connection's database."""
        return self.strategies.get(conn)
