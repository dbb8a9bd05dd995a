"""ORM integration: declare a numbered column, and the flush numbers your documents.

::

    class Invoice(Base):
        __tablename__ = "invoices"
        id: Mapped[int] = mapped_column(primary_key=True)
        tenant_id: Mapped[str]
        department: Mapped[str]
        issued_on: Mapped[date]
        status: Mapped[str] = mapped_column(default="draft")
        number: Mapped[str | None] = SequenceColumn(
            "invoice_number",
            scope="tenant_id",                              # attribute name or callable
            context=lambda inv: {"DEPARTMENT": inv.department},
            date="issued_on",                               # the document date
            when=lambda inv: inv.status == "posted",        # optional
        )

:func:`SequenceColumn` returns a :func:`~sqlalchemy.orm.mapped_column` (a
``String(255)`` unless ``type_`` says otherwise) marked in its ``Column.info``.  A
``before_flush`` hook (:mod:`sa_sequencing.flush`) numbers every new object whose
value is empty, and every pending or persistent one for which ``when`` has become
true, in the flush's own transaction.  A value set by hand is never overwritten.

A new object's inputs see the row its INSERT will write (:mod:`.orm_defaults`): the
column defaults SQLAlchemy computes in Python (``default="draft"``,
``default=date.today``) are applied, once, before ``scope``/``context``/``date``/
``when`` read the object, and the INSERT writes those very values.  An input that
only the database (or the INSERT itself) fills, such as a ``server_default``, a SQL
expression default, a default taking the execution context or an autoincrement key,
is a :class:`~sa_sequencing.ConfigurationError` before anything is written: an
attribute name at once, a callable when it reads the attribute.

The hook is installed for every :class:`~sqlalchemy.orm.Session` (and so every
``sessionmaker``, ``scoped_session`` and ``AsyncSession``) when the first
``SequenceColumn`` is declared.  :func:`install_flush_hook` with a ``sessionmaker``
scopes it to that factory instead; :func:`uninstall_flush_hook` removes it.

Which :class:`~sa_sequencing.Sequencing` draws a column's numbers: the one given as
``sequencing=``; else the one whose tables share the model's metadata; else the only
one in the process.  Anything else is a :class:`~sa_sequencing.ConfigurationError` at
the first flush, asking for ``sequencing=``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import String
from sqlalchemy import event
from sqlalchemy.orm import Mapper
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm import sessionmaker

from .definitions import normalize_name
from .errors import ArgumentTypeError
from .errors import ConfigurationError
from .limits import NUMBER_LENGTH
from .orm_defaults import DefaultsPlan
from .orm_defaults import plan_for

if TYPE_CHECKING:
    from sqlalchemy.orm import MappedColumn
    from sqlalchemy.orm.state import InstanceState

    from .sequencing import Sequencing

__all__ = [
    "INFO_KEY",
    "NumberedAttribute",
    "SequenceColumn",
    "SequenceSpec",
    "install_flush_hook",
    "numbered_attributes",
    "uninstall_flush_hook",
]

#: The ``Column.info`` key that marks a sequence column.
INFO_KEY = "sa_sequencing"

Getter = str | Callable[[Any], Any] | None


@dataclass(frozen=True)
class SequenceSpec:
    """What a :func:`SequenceColumn` asks for, as stored in ``Column.info``."""

    sequence: str
    scope: Getter = None
    context: Getter = None
    date: Getter = None
    when: Callable[[Any], bool] | None = None
    sequencing: Sequencing | None = None


def SequenceColumn(
    name: str,
    *,
    scope: Getter = None,
    context: Getter = None,
    date: Getter = None,
    when: Callable[[Any], bool] | None = None,
    sequencing: Sequencing | None = None,
    **column_kwargs: Any,
) -> MappedColumn[Any]:
    """A column the flush fills with the next number of sequence ``name``.

    :param scope: the scope: an attribute name (its value must not be empty) or a
      callable taking the object (``None`` from it means the global scope).
      ``None``: the global scope.
    :param context: the pattern's context variables: an attribute name or a callable
      returning a mapping.
    :param date: the document date (``{YEAR}`` and resets): an attribute name or a
      callable returning a ``date``/``datetime``; ``None``: today in the
      sequence's time zone.
    :param when: number the object only once ``when(obj)`` is true (drafts keep an
      empty number); ``None``: number every new object.
    :param sequencing: the :class:`~sa_sequencing.Sequencing` to draw from (see the
      module docs for the default).
    :param column_kwargs: passed to :func:`~sqlalchemy.orm.mapped_column`
      (``type_``, ``unique``, ``index``, ``nullable``, ``info``, ...).
    """
    spec = SequenceSpec(
        normalize_name(name),
        scope=_getter(scope, "scope"),
        context=_getter(context, "context"),
        date=_getter(date, "date"),
        when=_predicate(when),
        sequencing=_sequencing(sequencing),
    )
    type_ = column_kwargs.pop("type_", None) or String(NUMBER_LENGTH)
    info = dict(column_kwargs.pop("info", None) or {})
    info[INFO_KEY] = spec
    if _auto_install:
        install_flush_hook()
    return mapped_column(type_, info=info, **column_kwargs)


def _getter(value: Any, what: str) -> Getter:
    if value is None or callable(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str) and value.isidentifier():
        return value
    raise ArgumentTypeError(
        f"SequenceColumn {what}= takes an attribute name or a callable, not {value!r}"
    )


def _predicate(when: Any) -> Callable[[Any], bool] | None:
    if when is not None and not callable(when):
        raise ArgumentTypeError(f"SequenceColumn when= takes a callable or None, not {when!r}")
    return when  # type: ignore[no-any-return]


def _sequencing(value: Any) -> Sequencing | None:
    from .sequencing import Sequencing

    if value is not None and not isinstance(value, Sequencing):
        raise ArgumentTypeError(f"SequenceColumn sequencing= takes a Sequencing, not {value!r}")
    return value


# -- what a mapper numbers -------------------------------------------------------------


@dataclass(frozen=True)
class NumberedAttribute:
    """One numbered attribute of one mapper, resolved at the first flush."""

    key: str
    spec: SequenceSpec
    sequencing: Sequencing
    label: str
    """``Model.attribute``, for messages."""
    defaults: DefaultsPlan | None = None
    """How its inputs see a new object's column defaults (:mod:`.orm_defaults`);
    ``None`` when they read no column with one."""

    def inputs(
        self, obj: Any, state: InstanceState[Any]
    ) -> tuple[str | None, Mapping[str, object] | None, date | datetime | None]:
        """The scope, context and document date of ``obj``'s number.

        Attributes named by the column are read from ``state.dict`` when present,
        which is much cheaper than through the instrumented attribute (this runs once
        per object of every flush).  A new object's inputs see its column defaults
        (:mod:`.orm_defaults`).
        """
        spec = self.spec
        loaded = state.dict
        plan = self.defaults if state.key is None else None
        if plan is None:
            scope = _read(obj, loaded, spec.scope)
            context = _read(obj, loaded, spec.context)
            day = _read(obj, loaded, spec.date)
        else:
            scope = None if spec.scope is None else plan.read(obj, loaded, spec.scope, "scope=")
            context = (
                None if spec.context is None else plan.read(obj, loaded, spec.context, "context=")
            )
            day = None if spec.date is None else plan.read(obj, loaded, spec.date, "date=")
        if isinstance(spec.scope, str) and (scope is None or scope == ""):
            raise ConfigurationError(
                f"{self.label} (sequence {spec.sequence!r}): the scope attribute "
                f"{spec.scope!r} of {obj!r} is empty; set it before the flush (or give "
                "the column a scope callable that returns None for the global scope)",
                sequence=spec.sequence,
            )
        if context is not None and not isinstance(context, Mapping):
            raise ArgumentTypeError(
                f"{self.label} (sequence {spec.sequence!r}): context must give a "
                f"mapping or None, not {type(context).__name__}"
            )
        return scope, context, day


def _read(obj: Any, loaded: Mapping[str, Any], getter: Getter) -> Any:
    if getter is None:
        return None
    if isinstance(getter, str):
        return loaded[getter] if getter in loaded else getattr(obj, getter)
    return getter(obj)


_by_mapper: weakref.WeakKeyDictionary[Mapper[Any], tuple[NumberedAttribute, ...]] = (
    weakref.WeakKeyDictionary()
)


def numbered_attributes(mapper: Mapper[Any]) -> tuple[NumberedAttribute, ...]:
    """The sequence columns of ``mapper`` (inherited ones included)."""
    found = _by_mapper.get(mapper)
    if found is None:
        specs = {
            prop.key: (spec, prop.columns[0])
            for prop in mapper.column_attrs
            if isinstance(spec := prop.columns[0].info.get(INFO_KEY), SequenceSpec)
        }
        found = tuple(
            NumberedAttribute(
                key,
                spec,
                _resolve(spec, column, mapper, key),
                label := f"{mapper.class_.__name__}.{key}",
                plan_for(
                    mapper,
                    label,
                    spec.sequence,
                    (spec.scope, spec.context, spec.date, spec.when),
                    numbered=specs.keys(),
                ),
            )
            for key, (spec, column) in specs.items()
        )
        _by_mapper[mapper] = found
    return found


def _resolve(spec: SequenceSpec, column: Any, mapper: Mapper[Any], key: str) -> Sequencing:
    if spec.sequencing is not None:
        return spec.sequencing
    from .sequencing import instances

    every = instances()
    table = getattr(column, "table", None)
    metadata = getattr(table, "metadata", None)
    mine = [s for s in every if s.metadata is metadata]
    if len(mine) == 1:
        return mine[0]
    if not mine and len(every) == 1:
        return every[0]
    found = f"{len(mine)} on its metadata" if mine else f"{len(every)} in this process"
    raise ConfigurationError(
        f"{mapper.class_.__name__}.{key} (sequence {spec.sequence!r}): cannot tell which "
        f"Sequencing numbers it ({found}); pass SequenceColumn(..., sequencing=...)",
        sequence=spec.sequence,
    )


# -- installing the hook ---------------------------------------------------------------

_auto_install = True


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
    from .flush import LISTENERS

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
    from .flush import LISTENERS

    for name, listener in LISTENERS:
        if event.contains(listen_on, name, listener):
            event.remove(listen_on, name, listener)
