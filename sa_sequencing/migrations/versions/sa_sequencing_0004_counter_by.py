"""sa_sequencing: per-series counters (``define(..., counter_by=(...))``).

Revision ID: sa_sequencing_0004
Revises: sa_sequencing_0003
Create Date: 2026-12-02 08:00:00

Two changes:

* ``sequences.counter_by``: the context variables whose values each get their own
  counter, comma-separated, ``''`` (the default, so existing definitions keep one
  counter) for none.
* ``period`` of ``sequence_counters``, ``sequence_reservations`` and ``sequence_gaps``
  goes from 16 to 191 characters: a ``counter_by`` definition's period key carries the
  series values after the reset period's (``2026|DEPARTMENT=SALES``).  191 characters
  of ``utf8mb4``, as a scope, stay within InnoDB's 767-byte column prefix limit.

Widening keeps every stored key as it is.  On MySQL/MariaDB the ``MODIFY`` restates
the binary collation of revision 0002; on SQLite, which cannot alter a column, each
table is rebuilt (Alembic's batch mode: copied into a new table, keys and indexes
kept).  The downgrade narrows the columns again, which fails on PostgreSQL and
MySQL/MariaDB where a period key longer than 16 characters (a per-series counter)
exists: delete those sequences first (SQLite does not check lengths); and drops
``counter_by``.

Frozen like 0001: the columns are spelled out here, not taken from the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateColumn

from sa_sequencing.alembic import table_prefix

# revision identifiers, used by Alembic.
revision: str = "sa_sequencing_0004"
down_revision: str | Sequence[str] | None = "sa_sequencing_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERIOD_TABLES = ("sequence_counters", "sequence_reservations", "sequence_gaps")
OLD_PERIOD, NEW_PERIOD = 16, 191
COUNTER_BY_LENGTH = 255


def _exact_collation(dialect: Dialect) -> str:
    # sa_sequencing.types.exact_collation as of this revision (as in 0002)
    if getattr(dialect, "is_mariadb", False) or dialect.name == "mariadb":
        return "utf8mb4_nopad_bin"
    version = dialect.server_version_info
    if version is not None and tuple(version[:3]) < (8, 0, 17):
        return "utf8mb4_bin"
    return "utf8mb4_0900_bin"


def _resize_periods(old: int, new: int) -> None:
    context = op.get_context()
    dialect = context.dialect
    prefix = table_prefix(context.config)
    for role in PERIOD_TABLES:
        table = f"{prefix}{role}"
        if dialect.name in ("mysql", "mariadb"):
            # MODIFY drops what it does not restate: type, collation and NOT NULL.
            type_ = mysql.VARCHAR(new, charset="utf8mb4", collation=_exact_collation(dialect))
            column = sa.Column("period", type_, nullable=False)
            sa.Table(table, sa.MetaData(), column)
            spec = str(CreateColumn(column).compile(dialect=dialect))
            op.execute(f"ALTER TABLE {dialect.identifier_preparer.quote(table)} MODIFY {spec}")
        elif dialect.name == "sqlite":
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.alter_column(
                    "period",
                    type_=sa.String(new),
                    existing_type=sa.String(old),
                    existing_nullable=False,
                )
        else:
            op.alter_column(
                table,
                "period",
                type_=sa.String(new),
                existing_type=sa.String(old),
                existing_nullable=False,
            )


def upgrade() -> None:
    prefix = table_prefix(op.get_context().config)
    op.add_column(
        f"{prefix}sequences",
        sa.Column(
            "counter_by",
            sa.String(COUNTER_BY_LENGTH),
            nullable=False,
            server_default=sa.text("''"),
        ),
    )
    _resize_periods(OLD_PERIOD, NEW_PERIOD)


def downgrade() -> None:
    _resize_periods(NEW_PERIOD, OLD_PERIOD)
    prefix = table_prefix(op.get_context().config)
    with op.batch_alter_table(f"{prefix}sequences") as batch:
        batch.drop_column("counter_by")
