"""Pattern versions and reading a number back, without a database: ``version_for``
(the version in force on a document date) and ``locate`` (the counter, cycle and value
an issued number stands for, which ``void`` relies on)."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from rule_defs import definition

from sa_sequencing.rules.counters import CounterSnapshot
from sa_sequencing.rules.locate import Location
from sa_sequencing.rules.locate import locate
from sa_sequencing.rules.periods import period_key
from sa_sequencing.rules.placement import pattern_for
from sa_sequencing.rules.placement import render
from sa_sequencing.rules.versions import PatternVersion
from sa_sequencing.rules.versions import version_for

FAST = settings(max_examples=80, deadline=None)
ORIGIN = date(2026, 1, 1)


@st.composite
def version_sets(draw: st.DrawFn) -> tuple[PatternVersion, ...]:
    """Versions with ranges that do not overlap (as define_version enforces), the last
    one possibly open-ended, in any order."""
    cuts = sorted(draw(st.sets(st.integers(0, 60), min_size=0, max_size=8)))
    versions = []
    for i, (a, b) in enumerate(zip(cuts[::2], cuts[1::2], strict=False)):
        versions.append(
            PatternVersion(f"V{i}-{{COUNTER:3}}", ORIGIN + timedelta(a), ORIGIN + timedelta(b))
        )
    if draw(st.booleans()):
        after = (cuts[-1] + 1) if cuts else 0
        versions.append(PatternVersion("OPEN-{COUNTER:3}", ORIGIN + timedelta(after), None))
    return tuple(draw(st.permutations(versions)))


@FAST
@given(version_sets(), st.integers(-5, 70))
def test_the_version_in_force_is_the_one_whose_range_holds_the_day(versions, offset):
    day = ORIGIN + timedelta(offset)
    holding = [
        v
        for v in versions
        if v.effective_from <= day and (v.effective_until is None or day <= v.effective_until)
    ]
    assert len(holding) <= 1
    assert version_for(versions, day) == (holding[0] if holding else None)
    d = definition("BASE-{COUNTER:3}", versions=versions)
    assert pattern_for(d, day).source == (holding[0].pattern if holding else "BASE-{COUNTER:3}")


@FAST
@given(
    st.integers(0, 30),
    st.none() | st.integers(0, 30),
    st.integers(0, 30),
    st.none() | st.integers(0, 30),
)
def test_overlaps_is_true_exactly_when_the_ranges_share_a_day(a, a_len, b, b_len):
    until_a = None if a_len is None else ORIGIN + timedelta(a + a_len)
    until_b = None if b_len is None else ORIGIN + timedelta(b + b_len)
    version = PatternVersion("X-{COUNTER}", ORIGIN + timedelta(a), until_a)
    other = PatternVersion("Y-{COUNTER}", ORIGIN + timedelta(b), until_b)
    shared = any(
        version.covers(ORIGIN + timedelta(n)) and other.covers(ORIGIN + timedelta(n))
        for n in range(0, 100)
    )
    assert version.overlaps(other.effective_from, other.effective_until) == shared
    assert other.overlaps(version.effective_from, version.effective_until) == shared


# -- locate --------------------------------------------------------------------------


def counter(period: str, value: int, cycle: int = 1) -> CounterSnapshot:
    return CounterSnapshot(1, None, period, value, cycle, None)


def test_a_number_is_found_in_the_period_its_date_tokens_name():
    d = definition("INV-{YEAR}{MONTH}-{COUNTER:3}", reset_period="monthly")
    counters = [counter("2026-01", 5), counter("2026-02", 3), counter("2026-03", 9)]
    number = render(d, d.compiled, "", date(2026, 2, 14), None, 2, 1)
    assert number == "INV-202602-002"
    assert locate(d, number, counters) == [Location("2026-02", 1, 2)]
    # drawn in no counter: the value is past February's last, or the month has none
    assert locate(d, "INV-202602-004", counters) == []
    assert locate(d, "INV-202604-001", counters) == []
    assert locate(d, "INV-202602-02", counters) == []


def test_a_fiscal_year_number_is_found_by_the_fiscal_year_it_shows():
    d = definition("F{FY}-{COUNTER:4}", reset_period="fiscal_yearly", fiscal_year_start=4)
    day = date(2026, 3, 31)  # still FY2025
    period = period_key(d.reset_period, day, d.fiscal_year_start)
    number = render(d, d.compiled, "", day, None, 7, 1)
    assert (period, number) == ("FY2025", "F2025-0007")
    counters = [counter("FY2025", 7), counter("FY2026", 9)]
    assert locate(d, number, counters) == [Location("FY2025", 1, 7)]


def test_off_step_values_and_values_before_start_were_never_issued():
    d = definition("S-{COUNTER:4}", start=10, step=5)
    counters = [counter("", 30)]
    assert locate(d, "S-0025", counters) == [Location("", 1, 25)]
    assert locate(d, "S-0024", counters) == []
    assert locate(d, "S-0005", counters) == []
    assert locate(d, "S-0035", counters) == []


def test_a_number_of_an_earlier_series_or_cycle_is_found_in_it():
    d = definition("INV-{COUNTER:2}", overflow="switch_pattern")
    counters = [counter("", 4, cycle=3)]
    assert locate(d, "INV-50", counters) == [Location("", 1, 50)]
    assert locate(d, "INV-A-99", counters) == [Location("", 2, 99)]
    assert locate(d, "INV-B-04", counters) == [Location("", 3, 4)]
    assert locate(d, "INV-B-05", counters) == []
    assert locate(d, "INV-C-01", counters) == []


def test_a_number_in_a_pattern_version_is_found():
    versions = (PatternVersion("NEW/{YEAR}/{COUNTER:5}", date(2026, 7, 1), None),)
    d = definition("OLD-{YEAR}-{COUNTER:3}", reset_period="yearly", versions=versions)
    counters = [counter("2026", 12)]
    assert locate(d, "OLD-2026-003", counters) == [Location("2026", 1, 3)]
    assert locate(d, "NEW/2026/00011", counters) == [Location("2026", 1, 11)]
    assert locate(d, "NEW/2026/00013", counters) == []


def test_a_number_that_does_not_tell_its_period_apart_is_found_in_each():
    # allow_repeats: one text, several documents; void then needs the document date
    d = definition("{COUNTER:3}", reset_period="yearly", allow_repeats=True)
    counters = [counter("2025", 9), counter("2026", 2)]
    assert locate(d, "002", counters) == [Location("2025", 1, 2), Location("2026", 1, 2)]
    assert locate(d, "005", counters) == [Location("2025", 1, 5)]


@pytest.mark.parametrize("start", [2, 4, 12])
def test_a_number_dated_in_year_one_before_its_fiscal_year_is_found(start):
    d = definition(
        "D-{COUNTER}", reset_period="fiscal_yearly", fiscal_year_start=start, allow_repeats=True
    )
    day = date(1, 1, 15)
    period = period_key(d.reset_period, day, start)
    assert period == "FY0000"
    assert locate(d, "D-1", [counter(period, 1)]) == [Location("FY0000", 1, 1)]
