"""Pattern versions (``sequence_pattern_versions``): the repository."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy import select

from ..rules.definitions import SequenceDefinition
from ..rules.versions import PatternVersion
from .repositories import RepositoryBase
from .tables import SequencingTables
from .types import utcnow

__all__ = ["PatternVersionRepository", "select_versions"]


def select_versions(tables: SequencingTables, sequence_id: int) -> Any:
    v = tables.pattern_versions
    return select(v).where(v.c.sequence_id == sequence_id).order_by(v.c.effective_from)


class PatternVersionRepository(RepositoryBase):
    """Pattern versions (``sequence_pattern_versions``)."""

    def for_definition(self, definition: SequenceDefinition) -> list[PatternVersion]:
        """The definition's versions, by ``effective_from``."""
        rows = self.connection.execute(select_versions(self.tables, definition.id))
        return [PatternVersion.from_row(row) for row in rows]

    def create(self, definition: SequenceDefinition, version: PatternVersion) -> None:
        self.connection.execute(
            insert(self.tables.pattern_versions).values(
                sequence_id=definition.id,
                pattern=version.pattern,
                effective_from=version.effective_from,
                effective_until=version.effective_until,
                performed_by=version.performed_by,
                created_at=utcnow(),
            )
        )
