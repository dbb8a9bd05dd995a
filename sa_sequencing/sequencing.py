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
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from typing import cast
from typing import overload

from sqlalchemy import MetaData
from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import scoped_session

from .dialects.base import CounterStrategy
from .dialects.base import StrategyCache
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

_TABLE_INFO = "sa_sequencing.role"
"""``Table.info`` key marking the tables of a Sequencing (its value: the role)."""

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


def _check_free(metadata: MetaData, names: Iterable[str], table_prefix: str) -> None:
    """Refuse table names the metadata already has: another Sequencing's, or the host's."""
    for name in names:
        key = f"{metadata.schema}.{name}" if metadata.schema else name
        if key not in metadata.tables:
            continue
        if _TABLE_INFO in metadata.tables[key].info:
            raise ConfigurationError(
                f"Sequencing(table_prefix={table_prefix!r}): the metadata already has a "
                f"table {key!r}, made by another Sequencing on the same metadata; reuse "
                "that Sequencing (one per set of tables: keep it in a module and import "
                "it), or pass table_prefix= to give this one tables of its own"
            )
        raise ConfigurationError(
            f"Sequencing(table_prefix={table_prefix!r}): the metadata already has a table "
            f"{key!r}, which is not a Sequencing's; pass table_prefix= (or your own "
            "classes, sequence_class=...) so that the sequencing tables get other names"
        )


def _check_foreign_keys(
    metadata: MetaData,
    given: Mapping[str, type[Any] | None],
    names: Mapping[str, str],
    sequences_table: str,
) -> None:
    """The ``sequence_id`` of the counter, reservation, gap and pattern version rows
    must point to the definitions table; checked before any class is made."""
    sequence_class = given["sequence"]
    if sequence_class is not None:
        target: str = sequence_class.__table__.fullname
    else:
        target = f"{metadata.schema}.{sequences_table}" if metadata.schema else sequences_table
    for role in ("counter", "reservation", "gap", "pattern_version"):
        cls = given[role]
        if cls is None:
            points = [(names[role], f"{sequences_table}.id")]
        else:
            table = cls.__table__
            points = [(table.name, fk.target_fullname) for fk in table.c.sequence_id.foreign_keys]
        for table_name, fk_target in points:
            if fk_target != f"{target}.id":
                raise ConfigurationError(
                    f"{table_name}.sequence_id points to {fk_target!r}, but the "
                    f"definitions table is {target!r}: set "
                    f"__sequences_tablename__ = {target.rsplit('.', 1)[-1]!r} on the class"
                )


def _camel(prefix: str) -> str:
    return "".join(part.capitalize() for part in prefix.split("_") if part)


class Sequencing:
    """Numbering for one set of tables on a host's metadata.

    :param base: the host's declarative base (a :class:`~sqlalchemy.orm.DeclarativeBase`
      subclass), or a :class:`~sqlalchemy.schema.MetaData` for hosts without one.
    :param table_prefix: prepended to the six table names (``"acme_"`` gives
      ``acme_sequences``, ...).  One Sequencing per set of tables: a second one on the
      same metadata needs a prefix of its own, else it is a
      :class:`~sa_sequencing.ConfigurationError` (reuse the first instead), raised
      before anything is registered.
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
        # Everything is checked before the first class is made: a mapped class cannot
        # be taken back out of a declarative registry, and one left half-registered
        # would be in the way of the next Sequencing and of every mapper configuration.
        for role, (_, mixin) in _ROLES.items():
            cls = given[role]
            if cls is not None and not (isinstance(cls, type) and issubclass(cls, mixin)):
                raise ConfigurationError(
                    f"{role}_class must subclass {mixin.__name__}, got {cls!r}"
                )
        self._repositories = _check_repositories(repositories or {})
        metadata: MetaData = self.base.metadata
        names = {
            role: f"{table_prefix}{table_name}"
            for role, (table_name, _) in _ROLES.items()
            if given[role] is None
        }
        _check_free(metadata, names.values(), table_prefix)
        sequences_table = (
            sequence_class.__tablename__ if sequence_class is not None else names["sequence"]
        )
        _check_foreign_keys(metadata, given, names, sequences_table)
        classes: dict[str, type[Any]] = {}
        for role, (_, mixin) in _ROLES.items():
            cls = given[role]
            if cls is None:
                cls = type(
                    f"{_camel(table_prefix)}{mixin.__name__.removesuffix('Mixin')}",
                    (mixin, self.base),
                    {
                        "__tablename__": names[role],
                        "__sequences_tablename__": sequences_table,
                        "__module__": __name__,
                    },
                )
            classes[f"{role}_class"] = cls
        self.tables = SequencingTables(**classes)
        for role, table in zip(_ROLES, self.tables.all(), strict=True):
            table.info.setdefault(_TABLE_INFO, role)
        self.stats = LockStats()
        self.strategies = StrategyCache(
            self.tables,
            lock_timeout=self.lock_timeout,
            lock_retries=self.lock_retries,
            stats=self.stats,
        )
        self._allocator: Allocator | None = None
        _instances.add(self)

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

            self._allocator = Allocator(self.tables, self.strategies)
        return self._allocator

    def strategy(self, conn: Connection) -> CounterStrategy:
        """The counter strategy for the connection's database."""
        return self.strategies.get(conn)

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
        ``async_scoped_session`` is kept as the registry: every call of the manager works
        in the session the registry holds at that call, so a manager made once (at
        import, say) follows each request or thread and never draws a number in another
        one's transaction.
        """
        from .manager import SequenceManager

        if isinstance(session, scoped_session):
            # The registry proxies every Session method the manager and its
            # repositories call (connection(), info, ...), each resolved at the call.
            return SequenceManager(self, cast(Session, session))
        if isinstance(session, Session):
            return SequenceManager(self, session)
        from .asyncio import AsyncSequenceManager
        from .asyncio import current_async_session

        if current_async_session(session) is not None:
            return AsyncSequenceManager(self, cast("AsyncSession", session))
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
