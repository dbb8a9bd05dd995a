"""The :class:`Sequencing` object: tables on the host's metadata, and managers.

::

    class Base(DeclarativeBase):
        pass

    sequencing = Sequencing(Base)                  # or Sequencing(metadata)
    Base.metadata.create_all(engine)               # creates the six tables

    with Session(engine) as session, session.begin():
        seqs = sequencing.manager(session)
        seqs.define("invoice_number", "INV-{YEAR}-{COUNTER:5}", reset_period="yearly")
        seqs.generate("invoice_number")            # 'INV-2026-00001'
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from typing import overload

from sqlalchemy import MetaData
from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import scoped_session

from .dialects.base import CounterStrategy
from .dialects.base import registered_strategy
from .errors import ArgumentTypeError
from .errors import ConfigurationError
from .errors import InvalidArgumentError
from .models import AuditMixin
from .models import CounterMixin
from .models import GapMixin
from .models import PatternVersionMixin
from .models import ReservationMixin
from .models import SequenceMixin
from .stats import LockStats

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_scoped_session

    from .allocation import Allocator
    from .asyncio import AsyncSequenceManager
    from .manager import SequenceManager

__all__ = ["Sequencing", "SequencingTables", "instances"]

_instances: weakref.WeakSet[Sequencing] = weakref.WeakSet()


def instances() -> list[Sequencing]:
    """Every live :class:`Sequencing` (the ORM hook picks a column's from them)."""
    return list(_instances)


_R = TypeVar("_R")

_ROLES: dict[str, tuple[str, type[Any]]] = {
    "sequence": ("sequences", SequenceMixin),
    "counter": ("sequence_counters", CounterMixin),
    "reservation": ("sequence_reservations", ReservationMixin),
    "gap": ("sequence_gaps", GapMixin),
    "pattern_version": ("sequence_pattern_versions", PatternVersionMixin),
    "audit": ("sequence_audits", AuditMixin),
}


@dataclass(frozen=True)
class SequencingTables:
    """The six mapped classes and their tables."""

    sequence_class: type[Any]
    counter_class: type[Any]
    reservation_class: type[Any]
    gap_class: type[Any]
    pattern_version_class: type[Any]
    audit_class: type[Any]

    @property
    def sequences(self) -> Table:
        return self.sequence_class.__table__  # type: ignore[no-any-return]

    @property
    def counters(self) -> Table:
        return self.counter_class.__table__  # type: ignore[no-any-return]

    @property
    def reservations(self) -> Table:
        return self.reservation_class.__table__  # type: ignore[no-any-return]

    @property
    def gaps(self) -> Table:
        return self.gap_class.__table__  # type: ignore[no-any-return]

    @property
    def pattern_versions(self) -> Table:
        return self.pattern_version_class.__table__  # type: ignore[no-any-return]

    @property
    def audits(self) -> Table:
        return self.audit_class.__table__  # type: ignore[no-any-return]

    def all(self) -> list[Table]:
        return [
            self.sequences,
            self.counters,
            self.reservations,
            self.gaps,
            self.pattern_versions,
            self.audits,
        ]


def _check_repositories(given: Mapping[str, type[Any]]) -> dict[str, type[Any]]:
    from .gaps import GapRepository
    from .repositories import AuditRepository
    from .repositories import CounterRepository
    from .repositories import SequenceRepository
    from .reservations import ReservationRepository
    from .versions import PatternVersionRepository

    defaults: dict[str, type[Any]] = {
        "sequence": SequenceRepository,
        "counter": CounterRepository,
        "reservation": ReservationRepository,
        "gap": GapRepository,
        "pattern_version": PatternVersionRepository,
        "audit": AuditRepository,
    }
    for role, cls in given.items():
        if role not in defaults:
            raise ConfigurationError(
                f"unknown repository role {role!r}: use one of {', '.join(defaults)}"
            )
        if not (isinstance(cls, type) and issubclass(cls, defaults[role])):
            raise ConfigurationError(
                f"repositories[{role!r}] must subclass {defaults[role].__name__}, got {cls!r}"
            )
    return dict(given)


def _camel(prefix: str) -> str:
    return "".join(part.capitalize() for part in prefix.split("_") if part)


class Sequencing:
    """Numbering for one set of tables on a host's metadata.

    :param base: the host's declarative base (a :class:`~sqlalchemy.orm.DeclarativeBase`
      subclass), or a :class:`~sqlalchemy.schema.MetaData` for hosts without one.
    :param table_prefix: prepended to the six table names (``"acme_"`` gives
      ``acme_sequences``, ...).
    :param sequence_class: ... :param audit_class: the host's own subclasses of the
      mixins in :mod:`sa_sequencing.models`, used instead of generated ones.
    :param lock_timeout: seconds a counter statement may wait for the counter's lock
      before it is retried (``None``: the database's own wait).
    :param lock_retries: how many times a timed-out counter statement is retried before
      :class:`~sa_sequencing.SequenceBusyError` is raised.
    :param repositories: the host's own repository subclasses by role (``"sequence"``,
      ``"counter"``, ``"reservation"``, ``"gap"``, ``"pattern_version"``, ``"audit"``),
      used by every manager instead of the library's (an audit repository that also
      writes to the host's ledger, say).  The allocator writes the rows of issued
      numbers itself, in the counter statement where the database allows it.
    """

    def __init__(
        self,
        base: type[DeclarativeBase] | MetaData | Any,
        *,
        table_prefix: str = "",
        sequence_class: type[Any] | None = None,
        counter_class: type[Any] | None = None,
        reservation_class: type[Any] | None = None,
        gap_class: type[Any] | None = None,
        pattern_version_class: type[Any] | None = None,
        audit_class: type[Any] | None = None,
        lock_timeout: float | None = None,
        lock_retries: int = 3,
        repositories: Mapping[str, type[Any]] | None = None,
    ) -> None:
        if not isinstance(table_prefix, str):
            raise ArgumentTypeError(
                f"table_prefix must be a str, not {type(table_prefix).__name__}"
            )
        if lock_timeout is not None and (
            isinstance(lock_timeout, bool)
            or not isinstance(lock_timeout, (int, float))
            or lock_timeout <= 0
        ):
            raise InvalidArgumentError(
                f"lock_timeout must be a positive number of seconds or None, not {lock_timeout!r}"
            )
        if isinstance(lock_retries, bool) or not isinstance(lock_retries, int) or lock_retries < 0:
            raise InvalidArgumentError(f"lock_retries must be an int >= 0, not {lock_retries!r}")
        self.table_prefix = table_prefix
        self.lock_timeout = lock_timeout
        self.lock_retries = lock_retries
        self.base = self._declarative_base(base)
        given = {
            "sequence": sequence_class,
            "counter": counter_class,
            "reservation": reservation_class,
            "gap": gap_class,
            "pattern_version": pattern_version_class,
            "audit": audit_class,
        }
        sequences_table = (
            sequence_class.__tablename__
            if sequence_class is not None
            else f"{table_prefix}sequences"
        )
        classes: dict[str, type[Any]] = {}
        for role, (table_name, mixin) in _ROLES.items():
            cls = given[role]
            if cls is None:
                cls = type(
                    f"{_camel(table_prefix)}{mixin.__name__.removesuffix('Mixin')}",
                    (mixin, self.base),
                    {
                        "__tablename__": f"{table_prefix}{table_name}",
                        "__sequences_tablename__": sequences_table,
                        "__module__": __name__,
                    },
                )
            elif not (isinstance(cls, type) and issubclass(cls, mixin)):
                raise ConfigurationError(
                    f"{role}_class must subclass {mixin.__name__}, got {cls!r}"
                )
            classes[f"{role}_class"] = cls
        self.tables = SequencingTables(**classes)
        self._check_foreign_keys()
        self.stats = LockStats()
        self._strategies: weakref.WeakKeyDictionary[Dialect, CounterStrategy]
        self._strategies = weakref.WeakKeyDictionary()
        self._allocator: Allocator | None = None
        _instances.add(self)
        self._repositories = _check_repositories(repositories or {})

    @staticmethod
    def _declarative_base(base: Any) -> Any:
        if isinstance(base, MetaData):

            class _Base(DeclarativeBase):
                metadata = base

            return _Base
        if isinstance(base, type) and hasattr(base, "registry") and hasattr(base, "metadata"):
            return base
        raise ArgumentTypeError(
            f"Sequencing() takes a declarative base class or a MetaData, not {base!r}"
        )

    def _check_foreign_keys(self) -> None:
        target = self.tables.sequences
        for table in self.tables.all()[1:5]:
            for fk in table.c.sequence_id.foreign_keys:
                if fk.target_fullname != f"{target.fullname}.id":
                    raise ConfigurationError(
                        f"{table.name}.sequence_id points to {fk.target_fullname!r}, but the "
                        f"definitions table is {target.fullname!r}: set "
                        f"__sequences_tablename__ = {target.name!r} on the class"
                    )

    def repository_class(self, role: str, default: type[_R]) -> type[_R]:
        """The repository class managers use for ``role``: the host's, else ``default``."""
        return self._repositories.get(role, default)

    @property
    def metadata(self) -> MetaData:
        return self.tables.sequences.metadata

    @property
    def allocator(self) -> Allocator:
        if self._allocator is None:
            from .allocation import Allocator

            self._allocator = Allocator(self)
        return self._allocator

    def strategy(self, conn: Connection) -> CounterStrategy:
        """The counter strategy for the connection's database."""
        dialect = conn.dialect
        strategy = self._strategies.get(dialect)
        if strategy is None:
            cls = registered_strategy(dialect)
            strategy = cls(
                self.tables,
                dialect,
                lock_timeout=self.lock_timeout,
                lock_retries=self.lock_retries,
                stats=self.stats,
            )
            self._strategies[dialect] = strategy
        return strategy

    @overload
    def manager(self, session: Session | scoped_session[Any]) -> SequenceManager: ...

    @overload
    def manager(
        self, session: AsyncSession | async_scoped_session[Any]
    ) -> AsyncSequenceManager: ...

    def manager(
        self,
        session: Session | scoped_session[Any] | AsyncSession | async_scoped_session[Any],
    ) -> SequenceManager | AsyncSequenceManager:
        """A :class:`~sa_sequencing.SequenceManager` working in ``session``'s transaction;
        for an ``AsyncSession``, an :class:`~sa_sequencing.AsyncSequenceManager`.

        A ``scoped_session`` (Flask-SQLAlchemy's ``db.session`` is one) or an
        ``async_scoped_session`` stands for the session its registry holds *now*: the
        manager works in that session, as if it had been passed itself.  So make the
        manager where the work is (per request, per unit of work), not once at import.
        """
        from .manager import SequenceManager

        if isinstance(session, scoped_session):
            session = session()
        if isinstance(session, Session):
            return SequenceManager(self, session)
        from .asyncio import AsyncSequenceManager
        from .asyncio import current_async_session

        async_session = current_async_session(session)
        if async_session is not None:
            return AsyncSequenceManager(self, async_session)
        raise ArgumentTypeError(
            "manager() takes a Session, a scoped_session, an AsyncSession or an "
            f"async_scoped_session, not {type(session).__name__}"
        )

    def create_all(self, bind: Any) -> None:
        """Create the six tables (and nothing else of the host's) if missing."""
        self.metadata.create_all(bind, tables=self.tables.all())

    def drop_all(self, bind: Any) -> None:
        """Drop the six tables."""
        self.metadata.drop_all(bind, tables=self.tables.all())
