"""The six sequencing tables on a host's metadata: the mapped classes, made once.

:func:`build_tables` puts the tables of one :class:`~sa_sequencing.Sequencing` on the
host's declarative base (or metadata): the host's own subclasses of the mixins where
given, generated classes elsewhere.  Everything is checked before the first class is
made, because a mapped class cannot be taken back out of a declarative registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase

from ..errors import ArgumentTypeError
from ..errors import ConfigurationError
from .models import AuditMixin
from .models import CounterMixin
from .models import GapMixin
from .models import PatternVersionMixin
from .models import ReservationMixin
from .models import SequenceMixin

__all__ = ["ROLES", "SequencingTables", "build_tables", "declarative_base"]

_TABLE_INFO = "sa_sequencing.role"
"""``Table.info`` key marking the tables of a Sequencing (its value: the role)."""


ROLES: dict[str, tuple[str, type[Any]]] = {
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


def declarative_base(base: Any) -> Any:
    """``base`` if it is a declarative base; a new one on ``base`` if it is a MetaData."""
    if isinstance(base, MetaData):

        class _Base(DeclarativeBase):
            metadata = base

        return _Base
    if isinstance(base, type) and hasattr(base, "registry") and hasattr(base, "metadata"):
        return base
    raise ArgumentTypeError(
        f"Sequencing() takes a declarative base class or a MetaData, not {base!r}"
    )


def build_tables(
    base: Any, table_prefix: str, given: Mapping[str, type[Any] | None]
) -> SequencingTables:
    """The six mapped classes on ``base`` (a declarative base): the host's classes in
    ``given`` (by role), generated ones for the roles given as ``None``."""
    # Everything is checked before the first class is made: a mapped class cannot
    # be taken back out of a declarative registry, and one left half-registered
    # would be in the way of the next Sequencing and of every mapper configuration.
    for role, (_, mixin) in ROLES.items():
        cls = given[role]
        if cls is not None and not (isinstance(cls, type) and issubclass(cls, mixin)):
            raise ConfigurationError(f"{role}_class must subclass {mixin.__name__}, got {cls!r}")
    metadata: MetaData = base.metadata
    names = {
        role: f"{table_prefix}{table_name}"
        for role, (table_name, _) in ROLES.items()
        if given[role] is None
    }
    _check_free(metadata, names.values(), table_prefix)
    sequence_class = given["sequence"]
    sequences_table = (
        sequence_class.__tablename__ if sequence_class is not None else names["sequence"]
    )
    _check_foreign_keys(metadata, given, names, sequences_table)
    classes: dict[str, type[Any]] = {}
    for role, (_, mixin) in ROLES.items():
        cls = given[role]
        if cls is None:
            cls = type(
                f"{_camel(table_prefix)}{mixin.__name__.removesuffix('Mixin')}",
                (mixin, base),
                {
                    "__tablename__": names[role],
                    "__sequences_tablename__": sequences_table,
                    "__module__": __name__,
                },
            )
        classes[f"{role}_class"] = cls
    tables = SequencingTables(**classes)
    for role, table in zip(ROLES, tables.all(), strict=True):
        table.info.setdefault(_TABLE_INFO, role)
    return tables
