"""Planning an allocation (``plan_allocation``, ``capacity_of``): pure arithmetic, no
database.  What users rely on: the values follow ``start``/``step``; a batch is the same
as drawing its numbers one by one; a counter never passes its capacity; and at the end
of a series or after ``reset_limit`` numbers the counter restarts, raises or grows
exactly as the overflow policy documents."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from rule_defs import definition
from rule_defs import definitions
from rule_defs import states

from sa_sequencing.errors import SequenceExhaustedError
from sa_sequencing.rules.counters import CounterSnapshot
from sa_sequencing.rules.counters import CounterState
from sa_sequencing.rules.counters import capacity_of
from sa_sequencing.rules.counters import plan_allocation
from sa_sequencing.rules.definitions import SequenceDefinition
from sa_sequencing.rules.enums import OverflowBehavior
from sa_sequencing.rules.limits import MAX_COUNTER
from sa_sequencing.rules.locate import Location
from sa_sequencing.rules.locate import locate
from sa_sequencing.rules.placement import render

SCOPE = ""
DAY = date(2026, 3, 7)
FAST = settings(max_examples=60, deadline=None)


def plan(d: SequenceDefinition, state: CounterState | None, count: int):
    return plan_allocation(d, state, count, capacity_of(d, d.compiled), scope=SCOPE)


def documented_next(
    d: SequenceDefinition, value: int, cycle: int, capacity: int
) -> tuple[int, int, str | None] | None:
    """The value after ``value`` as the docs state it (None: the counter is exhausted),
    with the reason of a restart."""
    drawn_in_cycle = (value - d.start) // d.step + 1 if value >= d.start else 0
    if d.reset_limit is not None and drawn_in_cycle >= d.reset_limit:
        return d.start, cycle + 1, "reset_limit"
    if value + d.step <= capacity:
        return value + d.step, cycle, None
    if d.overflow is OverflowBehavior.SWITCH_PATTERN and capacity < MAX_COUNTER:
        return d.start, cycle + 1, "series_switched"
    return None


# -- capacity ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "overflow", "capacity"),
    [
        ("INV-{COUNTER:4}", "throw_exception", 9999),
        ("INV-{COUNTER:4}", "switch_pattern", 9999),
        ("INV-{COUNTER:1}", "throw_exception", 9),
        ("INV-{COUNTER:18}", "throw_exception", 10**18 - 1),
        ("INV-{COUNTER:4}", "extend_padding", MAX_COUNTER),
        ("INV-{COUNTER}", "throw_exception", MAX_COUNTER),
        ("INV-{COUNTER}", "switch_pattern", MAX_COUNTER),
    ],
)
def test_capacity_is_the_patterns_unless_the_counter_may_grow(pattern, overflow, capacity):
    d = definition(pattern, overflow=overflow)
    assert capacity_of(d, d.compiled) == capacity


def test_capacity_follows_the_pattern_given_not_the_definitions():
    # a pattern version with a wider counter holds more numbers than the definition's
    d = definition("INV-{COUNTER:2}")
    wider = d.compiled.with_counter_width(5)
    assert capacity_of(d, wider) == 99_999


# -- the planned values --------------------------------------------------------------


@FAST
@given(st.data())
def test_planned_values_follow_the_documented_rules(data):
    d = data.draw(definitions())
    capacity = capacity_of(d, d.compiled)
    state = data.draw(states(d, capacity))
    count = data.draw(st.integers(1, 40))
    value, cycle = (state.value, state.cycle) if state else (d.start - d.step, 1)
    expected, reasons = [], []
    for _ in range(count):
        following = documented_next(d, value, cycle, capacity)
        if following is None:
            break
        value, cycle, reason = following
        expected.append((value, cycle))
        if reason:
            reasons.append((reason, cycle))
    if len(expected) < count:
        # exhausted: nothing is planned at all, and the error says why
        with pytest.raises(SequenceExhaustedError) as raised:
            plan(d, state, count)
        assert raised.value.sequence == d.name
        if capacity == MAX_COUNTER:
            assert str(MAX_COUNTER) in str(raised.value)
        else:
            assert f"capacity of {capacity}" in str(raised.value)
            assert "extend_padding" in str(raised.value)
        return
    planned = plan(d, state, count)
    assert planned.values == expected
    assert planned.state == CounterState(*expected[-1])
    assert [(e, details["cycle"]) for e, details in planned.events] == [
        ("counter_reset" if r == "reset_limit" else "series_switched", c) for r, c in reasons
    ]
    for v, _ in planned.values:
        assert d.start <= v <= capacity
        assert (v - d.start) % d.step == 0


@FAST
@given(st.data())
def test_a_batch_is_its_numbers_drawn_one_by_one(data):
    d = data.draw(definitions())
    capacity = capacity_of(d, d.compiled)
    state = data.draw(states(d, capacity))
    count = data.draw(st.integers(1, 30))
    singles: list[tuple[int, int]] = []
    events = []
    current = state
    exhausted = False
    for _ in range(count):
        try:
            one = plan(d, current, 1)
        except SequenceExhaustedError:
            exhausted = True
            break
        singles += one.values
        events += one.events
        current = one.state
    if exhausted:
        with pytest.raises(SequenceExhaustedError):
            plan(d, state, count)
    else:
        batch = plan(d, state, count)
        assert batch.values == singles
        assert batch.state == current
        assert batch.events == events


@FAST
@given(definitions(), st.integers(1, 60))
def test_a_new_counter_starts_at_start_in_the_first_series(d, count):
    capacity = capacity_of(d, d.compiled)
    fits = (capacity - d.start) // d.step + 1
    try:
        planned = plan(d, None, count)
    except SequenceExhaustedError:
        # only a first series too short for the batch, that no reset_limit cuts short
        assert count > fits
        assert d.reset_limit is None or d.reset_limit > fits
        assert d.overflow is not OverflowBehavior.SWITCH_PATTERN or capacity == MAX_COUNTER
        return
    assert planned.values[0] == (d.start, 1)
    first_cycle = [v for v, c in planned.values if c == 1]
    assert first_cycle == [d.start + i * d.step for i in range(len(first_cycle))]
    if d.reset_limit is not None:
        assert len(first_cycle) <= d.reset_limit


@pytest.mark.parametrize("overflow", ["throw_exception", "switch_pattern"])
def test_reset_limit_restarts_after_so_many_numbers(overflow):
    d = definition("R{CYCLE}-{COUNTER:3}", reset_limit=3, start=10, step=5, overflow=overflow)
    planned = plan(d, None, 7)
    assert planned.values == [(10, 1), (15, 1), (20, 1), (10, 2), (15, 2), (20, 2), (10, 3)]
    assert planned.events == [
        ("counter_reset", {"reason": "reset_limit", "cycle": 2}),
        ("counter_reset", {"reason": "reset_limit", "cycle": 3}),
    ]


def test_throw_exception_stops_at_capacity_and_plans_nothing():
    d = definition("INV-{COUNTER:2}", start=95, step=2)
    assert plan(d, None, 3).values == [(95, 1), (97, 1), (99, 1)]
    with pytest.raises(SequenceExhaustedError, match=r"101 does not fit .* capacity of 99"):
        plan(d, None, 4)
    with pytest.raises(SequenceExhaustedError, match=r"widen \{COUNTER:N\}"):
        plan(d, CounterState(99, 1), 1)


def test_switch_pattern_moves_to_the_next_series_from_start():
    d = definition("INV-{COUNTER:1}", start=7, overflow="switch_pattern")
    planned = plan(d, None, 7)
    assert planned.values == [(7, 1), (8, 1), (9, 1), (7, 2), (8, 2), (9, 2), (7, 3)]
    assert planned.events == [
        ("series_switched", {"cycle": 2, "capacity": 9}),
        ("series_switched", {"cycle": 3, "capacity": 9}),
    ]
    numbers = [render(d, d.compiled, SCOPE, DAY, None, v, c) for v, c in planned.values]
    assert numbers == ["INV-7", "INV-8", "INV-9", "INV-A-7", "INV-A-8", "INV-A-9", "INV-B-7"]


def test_extend_padding_keeps_counting_past_the_padding():
    d = definition("INV-{COUNTER:2}", overflow="extend_padding")
    planned = plan(d, CounterState(98, 1), 3)
    assert planned.values == [(99, 1), (100, 1), (101, 1)]
    numbers = [render(d, d.compiled, SCOPE, DAY, None, v, c) for v, c in planned.values]
    assert numbers == ["INV-99", "INV-100", "INV-101"]


@pytest.mark.parametrize("overflow", list(OverflowBehavior))
@pytest.mark.parametrize("step", [1, 2, 2**31 - 1])
def test_the_largest_counter_value_is_never_passed(overflow, step):
    # extend_padding counts past a padded counter's capacity; the others past none
    pattern = "{COUNTER:18}" if overflow is OverflowBehavior.EXTEND_PADDING else "{COUNTER}"
    d = definition(pattern, overflow=overflow, step=step)
    last = MAX_COUNTER - (MAX_COUNTER - d.start) % step  # the last value of the series
    planned = plan(d, CounterState(last - step, 1), 1)
    assert planned.values == [(last, 1)]
    with pytest.raises(SequenceExhaustedError, match=rf"passes {MAX_COUNTER}"):
        plan(d, CounterState(last, 1), 1)


def test_a_reset_limit_restart_needs_no_room_past_capacity():
    # the counter is full, but the limit restarts it before it would pass capacity
    d = definition("R{CYCLE}-{COUNTER:1}", reset_limit=9)
    assert plan(d, CounterState(9, 1), 1).values == [(1, 2)]


# -- what the planned numbers read -------------------------------------------------


@FAST
@given(definitions(), st.integers(1, 80))
def test_planned_numbers_never_repeat_and_locate_back(d, count):
    """A valid definition (no allow_repeats) never issues one number twice in a period,
    and ``void`` finds each one's counter value and cycle back from its text."""
    try:
        planned = plan(d, None, count)
    except SequenceExhaustedError:
        capacity = capacity_of(d, d.compiled)
        count = (capacity - d.start) // d.step + 1
        planned = plan(d, None, count)
    numbers = [render(d, d.compiled, SCOPE, DAY, None, v, c) for v, c in planned.values]
    assert len(set(numbers)) == len(numbers)
    counter = CounterSnapshot(1, None, "", planned.state.value, planned.state.cycle, None)
    for number, (value, cycle) in zip(numbers, planned.values, strict=True):
        assert locate(d, number, [counter]) == [Location("", cycle, value)]
