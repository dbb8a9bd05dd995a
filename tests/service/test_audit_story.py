"""The ledger of a whole story read back in order with its actors; override; a gap
report that explains every hole."""

from __future__ import annotations

import random
from datetime import date
from datetime import timedelta
from typing import ClassVar

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from sa_sequencing import AuditRepository
from sa_sequencing import ConfigurationError
from sa_sequencing import InvalidCounterValueError
from sa_sequencing import SequenceLockedError
from sa_sequencing import Sequencing
from sa_sequencing.store.types import utcnow

DAY = date(2026, 3, 10)


def test_the_audit_trail_of_a_full_story(tx):
    with tx() as seqs:
        seqs.define(
            "inv",
            "INV-{YEAR}-{COUNTER:5}",
            reset_period="yearly",
            gap_policy="report_gaps_only",
            performed_by="admin",
        )
    with tx() as seqs:
        assert seqs.generate("inv", date=DAY, performed_by="clerk") == "INV-2026-00001"
        assert seqs.generate("inv", date=DAY, performed_by="clerk") == "INV-2026-00002"
    with tx() as seqs:
        seqs.void("inv", "INV-2026-00001", reason="duplicate", performed_by="auditor")
    with tx() as seqs:
        held = seqs.reserve("inv", 2, date=DAY, performed_by="web")
        seqs.release(held.id, performed_by="web")
    with tx() as seqs:
        seqs.override("inv", 100, date=DAY, performed_by="admin")
        assert seqs.preview("inv", date=DAY) == "INV-2026-00101"
        seqs.lock("inv", performed_by="admin")
    with tx() as seqs:
        trail = [
            (e.event, e.number, e.performed_by)
            for e in seqs.audit_log("inv")
            if e.event != "counter_reset"
        ]
        resets = [e for e in seqs.audit_log("inv") if e.event == "counter_reset"]
        ordered = seqs.audit_log("inv")
    assert trail == [
        ("pattern_created", None, "admin"),
        ("number_generated", "INV-2026-00001", "clerk"),
        ("number_generated", "INV-2026-00002", "clerk"),
        ("number_voided", "INV-2026-00001", "auditor"),
        ("number_generated", "INV-2026-00003", "web"),
        ("number_generated", "INV-2026-00004", "web"),
        ("numbers_reserved", None, "web"),
        ("reservation_released", None, "web"),
        ("counter_overridden", None, "admin"),
        ("sequence_locked", None, "admin"),
    ]
    assert [r.data["period"] for r in resets] == ["2026"]
    assert [e.id for e in ordered] == sorted(e.id for e in ordered)
    assert [e.created_at for e in ordered] == sorted(e.created_at for e in ordered)
    override = next(e for e in ordered if e.event == "counter_overridden")
    assert override.data == {"old_value": 4, "new_value": 100, "period": "2026", "cycle": 1}


def test_override_is_refused_unless_above_every_issued_number(tx, snapshot):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:3}")
        seqs.generate_many("q", 3)
        seqs.reserve("q", 2)  # 4 and 5
    before = snapshot()
    with tx() as seqs:
        for value in (0, 3, 5):
            with pytest.raises(InvalidCounterValueError, match=r"'q'.*numbers up to 5"):
                seqs.override("q", value)
        with pytest.raises(InvalidCounterValueError, match="capacity of 999"):
            seqs.override("q", 1000)
        with pytest.raises(TypeError):
            seqs.override("q", "7")
        with pytest.raises(InvalidCounterValueError, match="numbers up to 0"):
            seqs.override("q", 0, scope="acme")  # a fresh counter: nothing issued
    assert snapshot() == before
    with tx() as seqs:
        seqs.override("q", 6, performed_by="admin")
        assert seqs.generate("q") == "Q-007"
        seqs.override("q", 1, scope="acme")  # creates the scope's counter
        assert seqs.generate("q", scope="acme") == "Q-002"


def test_locked_sequence_can_be_administered_but_issues_nothing(tx, snapshot):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:3}", gap_policy="report_gaps_only")
        seqs.generate_many("q", 3)
        seqs.lock("q")
        seqs.void("q", "Q-002")  # giving numbers back is allowed while locked
        seqs.override("q", 10)
    before = snapshot()
    with tx() as seqs:
        for call in (
            lambda: seqs.generate("q"),
            lambda: seqs.generate_many("q", 2),
            lambda: seqs.reserve("q", 1),
            lambda: seqs.preview("q"),
        ):
            with pytest.raises(SequenceLockedError):
                call()
    assert snapshot() == before


@pytest.mark.parametrize("policy", ["report_gaps_only", "fill_gaps"])
def test_gap_report_explains_every_hole(tx, policy):
    """Voids, releases, finalizations and expiries mixed: every number from 1 to the
    counter is either used or in the registry with its reason."""
    rng = random.Random(4)
    used: set[str] = set()
    with tx() as seqs:
        seqs.define("po", "PO-{YEAR}-{COUNTER:4}", reset_period="yearly", gap_policy=policy)
    for _ in range(25):
        with tx() as seqs:
            action = rng.choice(["generate", "void", "reserve", "reserve"])
            if action == "generate":
                used.update(seqs.generate_many("po", rng.randint(1, 3), date=DAY))
            elif action == "void" and used:
                victim = rng.choice(sorted(used))
                seqs.void("po", victim, reason="cancelled")
                used.discard(victim)
            else:
                held = seqs.reserve(
                    "po", rng.randint(1, 4), date=DAY, ttl=timedelta(minutes=rng.choice((1, 60)))
                )
                numbers = list(held.numbers)
                rng.shuffle(numbers)
                keep, give = numbers[: len(numbers) // 2], numbers[len(numbers) // 2 :]
                if keep:
                    used.update(seqs.finalize(held.id, keep))
                if give and rng.random() < 0.5:
                    seqs.release(held.id, give)
    with tx() as seqs:
        seqs.release_expired(now=utcnow() + timedelta(minutes=5))
        counter = seqs.metrics("po", date=DAY).current_value
        gaps = seqs.gaps("po")
        still_held = seqs.metrics("po", date=DAY).active_reservations
    reasons = {g.number: g.reason for g in gaps}
    everything = [f"PO-2026-{v:04d}" for v in range(1, counter + 1)]
    assert not used & set(reasons)
    assert {"cancelled", "released", "expired"} <= set(reasons.values()) or policy == "fill_gaps"
    held_numbers = set(everything) - used - set(reasons)
    assert len(held_numbers) == still_held  # the rest are live reservations (60 min TTL)
    assert sorted(used | set(reasons) | held_numbers) == everything


def test_per_number_audit_can_be_switched_off(tx):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:3}", gap_policy="fill_gaps", audit_numbers=False)
        seqs.generate_many("q", 3)
        seqs.void("q", "Q-002", performed_by="ann")
        assert seqs.generate("q") == "Q-002"
        events = [(e.event, e.number) for e in seqs.audit_log("q")]
    assert events == [
        ("pattern_created", None),
        ("number_voided", "Q-002"),
        ("gap_reclaimed", "Q-002"),
    ]


class RecordingAudits(AuditRepository):
    seen: ClassVar[list[str]] = []

    def record(self, sequence_name, scope, event, **kw):
        RecordingAudits.seen.append(event)
        super().record(sequence_name, scope, event, **kw)


def test_a_host_passes_its_own_repositories(engine):
    RecordingAudits.seen.clear()
    host = Sequencing(sa.MetaData(), table_prefix="host_", repositories={"audit": RecordingAudits})
    host.create_all(engine)
    try:
        with Session(engine) as session, session.begin():
            seqs = host.manager(session)
            assert isinstance(seqs.repositories.audits, RecordingAudits)
            seqs.define("q", "Q-{COUNTER:3}", gap_policy="report_gaps_only")
            seqs.void("q", seqs.generate("q"))
        assert RecordingAudits.seen == ["pattern_created", "number_voided"]
    finally:
        host.drop_all(engine)
    with pytest.raises(ConfigurationError, match="must subclass GapRepository"):
        Sequencing(sa.MetaData(), repositories={"gap": AuditRepository})
    with pytest.raises(ConfigurationError, match="unknown repository role 'gaps'"):
        Sequencing(sa.MetaData(), repositories={"gaps": AuditRepository})
