"""Series of ``switch_pattern`` and the exhaustion threshold, without a database:
``series_label`` (A..Z, AA, ...), ``series_pattern`` (where the label goes) and
``threshold_value`` (the first value at or past the threshold)."""

from __future__ import annotations

import string
from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sa_sequencing.rules.patterns import Pattern
from sa_sequencing.rules.series import series_label
from sa_sequencing.rules.series import series_pattern
from sa_sequencing.rules.series import threshold_value
from sa_sequencing.rules.tokens import MAX_COUNTER_WIDTH

FAST = settings(max_examples=80, deadline=None)
_DAY = date(2026, 3, 7)


def cycle_of(label: str) -> int:
    """The series a label names: bijective base 26 (A=1 ... Z=26), plus the first
    series, which has no label."""
    n = 0
    for letter in label:
        n = n * 26 + string.ascii_uppercase.index(letter) + 1
    return n + 1


# -- labels --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cycle", "label"),
    [
        (0, ""),
        (1, ""),
        (2, "A"),
        (3, "B"),
        (27, "Z"),
        (28, "AA"),
        (29, "AB"),
        (53, "AZ"),
        (54, "BA"),
        (703, "ZZ"),
        (704, "AAA"),
        (18279, "ZZZ"),
        (18280, "AAAA"),
    ],
)
def test_series_labels(cycle, label):
    assert series_label(cycle) == label


@FAST
@given(st.integers(2, 10**12))
def test_a_label_names_its_series_alone(cycle):
    label = series_label(cycle)
    assert label and set(label) <= set(string.ascii_uppercase)
    assert cycle_of(label) == cycle


@FAST
@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_later_series_sort_after_earlier_ones_shortest_first(a, b):
    # what a person reading a list expects: Z before AA, AZ before BA
    key_a, key_b = series_label(a), series_label(b)
    assert (a < b) == ((len(key_a), key_a) < (len(key_b), key_b))


# -- series patterns -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "cycle", "series"),
    [
        ("INV-{COUNTER:4}", 1, "INV-{COUNTER:4}"),
        ("INV-{COUNTER:4}", 2, "INV-A-{COUNTER:4}"),
        ("INV-{COUNTER:4}", 28, "INV-AA-{COUNTER:4}"),
        ("INV{COUNTER:4}", 2, "INV-A-{COUNTER:4}"),
        ("INV/{COUNTER:4}", 3, "INV/B/{COUNTER:4}"),
        ("{COUNTER:4}", 2, "A-{COUNTER:4}"),
        ("{COUNTER:4}-{YEAR}", 2, "A-{COUNTER:4}-{YEAR}"),
        ("{YEAR}{COUNTER:4}", 2, "{YEAR}-A-{COUNTER:4}"),
        ("A{{{COUNTER:2}", 2, "A{{A{{{COUNTER:2}"),
        ("X}}{COUNTER:2}", 2, "X}}A}}{COUNTER:2}"),
    ],
)
def test_the_label_goes_before_the_counter_with_the_separator_written_there(
    pattern, cycle, series
):
    assert series_pattern(Pattern.compile(pattern), cycle).source == series
    if cycle > 1:
        number = Pattern.compile(series).render(5, day=_DAY)
        assert f"{series_label(cycle)}" in number


PATTERNS = (
    "INV-{COUNTER:3}",
    "INV{COUNTER:3}",
    "{COUNTER:2}",
    "{COUNTER}",
    "{YEAR}/{COUNTER:4}",
    "P{{{COUNTER:2}}}",
    "{COUNTER:3}-{MONTH}",
    "T{CYCLE}-{COUNTER}",
)


@FAST
@given(
    st.sampled_from(PATTERNS),
    st.integers(1, 800),
    st.integers(1, 800),
    st.integers(0, 999),
    st.integers(0, 999),
)
def test_each_series_reads_its_own_numbers_alone(source, a, b, value_a, value_b):
    """A number of series ``a`` never reads as one of series ``b``: numbers of
    different series never collide, and ``void`` can tell which series a number is in."""
    pattern = Pattern.compile(source)
    first, second = series_pattern(pattern, a), series_pattern(pattern, b)
    number = first.render(value_a, day=_DAY, cycle=a)
    assert first.parse(number)["COUNTER"] == value_a
    assert second.validate(number) == (a == b)
    if a != b:
        assert number != second.render(value_b, day=_DAY, cycle=b)


# -- the exhaustion threshold --------------------------------------------------------


@FAST
@given(st.integers(1, MAX_COUNTER_WIDTH), st.integers(1, 100))
def test_threshold_is_the_first_value_at_or_past_the_percentage(width, percent):
    capacity = 10**width - 1
    mark = threshold_value(capacity, percent)
    exact = Fraction(capacity * percent, 100)
    assert 1 <= mark <= capacity
    assert mark >= exact
    assert mark - 1 < exact or mark == 1


@pytest.mark.parametrize(
    ("capacity", "percent", "mark"),
    [
        (9999, 90, 8999 + 1),  # 8999.1 -> 9000
        (99, 90, 90),  # 89.1 -> 90
        (100, 90, 90),
        (9, 100, 9),
        (9, 1, 1),  # 0.09 -> the first value
        (10**15 - 1, 94, 940_000_000_000_000),
        (10**18 - 1, 99, 990_000_000_000_000_000),
    ],
)
def test_threshold_values(capacity, percent, mark):
    assert threshold_value(capacity, percent) == mark
