"""The quickstart, the reservation expiry job and the django-sequences carry-over of
``docs/recipes/`` run as the docs show them, on every database."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from recipe_support import load_recipe
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from threads import run_together

from sa_sequencing import GapPolicy
from sa_sequencing import Sequencing


def column(url: str, query: str) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(query)).scalars())
    finally:
        engine.dispose()


def test_quickstart_runs_and_runs_again(
    recipe_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    quickstart = load_recipe("quickstart")
    quickstart.main(recipe_url)
    out = capsys.readouterr().out.splitlines()
    assert out[:7] == [
        "after the rollback: INV-2026-00003",
        "next for globex: INV-2026-00001",
        "drawn: INV-2026-00004 {'YEAR': 2026, 'COUNTER': 4}",
        "missing numbers: ['INV-2026-00004']",
        "reserved: ['INV-2026-00005', 'INV-2026-00006']",
        "finalized: ['INV-2026-00005']",
        "released: ['INV-2026-00006']",
    ]
    assert [line.split()[1] for line in out[7:]] == [
        "numbers_reserved",
        "reservation_finalized",
        "reservation_released",
    ]
    numbers = "SELECT number FROM invoices ORDER BY number"
    assert column(recipe_url, numbers) == [f"INV-2026-0000{n}" for n in (1, 2, 3)]

    quickstart.main(recipe_url)  # a second start: the definition stays, numbers go on
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "after the rollback: INV-2026-00009"
    assert out[3] == "missing numbers: ['INV-2026-00004', 'INV-2026-00006', 'INV-2026-00010']"
    assert len(column(recipe_url, numbers)) == 6


def test_expiry_job_turns_expired_reservations_into_gaps(
    recipe_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    job = load_recipe("expiry_job")
    sequencing = Sequencing(sa.MetaData())
    engine = sa.create_engine(recipe_url)
    try:
        sequencing.create_all(engine)
        sessions = sessionmaker(engine)
        with sessions.begin() as session:
            seqs = sequencing.manager(session)
            seqs.define("form", "F-{COUNTER:3}", gap_policy=GapPolicy.REPORT_GAPS_ONLY)
            held = seqs.reserve("form", 3, scope="acme", ttl=timedelta(seconds=1))
            kept = seqs.reserve("form", 1, scope="acme", ttl=timedelta(hours=1))
        assert job.release_expired_reservations(sessions, sequencing) == 0
        time.sleep(1.2)
        # two copies of the job at once: each expired number is claimed by one of them
        counts = run_together(2, lambda _: job.release_expired_reservations(sessions, sequencing))
        assert sorted(counts) in ([0, 3], [1, 2])
        with sessions.begin() as session:
            seqs = sequencing.manager(session)
            assert seqs.gap_report("form", scope="acme") == list(held.numbers)
            assert {g.reason for g in seqs.gaps("form", scope="acme")} == {"expired"}
            assert {g.performed_by for g in seqs.gaps("form", scope="acme")} == {"expiry-job"}
            assert seqs.finalize(kept.id) == list(kept.numbers)
        # the script's own entry point, on the tables' default names
        monkeypatch.setenv("DATABASE_URL", recipe_url)
        with caplog.at_level(logging.INFO, logger="expiry_job"):
            assert job.main() == 0
        assert "released 0 expired reserved numbers" in caplog.messages
    finally:
        engine.dispose()


def test_django_sequences_carry_over(recipe_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    carry = load_recipe("from_django_sequences")
    django = sa.MetaData()
    sa.Table(
        "sequences_sequence",
        django,
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("last", sa.BigInteger, nullable=False),
    )
    engine = sa.create_engine(recipe_url)
    try:
        django.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                django.tables["sequences_sequence"].insert(),
                [{"name": "invoice_numbers", "last": 1042}, {"name": "orders", "last": 7}],
            )
        carry.main(recipe_url)
        carry.main(recipe_url)  # again: the sequences are defined already, nothing moves
        lines = capsys.readouterr().out.splitlines()
        expected = ["invoice_numbers: the next number is 1043", "orders: the next number is 8"]
        assert sorted(lines) == sorted(expected * 2)
        sequencing = Sequencing(sa.MetaData())
        with Session(engine) as session, session.begin():
            seqs = sequencing.manager(session)
            assert seqs.generate_many("invoice_numbers", 2) == ["1043", "1044"]
            assert seqs.generate("orders", scope="acme") == "8"  # every counter starts there
    finally:
        engine.dispose()
