"""The flush hook: numbering :func:`~sa_sequencing.SequenceColumn` attributes.

``before_flush`` (not ``after_flush``: a value set after the flush has computed its
INSERTs is silently lost) collects the objects to number:

- new objects whose sequence attribute is empty (``None`` or ``""``) and whose
  ``when`` is absent or true;
- pending and persistent objects with a ``when`` that has become true while their
  number is still empty.

A value the user set is never overwritten.  Before ``when`` and the inputs read a
new object, it gets the Python-side column defaults they may read, and an input only
the database fills is refused (:mod:`sa_sequencing.orm.defaults`).  The numbers are
drawn per counter ``(sequence, scope, period)`` with one counter statement each,
counters taken in sorted order (no deadlock between two flushes, see
:mod:`sa_sequencing.allocation.batch`), and handed out in the objects' insert order.  Every check
(definitions, scopes, contexts) runs before the first counter statement; a failure
raises a :class:`~sa_sequencing.SequencingError` naming the model, the attribute and
the sequence, with nothing written, and takes the default values the hook filled in
back off the objects.

The counters stay locked from the flush until the transaction ends.  So flush late
and commit soon after: a flush early in a long transaction (an autoflush before a
query, say) holds the counters for the rest of it.

Numbers given back are taken off the objects: when a transaction (or a SAVEPOINT of
``begin_nested``) that numbered objects rolls back, or ends without a commit, the
attributes it filled are emptied again, so no object keeps a number that was never
consumed and a later flush numbers it afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.orm import UOWTransaction
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.state import InstanceState

from ..allocation.batch import Batch
from ..errors import ArgumentTypeError
from .attributes import NumberedAttribute
from .attributes import numbered_attributes
from .defaults import take_back

__all__ = ["LISTENERS", "ensure_flush_hook", "install_flush_hook", "uninstall_flush_hook"]

_NUMBERED = "sa_sequencing.numbered"
"""``session.info`` key: per transaction, the (object, attribute, number) it filled."""

_Filled = list[Any]
"""Flat: object, attribute, number, object, attribute, number, ..."""


def before_flush(
    session: Session, flush_context: UOWTransaction, instances: Iterable[Any] | None
) -> None:
    undo: list[Any] = []
    try:
        _number(session, instances, undo)
    except BaseException:
        # a refused flush leaves the objects as it found them: without the values
        # filled in from column defaults (numbers are only set once all are drawn)
        take_back(undo)
        raise


def _number(session: Session, instances: Iterable[Any] | None, undo: list[Any]) -> None:
    # Parallel lists, not a tuple per object: every container that outlives the hook's
    # loops counts towards the garbage collector's next full pass, which on a flush of
    # thousands of objects costs more than the numbering itself.
    objs, states, attrs = _collect(session, instances, undo)
    if not objs:
        return
    # One batch per connection (one, unless sequencings live on different binds).
    batch_of: dict[int, Batch] = {}
    batches: list[Batch] = []
    tickets: list[int] = []
    for obj, state, attr in zip(objs, states, attrs, strict=True):
        batch = batch_of.get(id(attr.sequencing))
        if batch is None:
            conn = session.connection(
                bind_arguments={"mapper": attr.sequencing.tables.sequence_class}
            )
            batch = next((b for b in batches if b.conn is conn), None) or Batch(conn)
            if batch not in batches:
                batches.append(batch)
            batch_of[id(attr.sequencing)] = batch
        scope, context, day = attr.inputs(obj, state)
        tickets.append(
            batch.add(
                attr.sequencing.allocator,
                attr.spec.sequence,
                scope,
                context,
                day,
                label=attr.label,
            )
        )
    numbers = {id(batch): batch.draw() for batch in batches}
    filled: _Filled = []
    for obj, state, attr, ticket in zip(objs, states, attrs, tickets, strict=True):
        number = numbers[id(batch_of[id(attr.sequencing)])][ticket]
        if state.key is None:
            # A pending object's INSERT takes its values from its __dict__; going
            # through the instrumented attribute would only record history that the
            # INSERT discards (and doubles the hook's cost).
            state.dict[attr.key] = number
        else:
            setattr(obj, attr.key, number)
        filled += (obj, attr.key, number)
    boundary = session.get_nested_transaction() or session.get_transaction()
    registry: dict[SessionTransaction, _Filled] = session.info.setdefault(_NUMBERED, {})
    registry.setdefault(boundary, []).extend(filled)  # type: ignore[arg-type]


def _collect(
    session: Session, instances: Iterable[Any] | None, undo: list[Any]
) -> tuple[list[Any], list[InstanceState[Any]], list[NumberedAttribute]]:
    """The objects, states and attributes to number: new objects in insert order,
    then persistent ones whose ``when`` became true.  A new object gets the column
    defaults its inputs read before ``when`` sees it (recorded in ``undo``)."""
    only = None if instances is None else {id(obj) for obj in instances}
    attrs_of: dict[Any, tuple[NumberedAttribute, ...]] = {}
    states: list[InstanceState[Any]] = []
    attrs: list[NumberedAttribute] = []
    pending = sorted(
        (instance_state(obj) for obj in session.new if only is None or id(obj) in only),
        key=_insert_order,
    )
    for state in pending:
        mapper = state.mapper
        numbered = attrs_of.get(mapper)
        if numbered is None:
            numbered = attrs_of[mapper] = numbered_attributes(mapper)
        if not numbered:
            continue
        loaded = state.dict
        for attr in numbered:
            value = loaded.get(attr.key)
            if value is None or value == "":
                plan = attr.defaults
                if plan is not None:
                    plan.fill(loaded, undo)  # before anything reads the object
                when = attr.spec.when
                if when is None or (
                    when(state.obj())
                    if plan is None
                    else plan.call(when, state.obj(), loaded, "when=")
                ):
                    states.append(state)
                    attrs.append(attr)
    for obj in session.dirty:
        if only is not None and id(obj) not in only:
            continue
        state = instance_state(obj)
        for attr in numbered_attributes(state.mapper):
            if attr.spec.when is not None and not getattr(obj, attr.key) and attr.spec.when(obj):
                states.append(state)
                attrs.append(attr)
    return [state.obj() for state in states], states, attrs


def _insert_order(state: InstanceState[Any]) -> int:
    return state.insert_order or 0


# -- giving numbers back -----------------------------------------------------------


def after_commit(session: Session) -> None:
    registry = session.info.get(_NUMBERED)
    if registry and session.get_nested_transaction() is None:
        registry.clear()  # the root committed: every number is consumed


def after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    registry = session.info.get(_NUMBERED)
    if not registry:
        return
    boundary = previous_transaction
    while boundary.parent is not None and not boundary.nested:
        boundary = boundary.parent
    _give_back(registry, boundary)


def after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    registry = session.info.get(_NUMBERED)
    if registry and transaction.parent is None:
        # The root ended without after_commit clearing it (a rollback, a close):
        # nothing it numbered was consumed.
        _give_back(registry, transaction)


def _give_back(registry: dict[SessionTransaction, _Filled], boundary: SessionTransaction) -> None:
    for transaction in [t for t in registry if _within(t, boundary)]:
        filled = registry.pop(transaction)
        for obj, key, number in zip(filled[::3], filled[1::3], filled[2::3], strict=True):
            if instance_state(obj).dict.get(key) == number:
                setattr(obj, key, None)


def _within(transaction: SessionTransaction | None, boundary: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is boundary:
            return True
        transaction = transaction.parent
    return False


#: The session events the hook listens to (see :func:`~sa_sequencing.install_flush_hook`).
LISTENERS: list[tuple[str, Callable[..., Any]]] = [
    ("before_flush", before_flush),
    ("after_commit", after_commit),
    ("after_soft_rollback", after_soft_rollback),
    ("after_transaction_end", after_transaction_end),
]


# -- installing the hook ---------------------------------------------------------------

_auto_install = True
"""Whether :func:`ensure_flush_hook` installs the hook on every Session."""


def _event_target(target: Any) -> Any:
    """The class or session the listener goes on (``AsyncSession`` and
    ``async_sessionmaker`` listen through their synchronous session)."""
    if isinstance(target, (sessionmaker, scoped_session, Session)) or (
        isinstance(target, type) and issubclass(target, Session)
    ):
        return target
    sync_session = getattr(target, "sync_session", None)
    if isinstance(sync_session, Session):
        return sync_session
    kw = getattr(target, "kw", None)
    if isinstance(kw, dict) and hasattr(target, "class_"):
        return kw.get("sync_session_class", Session)
    raise ArgumentTypeError(
        "install_flush_hook() takes a Session class or instance, a sessionmaker, a "
        f"scoped_session, an AsyncSession or an async_sessionmaker, not {target!r}"
    )


def install_flush_hook(target: Any = Session) -> None:
    """Number sequence columns at flush time for sessions of ``target``.

    Idempotent.  The default, ``Session``, covers every session; passing one
    ``sessionmaker`` (or ``scoped_session``, ``async_sessionmaker``, ...) installs it
    there *instead*: the global hook is removed and no longer installed on its own.
    """
    global _auto_install
    listen_on = _event_target(target)
    if listen_on is Session:
        _auto_install = True
    else:
        _auto_install = False
        _remove(Session)
    for name, listener in LISTENERS:
        if not event.contains(listen_on, name, listener):
            event.listen(listen_on, name, listener)


def uninstall_flush_hook(target: Any = Session) -> None:
    """Undo :func:`install_flush_hook` for ``target``; idempotent.

    Removing the global hook also stops ``SequenceColumn`` from installing it again.
    """
    global _auto_install
    listen_on = _event_target(target)
    if listen_on is Session:
        _auto_install = False
    _remove(listen_on)


def _remove(listen_on: Any) -> None:
    for name, listener in LISTENERS:
        if event.contains(listen_on, name, listener):
            event.remove(listen_on, name, listener)


def ensure_flush_hook() -> None:
    """Install the hook on every Session (what declaring a
    :func:`~sa_sequencing.SequenceColumn` does), unless the application chose where it
    goes with :func:`install_flush_hook` or removed it."""
    if _auto_install:
        install_flush_hook()
