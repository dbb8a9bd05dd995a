"""void, the gap registry and the three gap policies; fill_gaps under concurrency."""

from __future__ import annotations

from datetime import date

import pytest
from threads import commit_in_threads
from threads import meet_before
from threads import run_together

from sa_sequencing import InvalidCounterValueError
from sa_sequencing import SequenceLockedError

DAY = date(2026, 3, 10)


def test_report_gaps_only_records_and_never_reuses(tx):
    with tx() as seqs:
        seqs.define(
            "inv", "INV-{YEAR}-{COUNTER:4}", reset_period="yearly", gap_policy="report_gaps_only"
        )
        numbers = seqs.generate_many("inv", 5, scope="acme", date=DAY)
        seqs.void("inv", numbers[1], scope="acme", reason="customer_cancelled", performed_by="ann")
        seqs.void("inv", numbers[3], scope="acme", performed_by="bob")
    with tx() as seqs:
        assert seqs.gap_report("inv", scope="acme") == ["INV-2026-0002", "INV-2026-0004"]
        gaps = seqs.gaps("inv", scope="acme")
        assert [(g.value, g.reason, g.performed_by, g.status) for g in gaps] == [
            (2, "customer_cancelled", "ann", "unfilled"),
            (4, "voided", "bob", "unfilled"),
        ]
        assert seqs.preview("inv", scope="acme", date=DAY) == "INV-2026-0006"
        assert seqs.generate("inv", scope="acme", date=DAY) == "INV-2026-0006"
        assert seqs.gap_report("inv", scope="other") == []
        voids = [e for e in seqs.audit_log("inv") if e.event == "number_voided"]
        assert [(e.number, e.performed_by, e.data["reason"]) for e in voids] == [
            ("INV-2026-0002", "ann", "customer_cancelled"),
            ("INV-2026-0004", "bob", "voided"),
        ]


def test_fill_gaps_serves_lowest_gap_first_and_preview_agrees(tx):
    with tx() as seqs:
        seqs.define(
            "po",
            "PO-{YEAR}{MONTH}-{DEPT}-{COUNTER:4}",
            reset_period="monthly",
            gap_policy="fill_gaps",
        )
        sales = {"DEPT": "SALES"}
        numbers = seqs.generate_many("po", 6, context=sales, date=DAY)
        seqs.void("po", numbers[4], performed_by="ann")
        seqs.void("po", numbers[1], performed_by="ann")
    with tx() as seqs:
        hr = {"DEPT": "HR"}
        # a filled gap is rendered again for the document that takes it
        assert seqs.preview("po", context=hr, date=DAY) == "PO-202603-HR-0002"
        assert seqs.generate("po", context=hr, date=DAY, performed_by="cy") == "PO-202603-HR-0002"
        # another month has its own counter and no gaps
        assert seqs.preview("po", context=hr, date=date(2026, 4, 1)) == "PO-202604-HR-0001"
        assert seqs.preview("po", context=sales, date=DAY) == "PO-202603-SALES-0005"
        assert seqs.generate_many("po", 3, context=sales, date=DAY) == [
            "PO-202603-SALES-0005",
            "PO-202603-SALES-0007",
            "PO-202603-SALES-0008",
        ]
        assert seqs.gap_report("po") == []
        filled = seqs.gaps("po", include_filled=True)
        assert [(g.number, g.filled_number, g.status) for g in filled] == [
            ("PO-202603-SALES-0002", "PO-202603-HR-0002", "filled"),
            ("PO-202603-SALES-0005", "PO-202603-SALES-0005", "filled"),
        ]
        reclaimed = [e for e in seqs.audit_log("po") if e.event == "gap_reclaimed"]
        assert [(e.number, e.data["gap_number"], e.performed_by) for e in reclaimed] == [
            ("PO-202603-HR-0002", "PO-202603-SALES-0002", "cy"),
            ("PO-202603-SALES-0005", "PO-202603-SALES-0005", None),
        ]
    with tx() as seqs:
        # the filled number can be voided in its turn: the gap opens again
        seqs.void("po", "PO-202603-HR-0002")
        assert seqs.gap_report("po") == ["PO-202603-HR-0002"]
        assert seqs.generate("po", context=sales, date=DAY) == "PO-202603-SALES-0002"
        with pytest.raises(InvalidCounterValueError, match="reissued as 'PO-202603-SALES-0002'"):
            seqs.void("po", "PO-202603-HR-0002")


def test_allow_gaps_records_nothing_but_the_ledger(tx):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:3}")
        seqs.generate_many("q", 3)
        seqs.void("q", "Q-002", reason="typo", performed_by="ann")
    with tx() as seqs:
        assert seqs.gaps("q", include_filled=True) == []
        assert seqs.generate("q") == "Q-004"
        with pytest.raises(InvalidCounterValueError, match=r"'q'.*'Q-002' is already void"):
            seqs.void("q", "Q-002")
        assert [e.number for e in seqs.audit_log("q") if e.event == "number_voided"] == ["Q-002"]


@pytest.mark.parametrize("policy", ["report_gaps_only", "fill_gaps", "allow_gaps"])
def test_bad_voids_are_refused_and_change_nothing(tx, snapshot, policy):
    with tx() as seqs:
        seqs.define("inv", "INV-{YEAR}-{COUNTER:4}", reset_period="yearly", gap_policy=policy)
        seqs.generate_many("inv", 3, date=DAY)
        held = seqs.reserve("inv", 1, date=DAY)
        seqs.void("inv", "INV-2026-0002")
    before = snapshot()
    with tx() as seqs:
        cases = [
            ("INV-2026-0004", f"held by reservation '{held.id}'.*release"),
            ("INV-2026-0005", "never issued"),
            ("INV-2025-0001", "never issued"),  # no counter for 2025
            ("INV-2026-0001x", "not a number of this sequence|never issued"),
        ]
        if policy == "allow_gaps":
            cases.append(("INV-2026-0002", "already void"))
        else:
            cases.append(("INV-2026-0002", "already a gap"))
        for number, message in cases:
            with pytest.raises(
                InvalidCounterValueError, match=rf"'inv' \(global scope\).*{message}"
            ):
                seqs.void("inv", number)
        with pytest.raises(InvalidCounterValueError, match=r"never issued|not a number"):
            seqs.void("inv", "INV-2026-0001", scope="acme")  # acme's counter is untouched
        with pytest.raises(TypeError):
            seqs.void("inv", 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="1 to 32 characters"):
            seqs.void("inv", "INV-2026-0001", reason="x" * 40)
    assert snapshot() == before


def test_void_finds_the_series_and_the_version_of_a_number(tx):
    with tx() as seqs:
        seqs.define("sw", "SW-{COUNTER:1}", overflow="switch_pattern", gap_policy="fill_gaps")
        with pytest.warns(UserWarning):
            numbers = seqs.generate_many("sw", 11)
        assert numbers[-2:] == ["SW-A-1", "SW-A-2"]
        seqs.void("sw", "SW-A-1")
        seqs.void("sw", "SW-3")
        assert [(g.cycle, g.value) for g in seqs.gaps("sw")] == [(1, 3), (2, 1)]
        # cycle 1 comes first
        assert seqs.generate_many("sw", 3) == ["SW-3", "SW-A-1", "SW-A-3"]


def test_locked_fill_gaps_sequence_serves_no_gap(tx, snapshot):
    with tx() as seqs:
        seqs.define("po", "PO-{COUNTER:3}", gap_policy="fill_gaps")
        seqs.generate_many("po", 3)
        seqs.void("po", "PO-002")
        seqs.lock("po")
    before = snapshot()
    with tx() as seqs:
        for call in (
            lambda: seqs.generate("po"),
            lambda: seqs.generate_many("po", 2),
            lambda: seqs.preview("po"),
            lambda: seqs.reserve("po", 1),
        ):
            with pytest.raises(SequenceLockedError, match=r"'po'.*unlock"):
                call()
    assert snapshot() == before


def test_gap_recorded_while_definition_is_cached_is_served(tx, engine, sequencing):
    with tx() as seqs:
        seqs.define("po", "PO-{COUNTER:3}", gap_policy="fill_gaps")
        assert seqs.generate_many("po", 3) == ["PO-001", "PO-002", "PO-003"]
        definition = seqs.get("po")
    with tx() as seqs:
        seqs.void("po", "PO-002")
    # as in another process, whose cache still holds the definition
    sequencing.allocator.cache.put(engine, "po", "", definition)
    with tx() as seqs:
        assert seqs.generate("po") == "PO-002"
        assert seqs.generate("po") == "PO-004"


def test_gap_served_from_a_stale_cache_of_a_locked_sequence_is_refused(
    tx, engine, sequencing, snapshot
):
    with tx() as seqs:
        seqs.define("po", "PO-{COUNTER:3}", gap_policy="fill_gaps")
        seqs.generate_many("po", 3)
        seqs.void("po", "PO-002")
        definition = seqs.get("po")
        seqs.lock("po")
    sequencing.allocator.cache.put(engine, "po", "", definition)
    before = snapshot()
    with tx() as seqs, pytest.raises(SequenceLockedError):
        seqs.generate("po")
    assert snapshot() == before


@pytest.mark.parametrize("workers", [10])
def test_ten_gaps_served_exactly_once_by_ten_concurrent_generators(
    tx, sessions, sequencing, workers
):
    with tx() as seqs:
        seqs.define("po", "PO-{COUNTER:4}", gap_policy="fill_gaps")
        numbers = seqs.generate_many("po", 30)
        voided = numbers[1::3][:workers]
        for number in voided:
            seqs.void("po", number, reason="cancelled")

    def generate(i: int) -> str:
        with sessions() as session, session.begin():
            return sequencing.manager(session).generate("po", performed_by=f"clerk{i}")

    served = run_together(workers, generate)
    assert sorted(served) == sorted(voided)  # each gap exactly once, the counter untouched
    with tx() as seqs:
        assert seqs.gap_report("po") == []
        assert seqs.generate("po") == "PO-0031"
        reclaimed = [
            e.number for e in seqs.audit_log("po", limit=None) if e.event == "gap_reclaimed"
        ]
        assert sorted(reclaimed) == sorted(voided)


def test_concurrent_generators_and_voids_never_duplicate(tx, sessions, sequencing):
    with tx() as seqs:
        seqs.define("po", "PO-{COUNTER:4}", gap_policy="fill_gaps")
        seqs.generate_many("po", 8)

    def draw(i: int, j: int, session) -> str | None:
        # Voiding in the transaction that drew the number can deadlock on InnoDB (its
        # gap locks); the whole transaction is then run again.
        seqs = sequencing.manager(session)
        number = seqs.generate("po")
        if (i + j) % 3 == 0:
            seqs.void("po", number)
            return None
        return number

    drawn = commit_in_threads(4, 6, sessions, draw, attempts=10)
    kept = [n for n in drawn if n is not None]
    assert len(kept) == len(set(kept))
    with tx() as seqs:
        gaps = seqs.gap_report("po")
        counter = seqs.metrics("po").current_value
        initial = [f"PO-{v:04d}" for v in range(1, 9)]
    # every value up to the counter is either kept, one of the first eight, or a gap
    assert sorted(kept + initial + gaps) == [f"PO-{v:04d}" for v in range(1, counter + 1)]


def test_concurrent_voids_into_one_empty_range_do_not_deadlock(
    engine, backend, tx, sessions, sequencing
):
    """Two transactions registering gaps side by side: both have looked the number up
    before either inserts it.  An UPDATE that finds no row takes an InnoDB gap lock, so
    looking up with one made the two inserts wait for each other (error 1213)."""
    if backend == "sqlite":
        pytest.skip("SQLite locks the whole database: the second void waits for the first")
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER:4}", gap_policy="report_gaps_only")
        numbers = seqs.generate_many("inv", 4)

    def void(i: int) -> None:
        with sessions() as session, session.begin():
            sequencing.manager(session).void("inv", numbers[1 + i], performed_by=f"clerk{i}")

    with meet_before(engine, f"INSERT INTO {sequencing.tables.gaps.name}", parties=2):
        run_together(2, void)
    with tx() as seqs:
        assert seqs.gap_report("inv") == [numbers[1], numbers[2]]


def test_voids_by_two_transactions_holding_served_gaps_do_not_deadlock(
    engine, backend, tx, sessions, sequencing
):
    """Each transaction is served a voided number (fill_gaps), then voids a number
    lying next to the other's gap.  Claiming the gap with a range scan under FOR UPDATE
    took InnoDB gap locks around it, which the other's INSERT then waited for."""
    if backend == "sqlite":
        pytest.skip("SQLite locks the whole database: the second void waits for the first")
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER:4}", gap_policy="fill_gaps")
        numbers = seqs.generate_many("inv", 6)
        seqs.void("inv", numbers[1])
        seqs.void("inv", numbers[4])

    def serve_then_void(i: int) -> str:
        with sessions() as session, session.begin():
            seqs = sequencing.manager(session)
            served = seqs.generate("inv")
            # the number just past the other transaction's gap
            seqs.void("inv", numbers[3] if served == numbers[1] else numbers[0])
            return served

    with meet_before(engine, f"INSERT INTO {sequencing.tables.gaps.name}", parties=2):
        served = run_together(2, serve_then_void)
    assert sorted(served) == [numbers[1], numbers[4]]
    with tx() as seqs:
        assert seqs.gap_report("inv") == [numbers[0], numbers[3]]


def test_numbers_issued_before_a_pattern_update_can_still_be_voided(tx):
    """update(pattern=...) changes the numbers to come; those already issued keep the
    pattern they were issued with, and void, validate and parse still read them."""
    with tx() as seqs:
        seqs.define("upd", "INV-{COUNTER:4}", gap_policy="report_gaps_only")
        old = seqs.generate_many("upd", 2)
        seqs.update("upd", pattern="INV-{COUNTER:6}")
        seqs.update("upd", pattern="IN-{COUNTER:6}")
        new = seqs.generate("upd")
    assert old == ["INV-0001", "INV-0002"] and new == "IN-000003"
    with tx() as seqs:
        assert seqs.validate("upd", "INV-0001") and seqs.parse("upd", "INV-0002") == {"COUNTER": 2}
        seqs.void("upd", "INV-0001", reason="customer_cancelled")
        seqs.void("upd", "IN-000003")
        with pytest.raises(InvalidCounterValueError, match="never issued"):
            seqs.void("upd", "INV-0004")  # a value the counter has not reached
        with pytest.raises(InvalidCounterValueError, match="already a gap"):
            seqs.void("upd", "INV-0001")
    with tx() as seqs:
        assert seqs.gap_report("upd") == ["INV-0001", "IN-000003"]
