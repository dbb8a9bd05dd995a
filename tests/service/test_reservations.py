"""reserve, finalize, release and release_expired; concurrent expiry workers."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

import pytest
from threads import commit_in_threads
from threads import run_together

from sa_sequencing import ReservationError
from sa_sequencing import SequenceLockedError
from sa_sequencing.store.types import utcnow

DAY = date(2026, 3, 10)
LATER = timedelta(hours=2)


def test_reserve_finalize_and_release(tx):
    with tx() as seqs:
        seqs.define(
            "po",
            "PO-{YEAR}{MONTH}-{COUNTER:4}",
            reset_period="monthly",
            gap_policy="report_gaps_only",
        )
        held = seqs.reserve("po", 4, date=DAY, ttl=timedelta(minutes=5), performed_by="ann")
        assert held.numbers == (
            "PO-202603-0001",
            "PO-202603-0002",
            "PO-202603-0003",
            "PO-202603-0004",
        )
        assert held.sequence_name == "po"
        assert held.scope is None
        assert timedelta(minutes=4) < held.expires_at - utcnow() <= timedelta(minutes=5)
        # taken from the counter at once
        assert seqs.generate("po", date=DAY) == "PO-202603-0005"
        assert seqs.metrics("po", date=DAY).active_reservations == 4
    with tx() as seqs:
        assert seqs.finalize(held.id, ["PO-202603-0002"], performed_by="bob") == ["PO-202603-0002"]
        assert seqs.release(held.id, ["PO-202603-0004", "PO-202603-0001"]) == [
            "PO-202603-0001",
            "PO-202603-0004",
        ]
        assert seqs.finalize(held.id) == ["PO-202603-0003"]
        assert seqs.gap_report("po") == ["PO-202603-0001", "PO-202603-0004"]
        assert {g.reason for g in seqs.gaps("po")} == {"released"}
        assert seqs.metrics("po", date=DAY).active_reservations == 0
        events = [
            (e.event, e.performed_by, (e.data or {}).get("numbers"))
            for e in seqs.audit_log("po")
            if e.event.startswith(("numbers_", "reservation_"))
        ]
    assert events == [
        ("numbers_reserved", "ann", list(held.numbers)),
        ("reservation_finalized", "bob", ["PO-202603-0002"]),
        ("reservation_released", None, ["PO-202603-0001", "PO-202603-0004"]),
        ("reservation_finalized", None, ["PO-202603-0003"]),
    ]


def test_released_numbers_are_reused_under_fill_gaps_only_once(tx):
    with tx() as seqs:
        seqs.define("po", "PO-{COUNTER:3}", gap_policy="fill_gaps")
        held = seqs.reserve("po", 3)
        seqs.release(held.id, ["PO-002"])
    with tx() as seqs:
        again = seqs.reserve("po", 2)
        assert again.numbers == ("PO-002", "PO-004")
        assert seqs.generate("po") == "PO-005"


def test_release_expired_turns_numbers_into_gaps(tx):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:3}", gap_policy="report_gaps_only")
        short = seqs.reserve("q", 2, ttl=timedelta(minutes=1))
        long = seqs.reserve("q", 1, ttl=timedelta(days=1))
    with tx() as seqs:
        assert seqs.release_expired() == 0  # nothing is due yet
        assert seqs.release_expired(now=utcnow() + LATER, performed_by="cron") == 2
        assert seqs.release_expired(now=utcnow() + LATER) == 0
        assert [(g.number, g.reason, g.performed_by) for g in seqs.gaps("q")] == [
            ("Q-001", "expired", "cron"),
            ("Q-002", "expired", "cron"),
        ]
        expired = [e for e in seqs.audit_log("q") if e.event == "reservation_expired"]
        assert [(e.data["reservation_id"], e.performed_by) for e in expired] == [
            (short.id, "cron")
        ]
        assert seqs.finalize(long.id) == ["Q-003"]


def test_refusals_change_nothing(tx, snapshot):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:3}", gap_policy="report_gaps_only")
        done = seqs.reserve("q", 2)
        seqs.finalize(done.id)
        gone = seqs.reserve("q", 1)
        seqs.release(gone.id)
        late = seqs.reserve("q", 2, ttl=timedelta(microseconds=1))  # expired at once
        live = seqs.reserve("q", 2)
    before = snapshot()
    expired_now = utcnow() + LATER
    with tx() as seqs:
        cases = [
            (lambda: seqs.finalize("no-such-id"), r"reservation 'no-such-id' is unknown"),
            (lambda: seqs.finalize(done.id), r"'q' \(global scope\) holds no reserved numbers"),
            (lambda: seqs.finalize(done.id, ["Q-001"]), "'Q-001' was already finalized"),
            (lambda: seqs.release(done.id, ["Q-002"]), "already finalized"),
            (lambda: seqs.finalize(gone.id, ["Q-003"]), "already released"),
            (lambda: seqs.finalize(live.id, ["Q-001"]), "does not hold 'Q-001'"),
        ]
        for call, message in cases:
            with pytest.raises(ReservationError, match=message):
                call()
        with pytest.raises(TypeError, match="not one str"):
            seqs.finalize(live.id, "Q-006")
        with pytest.raises(ValueError, match="ttl must be positive"):
            seqs.reserve("q", 1, ttl=timedelta(0))
        with pytest.raises(TypeError, match="timedelta"):
            seqs.reserve("q", 1, ttl=30)
        with pytest.raises(TypeError, match="aware"):
            seqs.release_expired(now=expired_now.replace(tzinfo=None))
        with pytest.raises(ReservationError, match=r"expired at .* no longer be finalized"):
            seqs.finalize(late.id)
    assert snapshot() == before


def test_locked_sequence_reserves_nothing(tx, snapshot):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:3}")
        seqs.lock("q")
    before = snapshot()
    with tx() as seqs, pytest.raises(SequenceLockedError):
        seqs.reserve("q", 2)
    assert snapshot() == before


def test_two_concurrent_release_expired_workers(tx, sessions, sequencing):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:4}", gap_policy="report_gaps_only")
        for _ in range(12):
            seqs.reserve("q", 3, ttl=timedelta(minutes=1))
    now = utcnow() + LATER

    def worker(i: int) -> int:
        with sessions() as session, session.begin():
            return sequencing.manager(session).release_expired(now=now, performed_by=f"w{i}")

    counts = run_together(2, worker)
    assert sum(counts) == 36  # each expired number handled by exactly one worker
    with tx() as seqs:
        gaps = seqs.gaps("q")
        assert [g.value for g in gaps] == list(range(1, 37))
        assert {g.reason for g in gaps} == {"expired"}
        expiries = [e for e in seqs.audit_log("q", limit=None) if e.event == "reservation_expired"]
        numbers = [n for e in expiries for n in e.data["numbers"]]
        assert sorted(numbers) == [f"Q-{v:04d}" for v in range(1, 37)]


def test_reserved_numbers_are_never_issued_twice(tx, sessions, sequencing):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:4}", gap_policy="fill_gaps")

    def draw(i: int, j: int, session) -> list[str]:
        # Giving numbers back in the transaction that drew them may deadlock on MariaDB:
        # when FOR UPDATE SKIP LOCKED passes over a gap another transaction is taking,
        # it locks the gap after it, where the next registered gap goes.  The victim
        # runs again.
        seqs = sequencing.manager(session)
        if (i + j) % 2:
            held = seqs.reserve("q", 2)
            kept = seqs.finalize(held.id, [held.numbers[0]])
            seqs.release(held.id, [held.numbers[1]])
            return kept
        return [seqs.generate("q")]

    used = [n for numbers in commit_in_threads(4, 5, sessions, draw, attempts=10) for n in numbers]
    assert len(used) == len(set(used))
    with tx() as seqs:
        free = seqs.gap_report("q")
        top = seqs.metrics("q").current_value
    assert not set(free) & set(used)
    assert sorted(used + free) == [f"Q-{v:04d}" for v in range(1, top + 1)]


def test_a_reservation_committed_after_the_closing_transaction_began(
    backend, tx, sessions, sequencing
):
    """The closing transaction's snapshot predates the reservation (REPEATABLE READ on
    MariaDB): it still finds it, and finalizes it."""
    if backend == "sqlite":
        pytest.skip("SQLite: one writer at a time, the reservation cannot commit meanwhile")
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:3}", gap_policy="report_gaps_only")
    with sessions() as closing, closing.begin():
        seqs = sequencing.manager(closing)
        assert seqs.gaps("q") == []  # the snapshot starts here
        with tx() as other:
            held = other.reserve("q", 2)
        assert seqs.finalize(held.id, [held.numbers[0]]) == ["Q-001"]
        assert seqs.release(held.id) == ["Q-002"]
    with tx() as seqs:
        assert seqs.gap_report("q") == ["Q-002"]
