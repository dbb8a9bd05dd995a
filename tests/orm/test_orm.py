"""SequenceColumn and the flush hook: numbering on insert, scopes, dates, contexts,
``when``, user values, batches, mixins, inheritance, several models per sequence."""

from __future__ import annotations

import functools
from datetime import date

import pytest
import sqlalchemy as sa
from orm_models import ORM_SEQUENCING
from orm_models import AItem
from orm_models import BItem
from orm_models import Document
from orm_models import Invoice
from orm_models import Note
from orm_models import Order
from orm_models import Quote
from orm_models import Receipt
from orm_models import managed
from orm_models import numbers_of
from orm_models import orm_snapshot
from sqlalchemy import String
from sqlalchemy.orm import Session
from sqlalchemy.orm import scoped_session

from sa_sequencing import NumberRequest
from sa_sequencing import SequenceColumn
from sa_sequencing.orm import INFO_KEY
from sa_sequencing.orm import SequenceSpec

DAY = date(2026, 3, 14)


def test_numbers_new_objects_in_insert_order(orm, define):
    define("note", "N-{COUNTER:4}")
    with orm() as session, session.begin():
        notes = [Note(body=str(i)) for i in range(5)]
        # added in reverse: the numbers follow the order of add(), not of the list
        for note in reversed(notes):
            session.add(note)
        session.flush()
        assert [n.number for n in reversed(notes)] == [f"N-{i:04d}" for i in range(1, 6)]
    with orm() as session:
        # ids follow the insert order too
        assert numbers_of(session, Note) == [f"N-{i:04d}" for i in range(1, 6)]


def test_scope_date_and_context_from_the_object(orm, define):
    define("invoice_number", "INV-{YEAR}-{DEPARTMENT}-{COUNTER:5}", reset_period="yearly")
    with orm() as session, session.begin():
        invoices = [
            Invoice(tenant_id="t1", department="SALES", issued_on=DAY, status="posted"),
            Invoice(tenant_id="t2", department="HR", issued_on=DAY, status="posted"),
            Invoice(tenant_id="t1", department="HR", issued_on=DAY, status="posted"),
            # back-dated into last year: last year's counter
            Invoice(
                tenant_id="t1", department="SALES", issued_on=date(2025, 12, 1), status="posted"
            ),
            Invoice(tenant_id="t1", department="SALES", issued_on=DAY, status="posted"),
        ]
        session.add_all(invoices)
    assert [i.number for i in invoices] == [
        "INV-2026-SALES-00001",
        "INV-2026-HR-00001",
        "INV-2026-HR-00002",
        "INV-2025-SALES-00001",
        "INV-2026-SALES-00003",
    ]
    with managed(orm) as seqs:
        # the audit rows say what the documents say, context included
        audit = [
            (e.number, e.data["context"]["DEPARTMENT"])
            for e in seqs.audit_log("invoice_number", scope="t1")
            if e.event == "number_generated"
        ]
    assert sorted(audit) == [
        ("INV-2025-SALES-00001", "SALES"),
        ("INV-2026-HR-00002", "HR"),
        ("INV-2026-SALES-00001", "SALES"),
        ("INV-2026-SALES-00003", "SALES"),
    ]


def test_when_numbers_only_once_posted(orm, define):
    define("invoice_number", "INV-{YEAR}-{COUNTER:5}", reset_period="yearly")
    with orm() as session, session.begin():
        draft = Invoice(tenant_id="t1", issued_on=DAY)
        posted = Invoice(tenant_id="t1", issued_on=DAY, status="posted")
        session.add_all([draft, posted])
        session.flush()
        assert draft.number is None
        assert posted.number == "INV-2026-00001"
        draft_id = draft.id
    with orm() as session, session.begin():
        draft = session.get(Invoice, draft_id)
        draft.department = "HR"  # dirty, but still a draft
        session.flush()
        assert draft.number is None
        draft.status = "posted"  # now posted: the next flush numbers it
        session.flush()
        assert draft.number == "INV-2026-00002"
    with orm() as session:
        assert session.get(Invoice, draft_id).number == "INV-2026-00002"


def test_user_set_values_are_kept(orm, define):
    define("note", "N-{COUNTER:4}")
    with orm() as session, session.begin():
        mine = Note(number="IMPORTED-7")
        other = Note()
        session.add_all([mine, other])
    assert mine.number == "IMPORTED-7"
    assert other.number == "N-0001"
    with orm() as session, session.begin():
        note = session.get(Note, other.id)
        note.body = "changed"
    with orm() as session:
        assert numbers_of(session, Note) == ["IMPORTED-7", "N-0001"]


def test_one_thousand_objects_one_flush_no_hole(orm, define, engine):
    define("note", "N-{COUNTER:6}")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "orm_sequence_counters" in statement:
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        with orm() as session, session.begin():
            session.add_all(Note(body=str(i)) for i in range(1000))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    with orm() as session:
        rows = session.execute(sa.select(Note.body, Note.number).order_by(Note.id)).all()
    assert [number for _, number in rows] == [f"N-{i:06d}" for i in range(1, 1001)]
    assert [int(body) for body, _ in rows] == list(range(1000))
    # one counter statement for the whole flush
    assert len(statements) == 1


def test_two_models_share_one_sequence_through_a_mixin(orm, define):
    define("ref", "R-{COUNTER:3}")
    with orm() as session, session.begin():
        items = [Order(), Quote(), Order(region="eu"), Quote(), Quote(region="eu")]
        session.add_all(items)
    assert [i.ref for i in items] == ["R-001", "R-002", "R-001", "R-003", "R-002"]
    assert isinstance(Order.__table__.c.ref.info[INFO_KEY], SequenceSpec)


def test_inheritance_numbers_subclasses_from_the_base_column(orm, define):
    define("document", "D-{COUNTER:3}")
    with orm() as session, session.begin():
        docs = [Receipt(amount=5), Document(), Receipt(amount=7)]
        session.add_all(docs)
    assert [d.number for d in docs] == ["D-001", "D-002", "D-003"]


def test_batch_across_sequences_and_flush_lock_in_sorted_order(orm, define, engine):
    define("seq_a", "A-{COUNTER}")
    define("seq_b", "B-{COUNTER}")
    with orm() as session, session.begin():
        seqs = ORM_SEQUENCING.manager(session)
        order: list[str] = []

        def spy(conn, cursor, statement, parameters, context, executemany):
            if "orm_sequence_counters" in statement:
                # the counter statement binds the sequence id first (qmark: a tuple)
                first = (
                    parameters["k_sequence_id"] if isinstance(parameters, dict) else parameters[0]
                )
                order.append(str(first))

        ids = {d.name: str(d.id) for d in seqs.list()}
        sa.event.listen(engine, "before_cursor_execute", spy)
        try:
            got = seqs.generate_batch(
                [NumberRequest("seq_b", 2), NumberRequest("seq_a"), NumberRequest("seq_b")]
            )
            session.add_all([BItem(), AItem(), BItem()])
            session.flush()
        finally:
            sa.event.remove(engine, "before_cursor_execute", spy)
    assert got == [["B-1", "B-2"], ["A-1"], ["B-3"]]
    # seq_a before seq_b in both draws, whatever the order asked
    assert order == [ids["seq_a"], ids["seq_b"], ids["seq_a"], ids["seq_b"]]


def test_works_for_scoped_session_and_sessionmaker(orm, define, engine):
    define("note", "N-{COUNTER}")
    registry = scoped_session(orm)
    try:
        registry.add(Note())
        registry.commit()
        assert numbers_of(registry(), Note) == ["N-1"]
    finally:
        registry.remove()
    with Session(engine) as session, session.begin():
        session.add(Note())
    with orm() as session:
        assert numbers_of(session, Note) == ["N-1", "N-2"]


def test_column_options_and_bad_arguments():
    spec_col = SequenceColumn("x", type_=String(30), index=True)
    assert spec_col.column.info[INFO_KEY].sequence == "x"
    assert spec_col.column.type.length == 30
    with pytest.raises(TypeError, match="attribute name or a callable"):
        SequenceColumn("x", scope=42)
    with pytest.raises(TypeError, match="when= takes a callable"):
        SequenceColumn("x", when="posted")
    with pytest.raises(TypeError, match="takes a Sequencing"):
        SequenceColumn("x", sequencing="nope")


@functools.cache
def _voucher_model() -> type:
    sqlmodel = pytest.importorskip("sqlmodel")

    class Voucher(sqlmodel.SQLModel, table=True):
        __tablename__ = "orm_sqlmodel_vouchers"
        id: int | None = sqlmodel.Field(default=None, primary_key=True)
        number: str | None = sqlmodel.Field(
            default=None,
            sa_column=SequenceColumn("voucher", sequencing=ORM_SEQUENCING).column,
        )

    return Voucher


def test_sqlmodel_models_through_sa_column(orm, define, engine):
    voucher = _voucher_model()
    define("voucher", "V-{COUNTER:3}")
    voucher.__table__.drop(engine, checkfirst=True)
    voucher.__table__.create(engine)
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            vouchers = [voucher(), voucher()]
            session.add_all(vouchers)
        assert [v.number for v in vouchers] == ["V-001", "V-002"]
    finally:
        voucher.__table__.drop(engine)


def test_generate_batch_refuses_bad_requests(orm, define, engine):
    define("seq_a", "A-{COUNTER}")
    before = orm_snapshot(engine)
    with managed(orm) as seqs:
        with pytest.raises(TypeError, match="NumberRequest"):
            seqs.generate_batch([("seq_a", 1)])
        with pytest.raises(ValueError, match="at least 0"):
            seqs.generate_batch([NumberRequest("seq_a", -1)])
    assert orm_snapshot(engine) == before


def test_one_counter_statement_renders_each_document_date(orm, define, engine):
    # yearly counter, monthly token: documents of one flush share the counter (one
    # statement) but each number shows its own month
    define("invoice_number", "INV-{YEAR}{MONTH}-{COUNTER:3}", reset_period="yearly")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "orm_sequence_counters" in statement:
            statements.append(statement)

    days = [date(2026, 1, 31), date(2026, 3, 1), date(2026, 1, 5)]
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        with orm() as session, session.begin():
            invoices = [Invoice(tenant_id="t1", issued_on=d, status="posted") for d in days]
            session.add_all(invoices)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert [i.number for i in invoices] == ["INV-202601-001", "INV-202603-002", "INV-202601-003"]
    assert len(statements) == 1
    with managed(orm) as seqs:
        ledger = [
            (e.number, e.data["date"])
            for e in seqs.audit_log("invoice_number", scope="t1")
            if e.event == "number_generated"
        ]
    assert sorted(ledger) == [
        ("INV-202601-001", "2026-01-31"),
        ("INV-202601-003", "2026-01-05"),
        ("INV-202603-002", "2026-03-01"),
    ]
