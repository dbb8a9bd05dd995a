"""Storing the sequences declared in code: :meth:`~sa_sequencing.Sequencing.sync`, and
the creation on first use of ``Sequencing(create_declared="on_first_use")``.

Both go through :meth:`~sa_sequencing.SequenceManager.define` (audited
``pattern_created``; a concurrent start that stored the definition first is met, not
fought) and :meth:`~sa_sequencing.SequenceManager.update` (audited
``pattern_modified``, refusing what ``update`` refuses), so a declaration is stored
exactly as the same call by hand would store it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from typing import Literal
from typing import cast

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..allocation.runtime import Runtime
from ..errors import ConfigurationError
from ..errors import DuplicateSequenceError
from ..errors import InvalidArgumentError
from ..rules.checks import check_actor
from ..rules.checks import check_flag
from ..rules.declarations import DeclarationDriftError
from ..rules.declarations import SequenceDeclaration
from ..rules.declarations import SyncReport
from ..rules.definitions import COUNTING_OPTIONS
from .manager import SequenceManager

__all__ = ["OnDrift", "first_use_creator", "sync_declarations"]

OnDrift = Literal["raise", "report"]


def sync_declarations(
    manager: SequenceManager,
    declarations: list[SequenceDeclaration],
    *,
    apply: bool,
    on_drift: OnDrift,
    performed_by: str | None,
) -> SyncReport:
    """The body of :meth:`~sa_sequencing.Sequencing.sync` (which documents it)."""
    check_flag(apply, "apply")
    check_actor(performed_by)
    if on_drift not in ("raise", "report"):
        raise InvalidArgumentError(f"on_drift must be 'raise' or 'report', not {on_drift!r}")
    sequences = manager.repositories.sequences
    report = SyncReport()
    missing: list[SequenceDeclaration] = []
    by_key = {d.key: d for d in declarations}
    # One query for all: a startup check of many declarations costs one round trip.
    stored_by_key = {(d.name, d.scope_key): d for d in sequences.list()} if declarations else {}
    for declaration in declarations:
        stored = stored_by_key.get(declaration.key)
        if stored is None:
            missing.append(declaration)
            continue
        differences = declaration.differences(stored)
        if differences:
            report.drifted[declaration.key] = differences
            if apply:
                _refuse_counting_change(manager, declaration, differences)
        else:
            report.unchanged.append(declaration.key)
    # Everything is read and checked before the first write: a refusal writes nothing.
    if report.drifted and not apply and on_drift == "raise":
        raise DeclarationDriftError(report)
    for declaration in missing:
        try:
            manager.define(**declaration.define_arguments(), performed_by=performed_by)
        except DuplicateSequenceError:
            # A concurrent start stored it first (define's insert runs under a
            # savepoint, so this transaction goes on).
            stored = _read_stored(manager, declaration)
            differences = declaration.differences(stored)
            if differences:
                report.drifted[declaration.key] = differences
            else:
                report.unchanged.append(declaration.key)
        else:
            report.created.append(declaration.key)
    if apply:
        for key in list(report.drifted):
            declaration = by_key[key]
            changes = {
                k: declaration.pattern if k == "pattern" else declaration.options[k]
                for k in report.drifted[key]
            }
            # update() locks the row and checks again: numbers issued since the read
            # above make it refuse a counting change, as the check above would have.
            manager.update(
                declaration.name, scope=declaration.scope, performed_by=performed_by, **changes
            )
            report.updated[key] = report.drifted.pop(key)
    elif report.drifted and on_drift == "raise":
        raise DeclarationDriftError(report)
    return report


def _refuse_counting_change(
    manager: SequenceManager, declaration: SequenceDeclaration, differences: dict[str, Any]
) -> None:
    """The :class:`~sa_sequencing.ConfigurationError` of ``update`` for options that
    decide which counter a number draws from, raised before anything is written."""
    counting = sorted(COUNTING_OPTIONS & set(differences))
    if not counting:
        return
    stored = manager.repositories.sequences.get_exact(declaration.name, declaration.scope_key)
    if stored is None or not manager.repositories.sequences.has_counters(stored):
        return
    listed = "; ".join(
        f"{k}: stored {differences[k][0]!r}, declared {differences[k][1]!r}" for k in counting
    )
    raise ConfigurationError(
        f"{declaration.describe()}: sync(apply=True) cannot change {', '.join(counting)} "
        f"({listed}): numbers were issued, and documents already numbered would share "
        "counters with new ones; nothing was changed.  Declare it as stored, or declare "
        "a new sequence",
        sequence=declaration.name,
        scope=declaration.scope,
    )


def _read_stored(manager: SequenceManager, declaration: SequenceDeclaration) -> Any:
    """The stored definition a concurrent transaction just committed.

    A locking read sees it even where this transaction's snapshot predates it
    (InnoDB's REPEATABLE READ); a *shared* one, because every loser of the insert race
    already holds a shared lock on the duplicate key, and two of them upgrading to an
    exclusive lock (``define(exist_ok=True)``'s ``FOR UPDATE``) deadlock on InnoDB.
    """
    return manager.sequencing.allocator.load(
        manager.session.connection(
            bind_arguments={"mapper": manager.sequencing.tables.sequence_class}
        ),
        declaration.name,
        declaration.scope_key,
        shared_lock=True,
    )


class _OnConnection:
    """The one thing a manager's repositories ask of a session: its connection.  The
    draw that finds a sequence missing holds a connection, not a session."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def connection(self, **_: Any) -> Connection:
        return self._conn


def first_use_creator(runtime: Runtime) -> Callable[[Connection, str, str], bool]:
    """The allocator's ``on_missing`` for ``create_declared="on_first_use"``: define
    the declaration serving (name, scope), the scope's own else the global one, in the
    drawing transaction; ``False`` when none is declared."""

    def create(conn: Connection, name: str, scope: str) -> bool:
        declared = {d.key: d for d in runtime.declared()}
        declaration = declared.get((name, scope)) or declared.get((name, ""))
        if declaration is None:
            return False
        manager = SequenceManager(runtime, cast(Session, _OnConnection(conn)))
        # A concurrent first use that created it first is met, not fought: define's
        # insert runs under a savepoint, and the allocator reads the winner's row
        # with a shared locking read (see _read_stored for why not exist_ok).
        with contextlib.suppress(DuplicateSequenceError):
            manager.define(**declaration.define_arguments())
        return True

    return create
