"""``SequenceColumn``: declare a numbered column."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import mapped_column

from ..allocation.runtime import Runtime
from ..allocation.runtime import declare_for_column
from ..errors import ArgumentTypeError
from ..rules.declarations import SequenceDeclaration
from ..rules.declarations import declare_sequence
from ..rules.definitions import DEFAULTS
from ..rules.definitions import normalize_name
from ..rules.limits import NUMBER_LENGTH
from .flush import ensure_flush_hook
from .spec import INFO_KEY
from .spec import Getter
from .spec import SequenceSpec

if TYPE_CHECKING:
    from sqlalchemy.orm import MappedColumn


__all__ = ["SequenceColumn"]

_MAPPED_COLUMN_ARGUMENTS = frozenset(inspect.signature(mapped_column).parameters)


def SequenceColumn(
    name: str,
    *,
    scope: Getter = None,
    context: Getter = None,
    date: Getter = None,
    when: Callable[[Any], bool] | None = None,
    sequencing: Runtime | None = None,
    pattern: str | None = None,
    **column_kwargs: Any,
) -> MappedColumn[Any]:
    """A column the flush fills with the next number of sequence ``name``.

    With ``pattern=`` (and any option of :meth:`~sa_sequencing.SequenceManager.define`:
    ``reset_period=``, ``gap_policy=``, ...) the column also declares the sequence's
    global definition, checked now as ``define`` would check it::

        number: Mapped[str | None] = SequenceColumn(
            "invoice_number", pattern="INV-{YEAR}-{COUNTER:5}", reset_period="yearly"
        )

    ``sequencing.sync(session)`` then creates it, or reports how the stored one differs
    (see :meth:`~sa_sequencing.Sequencing.sync`).  Without ``pattern=`` the sequence is
    defined elsewhere, as before.

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
    :param pattern: declare the sequence's global definition with this pattern (and
      the definition options among ``column_kwargs``).
    :param column_kwargs: passed to :func:`~sqlalchemy.orm.mapped_column`
      (``type_``, ``unique``, ``index``, ``nullable``, ``info``, ...).
    """
    name = normalize_name(name)
    declaration = _declaration(name, pattern, column_kwargs)
    spec = SequenceSpec(
        name,
        scope=_getter(scope, "scope"),
        context=_getter(context, "context"),
        date=_getter(date, "date"),
        when=_predicate(when),
        sequencing=_sequencing(sequencing),
        declaration=declaration,
    )
    type_ = column_kwargs.pop("type_", None) or String(NUMBER_LENGTH)
    info = dict(column_kwargs.pop("info", None) or {})
    info[INFO_KEY] = spec
    ensure_flush_hook()
    made = mapped_column(type_, info=info, **column_kwargs)
    if declaration is not None:
        declare_for_column(declaration, made.column, spec.sequencing)
    return made


def _declaration(
    name: str, pattern: str | None, column_kwargs: dict[str, Any]
) -> SequenceDeclaration | None:
    """The declaration of ``pattern=`` and the definition options, taken out of
    ``column_kwargs`` (none of them is an argument of ``mapped_column``)."""
    options = {k: column_kwargs.pop(k) for k in list(column_kwargs) if k in DEFAULTS}
    for key in column_kwargs:
        # mapped_column would take a misspelt option as a dialect argument and only warn.
        close = difflib.get_close_matches(key, DEFAULTS, n=1)
        if close and key not in _MAPPED_COLUMN_ARGUMENTS:
            raise ArgumentTypeError(
                f"SequenceColumn({name!r}): unknown option {key!r}; did you mean {close[0]!r}?"
            )
    if pattern is None:
        if options:
            raise ArgumentTypeError(
                f"SequenceColumn({name!r}): {', '.join(sorted(options))} declare the "
                "sequence's definition: give pattern= too (or define it elsewhere)"
            )
        return None
    return declare_sequence(name, pattern, **options)


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


def _sequencing(value: Any) -> Runtime | None:

    if value is not None and not isinstance(value, Runtime):
        raise ArgumentTypeError(f"SequenceColumn sequencing= takes a Sequencing, not {value!r}")
    return value
