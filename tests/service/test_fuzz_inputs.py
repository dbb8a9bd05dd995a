"""Property-based attacks on names, scopes, numbers, contexts, zones, dates and
metadata, on every database.

Whatever a caller passes, a call either works, and what it stored reads back exactly
as given, or raises a :class:`~sa_sequencing.SequencingError` and writes nothing (the
six tables are compared before and after).  Any other exception fails the test.
``tests/test_input_properties.py`` attacks text inputs (scopes, context values,
actors, reasons, metadata given to ``define``); this file attacks the types and
ranges around them.  ``SA_SEQUENCING_STRESS=1`` runs many more examples.
"""

from __future__ import annotations

import decimal
import enum
import os
import zoneinfo
from collections.abc import Callable
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from schemas import empty_tables

from sa_sequencing import InvalidArgumentError
from sa_sequencing import SequencingError

STRESS = os.environ.get("SA_SEQUENCING_STRESS") == "1"
PROPERTY = settings(
    max_examples=400 if STRESS else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class _Huge(int):
    """An int of 5,001 digits that hypothesis can print in a report, while ``str()``
    and ``repr()`` refuse it as they refuse a plain int of that size."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("10**5000" if self > 0 else "-10**5000")

    __repr__ = int.__repr__
    __str__ = int.__repr__


HUGE = _Huge(10**5000)
MINUS_HUGE = _Huge(-(10**5000))
ZONES = sorted(zoneinfo.available_timezones())

any_text = st.text(st.characters(codec=None, categories=None), max_size=30) | st.sampled_from(
    ["a\x00", "\ud800", "x" * 300, "", " a", "a ", "é", "😀", "\uff21", "a\nb", "\t"]
)
#: Ints at the edges of every column and of ``str()``.
edge_ints = st.sampled_from(
    [
        *(0, 1, -1, 2**31 - 1, 2**31, 2**32, 2**63 - 2, 2**63 - 1, 2**63, -(2**63)),
        *(-(2**63) - 1, 2**64, HUGE, MINUS_HUGE),
    ]
)
not_text = st.sampled_from([None, True, 1.5, b"n", ("n",), ["n"], {"n": 1}, date(2026, 1, 1)])


class Tenant(str, enum.Enum):
    """A str-based enum, as applications name their tenants."""

    ACME = "acme"


class Level(enum.IntEnum):
    TOP = 7


def _circular() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


#: Values that are not JSON, or not JSON that reads back the same.
non_json = st.sampled_from(
    [
        {1, 2},
        b"\xff",
        decimal.Decimal("1.5"),
        date(2026, 1, 1),
        object(),
        float("nan"),
        float("inf"),
        HUGE,
        2**64,
        {1: "a", "b": 2},
        ["\ud800"],
        {"k": "\ud800"},
        ("a", "\x00"),
        _circular(),
        ["x" * 1000] * 100,
    ]
)
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | any_text
)
json_like = st.recursive(
    json_scalars | non_json,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture
def fresh(engine, sequencing):
    """``fresh()`` empties the tables: each example starts from the same state."""
    return lambda: empty_tables(engine, sequencing.tables.all(), sequencing)


def attempt(tx, snapshot, call: Callable[[Any], Any]) -> tuple[bool, Any]:
    """Run ``call(seqs)`` in a transaction that commits: ``(True, result)``, or
    ``(False, error)`` for a :class:`SequencingError` after which the six tables are
    as they were.  Any other exception propagates and fails the test."""
    before = snapshot()
    with tx() as seqs:
        try:
            return True, call(seqs)
        except SequencingError as exc:
            error = exc
    assert str(error), "an error must say what is wrong"
    assert snapshot() == before, f"refused ({type(error).__name__}: {error}) but wrote"
    return False, error


# -- names ---------------------------------------------------------------------------------


@PROPERTY
@given(name=any_text | not_text)
@example(name="inv ")
@example(name="😀" * 100)
@example(name="😀" * 101)
def test_any_name_is_stored_exactly_or_refused(fresh, tx, snapshot, name):
    fresh()
    ok, _ = attempt(tx, snapshot, lambda s: s.define(name, "N-{COUNTER}"))
    if not ok:
        # an undefined or impossible name is not found, and nothing is written
        attempt(tx, snapshot, lambda s: s.generate(name))
        return
    with tx() as seqs:
        assert seqs.generate(name) == "N-1"
    with tx() as seqs:
        assert seqs.get(name).name == name
        assert [d.name for d in seqs.list()] == [name]
        assert [(e.sequence_name, e.number) for e in seqs.audit_log(name)][-1] == (name, "N-1")
        assert seqs.parse(name, "N-1") == {"COUNTER": 1}


# -- scopes of every type --------------------------------------------------------------------


def _scope_text(scope: object) -> str:
    """The text a scope is stored as: the str itself (its plain value, for a str-based
    enum), an int written in decimal."""
    if isinstance(scope, str):
        return str.__str__(scope)
    return int.__repr__(scope)  # type: ignore[arg-type]


@PROPERTY
@given(scope=any_text | st.integers(-(2**70), 2**70) | edge_ints | not_text | st.just(Level.TOP))
@example(scope=Tenant.ACME)
@example(scope=HUGE)
@example(scope=-5)
def test_a_scope_of_any_type_is_one_key_or_refused(fresh, tx, snapshot, scope):
    """A scope's own definition serves it under every spelling of the same key: the
    str, the str-based enum member, the int and its decimal text."""
    fresh()
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER}")  # the template
    ok, _ = attempt(tx, snapshot, lambda s: s.define("inv", "OWN-{COUNTER}", scope=scope))
    if not ok:
        attempt(tx, snapshot, lambda s: s.generate("inv", scope=scope))
        return
    text = _scope_text(scope)
    with tx() as seqs:
        assert seqs.generate("inv", scope=scope) == "OWN-1"
        assert seqs.generate("inv", scope=text) == "OWN-2"
    with tx() as seqs:
        assert seqs.get("inv", scope=scope).scope == text
        assert seqs.get("inv", scope=text).scope == text
        assert {e.scope for e in seqs.audit_log("inv", scope=text) if e.number} == {text}
        assert seqs.preview("inv", scope=scope) == "OWN-3"
        assert seqs.generate("inv") == "INV-1"  # the template's counter did not move


# -- counts and counter values --------------------------------------------------------------

small_or_edge = st.integers(-3, 4) | edge_ints


@pytest.fixture
def counting(tx):
    with tx() as seqs:
        seqs.define("n", "N-{COUNTER}", gap_policy="report_gaps_only")
        seqs.define("w", "W-{COUNTER:3}", overflow="extend_padding")
        seqs.define("c", "C-{CYCLE}-{COUNTER:2}")
        assert seqs.generate("n") == "N-1"


def entries_all(tx) -> list[Any]:
    with tx() as seqs:
        return seqs.audit_log("n", limit=None)


@PROPERTY
@given(count=small_or_edge)
@example(count=HUGE)
@example(count=MINUS_HUGE)
def test_any_count(counting, tx, snapshot, count):
    ok, numbers = attempt(tx, snapshot, lambda s: s.generate_many("n", count))
    if ok:
        assert 0 <= count <= 4 and len(numbers) == count
    ok, reservation = attempt(tx, snapshot, lambda s: s.reserve("n", count))
    if ok:
        assert 1 <= count <= 4 and len(reservation.numbers) == count
    ok, entries = attempt(tx, snapshot, lambda s: s.audit_log("n", limit=count))
    if ok:
        assert count >= 0 and len(entries) == min(count, len(entries_all(tx)))


@PROPERTY
@given(value=small_or_edge | st.integers(2**62, 2**63 + 5))
@example(value=HUGE)
@example(value=MINUS_HUGE)
@example(value=2**63 - 2)
def test_any_override_value(fresh, tx, snapshot, value):
    fresh()
    with tx() as seqs:
        seqs.define("n", "N-{COUNTER}")
        seqs.define("w", "W-{COUNTER:3}", overflow="extend_padding")
        seqs.generate("n")
    for name in ("n", "w"):
        ok, _ = attempt(tx, snapshot, lambda s, n=name: s.override(n, value))
        if not ok:
            continue
        assert 0 <= value <= 2**63 - 1
        with tx() as seqs:
            if value == 2**63 - 1:
                with pytest.raises(SequencingError):
                    seqs.generate(name)
                continue
            number = seqs.generate(name)
        with tx() as seqs:
            assert seqs.parse(name, number)["COUNTER"] == value + 1
            assert seqs.audit_log(name)[-1].counter_value == value + 1
            assert seqs.metrics(name).current_value == value + 1


@PROPERTY
@given(
    option=st.sampled_from(
        ["start", "step", "reset_limit", "exhaustion_threshold", "fiscal_year_start", "cache_size"]
    ),
    value=small_or_edge | st.integers(2**62, 2**63 + 5) | not_text,
)
@example(option="start", value=HUGE)
@example(option="step", value=HUGE)
@example(option="reset_limit", value=MINUS_HUGE)
def test_any_numeric_option(fresh, tx, snapshot, option, value):
    fresh()
    ok, definition = attempt(
        tx,
        snapshot,
        lambda s: s.define("x", "X-{CYCLE}-{COUNTER}", allow_repeats=True, **{option: value}),
    )
    if not ok:
        return
    assert getattr(definition, option) == value
    with tx() as seqs:
        assert getattr(seqs.get("x"), option) == value
        number = seqs.generate("x", date=date(2026, 6, 1))
    with tx() as seqs:
        assert seqs.parse("x", number)["COUNTER"] == definition.start


# -- contexts: keys and values of every type ------------------------------------------------


@PROPERTY
@given(
    used=any_text | st.integers(-(2**70), 2**70) | edge_ints | not_text,
    extra=st.dictionaries(any_text | st.integers() | st.none(), json_like, max_size=3),
)
@example(used="k", extra={"extra": ["\ud800"]})
@example(used="k", extra={"extra": {1: "a", "b": 2}})
@example(used="k", extra={"extra": [HUGE]})
@example(used="k", extra={"extra": _circular()})
@example(used="k", extra={"extra": ["x" * 1000] * 100})
@example(used=Tenant.ACME, extra={})
def test_any_context_is_rendered_and_kept_or_refused(fresh, tx, snapshot, used, extra):
    """The variable the pattern uses goes into the number; the context (with keys the
    pattern does not use) goes into the ledger row; a context that cannot be kept there
    is refused before the counter moves."""
    fresh()
    with tx() as seqs:
        seqs.define("inv", "INV-{D}-{COUNTER}")
    context = {**extra, "D": used}
    ok, number = attempt(tx, snapshot, lambda s: s.generate("inv", context=context))
    if not ok:
        return
    text = _scope_text(used)
    assert number == f"INV-{text}-1"
    with tx() as seqs:
        assert seqs.validate("inv", number)
        assert seqs.parse("inv", number) == {"D": text, "COUNTER": 1}
        (entry,) = [e for e in seqs.audit_log("inv") if e.event == "number_generated"]
        assert entry.data["context"]["D"] == (used if isinstance(used, str) else int(used))


# -- time zones --------------------------------------------------------------------------------

bad_zones = st.sampled_from(
    [
        *("", "utc ", "Europe/", "Europe//Paris", "../etc/passwd", "/etc/localtime", "America"),
        *(
            "tzdata.zi",
            "zone.tab",
            "Mars/Olympus",
            "Europe/Paris\n",
            "x" * 65,
            "UTC\x00",
            "\ud800",
        ),
    ]
)


@PROPERTY
@given(
    name=st.sampled_from(ZONES) | bad_zones | any_text | not_text,
    instant=st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.just(timezone.utc),
    ),
)
def test_any_time_zone_is_kept_and_used_or_refused(fresh, tx, snapshot, name, instant):
    fresh()
    ok, _ = attempt(
        tx,
        snapshot,
        lambda s: s.define(
            "d", "D-{YEAR}{MONTH}{DAY}-{COUNTER}", reset_period="daily", timezone=name
        ),
    )
    if not ok:
        return
    local = instant.astimezone(zoneinfo.ZoneInfo(name)).date()
    with tx() as seqs:
        assert seqs.get("d").timezone == name
        number = seqs.generate("d", date=instant)
    assert number == f"D-{local:%Y%m%d}-1"
    with tx() as seqs:
        assert seqs.metrics("d", date=instant).period == local.isoformat()


def test_every_time_zone_is_accepted(tx, sequencing, backend):
    """Each name ``zoneinfo`` knows is a valid ``timezone``, and dates a document at
    the local day of one instant: the dateline's sides a day apart.  The zone rules
    are Python's, not the database's: every name on SQLite, every fifth on the servers
    (the property above samples all of them everywhere)."""
    zones = ZONES if backend == "sqlite" else ZONES[::5]
    instant = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)
    with tx() as seqs:
        for i, name in enumerate(zones):
            seqs.define(
                f"z{i}", "Z-{YEAR}{MONTH}{DAY}-{COUNTER}", timezone=name, reset_period="daily"
            )
        got = {name: seqs.generate(f"z{i}", date=instant) for i, name in enumerate(zones)}
    expected = {
        name: f"Z-{instant.astimezone(zoneinfo.ZoneInfo(name)):%Y%m%d}-1" for name in zones
    }
    assert got == expected
    assert {"Z-20260630-1", "Z-20260701-1"} <= set(got.values())


# -- document dates of every kind ------------------------------------------------------------

fixed_offsets = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-(24 * 60) + 1, 24 * 60 - 1)
)
any_date = (
    st.dates()
    | st.datetimes()
    | st.datetimes(timezones=st.timezones() | fixed_offsets)
    | st.sampled_from(
        [
            date.min,
            date.max,
            datetime.min,
            datetime.max,
            datetime.min.replace(tzinfo=timezone.utc),
            datetime.max.replace(tzinfo=timezone.utc),
            datetime(1, 1, 1, 12, tzinfo=timezone(timedelta(hours=23))),
            datetime(9999, 12, 31, 12, tzinfo=timezone(timedelta(hours=-23))),
        ]
    )
)


def _local_day(value: date, zone: str) -> date | None:
    """The document day the test expects: ``None`` where it falls outside 1..9999."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.date()
        try:
            return value.astimezone(zoneinfo.ZoneInfo(zone)).date()
        except OverflowError:
            return None
    return value


@PROPERTY
@given(
    value=any_date | not_text.filter(lambda v: v is not None) | st.just("2026-01-01"),
    zone=st.sampled_from(["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", *ZONES[::7]]),
    reset=st.sampled_from(["daily", "monthly", "yearly", "fiscal_yearly"]),
)
@example(value=datetime(1, 1, 1, 12, tzinfo=timezone.utc), zone="Asia/Tokyo", reset="daily")
@example(value=date(1, 1, 1), zone="UTC", reset="fiscal_yearly")
def test_any_document_date(fresh, tx, snapshot, value, zone, reset):
    """Any date is numbered in the right day, month and year, also years 1 to 999
    (``{YY}`` shows them), or refused cleanly: outside 1..9999 in the zone."""
    fresh()
    with tx() as seqs:
        seqs.define(
            "d",
            "D-{YY}{MONTH}{DAY}-{COUNTER}",
            reset_period=reset,
            timezone=zone,
            fiscal_year_start=4,
            gap_policy="report_gaps_only",
            allow_repeats=True,
        )
    ok, number = attempt(tx, snapshot, lambda s: s.generate("d", date=value))
    expected = _local_day(value, zone) if isinstance(value, date) else None
    if not ok:
        assert expected is None, f"{value!r} refused: {number}"
        if isinstance(value, date):
            assert isinstance(number, InvalidArgumentError)
        return
    assert expected is not None
    assert number == f"D-{expected.year % 100:02d}{expected:%m%d}-1"
    fy = expected.year if expected.month >= 4 else expected.year - 1
    period = {
        "daily": expected.isoformat(),
        "monthly": f"{expected.year:04d}-{expected.month:02d}",
        "yearly": f"{expected.year:04d}",
        "fiscal_yearly": f"FY{fy:04d}",
    }[reset]
    with tx() as seqs:
        assert seqs.parse("d", number)["DAY"] == expected.day
        assert seqs.metrics("d", date=value).period == period
        (entry,) = [e for e in seqs.audit_log("d") if e.event == "number_generated"]
        assert entry.data["date"] == expected.isoformat()
        assert entry.data["period"] == period
        assert seqs.preview("d", date=value) == number[: -len("1")] + "2"
        seqs.void("d", number)  # the number is found again in its period
    with tx() as seqs:
        assert seqs.gap_report("d") == [number]


# -- metadata given to update -------------------------------------------------------------------


def _same_json(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@PROPERTY
@given(metadata=st.dictionaries(any_text, json_like, max_size=4) | json_like | not_text)
def test_any_metadata_given_to_update(fresh, tx, snapshot, metadata):
    fresh()
    with tx() as seqs:
        seqs.define("n", "N-{COUNTER}", metadata={"kept": 1})
    ok, _ = attempt(tx, snapshot, lambda s: s.update("n", metadata=metadata))
    with tx() as seqs:
        stored = seqs.get("n").metadata
    if ok:
        assert _same_json(metadata, stored) or (metadata is None and stored is None)
    else:
        assert stored == {"kept": 1}


# -- flags and batches ------------------------------------------------------------------------

anything = (
    any_text
    | st.integers()
    | edge_ints
    | not_text
    | st.dates()
    | st.datetimes(timezones=st.none() | st.timezones())
)


@PROPERTY
@given(value=anything)
@example(value=HUGE)
def test_any_flag(fresh, tx, snapshot, value):
    fresh()
    with tx() as seqs:
        seqs.define("n", "N-{COUNTER}", gap_policy="report_gaps_only")
    for call in (
        lambda s: s.gaps("n", include_filled=value),
        lambda s: s.define("n", "N-{COUNTER}", exist_ok=value, gap_policy="report_gaps_only"),
        lambda s: s.define("a", "A-{COUNTER}", audit_numbers=value),
        lambda s: s.define("b", "B-{COUNTER}", allow_repeats=value),
    ):
        ok, _ = attempt(tx, snapshot, call)
        if ok:
            assert isinstance(value, bool), f"{type(value).__name__} taken as a flag"


@PROPERTY
@given(
    name=st.just("inv") | anything,
    count=st.integers(0, 3) | edge_ints | not_text,
    scope=st.just("t1") | anything,
    context=st.just({"D": "X"}) | anything | st.dictionaries(any_text, anything, max_size=2),
    day=st.just(date(2026, 5, 1)) | anything,
)
@example(name="inv", count=1, scope="t1", context="D=X", day=date(2026, 5, 1))
@example(name="inv", count=1, scope="t1", context=7, day=date(2026, 5, 1))
def test_any_number_request(fresh, tx, snapshot, name, count, scope, context, day):
    """A batch of one odd request and one good one: both numbered, or neither."""
    from sa_sequencing import NumberRequest

    fresh()
    with tx() as seqs:
        seqs.define("inv", "INV-{D}-{COUNTER}", gap_policy="report_gaps_only")
        seqs.define("n", "N-{COUNTER}")
    requests = [NumberRequest("n", 1), NumberRequest(name, count, scope, context, day)]
    ok, numbers = attempt(tx, snapshot, lambda s: s.generate_batch(requests))
    if not ok:
        return
    assert numbers[0] == ["N-1"]
    assert len(numbers[1]) == count
    with tx() as seqs:
        ledger = [e.number for e in seqs.audit_log(limit=None) if e.event == "number_generated"]
        assert sorted(ledger) == sorted(numbers[0] + numbers[1])
        for number in numbers[1]:
            assert seqs.validate("inv", number, scope=scope)
