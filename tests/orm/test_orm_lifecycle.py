"""The flush hook draws through the allocator, so the number lifecycle applies to it:
``fill_gaps`` serves voided numbers to new objects, a locked sequence numbers nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from orm_models import ORM_SEQUENCING
from orm_models import Note
from orm_models import numbers_of
from orm_models import orm_snapshot

from sa_sequencing import SequenceLockedError


def test_flush_serves_voided_numbers_under_fill_gaps(orm, define):
    define("note", "N-{COUNTER:3}", gap_policy="fill_gaps")
    with orm() as session, session.begin():
        session.add_all([Note(body=str(i)) for i in range(5)])
    with orm() as session, session.begin():
        # documents deleted before they were sent: their numbers become free gaps
        session.execute(sa.delete(Note).where(Note.number.in_(["N-002", "N-004"])))
        seqs = ORM_SEQUENCING.manager(session)
        seqs.void("note", "N-004", reason="cancelled", performed_by="ann")
        seqs.void("note", "N-002", reason="cancelled", performed_by="ann")
    with orm() as session, session.begin():
        session.add_all([Note(body=str(i)) for i in range(5, 8)])
    with orm() as session:
        # the lowest gap first, then the next, then the counter moves on
        assert numbers_of(session, Note) == [
            "N-001", "N-003", "N-005", "N-002", "N-004", "N-006",
        ]  # fmt: skip
        gaps = ORM_SEQUENCING.manager(session).gaps("note", include_filled=True)
        assert sorted((g.number, g.status) for g in gaps) == [
            ("N-002", "filled"),
            ("N-004", "filled"),
        ]


def test_flush_of_a_locked_sequence_fails_and_changes_nothing(orm, define, engine):
    define("note", "N-{COUNTER}")
    with orm() as session, session.begin():
        ORM_SEQUENCING.manager(session).lock("note", performed_by="admin")
    before = orm_snapshot(engine)
    with orm() as session, pytest.raises(SequenceLockedError, match="note"):
        with session.begin():
            session.add(Note(body="x"))
    assert orm_snapshot(engine) == before
    with orm() as session, session.begin():
        ORM_SEQUENCING.manager(session).unlock("note", performed_by="admin")
        session.add(Note(body="y"))
    with orm() as session:
        assert numbers_of(session, Note) == ["N-1"]
