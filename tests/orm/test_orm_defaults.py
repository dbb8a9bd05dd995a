"""The flush hook sees the row the INSERT will write (issue 10): Python-side column
defaults feed ``scope``, ``context``, ``date`` and ``when`` (and the row keeps the very
values the number was made from), and an input only the database fills at INSERT is a
:class:`ConfigurationError` before anything is written."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from orm_models import BOOKED_ON
from orm_models import POSTING_REFS
from orm_models import SERVER_FILLED_SEQUENCES
from orm_models import Dated
from orm_models import Posting
from orm_models import Shelved
from orm_models import managed
from orm_models import orm_snapshot
from orm_models import posting_rows
from orm_models import server_filled

from sa_sequencing import ConfigurationError
from sa_sequencing import SequenceNotFoundError


@pytest.fixture(autouse=True)
def _fresh_refs() -> None:
    POSTING_REFS.made.clear()


def test_python_defaults_feed_scope_date_context_and_when(orm, define):
    define("posting", "P-{YEAR}-{REF}-{COUNTER:3}", reset_period="yearly")
    with orm() as session, session.begin():
        plain = Posting()  # every input from a default
        # an explicit None is left out of the INSERT, so the default applies to it too
        nulls = Posting(status=None, tenant_id=None)
        draft = Posting(status="draft")
        session.add_all([plain, nulls, draft])
    # status "posted" by default: numbered, in the booking date's year (2019), not
    # today's, in the default tenant's scope, from the very ref the row holds
    assert (plain.number, nulls.number, draft.number) == ("P-2019-R1-001", "P-2019-R2-002", None)
    # each object's default was called once, and the INSERT wrote that value
    assert POSTING_REFS.made == ["R1", "R2", "R3"]
    with orm() as session:
        assert posting_rows(session) == [
            ("t-default", "posted", BOOKED_ON, "R1", "P-2019-R1-001"),
            ("t-default", "posted", BOOKED_ON, "R2", "P-2019-R2-002"),
            ("t-default", "draft", BOOKED_ON, "R3", None),
        ]
    with managed(orm) as seqs:
        ledger = sorted(
            (e.number, e.data["date"], e.data["context"]["REF"])
            for e in seqs.audit_log("posting", scope="t-default")
            if e.event == "number_generated"
        )
    assert ledger == [
        ("P-2019-R1-001", "2019-12-31", "R1"),
        ("P-2019-R2-002", "2019-12-31", "R2"),
    ]


def test_attribute_getters_see_their_columns_defaults(orm, define):
    define("dated", "D-{YEAR}{MONTH}{DAY}-{COUNTER}")
    with orm() as session, session.begin():
        first, second = Dated(), Dated(desk="back")
        session.add_all([first, second])
    today = date.today()  # Dated.issued_on defaults to date.today (a builtin)
    assert (first.number, second.number) == (f"D-{today:%Y%m%d}-1", f"D-{today:%Y%m%d}-1")
    with orm() as session:
        rows = session.execute(
            sa.select(Dated.desk, Dated.issued_on, Dated.stamp, Dated.number).order_by(Dated.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("front", today, "R1", first.number),
        ("back", today, "R2", second.number),
    ]
    # the stamp default, which no input reads, was still called once per row
    assert POSTING_REFS.made == ["R1", "R2"]


def test_a_property_named_as_input_sees_the_defaults_it_reads(orm, define):
    define("shelved", "S-{COUNTER}")
    with orm() as session, session.begin():
        shelved = [Shelved(), Shelved(shelf="B"), Shelved()]
        session.add_all(shelved)
    with managed(orm) as seqs:
        issued = sorted(
            (e.scope, e.number) for e in seqs.audit_log("shelved") if e.event == "number_generated"
        )
    assert issued == [("shelf_A", "S-1"), ("shelf_A", "S-2"), ("shelf_B", "S-1")]
    assert [s.shelf for s in shelved] == ["A", "B", "A"]


def test_a_refused_flush_takes_the_defaults_back_off(orm, define, engine):
    before = orm_snapshot(engine)
    with orm() as session:
        posting = Posting()
        session.add(posting)
        with pytest.raises(SequenceNotFoundError, match=r"Posting\.number"):
            session.flush()
        # as it was before the flush: no number, no value filled in from a default
        assert posting.number is None
        assert not {"tenant_id", "status", "booked_on", "ref"} & set(vars(posting))
        session.rollback()
    assert orm_snapshot(engine) == before
    define("posting", "P-{REF}-{COUNTER}")
    with orm() as session, session.begin():
        session.add(posting)
    # the default ran again for the flush that wrote the row, and only its value is kept
    assert POSTING_REFS.made == ["R1", "R2"]
    assert posting.number == "P-R2-1"
    with orm() as session:
        assert posting_rows(session) == [
            ("t-default", "posted", BOOKED_ON, "R2", "P-R2-1"),
        ]


def test_every_input_set_numbers_every_column(orm, define):
    for name in SERVER_FILLED_SEQUENCES:
        define(name, "{YEAR}-{COUNTER}" if name in ("sf_date", "sf_sql") else "{COUNTER}")
    with orm() as session, session.begin():
        row = server_filled()
        session.add(row)
    numbers = [row.by_date, row.by_scope, row.by_sql_default, row.by_context_default]
    assert [*numbers, row.by_when, row.by_context, row.by_id] == [
        "2024-1",
        "1",
        "2024-1",
        "1",
        "1",
        "1",
        "1",
    ]


@pytest.mark.parametrize(
    ("unset", "attribute", "sequence", "reason"),
    [
        ({"kept_on": ...}, "by_date", "sf_date", "server_default"),
        ({"desk": ...}, "by_scope", "sf_scope", "server_default"),
        ({"desk": None}, "by_scope", "sf_scope", "server_default"),
        ({"day": ...}, "by_sql_default", "sf_sql", "SQL expression"),
        ({"at_insert": ...}, "by_context_default", "sf_ctx", "execution context"),
        ({"status": ...}, "by_when", "sf_when", "server_default"),
        ({"status": None}, "by_when", "sf_when", "server_default"),
        ({"note": ...}, "by_context", "sf_context", "server_default"),
        ({"id": ...}, "by_id", "sf_id", "autoincrement"),
    ],
    ids=lambda v: (
        "-".join(f"{k}={'unset' if x is ... else x}" for k, x in v.items())
        if isinstance(v, dict)
        else None
    ),
)
def test_an_input_only_the_database_fills_is_refused(
    orm, define, engine, unset, attribute, sequence, reason
):
    for name in SERVER_FILLED_SEQUENCES:
        define(name, "{YEAR}-{COUNTER}")
    before = orm_snapshot(engine)
    (column,) = unset
    with orm() as session:
        row = server_filled(**unset)
        session.add(row)
        with pytest.raises(ConfigurationError) as refused:
            session.flush()
        message = str(refused.value)
        assert refused.value.sequence == sequence
        assert f"ServerFilled.{attribute} (sequence {sequence!r})" in message
        assert f"ServerFilled.{column}" in message
        assert reason in message
        assert "before the flush" in message  # what to do
        assert all(getattr(row, key) is None for key in ("by_date", "by_scope", "by_when"))
        session.rollback()
    assert orm_snapshot(engine) == before
