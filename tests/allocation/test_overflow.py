"""Overflow: the threshold crossing audited and warned once; the three behaviours at
capacity, with preview agreeing."""

from __future__ import annotations

import warnings

import pytest

from sa_sequencing import SequenceExhaustedError
from sa_sequencing import SequenceExhaustionWarning
from sa_sequencing import SequencingWarning


def _crossings(seqs, name):
    return [
        e for e in seqs.audit_log(name, limit=None) if e.event == "exhaustion_threshold_reached"
    ]


def test_threshold_crossing_is_audited_and_warned_once(tx):
    with tx() as seqs:
        seqs.define("t", "T-{COUNTER:2}", exhaustion_threshold=80)  # capacity 99: mark 80
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            seqs.generate_many("t", 79)  # 1..79: below the mark, no warning
        with pytest.warns(SequenceExhaustionWarning, match=r"'t'.*'T-80'.*threshold of 80%") as w:
            assert seqs.generate_many("t", 3, performed_by="ann") == ["T-80", "T-81", "T-82"]
        assert len(w) == 1
        assert issubclass(SequenceExhaustionWarning, SequencingWarning)
        assert issubclass(SequencingWarning, UserWarning)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            seqs.generate_many("t", 5)  # past the mark already: no second warning
        [entry] = _crossings(seqs, "t")
        assert (entry.number, entry.counter_value, entry.performed_by) == ("T-80", 80, "ann")
        assert entry.data["threshold_percentage"] == 80
        assert entry.data["capacity"] == 99


def test_each_scope_and_period_crosses_on_its_own(tx):
    with tx() as seqs:
        seqs.define("t", "T-{YEAR}-{COUNTER:1}", reset_period="yearly", exhaustion_threshold=50)
        with pytest.warns(SequenceExhaustionWarning):
            seqs.generate_many("t", 5, scope="a")
        with pytest.warns(SequenceExhaustionWarning):
            seqs.generate_many("t", 5, scope="b")
        assert [e.scope for e in _crossings(seqs, "t")] == ["a", "b"]


def test_throw_exception_at_capacity(tx, snapshot):
    with tx() as seqs, pytest.warns(SequenceExhaustionWarning):
        seqs.define("t", "T-{COUNTER:1}")
        seqs.generate_many("t", 9)
    before = snapshot()
    with tx() as seqs:
        for call in (lambda: seqs.preview("t"), lambda: seqs.generate("t")):
            with pytest.raises(SequenceExhaustedError, match=r"'t'.*capacity of 9"):
                call()
        with pytest.raises(SequenceExhaustedError):
            seqs.reserve("t", 1)
    assert snapshot() == before


def test_extend_padding_widens(tx):
    with tx() as seqs, pytest.warns(SequenceExhaustionWarning):
        seqs.define("t", "T-{COUNTER:1}", overflow="extend_padding")
        seqs.generate_many("t", 9)
    with tx() as seqs:
        assert seqs.preview("t") == "T-10"
        assert seqs.generate("t") == "T-10"
        assert seqs.metrics("t").utilization_percentage == 100.0


def test_switch_pattern_moves_to_the_next_series_and_preview_agrees(tx):
    with tx() as seqs:
        seqs.define("t", "T-{COUNTER:1}", overflow="switch_pattern", gap_policy="report_gaps_only")
        with pytest.warns(SequenceExhaustionWarning):
            seqs.generate_many("t", 9)
        assert seqs.preview("t") == "T-A-1"
        assert seqs.generate("t") == "T-A-1"
        assert seqs.validate("t", "T-A-1")
        assert not seqs.validate("t", "T-B-1")  # not reached yet
        assert seqs.parse("t", "T-A-1")["COUNTER"] == 1
        switched = [e for e in seqs.audit_log("t") if e.event == "series_switched"]
        assert [e.data["cycle"] for e in switched] == [2]
        with pytest.warns(SequenceExhaustionWarning):  # the new series crosses again
            seqs.generate_many("t", 8)
        assert seqs.preview("t") == "T-B-1"
        seqs.void("t", "T-A-4")
        assert seqs.gap_report("t") == ["T-A-4"]
        assert seqs.metrics("t").cycle == 2
