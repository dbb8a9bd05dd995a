"""Repositories: one per table, over a :class:`~sqlalchemy.orm.Session`.

They speak Core on the session's connection, so they take part in the session's
transaction without putting objects in its identity map, and they return immutable
snapshots (:class:`~sa_sequencing.rules.definitions.SequenceDefinition`,
:class:`AuditEntry`).  The manager composes them; a host may use them for its own
reports, or pass its own subclass (an audit repository that also writes to the
host's ledger, say) to :class:`~sa_sequencing.Sequencing`.

The repositories build their statements from a few shared pieces, which a host's
subclass can use as well: :func:`matching` (``column == value`` filters),
:func:`issued_number_key` (how the gap and reservation registries name an issued
number: sequence, scope, period, cycle and value), :func:`count_rows`, and
:func:`snapshot`, which reads a row into a dataclass with the global scope (stored as
``""``) as ``None``.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import DuplicateSequenceError
from ..errors import describe
from ..rules.counters import CounterSnapshot
from ..rules.definitions import SequenceDefinition
from .savepoint import Savepoint
from .tables import SequencingTables
from .types import utcnow

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


__all__ = [
    "ALL_SCOPES",
    "AuditEntry",
    "AuditRepository",
    "CounterRepository",
    "CounterSnapshot",
    "SequenceRepository",
]


class _AllScopes:
    def __repr__(self) -> str:
        return "ALL_SCOPES"


#: Sentinel for "every scope" in listings (``scope=None`` means the global scope).
ALL_SCOPES: Any = _AllScopes()


def new_revision() -> int:
    """An opaque token that changes with every modification of a definition.

    Random rather than incremented: a definition re-created under a reused id (SQLite
    reuses rowids after a rollback) must not look like a cached one.
    """
    return secrets.randbelow(2**31 - 2) + 1


_Snapshot = TypeVar("_Snapshot", bound="DataclassInstance")


def matching(table: Table, **values: Any) -> list[ColumnElement[bool]]:
    """``column == value`` for each keyword, to filter with ``.where(*...)``."""
    return [table.c[name] == value for name, value in values.items()]


def issued_number_key(
    definition: SequenceDefinition, scope: str, period: str, cycle: int, value: int
) -> dict[str, Any]:
    """The columns that tell an issued number in the gap and reservation registries:
    its counter (sequence, scope, period), cycle and value."""
    return {
        "sequence_id": definition.id,
        "scope": scope,
        "period": period,
        "cycle": cycle,
        "value": value,
    }


def count_rows(conn: Connection, *where: ColumnElement[bool]) -> int:
    """How many rows of the table that ``where`` speaks of match it."""
    return int(conn.execute(select(func.count()).where(*where)).scalar() or 0)


def snapshot(cls: type[_Snapshot], row: Any) -> _Snapshot:
    """A ``cls`` (a dataclass whose fields are all columns of ``row``) read from ``row``;
    the global scope, stored as ``""``, reads ``None``."""
    values = {field.name: getattr(row, field.name) for field in dataclasses.fields(cls)}
    if "scope" in values:
        values["scope"] = values["scope"] or None
    return cls(**values)


def ledger_row(
    sequence_name: str,
    scope: str,
    event: str,
    *,
    number: str | None,
    counter_value: int | None,
    data: dict[str, Any] | None,
    performed_by: str | None,
    created_at: datetime,
) -> dict[str, Any]:
    """The values of one ledger row: every column but its id."""
    return {
        "sequence_name": sequence_name,
        "scope": scope,
        "event": event,
        "number": number,
        "counter_value": counter_value,
        "data": data,
        "performed_by": performed_by,
        "created_at": created_at,
    }


class RepositoryBase:
    def __init__(self, session: Session, tables: SequencingTables) -> None:
        self.session = session
        self.tables = tables

    @property
    def connection(self) -> Connection:
        return self.session.connection(bind_arguments={"mapper": self.tables.sequence_class})

    def _of_sequence(
        self, table: Table, definition: SequenceDefinition, scope: str | None, *then_by: Any
    ) -> Select[Any]:
        """The rows of ``definition`` (of one scope, or of all when ``scope`` is
        ``None``), in counter order: by scope, period, then ``then_by``."""
        stmt = select(table).where(table.c.sequence_id == definition.id)
        if scope is not None:
            stmt = stmt.where(table.c.scope == scope)
        return stmt.order_by(table.c.scope, table.c.period, *then_by)

    def _snapshots(self, cls: type[_Snapshot], stmt: Select[Any]) -> list[_Snapshot]:
        return [snapshot(cls, row) for row in self.connection.execute(stmt)]


class SequenceRepository(RepositoryBase):
    """Sequence definitions (``sequences``)."""

    def find(self, name: str, scope: str) -> SequenceDefinition | None:
        """The definition serving ``scope``: its own, else the global template."""
        s = self.tables.sequences
        row = self.connection.execute(
            select(s)
            .where(s.c.name == name, s.c.scope.in_([scope, ""]))
            .order_by(s.c.scope.desc())
            .limit(1)
        ).first()
        return None if row is None else SequenceDefinition.from_row(row)

    def get_exact(
        self, name: str, scope: str, *, for_update: bool = False, for_share: bool = False
    ) -> SequenceDefinition | None:
        """The definition made for exactly this scope (``""``: global), if any, read
        under an exclusive (``for_update``) or shared (``for_share``) row lock if asked."""
        s = self.tables.sequences
        stmt = select(s).where(s.c.name == name, s.c.scope == scope)
        if for_update or for_share:
            stmt = stmt.with_for_update(read=not for_update)
        row = self.connection.execute(stmt).first()
        return None if row is None else SequenceDefinition.from_row(row)

    def list(self, scope: Any = ALL_SCOPES) -> list[SequenceDefinition]:
        s = self.tables.sequences
        stmt = select(s).order_by(s.c.name, s.c.scope)
        if scope is not ALL_SCOPES:
            stmt = stmt.where(s.c.scope == scope)
        return [SequenceDefinition.from_row(row) for row in self.connection.execute(stmt)]

    def create(self, name: str, scope: str, values: dict[str, Any]) -> SequenceDefinition:
        """Insert a definition; :class:`DuplicateSequenceError` if (name, scope) exists.

        The insert runs under a savepoint, so losing a race to a concurrent ``define``
        leaves the caller's transaction usable.
        """
        conn = self.connection
        s = self.tables.sequences
        now = utcnow()
        if self.get_exact(name, scope) is not None:
            raise self._duplicate(name, scope)
        row = {**values, "name": name, "scope": scope, "revision": new_revision()}
        row["created_at"] = row["updated_at"] = now
        row["is_locked"] = False
        row["metadata"] = row.pop("metadata_", None)
        with Savepoint(conn) as rollback:
            try:
                conn.execute(insert(s).values(**row))
            except IntegrityError as exc:
                rollback()
                raise self._duplicate(name, scope) from exc
        if scope:
            # Cached lookups of this scope resolved to the global template: make them stale.
            conn.execute(
                update(s).where(s.c.name == name, s.c.scope == "").values(revision=new_revision())
            )
        created = self.get_exact(name, scope)
        assert created is not None
        return created

    @staticmethod
    def _duplicate(name: str, scope: str) -> DuplicateSequenceError:
        return DuplicateSequenceError(
            f"{describe(name, scope)} is already defined: change it with update() or "
            "delete it first",
            sequence=name,
            scope=scope,
        )

    def update(self, definition: SequenceDefinition, values: dict[str, Any]) -> SequenceDefinition:
        """Write changed columns (column keys as in the table) and a new revision."""
        s = self.tables.sequences
        row = dict(values)
        if "metadata_" in row:
            row["metadata"] = row.pop("metadata_")
        row.update(revision=new_revision(), updated_at=utcnow())
        self.connection.execute(update(s).where(s.c.id == definition.id).values(**row))
        updated = self.get_exact(definition.name, definition.scope_key)
        assert updated is not None
        return updated

    def delete(self, definition: SequenceDefinition) -> None:
        """Delete a definition with its counters, gaps, reservations and versions.

        Dependents are deleted explicitly: SQLite enforces ``ON DELETE CASCADE`` only
        with ``PRAGMA foreign_keys=ON``.  The audit ledger is kept.
        """
        conn = self.connection
        t = self.tables
        for table in (t.counters, t.gaps, t.reservations, t.pattern_versions):
            conn.execute(delete(table).where(table.c.sequence_id == definition.id))
        conn.execute(delete(t.sequences).where(t.sequences.c.id == definition.id))

    def has_counters(self, definition: SequenceDefinition) -> bool:
        c = self.tables.counters
        return bool(
            self.connection.execute(
                select(exists().where(c.c.sequence_id == definition.id))
            ).scalar()
        )


class CounterRepository(RepositoryBase):
    """Counter rows (``sequence_counters``), for reports; numbers are drawn by the
    allocator, never here."""

    def for_sequence(
        self, definition: SequenceDefinition, scope: str | None = None
    ) -> list[CounterSnapshot]:
        return self._snapshots(
            CounterSnapshot, self._of_sequence(self.tables.counters, definition, scope)
        )


@dataclass(frozen=True)
class AuditEntry:
    """One event of the ledger."""

    id: int
    sequence_name: str
    scope: str | None
    event: str
    number: str | None
    counter_value: int | None
    data: dict[str, Any] | None
    performed_by: str | None
    created_at: datetime


class AuditRepository(RepositoryBase):
    """The ledger (``sequence_audits``): written in the caller's transaction."""

    def record(
        self,
        sequence_name: str,
        scope: str,
        event: str,
        *,
        number: str | None = None,
        counter_value: int | None = None,
        data: dict[str, Any] | None = None,
        performed_by: str | None = None,
    ) -> None:
        row = ledger_row(
            sequence_name,
            scope,
            event,
            number=number,
            counter_value=counter_value,
            data=data,
            performed_by=performed_by,
            created_at=utcnow(),
        )
        self.connection.execute(insert(self.tables.audits).values(**row))

    def former_patterns(self, sequence_name: str, scope: str) -> list[str]:
        """The patterns ``update(pattern=...)`` replaced on the definition of
        (``sequence_name``, ``scope``), oldest first: numbers issued before an update
        still have them."""
        a = self.tables.audits
        stmt = (
            select(a.c.data)
            .where(
                a.c.sequence_name == sequence_name,
                a.c.scope == scope,
                a.c.event == "pattern_modified",
            )
            .order_by(a.c.id)
        )
        found: list[str] = []
        for (data,) in self.connection.execute(stmt):
            change = (data or {}).get("changes", {}).get("pattern")
            old = change[0] if isinstance(change, list) and change else None
            if isinstance(old, str) and old not in found:
                found.append(old)
        return found

    def entries(
        self,
        name: str | None = None,
        *,
        scope: Any = ALL_SCOPES,
        events: Sequence[str] | None = None,
        limit: int | None = 100,
    ) -> list[AuditEntry]:
        """The latest ``limit`` entries, oldest first."""
        a = self.tables.audits
        stmt = select(a).order_by(a.c.id.desc())
        if name is not None:
            stmt = stmt.where(a.c.sequence_name == name)
        if scope is not ALL_SCOPES:
            stmt = stmt.where(a.c.scope == (scope or ""))
        if events:
            stmt = stmt.where(a.c.event.in_(list(events)))
        if limit is not None:
            stmt = stmt.limit(limit)
        entries = self._snapshots(AuditEntry, stmt)
        entries.reverse()
        return entries
