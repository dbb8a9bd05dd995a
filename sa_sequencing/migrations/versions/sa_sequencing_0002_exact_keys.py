"""sa_sequencing: keys compare exactly on MySQL/MariaDB (binary, no-pad collation).

Revision ID: sa_sequencing_0002
Revises: sa_sequencing_0001
Create Date: 2026-02-01 00:00:00

Revision 0001 made the key columns (sequence names, scopes, periods, reservation ids,
the ledger's numbers) plain ``VARCHAR`` columns, which on MySQL/MariaDB take the
table's default collation: with ``utf8mb4_general_ci`` the scopes ``acme`` and
``ACME``, or ``é`` and ``e``, or two emoji, were one key.  This revision gives them the
server's binary collation that does not pad (``utf8mb4_nopad_bin`` on MariaDB,
``utf8mb4_0900_bin`` on MySQL 8.0.17+, ``utf8mb4_bin`` before), in ``utf8mb4``.

Binary is stricter than any other collation, so no stored keys can collide; the
``ALTER TABLE ... MODIFY`` keeps every index, primary key and constraint.  Each table
is rebuilt once (all its columns in one statement).  PostgreSQL and SQLite already
compare exactly: there this revision does nothing.

The downgrade gives the columns back the table's default collation; it fails with a
duplicate key error where keys that differ only by case or accent now coexist.

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
revision: str = "sa_sequencing_0002"
down_revision: str | Sequence[str] | None = "sa_sequencing_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table role, column, length, nullable, server default): the key columns as 0001
# made them.
KEY_COLUMNS: tuple[tuple[str, str, int, bool, str | None], ...] = (
    ("sequences", "name", 100, False, None),
    ("sequences", "scope", 191, False, "''"),
    ("sequence_counters", "scope", 191, False, None),
    ("sequence_counters", "period", 16, False, None),
    ("sequence_reservations", "reservation_id", 36, False, None),
    ("sequence_reservations", "scope", 191, False, None),
    ("sequence_reservations", "period", 16, False, None),
    ("sequence_gaps", "scope", 191, False, None),
    ("sequence_gaps", "period", 16, False, None),
    ("sequence_audits", "sequence_name", 100, False, None),
    ("sequence_audits", "scope", 191, False, None),
    ("sequence_audits", "number", 255, True, None),
)


def _exact_collation(dialect: Dialect) -> str:
    # sa_sequencing.types.exact_collation as of this revision
    if getattr(dialect, "is_mariadb", False) or dialect.name == "mariadb":
        return "utf8mb4_nopad_bin"
    version = dialect.server_version_info
    if version is not None and tuple(version[:3]) < (8, 0, 17):
        return "utf8mb4_bin"
    return "utf8mb4_0900_bin"


def _modify(collation: str | None) -> None:
    """One ``ALTER TABLE ... MODIFY col ..., MODIFY col ...`` per table: ``collation``
    (in utf8mb4), or the table's default where ``None``."""
    dialect = op.get_context().dialect
    if dialect.name not in ("mysql", "mariadb"):
        return
    prefix = table_prefix(op.get_context().config)
    preparer = dialect.identifier_preparer
    tables: dict[str, list[str]] = {}
    for role, name, length, nullable, default in KEY_COLUMNS:
        type_ = (
            mysql.VARCHAR(length)
            if collation is None
            else mysql.VARCHAR(length, charset="utf8mb4", collation=collation)
        )
        column = sa.Column(
            name,
            type_,
            nullable=nullable,
            server_default=None if default is None else sa.text(default),
        )
        # A column spec as CREATE TABLE renders it: type, NULL/NOT NULL and default
        # are all restated, since MODIFY drops whatever it does not repeat.
        sa.Table(f"{prefix}{role}", sa.MetaData(), column)
        spec = str(CreateColumn(column).compile(dialect=dialect))
        tables.setdefault(f"{prefix}{role}", []).append(f"MODIFY {spec}")
    for table, changes in tables.items():
        op.execute(f"ALTER TABLE {preparer.quote(table)} {', '.join(changes)}")


def upgrade() -> None:
    _modify(_exact_collation(op.get_context().dialect))


def downgrade() -> None:
    _modify(None)
