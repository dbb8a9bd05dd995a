"""The flush hook in transactions: rollbacks and savepoints give numbers back, bad
input fails cleanly, two flushes locking in opposite orders never deadlock, and the
hook installs and uninstalls symmetrically."""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa
from orm_models import AItem
from orm_models import BItem
from orm_models import Invoice
from orm_models import Note
from orm_models import Orphan
from orm_models import Ticket
from orm_models import managed
from orm_models import numbers_of
from orm_models import orm_snapshot
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import sessionmaker

from sa_sequencing import ConfigurationError
from sa_sequencing import PatternError
from sa_sequencing import SequenceColumn
from sa_sequencing import SequenceLockedError
from sa_sequencing import SequenceNotFoundError
from sa_sequencing import Sequencing
from sa_sequencing import SequencingError
from sa_sequencing import install_flush_hook
from sa_sequencing import uninstall_flush_hook
from sa_sequencing.orm.flush import LISTENERS


def test_rollback_gives_every_number_back_and_empties_the_objects(orm, define):
    define("note", "N-{COUNTER}")
    with orm() as session:
        session.begin()
        notes = [Note(), Note(), Note()]
        session.add_all(notes)
        session.flush()
        assert [n.number for n in notes] == ["N-1", "N-2", "N-3"]
        session.rollback()
        assert [n.number for n in notes] == [None, None, None]
    with orm() as session, session.begin():
        session.add_all(notes)  # numbered afresh, from the same counter values
    assert [n.number for n in notes] == ["N-1", "N-2", "N-3"]
    with managed(orm) as seqs:
        issued = [e.number for e in seqs.audit_log("note") if e.event == "number_generated"]
    assert issued == ["N-1", "N-2", "N-3"]


def test_closing_without_commit_gives_numbers_back(orm, define):
    define("note", "N-{COUNTER}")
    with orm() as session:
        note = Note()
        session.add(note)
        session.flush()
        assert note.number == "N-1"
    assert note.number is None
    with orm() as session, session.begin():
        session.add(Note())
    with orm() as session:
        assert numbers_of(session, Note) == ["N-1"]


def test_savepoint_rollback_gives_its_numbers_back(orm, define):
    define("note", "N-{COUNTER}")
    with orm() as session, session.begin():
        kept = Note(body="kept")
        session.add(kept)
        session.flush()
        with session.begin_nested() as nested:
            lost = [Note(body="lost"), Note(body="lost")]
            session.add_all(lost)
            session.flush()
            assert [n.number for n in lost] == ["N-2", "N-3"]
            nested.rollback()
        assert [n.number for n in lost] == [None, None]
        assert kept.number == "N-1"
        with session.begin_nested():
            after = Note(body="after")
            session.add(after)
        # a released savepoint keeps its numbers
        assert after.number == "N-2"
        lost[0].id = None  # the ORM leaves the rolled-back primary key on the object
        session.add(lost[0])
    assert lost[0].number == "N-3"
    with orm() as session:
        assert numbers_of(session, Note) == ["N-1", "N-2", "N-3"]


def test_outer_rollback_after_a_released_savepoint_gives_those_back_too(orm, define):
    define("note", "N-{COUNTER}")
    with orm() as session:
        session.begin()
        with session.begin_nested():
            inner = Note()
            session.add(inner)
        assert inner.number == "N-1"
        session.rollback()
        assert inner.number is None


def test_failed_flush_gives_numbers_back(orm, define):
    define("note", "N-{COUNTER}")
    with orm() as session, session.begin():
        session.add(Note(number="N-1"))
    with orm() as session:
        session.begin()
        clash = Note()  # draws N-1 too: the unique key refuses it
        session.add(clash)
        with pytest.raises(sa.exc.IntegrityError):
            session.flush()
        assert clash.number is None
        session.rollback()


def test_autoflush_numbers_before_a_query(orm, define):
    define("note", "N-{COUNTER}")
    with orm() as session, session.begin():
        note = Note()
        session.add(note)
        # the query autoflushes: the number is drawn (and its counter locked) here
        assert session.scalar(sa.select(sa.func.count()).select_from(Note)) == 1
        assert note.number == "N-1"


def _assert_clean_failure(orm, engine, objects, error, *words):
    before = orm_snapshot(engine)
    with orm() as session:
        session.begin()
        session.add_all(objects)
        with pytest.raises(error) as caught:
            session.flush()
        # the session stays usable: nothing was half-written
        assert all(getattr(o, "number", None) is None for o in objects)
        session.rollback()
    assert isinstance(caught.value, SequencingError)
    for word in words:
        assert word in str(caught.value)
    assert orm_snapshot(engine) == before


def test_undefined_sequence_names_model_attribute_and_sequence(orm, define, engine):
    define("note", "N-{COUNTER}")
    _assert_clean_failure(
        orm,
        engine,
        [Note(), Orphan()],
        SequenceNotFoundError,
        "Orphan.number",
        "'never_defined'",
        "define(",
    )


def test_empty_scope_attribute_is_refused(orm, define, engine):
    define("invoice_number", "INV-{COUNTER}")
    _assert_clean_failure(
        orm,
        engine,
        [Invoice(tenant_id="", status="posted", issued_on=date(2026, 1, 1))],
        ConfigurationError,
        "Invoice.number",
        "'invoice_number'",
        "'tenant_id'",
        "empty",
    )


def test_missing_context_variable_is_refused(orm, define, engine):
    define("ticket", "T-{REGION}-{COUNTER}")
    _assert_clean_failure(
        orm, engine, [Ticket()], PatternError, "Ticket.number", "'ticket'", "REGION"
    )


def test_a_later_counter_refusing_puts_the_earlier_back(orm, define, engine):
    define("seq_a", "A-{COUNTER}")
    define("seq_b", "B-{COUNTER}")
    with managed(orm) as seqs:
        seqs.lock("seq_b")
    # seq_b sorts after seq_a: seq_a's counter has moved when seq_b refuses
    _assert_clean_failure(
        orm, engine, [AItem(), BItem()], SequenceLockedError, "BItem.number", "'seq_b'"
    )
    with orm() as session, session.begin():
        session.add(AItem())
    with orm() as session:
        assert numbers_of(session, AItem) == ["A-1"]


def _flush_concurrently(orm, orders: list[list[type]], rounds: int) -> None:
    """One thread per order: each commits ``rounds`` transactions adding one object of
    each model in its order; then every model holds 1..N without duplicate or hole."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(orders))

    def worker(models: list[type]) -> None:
        start.wait()
        try:
            for _ in range(rounds):
                with orm() as session, session.begin():
                    session.add_all(model() for model in models)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(models,)) for models in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with orm() as session:
        for model, prefix in ((AItem, "A"), (BItem, "B")):
            numbers = sorted(numbers_of(session, model), key=lambda n: int(n[2:]))
            assert numbers == [f"{prefix}-{i}" for i in range(1, len(orders) * rounds + 1)]


def test_two_flushes_locking_in_opposite_orders_never_deadlock(orm, define, backend):
    if backend == "sqlite":
        pytest.skip("SQLite locks the whole database: no row-lock order to get wrong")
    define("seq_a", "A-{COUNTER}")
    define("seq_b", "B-{COUNTER}")
    _flush_concurrently(orm, [[AItem, BItem], [BItem, AItem]], rounds=200)


def test_install_and_uninstall_are_symmetric_and_idempotent(orm, define, engine):
    define("note", "N-{COUNTER}")
    scoped = sessionmaker(engine, expire_on_commit=False)
    try:
        uninstall_flush_hook()
        uninstall_flush_hook()
        assert not any(sa.event.contains(Session, n, f) for n, f in LISTENERS)
        with orm() as session, session.begin():
            unnumbered = Note(number="")
            session.add(unnumbered)
        assert unnumbered.number == ""
        # scoped to one sessionmaker: its sessions number, others do not
        install_flush_hook(scoped)
        install_flush_hook(scoped)
        assert not any(sa.event.contains(Session, n, f) for n, f in LISTENERS)
        with scoped() as session, session.begin():
            numbered = Note()
            session.add(numbered)
        assert numbered.number == "N-1"
        uninstall_flush_hook(scoped)
        assert not any(sa.event.contains(scoped, n, f) for n, f in LISTENERS)
    finally:
        install_flush_hook()
    assert all(sa.event.contains(Session, n, f) for n, f in LISTENERS)
    with pytest.raises(TypeError, match="install_flush_hook"):
        install_flush_hook(object())


def test_ambiguous_sequencing_is_a_clear_error(orm, engine):
    class Elsewhere(DeclarativeBase):
        pass

    class Stray(Elsewhere):
        __tablename__ = "orm_strays"
        id: Mapped[int] = mapped_column(primary_key=True)
        number: Mapped[str | None] = SequenceColumn("stray", type_=String(20))

    assert len([s for s in _sequencings() if s is not None]) > 1
    with orm() as session:
        session.add(Stray())
        with pytest.raises(ConfigurationError, match=r"Stray\.number.*sequencing="):
            session.flush()


def _sequencings() -> list[Sequencing]:
    from sa_sequencing.allocation.runtime import instances

    return instances()


@pytest.mark.stress
def test_many_flushes_in_both_orders_never_deadlock(orm, define, backend):
    """Stress: 4 threads, two in each order, 1,000 transactions each."""
    if backend == "sqlite":
        pytest.skip("SQLite locks the whole database: no row-lock order to get wrong")
    define("seq_a", "A-{COUNTER}")
    define("seq_b", "B-{COUNTER}")
    _flush_concurrently(orm, [[AItem, BItem], [BItem, AItem]] * 2, rounds=1000)
