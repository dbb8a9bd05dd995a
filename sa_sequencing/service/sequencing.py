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

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import cast
from typing import overload

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session
from sqlalchemy.orm import scoped_session

from ..allocation.runtime import Runtime
from ..allocation.runtime import check_repositories
from ..errors import ArgumentTypeError
from ..errors import InvalidArgumentError
from ..rules.declarations import SyncReport
from ..store.tables import build_tables
from ..store.tables import declarative_base
from .asyncio import AsyncSequenceManager
from .asyncio import current_async_session
from .declarations import OnDrift
from .declarations import first_use_creator
from .declarations import sync_declarations
from .manager import SequenceManager

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_scoped_session

__all__ = ["Sequencing"]


class Sequencing(Runtime):
    """Numbering for one set of tables on a host's metadata.

    :param base: the host's declarative base (a :class:`~sqlalchemy.orm.DeclarativeBase`
      subclass), or a :class:`~sqlalchemy.schema.MetaData` for hosts without one.
    :param table_prefix: prepended to the six table names (``"acme_"`` gives
      ``acme_sequences``, ...).  One Sequencing per set of tables: a second one on the
      same metadata needs a prefix of its own, else it is a
      :class:`~sa_sequencing.ConfigurationError` (reuse the first instead), raised
      before anything is registered.
    :param sequence_class: ... :param audit_class: the host's own subclasses of the
      mixins in :mod:`sa_sequencing.store.models`, used instead of generated ones.
    :param lock_timeout: seconds a counter statement may wait for the counter's lock
      before it is retried (``None``: the database's own wait).
    :param lock_retries: how many times a timed-out counter statement is retried before
      :class:`~sa_sequencing.SequenceBusyError` is raised.
    :param repositories: the host's own repository subclasses by role (``"sequence"``,
      ``"counter"``, ``"reservation"``, ``"gap"``, ``"pattern_version"``, ``"audit"``),
      used by every manager instead of the library's (an audit repository that also
      writes to the host's ledger, say).  The allocator writes the rows of issued
      numbers itself, in the counter statement where the database allows it.
    :param create_declared: when a sequence declared in code (:meth:`declare`,
      ``SequenceColumn(..., pattern=...)``) is created: ``"on_sync"`` (the default)
      by :meth:`sync` only, so a missing one is a
      :class:`~sa_sequencing.SequenceNotFoundError`; ``"on_first_use"`` also by the
      first draw (``generate``, ``generate_many``, ``generate_batch``, ``reserve``,
      the flush) that finds it missing, in that draw's transaction, as django-sequences
      does.  Concurrent first uses all succeed: one creates, the others read it.
      ``preview`` never creates.
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
        create_declared: str = "on_sync",
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
        if create_declared not in ("on_sync", "on_first_use"):
            raise InvalidArgumentError(
                f"create_declared must be 'on_sync' or 'on_first_use', not {create_declared!r}"
            )
        if isinstance(lock_retries, bool) or not isinstance(lock_retries, int) or lock_retries < 0:
            raise InvalidArgumentError(f"lock_retries must be an int >= 0, not {lock_retries!r}")
        self.table_prefix = table_prefix
        self.base = declarative_base(base)
        # Checked before build_tables makes any class: a mapped class cannot be taken
        # back out of a declarative registry.
        checked = check_repositories(repositories or {})
        tables = build_tables(
            self.base,
            table_prefix,
            {
                "sequence": sequence_class,
                "counter": counter_class,
                "reservation": reservation_class,
                "gap": gap_class,
                "pattern_version": pattern_version_class,
                "audit": audit_class,
            },
        )
        super().__init__(
            tables, lock_timeout=lock_timeout, lock_retries=lock_retries, repositories=checked
        )
        self.create_declared = create_declared
        if create_declared == "on_first_use":
            self.allocator.on_missing = first_use_creator(self)

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
        if isinstance(session, scoped_session):
            # The registry proxies every Session method the manager and its
            # repositories call (connection(), info, ...), each resolved at the call.
            return SequenceManager(self, cast(Session, session))
        if isinstance(session, Session):
            return SequenceManager(self, session)
        if current_async_session(session) is not None:
            return AsyncSequenceManager(self, cast("AsyncSession", session))
        raise ArgumentTypeError(
            "manager() takes a Session, a scoped_session, an AsyncSession or an "
            f"async_scoped_session, not {type(session).__name__}"
        )

    def sync(
        self,
        session: Session | scoped_session[Any],
        *,
        apply: bool = False,
        on_drift: OnDrift = "raise",
        performed_by: str | None = None,
    ) -> SyncReport:
        """Store the sequences declared in code, in ``session``'s transaction; check
        the stored ones against their declarations.

        Call it at startup, in a transaction of its own::

            with Session(engine) as session, session.begin():
                sequencing.sync(session)

        Every declaration (of :meth:`declare` and of the ``SequenceColumn(...,
        pattern=...)`` this Sequencing numbers) without a stored definition is defined
        (a ``pattern_created`` ledger row, as :meth:`~sa_sequencing.SequenceManager.define`
        writes); one stored exactly as declared is left alone.  Calling it again, or
        from several processes starting at once, is safe: a definition a concurrent
        ``sync`` stored first is met, not fought.  On MySQL/MariaDB, InnoDB may still
        end one of several concurrent ``sync`` calls as a deadlock victim (they all
        lock the same unique keys); run it with
        :func:`~sa_sequencing.run_in_transaction`, which runs a victim again::

            run_in_transaction(sessionmaker(engine), sequencing.sync)

        A stored definition that differs from its declaration (drift: someone ran
        ``update``, or the code changed) fails startup loudly by default: a
        :class:`~sa_sequencing.DeclarationDriftError` naming each option as
        ``stored``/``declared`` (its ``report.drifted``), raised before anything is
        written.  ``on_drift="report"`` instead leaves drifted definitions as stored
        and returns them in the report's ``drifted``; ``apply=True`` changes them to
        their declarations through :meth:`~sa_sequencing.SequenceManager.update`
        (audited ``pattern_modified``), except the options that decide which counter a
        number draws from (``reset_period``, ``reset_limit``, ``fiscal_year_start``)
        once numbers exist: that is a :class:`~sa_sequencing.ConfigurationError`
        naming the option, and nothing is written.

        With an ``AsyncSession``, run it on the session's sync side::

            async with async_session.begin():
                report = await async_session.run_sync(sequencing.sync, apply=True)

        :param session: a ``Session`` or ``scoped_session``; nothing is committed.
        :param apply: change drifted definitions to their declarations.
        :param on_drift: ``"raise"`` (the default) or ``"report"``, when ``apply`` is
          false.
        :param performed_by: the actor of the ledger rows written.
        :returns: a :class:`~sa_sequencing.SyncReport`: ``created``, ``unchanged``,
          ``updated`` and ``drifted``, by (name, scope key).
        """
        return sync_declarations(
            SequenceManager(self, cast(Session, session)),
            self.declared(),
            apply=apply,
            on_drift=on_drift,
            performed_by=performed_by,
        )

    def create_all(self, bind: Any) -> None:
        """Create the six tables (and nothing else of the host's) if missing."""
        self.metadata.create_all(bind, tables=self.tables.all())

    def drop_all(self, bind: Any) -> None:
        """Drop the six tables."""
        self.metadata.drop_all(bind, tables=self.tables.all())
