"""What every manager and flush of one :class:`~sa_sequencing.Sequencing` shares.

:class:`Runtime` holds the tables, the lock settings, the per-database counter
strategies, the lock statistics, the host's repository classes and the one
:class:`~sa_sequencing.allocation.allocator.Allocator`.  :class:`~sa_sequencing.Sequencing`
is a :class:`Runtime` that can also make managers; the layers below the service (the
ORM hook included) are typed against :class:`Runtime`, so nothing below reaches up.
"""

from __future__ import annotations

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
from ..store.gaps import GapRepository
from ..store.repositories import AuditRepository
from ..store.repositories import CounterRepository
from ..store.repositories import SequenceRepository
from ..store.reservations import ReservationRepository
from ..store.tables import SequencingTables
from ..store.versions import PatternVersionRepository
from .allocator import Allocator

__all__ = ["DEFAULT_REPOSITORIES", "Runtime", "instances"]

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


def instances() -> list[Runtime]:
    """Every live :class:`Runtime` (the ORM hook picks a column's from them)."""
    return list(_instances)


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
        _instances.add(self)

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
