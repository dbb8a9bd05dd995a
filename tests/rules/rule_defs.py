"""Definitions for the pure rule tests: built the way the allocator builds them (the
checked column values of ``validate_options`` read back by ``SequenceDefinition.from_row``),
without a table, an engine or a database."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

from hypothesis import strategies as st

from sa_sequencing.rules.counters import CounterState
from sa_sequencing.rules.definitions import DEFAULTS
from sa_sequencing.rules.definitions import SequenceDefinition
from sa_sequencing.rules.definitions import validate_options
from sa_sequencing.rules.enums import OverflowBehavior
from sa_sequencing.rules.limits import MAX_COUNTER
from sa_sequencing.rules.patterns import Pattern
from sa_sequencing.rules.versions import PatternVersion

NAME = "doc"


def options(**given: Any) -> dict[str, Any]:
    """Every option of ``define``: the defaults, overridden by ``given``."""
    return {**DEFAULTS, **given}


def definition(
    pattern: str = "INV-{COUNTER:4}",
    *,
    versions: tuple[PatternVersion, ...] = (),
    **given: Any,
) -> SequenceDefinition:
    """A checked definition, as a ``sequences`` row would give it."""
    values = validate_options(NAME, "", pattern, options(**given))
    metadata = values.pop("metadata_")
    row = SimpleNamespace(
        id=1,
        name=NAME,
        scope="",
        is_locked=False,
        revision=1,
        metadata=metadata,
        created_at=None,
        updated_at=None,
        **values,
    )
    made = SequenceDefinition.from_row(row)
    if versions:
        # the allocator fills the versions in after reading the row
        made = dataclasses.replace(made, versions=versions)
    return made


#: Patterns with a bounded counter (capacity 10**N - 1), an unbounded one, the counter
#: first, glued to text, after an escaped brace, and with a {CYCLE} (needed by
#: reset_limit unless allow_repeats).
BOUNDED = (
    "INV-{COUNTER:%d}",
    "N{COUNTER:%d}X",
    "{COUNTER:%d}",
    "A{{{COUNTER:%d}",
    "INV/{CYCLE}/{COUNTER:%d}",
    "C{CYCLE}-{COUNTER:%d}",
)
UNBOUNDED = ("D-{COUNTER}", "D{CYCLE}-{COUNTER}")


@st.composite
def definitions(draw: st.DrawFn) -> SequenceDefinition:
    """Any valid definition whose counter options matter to planning: small capacities
    (so that the end of a series is reached), every overflow, step, start and
    reset_limit."""
    if draw(st.integers(0, 4)):
        pattern = draw(st.sampled_from(BOUNDED)) % draw(st.integers(1, 2))
    else:
        pattern = draw(st.sampled_from(UNBOUNDED))
    overflow = draw(st.sampled_from(list(OverflowBehavior)))
    step = draw(st.integers(1, 7))
    capacity = _capacity(pattern)
    start = draw(st.integers(0, min(capacity, 120)))
    limit = draw(st.none() | st.integers(1, 6)) if "{CYCLE}" in pattern else None
    return definition(pattern, step=step, start=start, reset_limit=limit, overflow=overflow)


def _capacity(pattern: str) -> int:
    return Pattern.compile(pattern).capacity or MAX_COUNTER


@st.composite
def states(draw: st.DrawFn, d: SequenceDefinition, capacity: int) -> CounterState | None:
    """No counter yet, or a counter that has issued some value of the series: near
    its start, or near its capacity (MAX_COUNTER for an unbounded one)."""
    if draw(st.booleans()):
        return None
    top = (capacity - d.start) // d.step  # the last index that fits
    near_end = st.integers(max(-1, top - 8), top)
    index = draw(st.integers(-1, min(top, 12)) | near_end)
    return CounterState(d.start + index * d.step, draw(st.integers(1, 4)))
