"""The six sequencing tables, as declarative mixins a host can extend.

:class:`~sa_sequencing.Sequencing` builds one mapped class per mixin on the host's
declarative base (or on a private base that shares the host's
:class:`~sqlalchemy.schema.MetaData`), so the tables live in the host's metadata,
reach ``create_all`` and Alembic's autogenerate, and can be queried like any
other model.  A host that wants extra columns or other table names subclasses a
mixin itself and passes the class to :class:`~sa_sequencing.Sequencing`::

    class NumberingRule(SequenceMixin, Base):
        __tablename__ = "numbering_rules"
        owner: Mapped[str | None] = mapped_column(String(80))

    sequencing = Sequencing(Base, sequence_class=NumberingRule)

Keys are NOT NULL everywhere: the global scope is the empty string and so is the
period of a sequence that never resets, so a unique key can never be bypassed by
NULLs (PostgreSQL and MySQL treat NULLs as distinct in unique indexes).  They are
:class:`~sa_sequencing.store.types.KeyString` columns, which compare exactly on every
database: ``acme`` and ``ACME`` (or ``é`` and ``e``) are two scopes on MySQL/MariaDB
too, whatever the server's default collation.

The counter row of a (sequence, scope, period) holds the *last issued* value.
A row with ``value = start - step`` is a counter from which nothing was issued yet.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator

from ..rules.limits import ACTOR_LENGTH
from ..rules.limits import COUNTER_BY_LENGTH
from ..rules.limits import NAME_LENGTH
from ..rules.limits import NUMBER_LENGTH
from ..rules.limits import PATTERN_LENGTH
from ..rules.limits import PERIOD_LENGTH
from ..rules.limits import REASON_LENGTH
from ..rules.limits import RESERVATION_ID_LENGTH
from ..rules.limits import SCOPE_LENGTH
from ..rules.limits import TIMEZONE_LENGTH
from .types import JSONText
from .types import KeyString
from .types import UTCDateTime
from .types import utcnow

__all__ = [
    "AuditMixin",
    "CounterMixin",
    "GapMixin",
    "PatternVersionMixin",
    "ReservationMixin",
    "SequenceMixin",
]


# An auto-incrementing 64-bit key; SQLite only auto-increments INTEGER PRIMARY KEY.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

# Where inherited columns stand.  A mapped class lists its own columns first (a host's
# added columns come first of all, at sort order 0), then those of its mixins, so the
# columns the mixins below share would land out of place.  These sort orders keep
# every table's columns in the order every release has created them in (the
# migrations and the Alembic drift tests compare it).
_DETAILS = 1  # a gap's or a reservation's own columns after the issued number
_RECORDED = 2  # who wrote the row and when
_OUTCOME = 3  # what became of a gap or a reservation later
_LAST = 4  # sequence_id


class NameList(TypeDecorator[tuple[str, ...]]):
    """A tuple of context variable names, stored comma-separated (``''`` for none).

    Names are identifiers (letters, digits, ``_``), so a comma never occurs in one.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str:
        return ",".join(value or ())

    def process_result_value(self, value: str | None, dialect: Dialect) -> tuple[str, ...]:
        return tuple(value.split(",")) if value else ()


class _SequencingTable:
    """Shared plumbing: the name of the definitions table that rows point to."""

    __sequences_tablename__ = "sequences"
    """Table name the ``sequence_id`` foreign keys point to; override when renaming."""

    __tablename__: str

    @classmethod
    def _sequence_fk(cls) -> ForeignKey:
        return ForeignKey(f"{cls.__sequences_tablename__}.id", ondelete="CASCADE")


class _SequenceRow(_SequencingTable):
    """A row that belongs to one sequence definition, which it names last."""

    @declared_attr
    @classmethod
    def sequence_id(cls) -> Mapped[int]:
        return mapped_column(Integer, cls._sequence_fk(), sort_order=_LAST)


class _IssuedNumber(_SequenceRow):
    """What pins one issued number: its counter (sequence, scope and period), the
    counter's cycle and value, and the number as it was rendered."""

    scope: Mapped[str] = mapped_column(KeyString(SCOPE_LENGTH), default="")
    period: Mapped[str] = mapped_column(KeyString(PERIOD_LENGTH), default="")
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    value: Mapped[int] = mapped_column(BigInteger)
    number: Mapped[str] = mapped_column(String(NUMBER_LENGTH))


class _Recorded:
    """Who wrote the row, and when."""

    performed_by: Mapped[str | None] = mapped_column(String(ACTOR_LENGTH), sort_order=_RECORDED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, sort_order=_RECORDED)


class SequenceMixin(_SequencingTable):
    """A sequence definition: pattern, policies and state (``sequences``)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(KeyString(NAME_LENGTH))
    scope: Mapped[str] = mapped_column(
        KeyString(SCOPE_LENGTH), default="", server_default=text("''")
    )
    pattern: Mapped[str] = mapped_column(String(PATTERN_LENGTH))
    reset_period: Mapped[str] = mapped_column(String(16), default="never")
    reset_limit: Mapped[int | None] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer, default=1)
    start: Mapped[int] = mapped_column(BigInteger, default=1)
    gap_policy: Mapped[str] = mapped_column(String(24), default="allow_gaps")
    overflow: Mapped[str] = mapped_column(String(24), default="throw_exception")
    exhaustion_threshold: Mapped[int] = mapped_column(Integer, default=90)
    timezone: Mapped[str] = mapped_column(String(TIMEZONE_LENGTH), default="UTC")
    fiscal_year_start: Mapped[int] = mapped_column(Integer, default=1)
    cache_size: Mapped[int] = mapped_column(Integer, default=0)
    audit_numbers: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_repeats: Mapped[bool] = mapped_column(Boolean, default=False)
    is_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped by every change, so cached copies of the definition can be checked."""
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    counter_by: Mapped[tuple[str, ...]] = mapped_column(
        NameList(COUNTER_BY_LENGTH), default=(), server_default=text("''")
    )
    """Context variables whose values each get their own counter (revision 0004)."""

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("name", "scope", name=f"uq_{cls.__tablename__}_name_scope"),)


class CounterMixin(_SequencingTable):
    """One counter per (sequence, scope, period) (``sequence_counters``)."""

    @declared_attr
    @classmethod
    def sequence_id(cls) -> Mapped[int]:
        # First in the table, so the primary key reads (sequence_id, scope, period).
        return mapped_column(Integer, cls._sequence_fk(), primary_key=True, sort_order=-1)

    scope: Mapped[str] = mapped_column(KeyString(SCOPE_LENGTH), primary_key=True)
    period: Mapped[str] = mapped_column(KeyString(PERIOD_LENGTH), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    """The last issued counter value."""
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    """Restarts within the period: count-based resets and overflow series."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GapMixin(_IssuedNumber, _Recorded):
    """A hole in a counter and why it is there (``sequence_gaps``)."""

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    reason: Mapped[str] = mapped_column(String(REASON_LENGTH), sort_order=_DETAILS)
    status: Mapped[str] = mapped_column(String(16), default="unfilled", sort_order=_DETAILS)
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, sort_order=_OUTCOME)
    filled_number: Mapped[str | None] = mapped_column(String(NUMBER_LENGTH), sort_order=_OUTCOME)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        name = cls.__tablename__
        return (
            UniqueConstraint(
                "sequence_id", "scope", "period", "cycle", "value", name=f"uq_{name}_value"
            ),
            Index(f"ix_{name}_pool", "sequence_id", "scope", "period", "status", "cycle", "value"),
        )


class ReservationMixin(_IssuedNumber, _Recorded):
    """A number held for a while under a reservation id (``sequence_reservations``)."""

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    reservation_id: Mapped[str] = mapped_column(KeyString(RESERVATION_ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="reserved", sort_order=_DETAILS)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, sort_order=_DETAILS)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, sort_order=_OUTCOME)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        name = cls.__tablename__
        return (
            Index(f"ix_{name}_reservation", "reservation_id"),
            Index(f"ix_{name}_expiry", "status", "expires_at"),
        )


class PatternVersionMixin(_SequenceRow, _Recorded):
    """A pattern in force for documents dated within a range (``sequence_pattern_versions``)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pattern: Mapped[str] = mapped_column(String(PATTERN_LENGTH))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_until: Mapped[date | None] = mapped_column(Date)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (Index(f"ix_{cls.__tablename__}_effective", "sequence_id", "effective_from"),)


class AuditMixin(_Recorded):
    """The ledger: one row per event (``sequence_audits``).

    It has no foreign key to the definitions: the ledger outlives a deleted sequence.
    """

    __tablename__: str

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    sequence_name: Mapped[str] = mapped_column(KeyString(NAME_LENGTH))
    scope: Mapped[str] = mapped_column(KeyString(SCOPE_LENGTH), default="")
    event: Mapped[str] = mapped_column(String(40))
    # matched by equality when a batch rewords the numbers it drew
    number: Mapped[str | None] = mapped_column(KeyString(NUMBER_LENGTH))
    counter_value: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONText)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        name = cls.__tablename__
        return (
            Index(f"ix_{name}_sequence", "sequence_name", "scope", "id"),
            # the newest row of one event (metrics, void): one probe, whatever the size
            Index(f"ix_{name}_event", "sequence_name", "scope", "event", "id"),
        )
