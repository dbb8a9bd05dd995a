"""sa_sequencing: an index for the ledger's reads by event.

Revision ID: sa_sequencing_0003
Revises: sa_sequencing_0002
Create Date: 2026-12-02 00:00:00

``metrics`` (the last ``number_generated`` and ``counter_reset`` of a scope),
``void`` (was this number voided before? which patterns did ``update`` replace?) read
the newest ledger row of one event of one sequence and scope.  The ledger's index
(sequence_name, scope, id) finds the scope's rows in order but has to walk them all
to meet an event that is rare: 180 ms at 10^6 rows of one scope on PostgreSQL, growing
with the ledger.  (sequence_name, scope, event, id) answers each in one index probe.

Frozen like 0001: the columns are spelled out here, not taken from the models.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from sa_sequencing.alembic import table_prefix

# revision identifiers, used by Alembic.
revision: str = "sa_sequencing_0003"
down_revision: str | Sequence[str] | None = "sa_sequencing_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _audits() -> str:
    return f"{table_prefix(op.get_context().config)}sequence_audits"


def upgrade() -> None:
    audits = _audits()
    op.create_index(f"ix_{audits}_event", audits, ["sequence_name", "scope", "event", "id"])


def downgrade() -> None:
    audits = _audits()
    op.drop_index(f"ix_{audits}_event", table_name=audits)
