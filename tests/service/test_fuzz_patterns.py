"""Property-based tests of patterns through the database, on every database.

``tests/test_patterns.py`` proves ``parse(render(n)) == n`` for the pattern language
alone.  Here the same holds end to end: a definition made from a random pattern
(with random resets, zones, fiscal years, start, step and overflow) issues numbers
that ``validate`` accepts, that ``parse`` reads back to the counter value, the context
and the document date the test computed itself, that the ledger keeps byte for byte,
and that ``void`` finds again.  Patterns that are any text at all are defined or
refused with a :class:`~sa_sequencing.SequencingError`, and a refusal writes nothing.
"""

from __future__ import annotations

import contextlib
import os
import zoneinfo
from datetime import date
from datetime import datetime
from datetime import timezone
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from schemas import empty_tables

from sa_sequencing import Pattern
from sa_sequencing import SequencingError
from sa_sequencing import compose_child

STRESS = os.environ.get("SA_SEQUENCING_STRESS") == "1"
PROPERTY = settings(
    max_examples=300 if STRESS else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ZONES = sorted(zoneinfo.available_timezones())
DATE_TOKENS = ("YEAR", "YY", "MONTH", "DAY", "QUARTER", "WEEK", "ISOYEAR", "DOY")
FISCAL_TOKENS = ("FY", "FYY", "FYEND", "FYYEND", "FQ")
CONTEXT_NAMES = ("D", "dept", "R_1")
#: Literal text between tokens, escaped braces included; non-word characters separate.
literal = st.sampled_from(["-", "/", ".", " ", "#", "{{", "}}", "é-", "A", "x_", "😀", "0"])


@pytest.fixture
def fresh(engine, sequencing):
    """``fresh()`` empties the tables: each example starts from the same state."""
    return lambda: empty_tables(engine, sequencing.tables.all(), sequencing)


def expected_fields(day: date, fiscal_year_start: int) -> dict[str, int]:
    """The date tokens of ``day``, computed here rather than by the library."""
    iso = day.isocalendar()
    fy = day.year if day.month >= fiscal_year_start else day.year - 1
    fy_end = fy if fiscal_year_start == 1 else fy + 1
    return {
        "YEAR": day.year,
        "YY": day.year % 100,
        "MONTH": day.month,
        "DAY": day.day,
        "QUARTER": (day.month - 1) // 3 + 1,
        "WEEK": iso[1],
        "ISOYEAR": iso[0],
        "DOY": day.timetuple().tm_yday,
        "FY": fy,
        "FYY": fy % 100,
        "FYEND": fy_end,
        "FYYEND": fy_end % 100,
        "FQ": (day.month - fiscal_year_start) % 12 // 3 + 1,
    }


def period_of(reset: str, day: date, fiscal_year_start: int) -> str:
    fy = day.year if day.month >= fiscal_year_start else day.year - 1
    return {
        "never": "",
        "daily": day.isoformat(),
        "monthly": f"{day.year:04d}-{day.month:02d}",
        "yearly": f"{day.year:04d}",
        "fiscal_yearly": f"FY{fy:04d}",
    }[reset]


@st.composite
def patterns(draw: st.DrawFn) -> tuple[str, dict[str, int | None]]:
    """A pattern and the width of each context variable in it (tokens in any case,
    with or without widths, separated or not: unreadable ones are refused)."""
    items: list[str] = []
    widths: dict[str, int | None] = {}
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["date", "fiscal", "context", "cycle"]))
        if kind in ("date", "fiscal"):
            name = draw(st.sampled_from(DATE_TOKENS if kind == "date" else FISCAL_TOKENS))
            width = draw(st.sampled_from(["", ":1", ":4", ":06"]))
        elif kind == "context":
            name = draw(st.sampled_from(CONTEXT_NAMES))
            width = draw(st.sampled_from(["", ":3", ":32"]))
            # parse reads a variable back from its first occurrence
            widths.setdefault(name.upper(), int(width[1:]) if width else None)
        else:
            name, width = "CYCLE", draw(st.sampled_from(["", ":2"]))
        items.append("{" + draw(st.sampled_from([name, name.lower()])) + width + "}")
    counter = "{COUNTER" + draw(st.sampled_from(["", ":1", ":4", ":018"])) + "}"
    items.insert(draw(st.integers(0, len(items))), counter)
    text = "".join(item + draw(literal | st.just("")) for item in items)
    return draw(literal | st.just("")) + text, widths


context_values = st.text(
    st.characters(categories=["Lu", "Ll", "Lo", "Nd"], include_characters="_"),
    min_size=1,
    max_size=8,
) | st.integers(0, 10**20)
any_day = st.dates(min_value=date(1000, 1, 1), max_value=date(9998, 12, 31)) | st.datetimes(
    min_value=datetime(1000, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.timezones()
)


def local_day(value: date, zone: str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(zoneinfo.ZoneInfo(zone)).date()
    return value


# numbers past the exhaustion threshold warn; that is not what this test is about
@pytest.mark.filterwarnings("ignore::sa_sequencing.SequenceExhaustionWarning")
@PROPERTY
@given(
    case=patterns(),
    reset=st.sampled_from(["never", "daily", "monthly", "yearly", "fiscal_yearly"]),
    fiscal_year_start=st.integers(1, 12),
    zone=st.sampled_from(ZONES),
    start=st.sampled_from([0, 1, 9, 2**31 - 1, 2**63 - 10]),
    step=st.sampled_from([1, 3, 2**31 - 1]),
    overflow=st.sampled_from(["throw_exception", "extend_padding", "switch_pattern"]),
    values=st.fixed_dictionaries({name.upper(): context_values for name in CONTEXT_NAMES}),
    day=any_day,
    count=st.integers(1, 3),
)
@example(
    case=("INV-{YEAR}-{D}-{COUNTER:5}", {"D": None}),
    reset="yearly",
    fiscal_year_start=1,
    zone="Pacific/Apia",
    start=1,
    step=1,
    overflow="throw_exception",
    values={"D": "SALES", "DEPT": "x", "R_1": "y"},
    day=datetime(2011, 12, 30, 10, 0, tzinfo=timezone.utc),
    count=2,
)
@example(  # MariaDB typed the ledger's counting CTE INT from the literal 1: 2**31 overflowed
    case=("-{COUNTER}-", {}),
    reset="never",
    fiscal_year_start=1,
    zone="UTC",
    start=1,
    step=2**31 - 1,
    overflow="throw_exception",
    values={"D": "0", "DEPT": "0", "R_1": "0"},
    day=date(2000, 1, 1),
    count=2,
)
def test_generated_numbers_read_back(
    fresh,
    tx,
    snapshot,
    case,
    reset,
    fiscal_year_start,
    zone,
    start,
    step,
    overflow,
    values,
    day,
    count,
):
    fresh()
    source, widths = case
    options: dict[str, Any] = {
        "reset_period": reset,
        "fiscal_year_start": fiscal_year_start,
        "timezone": zone,
        "start": start,
        "step": step,
        "overflow": overflow,
        "gap_policy": "report_gaps_only",
        "allow_repeats": True,
    }
    before = snapshot()
    with tx() as seqs:
        try:
            seqs.define("p", source, **options)
        except SequencingError:
            refused = True
        else:
            refused = False
    if refused:
        assert snapshot() == before
        return
    context = {name: values[name] for name in widths}
    before = snapshot()
    try:
        with tx() as seqs:
            preview = seqs.preview("p", context=context, date=day)
            numbers = seqs.generate_many("p", count, context=context, date=day)
    except SequencingError:
        # a date token outside 1000..9999, a counter past its capacity or 2**63 - 1, a
        # number past 255 characters: refused, and nothing written
        assert snapshot() == before
        return
    assert numbers[0] == preview
    capacity = Pattern.compile(source).capacity
    switched = overflow == "switch_pattern" and capacity is not None
    switched = switched and start + (count - 1) * step > capacity
    local = local_day(day, zone)
    fields = expected_fields(local, fiscal_year_start)
    with tx() as seqs:
        for i, number in enumerate(numbers):
            assert seqs.validate("p", number), number
            parsed = seqs.parse("p", number)
            if not switched:  # else the counter restarts in the next series
                assert parsed["COUNTER"] == start + i * step, (number, parsed)
            for name, width in widths.items():
                assert parsed[name] == str(values[name]).rjust(width or 0, "0")
            for name in set(parsed) & set(fields):
                assert parsed[name] == fields[name], (name, number)
        issued = [e for e in seqs.audit_log("p") if e.event == "number_generated"]
        assert [e.number for e in issued] == numbers
        assert {e.data.get("period", "") for e in issued} == {
            period_of(reset, local, fiscal_year_start)
        }
        seqs.void("p", numbers[-1])
    with tx() as seqs:
        assert seqs.gap_report("p") == [numbers[-1]]


#: Pattern text that is mostly tokens and braces: the lexer's and the checks' corners.
soup = st.lists(
    st.sampled_from(
        [
            *("{", "}", "{{", "}}", "{COUNTER}", "{counter:5}", "{COUNTER:0}", "{COUNTER:19}"),
            *("{YEAR}", "{D}", "{D:33}", "{:3}", "{}", "{1X}", "{CYCLE}", "-", ":", "é", "\x00"),
            *("\ud800", " ", "x" * 60, "{FY:32}", "{COUNTER:}", "{ COUNTER }", "{COUNTER:+5}"),
        ]
    ),
    max_size=8,
).map("".join)
any_pattern = soup | st.text(max_size=40) | st.text(st.characters(codec=None), max_size=20)


@PROPERTY
@given(source=any_pattern)
@example(source="{{{COUNTER}}}")
@example(source="{COUNTER:٣}")  # an Arabic-Indic digit as a width
@example(source="{COUNTER:²}")  # a superscript: isdigit() but not a decimal
@example(source="X" * 236 + "{COUNTER:18}")
def test_any_pattern_text_is_stored_exactly_or_refused(fresh, tx, snapshot, source):
    fresh()
    before = snapshot()
    with tx() as seqs:
        try:
            seqs.define("p", source, gap_policy="report_gaps_only", allow_repeats=True)
        except SequencingError:
            refused = True
        else:
            refused = False
    if refused:
        assert snapshot() == before
        return
    context = {name: "v" for name in Pattern.compile(source).context_names}
    with tx() as seqs:
        assert seqs.get("p").pattern == source
        number = seqs.generate("p", context=context)
    with tx() as seqs:
        assert seqs.validate("p", number)
        assert seqs.parse("p", number)["COUNTER"] == 1
        assert [e.number for e in seqs.audit_log("p") if e.event == "number_generated"] == [number]
        seqs.void("p", number)
    with tx() as seqs:
        assert seqs.gap_report("p") == [number]


# -- the pattern language without a database: Pattern and compose_child -------------------


def _big(sign: int) -> int:
    return sign * 10**5000


#: Anything a caller could pass where an int, a date, a context or text is expected.
anything = (
    st.text(st.characters(codec=None), max_size=12)
    | st.integers()
    | st.sampled_from([1, -1]).map(_big)  # str() refuses ints of 5,001 digits
    | st.sampled_from([None, True, 1.5, b"x", [1], ("D", "x"), {"D": "x"}, date(2026, 1, 1)])
    | st.datetimes(timezones=st.none() | st.timezones())
)
some_patterns = st.sampled_from(
    ["-{COUNTER:3}", "{D}-{COUNTER}", "{YEAR}-{FY}-{COUNTER:2}", "{CYCLE:2}-{COUNTER}"]
)


@settings(PROPERTY, max_examples=1000 if STRESS else 150)
@given(
    source=some_patterns,
    counter=anything,
    day=anything,
    context=anything
    | st.dictionaries(st.text(max_size=4) | st.integers() | st.none(), anything, max_size=3),
    fiscal_year_start=anything,
    cycle=anything,
)
@example(source="-{COUNTER:3}", counter=_big(1), day=date(2026, 1, 1), context=None,
         fiscal_year_start=1, cycle=1)  # fmt: skip
@example(source="-{COUNTER:3}", counter=_big(-1), day=date(2026, 1, 1), context=None,
         fiscal_year_start=1, cycle=1)  # fmt: skip
@example(source="{D}-{COUNTER}", counter=1, day=date(2026, 1, 1), context=5,
         fiscal_year_start=1, cycle=1)  # fmt: skip
@example(source="{CYCLE:2}-{COUNTER}", counter=1, day=date(2026, 1, 1), context=None,
         fiscal_year_start=1, cycle=_big(1))  # fmt: skip
def test_pattern_methods_work_or_raise_sequencing_errors(
    source, counter, day, context, fiscal_year_start, cycle
):
    pattern = Pattern.compile(source)
    options = {"day": day, "context": context, "fiscal_year_start": fiscal_year_start}
    try:
        number = pattern.render(counter, cycle=cycle, **options)
    except SequencingError:
        number = None
    if number is not None:
        assert pattern.validate(number)
        assert pattern.parse(number)["COUNTER"] == counter
    with contextlib.suppress(SequencingError):
        pattern.render_around_counter(cycle=cycle, **options)
    with contextlib.suppress(SequencingError):
        compose_child("INV-1", source, counter, context=context, day=day)
    for text in (counter, day, context):
        with contextlib.suppress(SequencingError):
            assert pattern.validate(text) in (True, False)
            pattern.parse(text)
