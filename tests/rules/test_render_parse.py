"""Placing and rendering a number without a database: what ``place`` and ``render``
write reads back with ``Pattern.parse`` as the counter value, the document date and the
context it was made from, in the pattern version in force that day."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from rule_defs import definition

from sa_sequencing.errors import ArgumentTypeError
from sa_sequencing.errors import PatternError
from sa_sequencing.rules.patterns import date_fields
from sa_sequencing.rules.placement import audit_data
from sa_sequencing.rules.placement import glue
from sa_sequencing.rules.placement import pattern_for
from sa_sequencing.rules.placement import place
from sa_sequencing.rules.placement import render
from sa_sequencing.rules.series import series_pattern
from sa_sequencing.rules.versions import PatternVersion

FAST = settings(max_examples=80, deadline=None)
days = st.dates(min_value=date(1000, 1, 1), max_value=date(9998, 12, 31))

#: (pattern, reset period) pairs that define() accepts
DEFINED = (
    ("INV-{YEAR}-{COUNTER:5}", "yearly"),
    ("{DEPT}/{YY}{MONTH}{DAY}/{COUNTER:3}", "daily"),
    ("F{FY}{FQ}-{COUNTER}", "fiscal_yearly"),
    ("W{ISOYEAR}{WEEK}-{DOY}-{COUNTER:4}-{DEPT:3}", "never"),
    ("{COUNTER:2}", "never"),
)
VERSIONS = (
    PatternVersion("NEW-{YEAR}{MONTH}-{DEPT}-{COUNTER:6}", date(5000, 1, 1), date(5999, 12, 31)),
)


@FAST
@given(
    st.sampled_from(DEFINED),
    days,
    st.integers(1, 12),
    st.integers(0, 99),
    st.text("ABCxyz019", min_size=1, max_size=6),
    st.booleans(),
)
def test_a_placed_number_reads_back_as_what_made_it(
    defined, day, fy_start, value, dept, versioned
):
    source, period = defined
    d = definition(
        source,
        reset_period=period,
        fiscal_year_start=fy_start,
        versions=VERSIONS if versioned else (),
    )
    context = {"dept": dept}
    placed = place(d, "tenant", day, context)
    pattern = pattern_for(d, day)
    assert placed.pattern == pattern
    if versioned and date(5000, 1, 1) <= day <= date(5999, 12, 31):
        assert pattern.source == VERSIONS[0].pattern
    number = placed.number(value)
    assert number == render(d, pattern, "tenant", day, context, value, 1)
    fields = pattern.parse(number)
    assert fields["COUNTER"] == value
    known = date_fields(day, fiscal_year_start=fy_start)
    for name, read in fields.items():
        if name in known:
            assert read == known[name]
    if "DEPT" in fields:
        # a padded variable is zero-filled, as the counter is
        assert fields["DEPT"] == (dept.rjust(3, "0") if "{DEPT:3}" in pattern.source else dept)
    assert placed.data == audit_data(placed.period, day, context)


def test_the_placement_glues_the_counter_between_the_rendered_text():
    d = definition("INV-{YEAR}-{COUNTER:5}-{DEPT}", reset_period="yearly")
    placed = place(d, "", date(2026, 3, 7), {"DEPT": "EU"})
    assert (placed.prefix, placed.width, placed.suffix) == ("INV-2026-", 5, "-EU")
    assert placed.period == "2026"
    assert placed.number(42) == "INV-2026-00042-EU"
    assert placed.number(123456) == "INV-2026-123456-EU"
    assert glue("P", 7, None, "S") == "P7S"
    assert glue("P", 7, 3, "") == "P007"


def test_the_ledger_data_of_a_number():
    assert audit_data("", date(2026, 3, 7), None) == {"date": "2026-03-07"}
    assert audit_data("2026-03", date(2026, 3, 7), {"Dept": "EU", "n": 4}) == {
        "date": "2026-03-07",
        "period": "2026-03",
        "context": {"Dept": "EU", "n": 4},
    }


@pytest.mark.parametrize("cycle", [2, 3, 28])
def test_a_later_series_renders_and_reads_back_in_its_series_pattern(cycle):
    d = definition("INV-{YEAR}-{COUNTER:3}", reset_period="yearly", overflow="switch_pattern")
    day = date(2026, 3, 7)
    number = render(d, d.compiled, "", day, None, 5, cycle)
    series = series_pattern(d.compiled, cycle)
    assert series.parse(number) == {"YEAR": 2026, "COUNTER": 5}
    assert not d.compiled.validate(number)


def test_a_cycle_without_switch_pattern_is_shown_only_by_cycle():
    d = definition("R{CYCLE}-{COUNTER:3}", reset_limit=10)
    number = render(d, d.compiled, "", date(2026, 3, 7), None, 5, 4)
    assert number == "R4-005"
    assert d.compiled.parse(number) == {"CYCLE": 4, "COUNTER": 5}


def test_a_context_that_could_outgrow_the_number_column_is_refused():
    d = definition("{NOTE}-{COUNTER:4}")
    assert place(d, "t", date(2026, 3, 7), {"note": "x" * 250}).number(1) == "x" * 250 + "-0001"
    with pytest.raises(PatternError, match="longer than 255 characters") as raised:
        place(d, "t", date(2026, 3, 7), {"note": "x" * 251})
    assert (raised.value.sequence, raised.value.scope) == ("doc", "t")


def test_an_unpadded_counter_is_counted_at_its_largest_width():
    # 19 digits of a counter that can reach 2**63 - 1
    d = definition("{NOTE}-{COUNTER}")
    place(d, "", date(2026, 3, 7), {"note": "x" * (255 - 1 - 19)})
    with pytest.raises(PatternError, match="19 for the counter"):
        place(d, "", date(2026, 3, 7), {"note": "x" * (255 - 19)})


@pytest.mark.parametrize(
    ("context", "error"),
    [
        ([("DEPT", "A")], ArgumentTypeError),
        ({1: "A"}, ArgumentTypeError),
        ({}, PatternError),
        ({"DEPT": "A/B\x00"}, Exception),
    ],
)
def test_a_bad_context_is_refused_before_any_counter_moves(context, error):
    d = definition("{DEPT}-{COUNTER:3}")
    with pytest.raises(error) as raised:
        place(d, "", date(2026, 3, 7), context)
    assert "context" in str(raised.value) or "DEPT" in str(raised.value)
