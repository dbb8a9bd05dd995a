"""Sequences declared in code: what a host wants stored, checked before any session.

A :class:`SequenceDeclaration` is a definition as the code states it: a name, a scope
(``None``: the global definition), a pattern and the options of
:meth:`~sa_sequencing.SequenceManager.define`, validated at declaration time by the
very gate ``define`` and ``update`` use (:func:`~.definitions.validate_options`), so a
typo fails at import, not at the first invoice.  ``sequencing.declare(...)`` and
``SequenceColumn(..., pattern=...)`` make them; ``sequencing.sync(session)`` compares
them with the stored definitions (:class:`SyncReport`).

Nothing here touches a database: a declaration is a value, and
:class:`DeclarationRegistry` a plain set of them keyed by (name, scope).
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from ..errors import ConfigurationError
from ..errors import describe
from .definitions import DEFAULTS
from .definitions import SequenceDefinition
from .definitions import normalize_name
from .definitions import normalize_scope
from .definitions import validate_options

__all__ = [
    "COLUMN_INFO_KEY",
    "DeclarationDriftError",
    "DeclarationRegistry",
    "Differences",
    "SequenceDeclaration",
    "SyncReport",
    "declare_sequence",
    "jsonable_options",
]

#: The ``Column.info`` key of a ``SequenceColumn`` (its spec may carry a declaration).
COLUMN_INFO_KEY = "sa_sequencing"

#: Option name -> ``(stored, declared)``, values as the ledger writes them (enums as text).
Differences = dict[str, tuple[Any, Any]]

#: (name, scope key): ``""`` for the global definition.
Key = tuple[str, str]


def jsonable_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with enums as their text, as the ledger and reports show them."""
    return {k: (str(v.value) if hasattr(v, "value") else v) for k, v in options.items()}


@dataclass(frozen=True)
class SequenceDeclaration:
    """A sequence definition as the code declares it (see the module).

    :attr:`options` holds every option of ``define`` (defaults filled in), as
    validated; :meth:`differences` compares them with a stored definition.
    """

    name: str
    scope: str | None
    pattern: str
    options: Mapping[str, Any] = field(compare=False, hash=False)
    """Every option of ``define`` as declared (defaults filled in)."""
    compared_values: tuple[tuple[str, Any], ...] = field(repr=False, hash=False)
    """Pattern and options as validated and stored, enums as text."""

    @property
    def scope_key(self) -> str:
        """The stored scope: ``""`` for the global definition."""
        return self.scope or ""

    @property
    def key(self) -> Key:
        return (self.name, self.scope_key)

    def describe(self) -> str:
        return describe(self.name, self.scope_key)

    def define_arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``define`` that store this declaration."""
        return {"name": self.name, "pattern": self.pattern, "scope": self.scope, **self.options}

    def compared(self) -> dict[str, Any]:
        """Pattern and options, as :meth:`differences` compares them."""
        return dict(self.compared_values)

    def differences(self, stored: SequenceDefinition) -> Differences:
        """Each option (and ``pattern``) where ``stored`` differs from this
        declaration: ``{option: (stored, declared)}``; empty when they agree.

        ``is_locked`` and the pattern versions of
        :meth:`~sa_sequencing.SequenceManager.define_version` are the operators' and
        not declared, so never a difference.
        """
        have = {"pattern": stored.pattern, **jsonable_options(stored.options())}
        return {k: (have.get(k), v) for k, v in self.compared_values if have.get(k) != v}


def declare_sequence(
    name: str, pattern: str, *, scope: str | None = None, **options: Any
) -> SequenceDeclaration:
    """A :class:`SequenceDeclaration`, validated as ``define(name, pattern, scope=scope,
    **options)`` would be: an unknown option is an
    :class:`~sa_sequencing.ArgumentTypeError`, a value that cannot work a
    :class:`~sa_sequencing.ConfigurationError` or :class:`~sa_sequencing.PatternError`."""
    name = normalize_name(name)
    scope_key = normalize_scope(scope)
    values = validate_options(name, scope_key, pattern, {**DEFAULTS, **options})
    given = {k: options.get(k, DEFAULTS[k]) for k in DEFAULTS}
    # The checked copy: a caller's dict changed after declaring changes nothing here.
    given["metadata"] = values["metadata_"]
    view = {k: v for k, v in values.items() if k in DEFAULTS}
    view["metadata"] = values.get("metadata_")
    compared = {"pattern": values["pattern"], **jsonable_options(view)}
    return SequenceDeclaration(
        name=name,
        scope=scope_key or None,
        pattern=values["pattern"],
        options=given,
        compared_values=tuple(compared.items()),
    )


class DeclarationRegistry:
    """The declarations of one :class:`~sa_sequencing.Sequencing`, by (name, scope).

    Declaring the same sequence twice identically (a module imported twice, two models
    sharing one sequence) keeps one; declaring it differently is a
    :class:`~sa_sequencing.ConfigurationError` naming the differences, since no
    ``sync`` could satisfy both.
    """

    def __init__(self) -> None:
        self._by_key: dict[Key, SequenceDeclaration] = {}

    def add(self, declaration: SequenceDeclaration) -> SequenceDeclaration:
        existing = self._by_key.get(declaration.key)
        if existing is None:
            self._by_key[declaration.key] = declaration
            return declaration
        check_same(existing, declaration)
        return existing

    def get(self, name: str, scope_key: str) -> SequenceDeclaration | None:
        return self._by_key.get((name, scope_key))

    def __iter__(self) -> Iterator[SequenceDeclaration]:
        return iter(list(self._by_key.values()))

    def __len__(self) -> int:
        return len(self._by_key)


def check_same(first: SequenceDeclaration, second: SequenceDeclaration) -> None:
    """Nothing when ``second`` declares what ``first`` does; else a
    :class:`~sa_sequencing.ConfigurationError` naming each difference."""
    one, two = first.compared(), second.compared()
    differing = {k: (one[k], two[k]) for k in one if one[k] != two[k]}
    if differing:
        listed = "; ".join(f"{k}: {a!r} and {b!r}" for k, (a, b) in differing.items())
        raise ConfigurationError(
            f"{first.describe()} is declared twice, differently ({listed}): declare it once",
            sequence=first.name,
            scope=first.scope,
        )


@dataclass
class SyncReport:
    """What :meth:`~sa_sequencing.Sequencing.sync` found and did, by (name, scope key).

    :attr:`created`: declarations that had no stored definition and now have one;
    :attr:`unchanged`: stored exactly as declared; :attr:`drifted`: stored differently,
    with the differences (``{option: (stored, declared)}``), left as stored;
    :attr:`updated`: stored differently and changed to the declaration
    (``apply=True``), with the differences it had.
    """

    created: list[Key] = field(default_factory=list)
    unchanged: list[Key] = field(default_factory=list)
    drifted: dict[Key, Differences] = field(default_factory=dict)
    updated: dict[Key, Differences] = field(default_factory=dict)

    @property
    def in_sync(self) -> bool:
        """Whether every declaration is now stored as declared (nothing drifted)."""
        return not self.drifted

    def describe(self) -> str:
        """One line per drifted or updated definition, for messages and logs."""
        lines = []
        for title, found in (("differs", self.drifted), ("updated", self.updated)):
            for (name, scope), differences in found.items():
                listed = "; ".join(
                    f"{k}: stored {a!r}, declared {b!r}" for k, (a, b) in differences.items()
                )
                lines.append(f"{describe(name, scope)} {title} ({listed})")
        return "\n".join(lines)


class DeclarationDriftError(ConfigurationError):
    """Stored definitions differ from their declarations in code.

    Raised by :meth:`~sa_sequencing.Sequencing.sync` (unless ``on_drift="report"``)
    before it writes anything.  :attr:`report` is the :class:`SyncReport`: its
    ``drifted`` maps each (name, scope key) to ``{option: (stored, declared)}``.
    """

    report: SyncReport

    def __init__(self, report: SyncReport) -> None:
        (name, scope), *others = report.drifted
        super().__init__(
            f"{len(report.drifted)} stored definition(s) differ from their declarations:\n"
            f"{report.describe()}\n"
            "sync(session, apply=True) changes them to the declarations (audited); "
            "or declare them as stored",
            sequence=None if others else name,
            scope=None if others else scope,
        )
        self.report = report
