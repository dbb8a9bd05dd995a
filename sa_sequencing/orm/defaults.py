"""The row the INSERT will write: column defaults, before the flush hook reads a new object.

SQLAlchemy applies column defaults while it executes the INSERT, after every
``before_flush`` hook has run.  So ``scope=``, ``context=``, ``date=`` and ``when=``
of a :func:`~sa_sequencing.SequenceColumn` would see ``None`` where the row will hold
a default: an invoice whose ``status`` defaults to ``"posted"`` would stay
unnumbered, a document whose date column has a default would be numbered in today's
period.  For each *new* object the hook numbers, this module makes the object show
what its INSERT will write, or refuses:

* **Python-side defaults** the INSERT would compute without a database (a scalar
  ``default="posted"``, a callable taking no argument such as ``default=date.today``,
  a ``MappedAsDataclass`` field default) are computed *once* and put into the
  object's ``__dict__`` before anything reads it.  The INSERT then writes that very
  value (SQLAlchemy only runs a column's default when the object carries no value for
  it), and after the flush the object holds it, as it would have anyway.  A column is
  *unset* as SQLAlchemy's INSERT sees it: absent from ``__dict__``, or ``None``
  (which the INSERT leaves out, so the default applies), except for types that
  store ``None`` itself (``JSON``'s ``null``).

* **What only the database knows** (a ``server_default``, ``Identity`` or
  ``Computed`` column, a SQL-expression default, a default function taking the
  INSERT's execution context, an autoincrement key, the mapper's version counter) is
  refused with a :class:`~sa_sequencing.ConfigurationError` naming the model, the
  attribute and the sequence, before anything is written: a number made from
  ``None`` would be wrong, and guessing the database's value is not an option.

Which columns: an input given as an attribute name reads one known column, so only
that column's default is applied, and an unset column only the database fills is
refused at once.  A callable (and ``when``, and a name that is no column attribute,
such as a ``@property``) may read anything, so every Python-side default of the
object is applied first, and the reads the callable makes of unset database-filled
attributes are *watched*: each such attribute gets an ``init_scalar`` attribute
listener (SQLAlchemy fires it when code reads an attribute a new object has no value
for), and a read recorded while the callable runs makes the flush fail after the
callable returns (not inside it, where the callable's own ``except`` could swallow
the error and carry on with ``None``).  A callable that never reads such an
attribute is not refused for the model having one.  For the duration of the call, a
``None`` the object holds for a database-filled attribute is taken out of
``__dict__`` so that reading it is seen too.  The callable runs on the object itself
(no proxy), so ``isinstance``, methods and properties behave as always.  Limits:
defaults are applied to the numbered object only, not to related objects a callable
reaches through relationships, and foreign keys the flush copies from a related new
object are not seen (as before).

Persistent objects (numbered by ``when`` after their INSERT) hold what the row holds
and need none of this.  If the hook fails, the values it filled in are taken back, so
a refused flush leaves the objects as it found them.

The per-mapper survey of defaults runs once (at the first flush of a model) and each
numbered attribute keeps a :class:`DefaultsPlan`, or ``None`` when it reads nothing
with a default: the hook's cost for such columns is one attribute test per object.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Column
from sqlalchemy import Computed
from sqlalchemy import Identity
from sqlalchemy import event
from sqlalchemy.orm import ColumnProperty
from sqlalchemy.orm import Mapper
from sqlalchemy.sql.schema import CallableColumnDefault
from sqlalchemy.sql.schema import ColumnDefault

from ..errors import ConfigurationError

__all__ = ["DefaultsPlan", "plan_for", "take_back"]

_UNSET: Any = object()
"""A key the object's ``__dict__`` does not hold."""

# SQLAlchemy calls a default with the INSERT's execution context unless the callable
# takes no positional argument, in which case it wraps it in ``lambda ctx: fn()``
# (``ColumnDefault._maybe_wrap_callable``, one lambda for functions, another for
# builtins and other callables it cannot inspect).  Only those wrappers may be called
# before the INSERT: recognising them by their code object follows SQLAlchemy's own
# decision, whatever the callable.
_CONTEXT_FREE = frozenset(
    getattr(CallableColumnDefault(fn).arg, "__code__", None) for fn in (lambda: None, time.time)
)


def _context_free(default: ColumnDefault) -> bool:
    return getattr(default.arg, "__code__", None) in _CONTEXT_FREE


# -- what the INSERT does with each column of a mapper ----------------------------------

_Python = tuple[str, bool, Any]
"""(key, is_callable, value): a value, or SQLAlchemy's zero-argument wrapper."""

_Fill = tuple[str, bool, Any, bool]
"""A :data:`_Python` default, and whether the column stores ``None`` itself."""


class _MapperDefaults:
    """The insert-time defaults of one mapper's column attributes."""

    __slots__ = ("__weakref__", "columns", "database", "evaluates_none", "python", "watching")

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.columns: frozenset[str] = frozenset(p.key for p in mapper.column_attrs)
        self.python: list[_Python] = []
        self.database: dict[str, str] = {}
        evaluates_none = set()
        for prop in mapper.column_attrs:
            kind = _classify(mapper, prop)
            if isinstance(kind, str):
                self.database[prop.key] = kind
            elif kind is not None:
                self.python.append((prop.key, *kind))
            if any(getattr(c.type, "should_evaluate_none", False) for c in prop.columns):
                evaluates_none.add(prop.key)
        self.evaluates_none = frozenset(evaluates_none)
        self.watching: set[str] = set()


def _classify(mapper: Mapper[Any], prop: ColumnProperty[Any]) -> tuple[bool, Any] | str | None:
    """``(is_callable, value)`` for a Python-side default, a reason for a value only the
    database (or the INSERT) makes, ``None`` for a column without default."""
    # an ORM-level default (a MappedAsDataclass field's), which the INSERT writes
    # before the column's own default (SQLAlchemy 2.1)
    orm_default = getattr(prop, "_default_scalar_value", None)
    if orm_default is not None:
        return (False, orm_default)
    # joined inheritance maps one attribute to several tables' columns: the INSERT of
    # the table whose column has a default fills it, and the flush copies it on
    for column in prop.columns:
        if not isinstance(column, Column):
            return "a SQL expression the database computes"
        if mapper.version_id_col is not None and column is mapper.version_id_col:
            return "the version counter the flush sets"
        default = column.default
        if isinstance(default, ColumnDefault):
            if default.is_scalar:
                return (False, default.arg)
            if default.is_callable:
                if _context_free(default):
                    return (True, default.arg)
                return "a default function that needs the INSERT's execution context"
            if default.is_clause_element:
                return "a SQL expression default the database evaluates"
        elif default is not None and default.is_sequence:
            return "a database Sequence"
        server = column.server_default
        if isinstance(server, Identity):
            return "an Identity column"
        if isinstance(server, Computed):
            return "a Computed column"
        if server is not None:
            return "a server_default the database applies"
        if column is getattr(column.table, "autoincrement_column", None):
            return "the database's autoincrement"
    return None


_by_mapper: weakref.WeakKeyDictionary[Mapper[Any], _MapperDefaults] = weakref.WeakKeyDictionary()


def _defaults_of(mapper: Mapper[Any]) -> _MapperDefaults:
    found = _by_mapper.get(mapper)
    if found is None:
        found = _by_mapper[mapper] = _MapperDefaults(mapper)
    return found


# -- watching what a callable reads ------------------------------------------------------

_Read = tuple[Any, str, str]
"""(object, attribute key, why only the database fills it)."""

_READS: ContextVar[list[_Read] | None] = ContextVar("sa_sequencing_reads", default=None)
"""While a watched callable runs: the unset database-filled attributes it read.  A
context variable, so threads and the greenlets of ``AsyncSession`` keep their own."""


def _watch(mapper: Mapper[Any], defaults: _MapperDefaults, keys: Collection[str]) -> None:
    for key in keys:
        if key in defaults.watching:
            continue
        event.listen(mapper.class_manager[key], "init_scalar", _listener(key, defaults))
        defaults.watching.add(key)


def _listener(key: str, defaults: _MapperDefaults) -> Callable[[Any, Any, Any], None]:
    reason = defaults.database[key]

    def read(target: Any, value: Any, dict_: Any) -> None:
        # fired when code reads an attribute a new object has no value for; outside a
        # watched callable it costs this one lookup
        reads = _READS.get()
        if reads is not None:
            reads.append((target, key, reason))

    return read


# -- one numbered attribute's plan -------------------------------------------------------


class DefaultsPlan:
    """How a numbered attribute's inputs see a new object's insert-time values.

    Its methods take the object's ``__dict__`` (``loaded``), which the hook has at
    hand: ``InstanceState.dict`` is a property, and this runs per object.
    """

    __slots__ = ("fill_in", "hideable", "label", "opaque", "refused", "sequence", "watched")

    def __init__(
        self,
        label: str,
        sequence: str,
        fill_in: tuple[_Fill, ...],
        refused: dict[str, tuple[str, bool]],
        opaque: frozenset[str],
        watched: tuple[str, ...],
        hideable: tuple[str, ...],
    ) -> None:
        self.label = label
        self.sequence = sequence
        self.fill_in = fill_in
        """The Python-side defaults to apply, in the mapper's column order."""
        self.refused = refused
        """Attribute-name inputs that only the INSERT fills: the reason, and whether
        the column stores ``None`` itself."""
        self.opaque = opaque
        """Attribute-name inputs that are no column attribute: read like callables."""
        self.watched = watched
        """The database-filled attributes a callable's reads are watched for."""
        self.hideable = hideable
        """Those of ``watched`` whose ``None`` the INSERT leaves out."""

    def fill(self, loaded: dict[str, Any], undo: list[Any]) -> None:
        """Put the Python-side defaults of the unset columns into the object."""
        for key, is_callable, value, evaluates_none in self.fill_in:
            if _unset(loaded, key, evaluates_none):
                previous = loaded.get(key, _UNSET)
                # called once: the INSERT writes this very value, as the object has one
                made = value(None) if is_callable else value
                loaded[key] = made
                undo += (loaded, key, previous, made)

    def read(self, obj: Any, loaded: dict[str, Any], getter: Any, what: str) -> Any:
        """The value of one input (``getter`` not None) of a new object."""
        if not isinstance(getter, str):
            return self.call(getter, obj, loaded, what)
        if getter in self.opaque:
            return self.call(lambda o: getattr(o, getter), obj, loaded, what)
        refused = self.refused.get(getter)
        if refused is not None and _unset(loaded, getter, evaluates_none=refused[1]):
            reason = refused[0]
            raise ConfigurationError(
                f"{self.label} (sequence {self.sequence!r}): its {what} attribute "
                f"{_model(obj)}.{getter} is unset on {obj!r}, and only the INSERT fills "
                f"it ({reason}), after the number is made; set {_model(obj)}.{getter} "
                "before the flush, or give the column a Python-side default instead",
                sequence=self.sequence,
            )
        return loaded[getter] if getter in loaded else getattr(obj, getter)

    def call(self, fn: Callable[[Any], Any], obj: Any, loaded: dict[str, Any], what: str) -> Any:
        """``fn(obj)``, refused if it read an unset attribute only the INSERT fills."""
        if not self.watched:
            return fn(obj)
        # a None the INSERT leaves out (the database fills the column) must be seen
        # when read: out of __dict__ for the call, so that reading it fires init_scalar
        hidden: list[str] | None = None
        for key in self.hideable:
            if loaded.get(key, _UNSET) is None:
                del loaded[key]
                hidden = [*hidden, key] if hidden else [key]
        reads: list[_Read] = []
        token = _READS.set(reads)
        try:
            result = fn(obj)
        finally:
            _READS.reset(token)
            if hidden:
                for key in hidden:
                    loaded.setdefault(key, None)
        if reads:
            target, key, reason = reads[0]
            raise ConfigurationError(
                f"{self.label} (sequence {self.sequence!r}): its {what} callable read "
                f"{_model(target)}.{key}, which is unset on {target!r} and only the "
                f"INSERT fills ({reason}), so the callable saw None, not what the row "
                f"will hold; set {_model(target)}.{key} before the flush, or give the "
                "column a Python-side default instead",
                sequence=self.sequence,
            )
        return result


def _unset(loaded: Mapping[str, Any], key: str, evaluates_none: bool) -> bool:
    """Whether the INSERT fills ``key`` itself: the object has no value for it, or a
    ``None`` the INSERT leaves out (unless the column stores ``None``, as JSON)."""
    value = loaded.get(key, _UNSET)
    return value is _UNSET or (value is None and not evaluates_none)


def _model(obj: Any) -> str:
    return type(obj).__name__


def plan_for(
    mapper: Mapper[Any],
    label: str,
    sequence: str,
    getters: Collection[Any],
    numbered: Collection[str],
) -> DefaultsPlan | None:
    """The plan of one numbered attribute whose inputs are ``getters`` (attribute
    names, callables or None); ``None`` when its inputs read no column with a default.
    ``numbered`` are the mapper's numbered attributes, which the hook fills itself."""
    defaults = _defaults_of(mapper)
    names = {g for g in getters if isinstance(g, str)}
    named = names & defaults.columns
    if any(g is not None and g not in named for g in getters):
        # a callable (or a name that is no column) may read anything
        python = [p for p in defaults.python if p[0] not in numbered]
        watched = tuple(k for k in defaults.database if k not in numbered)
    else:
        python = [p for p in defaults.python if p[0] in named]
        watched = ()
    evaluates_none = defaults.evaluates_none
    refused = {
        k: (defaults.database[k], k in evaluates_none) for k in named if k in defaults.database
    }
    if not python and not watched and not refused:
        return None
    _watch(mapper, defaults, watched)
    return DefaultsPlan(
        label,
        sequence,
        fill_in=tuple((*p, p[0] in evaluates_none) for p in python),
        refused=refused,
        opaque=frozenset(names - named),
        watched=watched,
        hideable=tuple(k for k in watched if k not in evaluates_none),
    )


def take_back(undo: list[Any]) -> None:
    """Undo :meth:`DefaultsPlan.fill` (the hook failed: the objects are as it found
    them), where nothing replaced the value since."""
    for loaded, key, previous, made in zip(
        undo[::4], undo[1::4], undo[2::4], undo[3::4], strict=True
    ):
        if loaded.get(key, _UNSET) is made:
            if previous is _UNSET:
                del loaded[key]
            else:
                loaded[key] = previous
    undo.clear()
