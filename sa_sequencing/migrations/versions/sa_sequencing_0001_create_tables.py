"""sa_sequencing: create the six sequencing tables.

Revision ID: sa_sequencing_0001
Revises:
Create Date: 2026-01-01 00:00:00

Frozen: the tables are spelled out as the models of sa_sequencing 0.1 define them, with
no reference to :mod:`sa_sequencing.models`, so this revision means the same thing
whatever version of the package runs it. Later schema changes are later revisions.

The table names take the prefix configured as ``sa_sequencing.table_prefix`` in the
host's Alembic configuration.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from sa_sequencing.alembic import table_prefix

# revision identifiers, used by Alembic.
revision: str = "sa_sequencing_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("sa_sequencing",)
depends_on: str | Sequence[str] | None = None

# sa_sequencing.types.UTCDateTime as DDL: TIMESTAMP WITH TIME ZONE on PostgreSQL,
# DATETIME(6) on MySQL/MariaDB, DATETIME on SQLite.
UTC_DATETIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# sa_sequencing.types.JSONText as DDL.
JSON_TEXT = sa.Text()
# A 64-bit auto-incrementing key; SQLite only auto-increments INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _sequence_fk(prefix: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{prefix}sequences.id", ondelete="CASCADE")


def upgrade() -> None:
    prefix = table_prefix(op.get_context().config)
    sequences = f"{prefix}sequences"
    counters = f"{prefix}sequence_counters"
    reservations = f"{prefix}sequence_reservations"
    gaps = f"{prefix}sequence_gaps"
    pattern_versions = f"{prefix}sequence_pattern_versions"
    audits = f"{prefix}sequence_audits"

    op.create_table(
        sequences,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(191), nullable=False, server_default=sa.text("''")),
        sa.Column("pattern", sa.String(255), nullable=False),
        sa.Column("reset_period", sa.String(16), nullable=False),
        sa.Column("reset_limit", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("gap_policy", sa.String(24), nullable=False),
        sa.Column("overflow", sa.String(24), nullable=False),
        sa.Column("exhaustion_threshold", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("fiscal_year_start", sa.Integer(), nullable=False),
        sa.Column("cache_size", sa.Integer(), nullable=False),
        sa.Column("audit_numbers", sa.Boolean(), nullable=False),
        sa.Column("allow_repeats", sa.Boolean(), nullable=False),
        sa.Column("is_locked", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("metadata", JSON_TEXT, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("name", "scope", name=f"uq_{sequences}_name_scope"),
    )

    op.create_table(
        counters,
        sa.Column(
            "sequence_id",
            sa.Integer(),
            _sequence_fk(prefix),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("scope", sa.String(191), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )

    op.create_table(
        reservations,
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("reservation_id", sa.String(36), nullable=False),
        sa.Column("scope", sa.String(191), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("performed_by", sa.String(255), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.Column("sequence_id", sa.Integer(), _sequence_fk(prefix), nullable=False),
    )
    op.create_index(f"ix_{reservations}_reservation", reservations, ["reservation_id"])
    op.create_index(f"ix_{reservations}_expiry", reservations, ["status", "expires_at"])

    op.create_table(
        gaps,
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(191), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("performed_by", sa.String(255), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("filled_at", UTC_DATETIME, nullable=True),
        sa.Column("filled_number", sa.String(255), nullable=True),
        sa.Column("sequence_id", sa.Integer(), _sequence_fk(prefix), nullable=False),
        sa.UniqueConstraint(
            "sequence_id", "scope", "period", "cycle", "value", name=f"uq_{gaps}_value"
        ),
    )
    op.create_index(
        f"ix_{gaps}_pool", gaps, ["sequence_id", "scope", "period", "status", "cycle", "value"]
    )

    op.create_table(
        pattern_versions,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pattern", sa.String(255), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_until", sa.Date(), nullable=True),
        sa.Column("performed_by", sa.String(255), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sequence_id", sa.Integer(), _sequence_fk(prefix), nullable=False),
    )
    op.create_index(
        f"ix_{pattern_versions}_effective", pattern_versions, ["sequence_id", "effective_from"]
    )

    op.create_table(
        audits,
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("sequence_name", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(191), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("number", sa.String(255), nullable=True),
        sa.Column("counter_value", sa.BigInteger(), nullable=True),
        sa.Column("data", JSON_TEXT, nullable=True),
        sa.Column("performed_by", sa.String(255), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )
    op.create_index(f"ix_{audits}_sequence", audits, ["sequence_name", "scope", "id"])


def downgrade() -> None:
    prefix = table_prefix(op.get_context().config)
    # Dropping a table drops its indexes; the tables that point to sequences go first.
    for name in (
        "sequence_audits",
        "sequence_pattern_versions",
        "sequence_gaps",
        "sequence_reservations",
        "sequence_counters",
        "sequences",
    ):
        op.drop_table(f"{prefix}{name}")
