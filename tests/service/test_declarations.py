"""Sequences declared in code (issue 14, part 1): ``sequencing.declare``,
``SequenceColumn(..., pattern=...)``, ``sequencing.sync`` and creation on first use,
on every database."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from declare_support import declare_invoices
from declare_support import fresh_sequencing
from declare_support import snapshot as table_snapshot
from declare_support import sync_at
from schemas import empty_tables
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import sessionmaker
from threads import run_together

from sa_sequencing import ArgumentTypeError
from sa_sequencing import ConfigurationError
from sa_sequencing import DeclarationDriftError
from sa_sequencing import InvalidArgumentError
from sa_sequencing import PatternError
from sa_sequencing import SequenceColumn
from sa_sequencing import SequenceDeclaration
from sa_sequencing import SequenceNotFoundError
from sa_sequencing import Sequencing
from sa_sequencing import SyncReport
from sa_sequencing import run_in_transaction

YEAR = date.today().year


@pytest.fixture(scope="module")
def _decl_schema(engine: sa.Engine) -> Iterator[None]:
    _, sequencing = fresh_sequencing()
    sequencing.drop_all(engine)
    sequencing.create_all(engine)
    yield
    sequencing.drop_all(engine)


@pytest.fixture
def make(engine: sa.Engine, _decl_schema: None) -> Callable[..., Sequencing]:
    """``make(**options)``: a fresh Sequencing on empty ``decl_*`` tables."""

    def build(**options: Any) -> Sequencing:
        _, sequencing = fresh_sequencing(**options)
        empty_tables(engine, sequencing.tables.all(), sequencing)
        return sequencing

    return build


@pytest.fixture
def sessions(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _sync(sessions: sessionmaker[Session], sequencing: Sequencing, **options: Any) -> SyncReport:
    with sessions() as session, session.begin():
        return sequencing.sync(session, **options)


def _ledger(sessions: sessionmaker[Session], sequencing: Sequencing) -> list[Any]:
    with sessions() as session:
        return sequencing.manager(session).audit_log(limit=None)


# -- declaring ----------------------------------------------------------------------------


def test_declare_checks_what_define_checks_at_declaration():
    _, sequencing = fresh_sequencing()
    with pytest.raises(ArgumentTypeError, match="unknown option"):
        sequencing.declare("inv", "INV-{COUNTER}", reset_periodd="yearly")
    with pytest.raises(PatternError):
        sequencing.declare("inv", "INV-{NOPE}")
    with pytest.raises(ConfigurationError, match="repeat numbers"):
        sequencing.declare("inv", "INV-{COUNTER}", reset_period="yearly")
    with pytest.raises(ConfigurationError, match="step"):
        sequencing.declare("inv", "INV-{COUNTER}", step=0)
    assert len(sequencing.declared()) == 0  # nothing half-declared


def test_declaring_again_identically_is_harmless_differently_an_error():
    _, sequencing = fresh_sequencing()
    first = sequencing.declare("inv", "INV-{COUNTER}", gap_policy="fill_gaps")
    again = sequencing.declare("inv", "INV-{COUNTER}", gap_policy="fill_gaps")
    assert again == first and isinstance(first, SequenceDeclaration)
    with pytest.raises(ConfigurationError, match=r"declared twice.*gap_policy"):
        sequencing.declare("inv", "INV-{COUNTER}", gap_policy="report_gaps_only")
    # another scope is another declaration
    sequencing.declare("inv", "T1-{COUNTER}", scope="t1")
    assert [d.key for d in sequencing.declared()] == [("inv", ""), ("inv", "t1")]


def test_a_declaration_keeps_what_was_declared():
    _, sequencing = fresh_sequencing()
    metadata = {"owner": "finance"}
    declaration = sequencing.declare("inv", "INV-{COUNTER}", metadata=metadata, step=2)
    metadata["owner"] = "someone else"
    assert declaration.options["metadata"] == {"owner": "finance"}
    assert declaration.define_arguments()["step"] == 2
    assert declaration.compared()["gap_policy"] == "allow_gaps"  # defaults filled in


# -- sync ---------------------------------------------------------------------------------


def test_sync_creates_what_is_missing_then_changes_nothing(make, sessions, engine):
    sequencing = make()
    declare_invoices(sequencing)
    report = _sync(sessions, sequencing, performed_by="deploy")
    assert report.created == [("inv", ""), ("inv", "t1"), ("po", "")]
    assert report.in_sync and not report.unchanged
    with sessions() as session:
        seqs = sequencing.manager(session)
        stored = seqs.get("inv", scope="t1")
        assert (stored.pattern, stored.gap_policy.value) == ("T1-{COUNTER:4}", "report_gaps_only")
        assert seqs.get("inv").reset_period.value == "yearly"
    created = [e for e in _ledger(sessions, sequencing) if e.event == "pattern_created"]
    assert sorted((e.sequence_name, e.scope or "", e.performed_by) for e in created) == [
        ("inv", "", "deploy"),
        ("inv", "t1", "deploy"),
        ("po", "", "deploy"),
    ]
    before = table_snapshot(engine, sequencing)
    again = _sync(sessions, sequencing)
    assert again.unchanged == report.created and not again.created
    assert table_snapshot(engine, sequencing) == before


def test_drift_fails_loudly_and_writes_nothing(make, sessions, engine):
    sequencing = make()
    sequencing.declare("inv", "INV-{YEAR}-{COUNTER:5}", reset_period="yearly")
    _sync(sessions, sequencing)
    with sessions() as session, session.begin():
        sequencing.manager(session).update("inv", step=2, pattern="I-{YEAR}-{COUNTER:5}")
    sequencing.declare("po", "PO-{COUNTER}")  # missing: not created either
    before = table_snapshot(engine, sequencing)
    with pytest.raises(DeclarationDriftError) as info:
        _sync(sessions, sequencing)
    assert info.value.report.drifted == {
        ("inv", ""): {
            "pattern": ("I-{YEAR}-{COUNTER:5}", "INV-{YEAR}-{COUNTER:5}"),
            "step": (2, 1),
        }
    }
    message = str(info.value)
    assert "step: stored 2, declared 1" in message and "apply=True" in message
    assert info.value.sequence == "inv"
    assert table_snapshot(engine, sequencing) == before


def test_on_drift_report_returns_the_differences_and_creates_the_missing(make, sessions):
    sequencing = make()
    sequencing.declare("inv", "INV-{COUNTER}", metadata={"owner": "finance"})
    _sync(sessions, sequencing)
    with sessions() as session, session.begin():
        sequencing.manager(session).update("inv", metadata={"owner": "ops"})
    sequencing.declare("po", "PO-{COUNTER}")
    report = _sync(sessions, sequencing, on_drift="report")
    assert report.drifted == {("inv", ""): {"metadata": ({"owner": "ops"}, {"owner": "finance"})}}
    assert report.created == [("po", "")] and not report.in_sync
    with sessions() as session:
        assert sequencing.manager(session).get("inv").metadata == {"owner": "ops"}


def test_apply_changes_drifted_definitions_through_update_audited(make, sessions):
    sequencing = make()
    sequencing.declare("inv", "INV-{COUNTER:5}", scope="t1", gap_policy="report_gaps_only")
    _sync(sessions, sequencing)
    with sessions() as session, session.begin():
        seqs = sequencing.manager(session)
        assert seqs.generate("inv", scope="t1") == "INV-00001"
        seqs.update("inv", scope="t1", gap_policy="allow_gaps", pattern="X-{COUNTER:5}")
    report = _sync(sessions, sequencing, apply=True, performed_by="ops")
    assert report.updated == {
        ("inv", "t1"): {
            "pattern": ("X-{COUNTER:5}", "INV-{COUNTER:5}"),
            "gap_policy": ("allow_gaps", "report_gaps_only"),
        }
    }
    assert report.in_sync
    with sessions() as session, session.begin():
        seqs = sequencing.manager(session)
        assert seqs.generate("inv", scope="t1") == "INV-00002"
        assert seqs.get("inv", scope="t1").gap_policy.value == "report_gaps_only"
    modified = [e for e in _ledger(sessions, sequencing) if e.event == "pattern_modified"]
    assert modified[-1].performed_by == "ops"
    assert modified[-1].data == {
        "changes": {
            "pattern": ["X-{COUNTER:5}", "INV-{COUNTER:5}"],
            "gap_policy": ["allow_gaps", "report_gaps_only"],
        }
    }
    assert _sync(sessions, sequencing).unchanged == [("inv", "t1")]


def test_apply_changes_a_counting_option_while_no_number_exists(make, sessions):
    sequencing = make()
    sequencing.declare("inv", "INV-{YEAR}-{COUNTER}", reset_period="yearly")
    with sessions() as session, session.begin():
        sequencing.manager(session).define("inv", "INV-{YEAR}-{COUNTER}")
    report = _sync(sessions, sequencing, apply=True)
    assert report.updated == {("inv", ""): {"reset_period": ("never", "yearly")}}


def test_apply_refuses_a_counting_option_once_numbers_exist_writing_nothing(
    make, sessions, engine
):
    sequencing = make()
    sequencing.declare("inv", "INV-{YEAR}-{MONTH}-{COUNTER}", reset_period="monthly")
    sequencing.declare("po", "PO-{COUNTER}", step=1)
    with sessions() as session, session.begin():
        seqs = sequencing.manager(session)
        seqs.define("inv", "INV-{YEAR}-{MONTH}-{COUNTER}", reset_period="yearly")
        seqs.define("po", "PO-{COUNTER}", step=3)  # drifted, and changeable
        seqs.generate("inv")
    sequencing.declare("so", "SO-{COUNTER}")  # missing
    before = table_snapshot(engine, sequencing)
    with pytest.raises(ConfigurationError) as info:
        _sync(sessions, sequencing, apply=True)
    assert not isinstance(info.value, DeclarationDriftError)
    assert "reset_period" in str(info.value) and "numbers were issued" in str(info.value)
    assert info.value.sequence == "inv"
    assert table_snapshot(engine, sequencing) == before


def test_sync_checks_its_arguments(make, sessions):
    sequencing = make()
    with sessions() as session:
        with pytest.raises(InvalidArgumentError, match="on_drift"):
            sequencing.sync(session, on_drift="ignore")  # type: ignore[arg-type]
        with pytest.raises(ArgumentTypeError):
            sequencing.sync(session, apply="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="create_declared"):
        fresh_sequencing(create_declared="sometimes")


def test_concurrent_syncs_from_threads_all_succeed_and_create_once(make, engine):
    sequencing = make()
    declare_invoices(sequencing)
    sessions = sessionmaker(engine)

    def start(_: int) -> list[tuple[str, str]]:
        # as documented: InnoDB may pick one of the contenders as a deadlock victim
        return run_in_transaction(sessions, sequencing.sync).created

    created = run_together(4, start)
    assert sorted(key for keys in created for key in keys) == [
        ("inv", ""),
        ("inv", "t1"),
        ("po", ""),
    ]
    with sessions() as session:
        assert len(sequencing.manager(session).list()) == 3
    events = [e.event for e in _ledger(sessionmaker(engine), sequencing)]
    assert events.count("pattern_created") == 3


def test_concurrent_syncs_from_processes_all_succeed(make, engine, url):
    sequencing = make()
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 6  # spawned interpreters import for a few seconds
    with context.Pool(2) as pool:
        created = pool.starmap(sync_at, [(url, start_at), (url, start_at)])
    assert sorted(key for keys in created for key in keys) == [
        ("inv", ""),
        ("inv", "t1"),
        ("po", ""),
    ]
    events = [e.event for e in _ledger(sessionmaker(engine), sequencing)]
    assert events.count("pattern_created") == 3


def test_sync_with_an_async_session_through_run_sync(make, url):
    pytest.importorskip("greenlet")
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import create_async_engine

    drivers = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg_async"}
    drivers["mysql"] = "mysql+asyncmy"
    parsed = sa.make_url(url)
    async_url = parsed.set(drivername=drivers[parsed.get_backend_name()])
    sequencing = make()
    sequencing.declare("inv", "INV-{COUNTER}")

    async def main() -> SyncReport:
        engine = create_async_engine(async_url)
        try:
            async with AsyncSession(engine) as session, session.begin():
                return await session.run_sync(sequencing.sync, performed_by="async")
        finally:
            await engine.dispose()

    import asyncio

    assert asyncio.run(main()).created == [("inv", "")]


# -- SequenceColumn -----------------------------------------------------------------------


def test_sequence_column_declares_and_sync_creates_it(engine, _decl_schema, sessions):
    Base, sequencing = fresh_sequencing()

    class Invoice(Base):
        __tablename__ = "decl_invoices"
        id: Mapped[int] = mapped_column(primary_key=True)
        number: Mapped[str | None] = SequenceColumn(
            "invoice_number",
            pattern="INV-{YEAR}-{COUNTER:5}",
            reset_period="yearly",
            gap_policy="report_gaps_only",
            unique=True,
        )

    Invoice.__table__.drop(engine, checkfirst=True)
    Invoice.__table__.create(engine)
    try:
        empty_tables(engine, sequencing.tables.all(), sequencing)
        assert Invoice.__table__.c.number.unique  # the column's own options still apply
        report = _sync(sessions, sequencing)
        assert report.created == [("invoice_number", "")]
        with sessions() as session, session.begin():
            session.add_all([Invoice(), Invoice()])
        with sessions() as session:
            numbers = session.scalars(sa.select(Invoice.number).order_by(Invoice.id)).all()
            stored = sequencing.manager(session).get("invoice_number")
        assert numbers == [f"INV-{YEAR}-00001", f"INV-{YEAR}-00002"]
        assert stored.gap_policy.value == "report_gaps_only"
        assert _sync(sessions, sequencing).unchanged == [("invoice_number", "")]
    finally:
        Invoice.__table__.drop(engine)


def test_sequence_column_without_pattern_declares_nothing():
    Base, sequencing = fresh_sequencing()

    class Note(Base):
        __tablename__ = "decl_notes"
        id: Mapped[int] = mapped_column(primary_key=True)
        number: Mapped[str | None] = SequenceColumn("note_number", nullable=True)

    assert Note.__table__.c.number.nullable
    assert sequencing.declared() == []
    with pytest.raises(ArgumentTypeError, match="give pattern= too"):
        SequenceColumn("note_number", reset_period="yearly")
    with pytest.raises(ArgumentTypeError, match="did you mean 'reset_period'"):
        SequenceColumn("note_number", pattern="N-{COUNTER}", reset_periodd="yearly")


def test_a_column_declares_for_the_sequencing_that_numbers_it():
    """sequencing= names it; else the one on the model's metadata (a mixin's column,
    copied into each model, included); never another one."""
    Base, mine = fresh_sequencing()
    OtherBase, other = fresh_sequencing()

    class Numbered:
        number: Mapped[str | None] = SequenceColumn("from_mixin", pattern="M-{COUNTER}")

    class Quote(Numbered, Base):
        __tablename__ = "decl_quotes"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Order(OtherBase):
        __tablename__ = "decl_orders_elsewhere"
        id: Mapped[int] = mapped_column(primary_key=True)
        number: Mapped[str | None] = SequenceColumn(
            "named", pattern="N-{COUNTER}", sequencing=mine
        )
        other: Mapped[str | None] = SequenceColumn("own", pattern="O-{COUNTER}")

    assert [d.name for d in mine.declared()] == ["from_mixin", "named"]
    assert [d.name for d in other.declared()] == ["own"]


def test_two_columns_declaring_one_sequence_differently_fail_at_sync():
    Base, sequencing = fresh_sequencing()

    class A(Base):
        __tablename__ = "decl_a"
        id: Mapped[int] = mapped_column(primary_key=True)
        number: Mapped[str | None] = SequenceColumn("shared", pattern="S-{COUNTER}")

    class B(Base):
        __tablename__ = "decl_b"
        id: Mapped[int] = mapped_column(primary_key=True)
        number: Mapped[str | None] = SequenceColumn("shared", pattern="S-{COUNTER:4}")

    with pytest.raises(ConfigurationError, match="declared twice"):
        sequencing.declared()


# -- on first use -------------------------------------------------------------------------


def test_first_use_creates_the_declared_sequence_once_under_a_race(make, engine):
    sequencing = make(create_declared="on_first_use")
    sequencing.declare("inv", "INV-{COUNTER:4}", gap_policy="report_gaps_only")
    sessions = sessionmaker(engine)

    def draw(_: int) -> str:
        with sessions() as session, session.begin():
            return sequencing.manager(session).generate("inv", scope="t1")

    numbers = run_together(4, draw)
    assert sorted(numbers) == ["INV-0001", "INV-0002", "INV-0003", "INV-0004"]
    with sessions() as session:
        stored = sequencing.manager(session).list()
    assert [(d.name, d.scope, d.gap_policy.value) for d in stored] == [
        ("inv", None, "report_gaps_only")
    ]
    events = [e.event for e in _ledger(sessionmaker(engine), sequencing)]
    assert events.count("pattern_created") == 1


def test_first_uses_of_a_global_and_a_scope_declaration_race(make, engine):
    """Threads draw at once from two scopes: one creates the scope's own definition,
    another the global one serving the other scope.  On MariaDB, unpurged index
    entries of deleted definitions (the test empties its tables) make InnoDB pick
    deadlock victims here; run_in_transaction, as documented, runs them again."""
    sequencing = make(create_declared="on_first_use")
    sequencing.declare("inv", "INV-{COUNTER}")
    sequencing.declare("inv", "T1-{COUNTER}", scope="t1")
    sessions = sessionmaker(engine)

    def draw(thread: int) -> str:
        scope = "t1" if thread % 2 else "t2"
        return run_in_transaction(
            sessions, lambda session: sequencing.manager(session).generate("inv", scope=scope)
        )

    assert sorted(run_together(4, draw)) == ["INV-1", "INV-2", "T1-1", "T1-2"]
    events = [e.event for e in _ledger(sessionmaker(engine), sequencing)]
    assert events.count("pattern_created") == 2


def test_first_use_prefers_the_scopes_own_declaration(make, sessions):
    sequencing = make(create_declared="on_first_use")
    sequencing.declare("inv", "INV-{COUNTER}")
    sequencing.declare("inv", "T1-{COUNTER}", scope="t1")
    with sessions() as session, session.begin():
        seqs = sequencing.manager(session)
        assert seqs.generate("inv", scope="t1") == "T1-1"
        assert seqs.generate_many("inv", 2, scope="t2") == ["INV-1", "INV-2"]
        assert [d.scope for d in seqs.list()] == [None, "t1"]


def test_first_use_leaves_undeclared_sequences_and_preview_alone(make, sessions, engine):
    sequencing = make(create_declared="on_first_use")
    sequencing.declare("inv", "INV-{COUNTER}")
    before = table_snapshot(engine, sequencing)
    with sessions() as session, session.begin():
        seqs = sequencing.manager(session)
        with pytest.raises(SequenceNotFoundError):
            seqs.preview("inv")
        with pytest.raises(SequenceNotFoundError):
            seqs.generate("other")
    assert table_snapshot(engine, sequencing) == before


def test_first_use_is_rolled_back_with_its_transaction(make, sessions, engine):
    sequencing = make(create_declared="on_first_use")
    sequencing.declare("inv", "INV-{COUNTER}")
    before = table_snapshot(engine, sequencing)
    with sessions() as session:
        session.begin()
        assert sequencing.manager(session).generate("inv") == "INV-1"
        session.rollback()
    assert table_snapshot(engine, sequencing) == before


def test_without_first_use_a_declared_sequence_needs_sync(make, sessions):
    sequencing = make()
    sequencing.declare("inv", "INV-{COUNTER}")
    with sessions() as session, session.begin():
        with pytest.raises(SequenceNotFoundError):
            sequencing.manager(session).generate("inv")


def test_first_use_through_the_flush_under_a_race(engine, _decl_schema):
    Base, sequencing = fresh_sequencing(create_declared="on_first_use")

    class Order(Base):
        __tablename__ = "decl_orders"
        id: Mapped[int] = mapped_column(primary_key=True)
        number: Mapped[str | None] = SequenceColumn("order_number", pattern="O-{COUNTER:3}")

    Order.__table__.drop(engine, checkfirst=True)
    Order.__table__.create(engine)
    sessions = sessionmaker(engine)
    try:
        empty_tables(engine, sequencing.tables.all(), sequencing)

        def add(_: int) -> None:
            with sessions() as session, session.begin():
                session.add(Order())

        run_together(3, add)
        with sessions() as session:
            numbers = sorted(session.scalars(sa.select(Order.number)).all())
        assert numbers == ["O-001", "O-002", "O-003"]
    finally:
        Order.__table__.drop(engine)
