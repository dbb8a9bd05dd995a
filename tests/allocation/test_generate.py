"""generate, generate_many and preview: numbers, dates, periods, audit, refusals."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from sa_sequencing import ConfigurationError
from sa_sequencing import PatternError
from sa_sequencing import SequenceExhaustedError
from sa_sequencing import SequenceExhaustionWarning
from sa_sequencing import SequenceLockedError


def test_generate_preview_and_many(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{YEAR}-{DEPARTMENT}-{COUNTER:5}", reset_period="yearly")
        ctx = {"DEPARTMENT": "SALES"}
        day = date(2026, 3, 1)
        assert seqs.preview("inv", scope="t1", context=ctx, date=day) == "INV-2026-SALES-00001"
        assert seqs.generate("inv", scope="t1", context=ctx, date=day) == "INV-2026-SALES-00001"
        assert seqs.preview("inv", scope="t1", context=ctx, date=day) == "INV-2026-SALES-00002"
        assert seqs.generate_many(
            "inv", 3, scope="t1", context={"department": "HR"}, date=day
        ) == [
            "INV-2026-HR-00002",
            "INV-2026-HR-00003",
            "INV-2026-HR-00004",
        ]
        assert seqs.generate("inv", scope="t1", context=ctx, date=day) == "INV-2026-SALES-00005"


def test_start_and_step(tx):
    with tx() as seqs:
        seqs.define("s", "S-{COUNTER:4}", start=100, step=10)
        assert seqs.preview("s") == "S-0100"
        assert seqs.generate("s") == "S-0100"
        assert seqs.generate_many("s", 2) == ["S-0110", "S-0120"]
        assert seqs.preview("s") == "S-0130"
        seqs.define("z", "Z-{COUNTER}", start=0)
        assert seqs.generate_many("z", 2) == ["Z-0", "Z-1"]


def test_rollback_gives_numbers_back(sessions, sequencing, tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER:3}")
        assert seqs.generate("inv") == "INV-001"
    with sessions() as session:
        with session.begin():
            seqs = sequencing.manager(session)
            assert seqs.generate_many("inv", 5) == [f"INV-{i:03d}" for i in range(2, 7)]
            session.rollback()
    with tx() as seqs:
        assert seqs.generate("inv") == "INV-002"
        numbers = [e.number for e in seqs.audit_log("inv") if e.event == "number_generated"]
    assert numbers == ["INV-001", "INV-002"]  # the rolled-back audit rows are gone too


def test_document_date_drives_periods_and_backdating(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{YEAR}-{COUNTER:4}", reset_period="yearly")
        assert seqs.generate("inv", date=date(2026, 12, 31)) == "INV-2026-0001"
        assert seqs.generate("inv", date=date(2027, 1, 1)) == "INV-2027-0001"
        # back-dated into last year: draws from last year's counter
        assert seqs.generate("inv", date=date(2026, 6, 1)) == "INV-2026-0002"
        assert seqs.generate("inv", date=date(2027, 2, 1)) == "INV-2027-0002"


@pytest.mark.parametrize(
    ("period", "pattern", "days", "expected"),
    [
        (
            "monthly",
            "PO-{YEAR}{MONTH}-{COUNTER:4}",
            [date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 1)],
            ["PO-202603-0001", "PO-202603-0002", "PO-202604-0001"],
        ),
        (
            "daily",
            "D-{YEAR}{MONTH}{DAY}-{COUNTER}",
            [date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 2)],
            ["D-20260301-1", "D-20260301-2", "D-20260302-1"],
        ),
        (
            "never",
            "N-{YEAR}-{COUNTER}",
            [date(2025, 3, 1), date(2026, 3, 1)],
            ["N-2025-1", "N-2026-2"],
        ),
    ],
)
def test_reset_periods(tx, period, pattern, days, expected):
    with tx() as seqs:
        seqs.define("x", pattern, reset_period=period)
        assert [seqs.generate("x", date=d) for d in days] == expected


def test_fiscal_year_reset_with_configurable_start(tx):
    with tx() as seqs:
        seqs.define(
            "fy", "FY{FY}/{FYYEND}-{COUNTER:3}", reset_period="fiscal_yearly", fiscal_year_start=4
        )
        got = [
            seqs.generate("fy", date=d)
            for d in (date(2026, 4, 1), date(2027, 3, 31), date(2027, 4, 1), date(2026, 12, 1))
        ]
    assert got == ["FY2026/27-001", "FY2026/27-002", "FY2027/28-001", "FY2026/27-003"]


def test_time_zone_decides_the_document_day(tx):
    with tx() as seqs:
        seqs.define(
            "t", "T-{YEAR}{MONTH}{DAY}-{COUNTER}", reset_period="daily", timezone="Asia/Tokyo"
        )
        # 2026-12-31 20:00 UTC is already 2027-01-01 in Tokyo
        moment = datetime(2026, 12, 31, 20, 0, tzinfo=timezone.utc)
        assert seqs.generate("t", date=moment) == "T-20270101-1"
        # a naive datetime is wall-clock time in the sequence's zone
        assert seqs.generate("t", date=datetime(2026, 12, 31, 20, 0)) == "T-20261231-1"
        today = datetime.now(ZoneInfo("Asia/Tokyo")).date()
        assert seqs.preview("t") == f"T-{today:%Y%m%d}-1"


def test_reset_limit_restarts_with_cycle(tx):
    with tx() as seqs:
        seqs.define("book", "B{CYCLE:2}-{COUNTER:2}", reset_limit=3)
        got = [seqs.generate("book") for _ in range(4)]
        assert seqs.preview("book") == "B02-02"
        assert seqs.generate_many("book", 3) == ["B02-02", "B02-03", "B03-01"]
    assert got == ["B01-01", "B01-02", "B01-03", "B02-01"]


def test_exhaustion_throws_at_capacity_and_preview_agrees(tx, snapshot):
    with tx() as seqs:
        seqs.define("small", "S-{COUNTER:1}", start=8)
        with pytest.warns(SequenceExhaustionWarning, match="'small'.*threshold of 90%"):
            assert seqs.generate_many("small", 2) == ["S-8", "S-9"]
    before = snapshot()
    with tx() as seqs:
        with pytest.raises(SequenceExhaustedError, match=r"'small'.*capacity of 9"):
            seqs.preview("small")
        with pytest.raises(SequenceExhaustedError, match="capacity of 9"):
            seqs.generate("small")
    assert snapshot() == before


def test_bulk_past_capacity_is_refused_whole(tx, snapshot):
    with tx() as seqs:
        seqs.define("small", "S-{COUNTER:1}")
        assert seqs.generate_many("small", 7)[-1] == "S-7"
    before = snapshot()
    with tx() as seqs:
        with pytest.raises(SequenceExhaustedError):
            seqs.generate_many("small", 3)
    assert snapshot() == before
    with tx() as seqs, pytest.warns(SequenceExhaustionWarning):
        assert seqs.generate_many("small", 2) == ["S-8", "S-9"]


def test_extend_padding_keeps_counting(tx):
    with tx() as seqs:
        seqs.define("w", "W-{COUNTER:2}", start=98, overflow="extend_padding")
        with pytest.warns(SequenceExhaustionWarning):
            assert seqs.generate_many("w", 3) == ["W-98", "W-99", "W-100"]
        assert seqs.validate("w", "W-100")


def test_switch_pattern_moves_to_next_series(tx):
    with tx() as seqs:
        seqs.define("sw", "INV-{COUNTER:1}", overflow="switch_pattern")
        with pytest.warns(SequenceExhaustionWarning):
            assert seqs.generate_many("sw", 9)[-1] == "INV-9"
        assert seqs.preview("sw") == "INV-A-1"
        assert seqs.generate_many("sw", 2) == ["INV-A-1", "INV-A-2"]
        seqs.define("sw2", "SW{COUNTER:1}", overflow="switch_pattern")
        with pytest.warns(SequenceExhaustionWarning):
            assert seqs.generate_many("sw2", 19)[-1] == "SW-B-1"


def test_locked_sequence_issues_nothing(tx, snapshot):
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER}")
        assert seqs.generate("inv") == "INV-1"
        seqs.lock("inv", performed_by="admin")
    before = snapshot()
    with tx() as seqs:
        for call in (
            lambda: seqs.generate("inv"),
            lambda: seqs.generate_many("inv", 2),
            lambda: seqs.preview("inv"),
            lambda: seqs.generate("inv", scope="t1"),
        ):
            with pytest.raises(SequenceLockedError, match=r"'inv'.*locked.*unlock"):
                call()
    assert snapshot() == before
    with tx() as seqs:
        seqs.unlock("inv", performed_by="admin")
        assert seqs.generate("inv") == "INV-2"


def test_missing_context_variable_names_it_and_writes_nothing(tx, snapshot):
    with tx() as seqs:
        seqs.define("inv", "INV-{DEPARTMENT}-{COUNTER}")
    before = snapshot()
    with tx() as seqs:
        with pytest.raises(PatternError, match="DEPARTMENT") as info:
            seqs.generate("inv", scope="t1", context={"REGION": "EU"})
        assert info.value.sequence == "inv"
        assert info.value.scope == "t1"
        with pytest.raises(PatternError, match="DEPARTMENT"):
            seqs.preview("inv")
        with pytest.raises(PatternError, match="DEPARTMENT"):
            seqs.generate_many("inv", 3, context={"DEPARTMENT": "A-B"})
        with pytest.raises(TypeError, match="context must be a mapping"):
            seqs.generate("inv", context=["DEPARTMENT"])
    assert snapshot() == before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.generate_many("inv", -3), ValueError, "at least 0"),
        (lambda s: s.generate_many("inv", 10**7), ValueError, "the most one call handles"),
        (lambda s: s.generate_many("inv", 2.0), TypeError, "count must be an int"),
        (lambda s: s.generate("inv", date="2026-01-01"), TypeError, "date must be"),
        (lambda s: s.generate("inv", performed_by=5), TypeError, "performed_by"),
        (lambda s: s.generate(None), TypeError, "name must be a str"),
    ],
)
def test_bad_arguments(tx, snapshot, call, error, message):
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER}")
    before = snapshot()
    with tx() as seqs:
        with pytest.raises(error, match=message):
            call(seqs)
    assert snapshot() == before


def test_audit_rows_per_number_with_actor(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{YEAR}-{COUNTER:3}", reset_period="yearly")
        seqs.generate("inv", scope="t1", date=date(2026, 5, 1), performed_by="clerk")
        seqs.generate_many("inv", 2, scope="t1", date=date(2026, 5, 1), performed_by="batch")
        log = seqs.audit_log("inv", scope="t1")
    generated = [
        (e.number, e.counter_value, e.performed_by) for e in log if e.event == "number_generated"
    ]
    assert generated == [
        ("INV-2026-001", 1, "clerk"),
        ("INV-2026-002", 2, "batch"),
        ("INV-2026-003", 3, "batch"),
    ]
    assert {e.event for e in log} == {"counter_reset", "number_generated"}
    first = next(e for e in log if e.event == "number_generated")
    assert first.data == {"date": "2026-05-01", "period": "2026"}


def test_per_number_audit_can_be_switched_off(tx):
    with tx() as seqs:
        seqs.define("quiet", "Q-{COUNTER}", audit_numbers=False)
        seqs.generate_many("quiet", 3)
        assert [e.event for e in seqs.audit_log("quiet")] == ["pattern_created"]


def test_validate_and_parse(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{YEAR}-{COUNTER:5}")
        number = seqs.generate("inv", date=date(2026, 1, 2))
        assert number == "INV-2026-00001"
        assert seqs.validate("inv", "INV-2026-00042")  # the original package said no
        assert not seqs.validate("inv", "INV-26-00042")
        assert seqs.parse("inv", number) == {"YEAR": 2026, "COUNTER": 1}
        with pytest.raises(PatternError, match="INV-XX"):
            seqs.parse("inv", "INV-XX")


def test_generate_refuses_autocommit_connections(engine, sequencing, tx, snapshot):
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER}")
    before = snapshot()
    auto = engine.execution_options(isolation_level="AUTOCOMMIT")
    from sqlalchemy.orm import Session

    with Session(auto) as session:
        with pytest.raises(ConfigurationError, match="autocommit"):
            sequencing.manager(session).generate("inv")
    assert snapshot() == before


def test_tables_live_on_the_host_metadata_with_prefix(engine):
    from sqlalchemy.orm import DeclarativeBase

    from sa_sequencing import Sequencing

    class HostBase(DeclarativeBase):
        pass

    seq = Sequencing(HostBase, table_prefix="acme_")
    assert sorted(HostBase.metadata.tables) == [
        "acme_sequence_audits",
        "acme_sequence_counters",
        "acme_sequence_gaps",
        "acme_sequence_pattern_versions",
        "acme_sequence_reservations",
        "acme_sequences",
    ]
    fk = next(iter(seq.tables.counters.c.sequence_id.foreign_keys))
    assert fk.target_fullname == "acme_sequences.id"
    for table in seq.tables.all():
        for column in table.primary_key.columns:
            assert not column.nullable
    assert not seq.tables.sequences.c.scope.nullable
    assert not seq.tables.counters.c.period.nullable
    metadata = sa.MetaData()
    plain = Sequencing(metadata, table_prefix="p_")
    assert "p_sequences" in metadata.tables and plain.metadata is metadata
    HostBase.metadata.create_all(engine)
    try:
        from sqlalchemy.orm import Session

        with Session(engine) as session, session.begin():
            seqs = seq.manager(session)
            seqs.define("x", "X-{COUNTER}")
            assert seqs.generate("x") == "X-1"
    finally:
        HostBase.metadata.drop_all(engine)


def test_host_subclasses_a_mixin_with_its_own_columns_and_names(engine):
    from sqlalchemy.orm import DeclarativeBase
    from sqlalchemy.orm import Session

    from sa_sequencing import ConfigurationError
    from sa_sequencing import CounterMixin
    from sa_sequencing import SequenceMixin
    from sa_sequencing import Sequencing

    class HostBase(DeclarativeBase):
        pass

    class NumberingRule(SequenceMixin, HostBase):
        __tablename__ = "host_numbering_rules"
        owner: Mapped[str | None] = mapped_column(String(80))

    seq = Sequencing(HostBase, table_prefix="host_", sequence_class=NumberingRule)
    assert seq.tables.sequences is NumberingRule.__table__
    fk = next(iter(seq.tables.counters.c.sequence_id.foreign_keys))
    assert fk.target_fullname == "host_numbering_rules.id"
    HostBase.metadata.create_all(engine)
    try:
        with Session(engine) as session, session.begin():
            seqs = seq.manager(session)
            seqs.define("x", "X-{COUNTER}")
            assert seqs.generate("x") == "X-1"
            session.execute(NumberingRule.__table__.update().values(owner="accounting"))
            assert session.get(NumberingRule, seqs.get("x").id).owner == "accounting"
    finally:
        HostBase.metadata.drop_all(engine)

    class OtherBase(DeclarativeBase):
        pass

    class Misplaced(CounterMixin, OtherBase):
        __tablename__ = "misplaced_counters"

    with pytest.raises(ConfigurationError, match="__sequences_tablename__"):
        Sequencing(OtherBase, table_prefix="zz_", counter_class=Misplaced)
    with pytest.raises(ConfigurationError, match="must subclass SequenceMixin"):
        Sequencing(OtherBase, table_prefix="yy_", sequence_class=Misplaced)
