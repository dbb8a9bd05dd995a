"""metrics(): counter, capacity, registry figures and measured lock waits;
compose_child()."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

import pytest
from threads import run_together

from sa_sequencing import SequenceMetrics
from sa_sequencing import compose_child

DAY = date(2026, 3, 10)


def test_metrics_of_a_counter(tx):
    with tx() as seqs:
        seqs.define(
            "inv", "INV-{YEAR}-{COUNTER:3}", reset_period="yearly", gap_policy="report_gaps_only"
        )
        empty = seqs.metrics("inv", date=DAY)
        assert isinstance(empty, SequenceMetrics)
        assert (empty.current_value, empty.generation_count, empty.last_generated_number) == (
            None,
            0,
            None,
        )
        numbers = seqs.generate_many("inv", 48, date=DAY)
        held = seqs.reserve("inv", 2, date=DAY)
        seqs.void("inv", numbers[3])
        seqs.release(held.id, [held.numbers[0]])
        seqs.reserve("inv", 1, date=DAY, ttl=timedelta(microseconds=1))  # already expired
        m = seqs.metrics("inv", date=DAY)
    assert m.sequence_name == "inv"
    assert m.scope is None
    assert m.period == "2026"
    assert m.pattern == "INV-{YEAR}-{COUNTER:3}"
    assert m.current_value == 51
    assert m.generation_count == 51
    assert m.total_capacity == 999
    assert m.remaining_capacity == 948
    assert m.utilization_percentage == pytest.approx(51 / 999 * 100, abs=1e-3)
    assert not m.is_approaching_exhaustion
    assert m.active_reservations == 1
    assert m.gap_count == 2
    assert m.filled_gap_count == 0
    assert m.last_generated_number == "INV-2026-051"
    assert m.last_generated_at is not None
    assert m.last_reset_at is not None  # the year's counter started
    assert m.is_locked is False
    assert m.to_dict()["current_value"] == 51


def test_lock_wait_figures_are_measured(tx, sessions, sequencing):
    with tx() as seqs:
        seqs.define("hot", "H-{COUNTER}")
        before = seqs.metrics("hot")
    assert before.lock_wait_statements == 0

    def draw(i: int) -> None:
        for _ in range(5):
            with sessions() as session, session.begin():
                sequencing.manager(session).generate("hot")

    run_together(4, draw)
    with tx() as seqs:
        m = seqs.metrics("hot")
    # one timed counter statement per number, plus one per lock wait that ran out and
    # was retried in place (rare: SQLite can refuse a writer at once under load)
    assert m.lock_wait_statements == 20 + m.lock_wait_failures
    assert m.lock_wait_failures <= 20
    assert m.max_lock_wait_ms > 0
    assert m.max_lock_wait_ms >= m.avg_lock_wait_ms > 0


def test_compose_child():
    assert compose_child("INV-001", "-{COUNTER:3}", 2) == "INV-001-002"
    assert compose_child("PO-7", ".{COUNTER}") == "PO-7.1"
    assert compose_child("SO-1", "/{LINE}-{COUNTER:2}", 3, context={"line": "A"}) == "SO-1/A-03"
    assert compose_child("X", "-{YEAR}-{COUNTER}", 1, day=date(2026, 1, 1)) == "X-2026-1"
    with pytest.raises(TypeError):
        compose_child(1, "-{COUNTER}", 1)
    with pytest.raises(ValueError, match="empty"):
        compose_child("", "-{COUNTER}", 1)
    with pytest.raises(ValueError, match="0 or more"):
        compose_child("X", "-{COUNTER}", -1)
    with pytest.raises(ValueError, match=r"no \{COUNTER\}"):
        compose_child("X", "-{YEAR}", 1)
