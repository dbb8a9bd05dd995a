"""The right period every time: DST changes, midnights, month and year ends, leap days
and fiscal-year starts, on every database.

A document's date, read in the sequence's time zone, picks its counter (the period)
and fills the date tokens.  Each test dates documents on both sides of an edge, draws
their numbers in date order and checks each rendered year, month and day, the period
``metrics`` reports and the ledger records, and that every period counts 1..N: the
counter restarts exactly when the period changes.  Expected values come from the test
itself (``zoneinfo`` conversions and calendar arithmetic, cross-checked against facts
of the time-zone database written out by hand), never from the library's helpers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

UTC = timezone.utc
SECOND = timedelta(seconds=1)
MICRO = timedelta(microseconds=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local_day(value: date, zone: str) -> date:
    """The document day: an aware datetime converted to ``zone``, a naive one and a
    plain date as they are."""
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(zone)).date() if value.tzinfo else value.date()
    return value


def fiscal_year(day: date, start: int) -> int:
    return day.year if day.month >= start else day.year - 1


def period_of(reset: str, day: date, start: int = 1) -> str:
    return {
        "daily": f"{day:%Y-%m-%d}",
        "monthly": f"{day:%Y-%m}",
        "yearly": f"{day:%Y}",
        "fiscal_yearly": f"FY{fiscal_year(day, start):04d}",
    }[reset]


def number_all(
    tx: Any,
    *,
    pattern: str,
    reset: str,
    zone: str = "UTC",
    fiscal_year_start: int = 1,
    dates: Iterable[date],
    text: Callable[[date], str],
) -> list[tuple[date, str]]:
    """Define a sequence, number one document per date in order and check every number
    against ``text(local day) + '-' + its rank in its period``; then check each
    period's counter (``metrics``) and the ledger.  Returns (local day, number) pairs."""
    dates = list(dates)
    with tx() as seqs:
        seqs.define(
            "doc",
            pattern,
            reset_period=reset,
            timezone=zone,
            fiscal_year_start=fiscal_year_start,
            gap_policy="report_gaps_only",
        )
    with tx() as seqs:
        got = [seqs.generate("doc", date=value) for value in dates]
    seen: Counter[str] = Counter()
    expected = []
    days = [local_day(value, zone) for value in dates]
    for day in days:
        period = period_of(reset, day, fiscal_year_start)
        seen[period] += 1
        expected.append(f"{text(day)}-{seen[period]}")
    assert got == expected
    with tx() as seqs:
        checked: set[str] = set()
        for value, day in zip(dates, days, strict=True):
            period = period_of(reset, day, fiscal_year_start)
            if period in checked:
                continue  # one look per counter
            checked.add(period)
            metrics = seqs.metrics("doc", date=value)
            assert (metrics.period, metrics.current_value) == (period, seen[period]), value
        ledger = [e for e in seqs.audit_log("doc", limit=None) if e.event == "number_generated"]
        assert [e.number for e in ledger] == got
        assert [e.data["date"] for e in ledger] == [day.isoformat() for day in days]
        assert [e.data["period"] for e in ledger] == [
            period_of(reset, day, fiscal_year_start) for day in days
        ]
        # a number is found again in its own period: void it, and it is a gap
        seqs.void("doc", got[-1])
        assert seqs.gap_report("doc") == [got[-1]]
    return list(zip(days, got, strict=True))


# -- DST changes and local midnights -------------------------------------------------------

#: Instants where the zone's UTC offset changes, and facts about them from the tz
#: database written out by hand: (UTC instant, local day just before, local day at it).
TRANSITIONS: dict[str, list[tuple[datetime, date, date]]] = {
    # CET -> CEST at 02:00 local; CEST -> CET at 03:00 local (02:00-03:00 twice)
    "Europe/Paris": [
        (utc(2026, 3, 29, 1), date(2026, 3, 29), date(2026, 3, 29)),
        (utc(2026, 10, 25, 1), date(2026, 10, 25), date(2026, 10, 25)),
    ],
    "America/New_York": [
        (utc(2026, 3, 8, 7), date(2026, 3, 8), date(2026, 3, 8)),
        (utc(2026, 11, 1, 6), date(2026, 11, 1), date(2026, 11, 1)),
    ],
    # +11 -> +10:30 at 02:00 local, +10:30 -> +11 at 02:00 local: half-hour shifts
    "Australia/Lord_Howe": [
        (utc(2026, 4, 4, 15), date(2026, 4, 5), date(2026, 4, 5)),
        (utc(2026, 10, 3, 15, 30), date(2026, 10, 4), date(2026, 10, 4)),
    ],
    # Samoa crossed the date line: 29 December 2011 23:59:59 (-10) was followed by
    # 31 December 00:00 (+14); 30 December 2011 never happened there
    "Pacific/Apia": [
        (utc(2011, 9, 24, 14), date(2011, 9, 24), date(2011, 9, 24)),
        (utc(2011, 12, 30, 10), date(2011, 12, 29), date(2011, 12, 31)),
    ],
    # Chile changes at local midnight: 4 April 23:00-24:00 happens twice, and
    # 6 September starts at 01:00
    "America/Santiago": [
        (utc(2026, 4, 5, 3), date(2026, 4, 4), date(2026, 4, 4)),
        (utc(2026, 9, 6, 4), date(2026, 9, 5), date(2026, 9, 6)),
    ],
    # Iran (DST until 2022) also changed at midnight: 22 March 2021 started at 01:00
    "Asia/Tehran": [
        (utc(2021, 3, 21, 20, 30), date(2021, 3, 21), date(2021, 3, 22)),
        (utc(2021, 9, 21, 19, 30), date(2021, 9, 21), date(2021, 9, 21)),
    ],
}


def midnights_around(instant: datetime, zone: str) -> list[datetime]:
    """The UTC instants at which the local days around ``instant`` begin (the first
    instant of the day, where midnight itself was skipped)."""
    tz = ZoneInfo(zone)
    starts = []
    for days in (-1, 0, 1, 2):
        day = (instant.astimezone(tz) + timedelta(days=days)).date()
        # scan the local day's first hours in UTC for the first instant dated ``day``
        probe = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC) - timedelta(
            hours=3
        )
        while probe.astimezone(tz).date() < day:
            probe += timedelta(minutes=15)
        starts.append(probe)
    return starts


@pytest.mark.parametrize("zone", sorted(TRANSITIONS))
def test_dst_changes_and_midnights_pick_the_local_day(tx, zone):
    tz = ZoneInfo(zone)
    for instant, before, after in TRANSITIONS[zone]:
        # the hand-written facts hold in this zoneinfo: the offset changes there
        assert (instant - SECOND).astimezone(tz).date() == before
        assert instant.astimezone(tz).date() == after
        assert (instant - SECOND).astimezone(tz).utcoffset() != instant.astimezone(tz).utcoffset()
    instants: set[datetime] = set()
    for instant, _, _ in TRANSITIONS[zone]:
        for edge in (instant, *midnights_around(instant, zone)):
            for delta in (-timedelta(hours=1), -SECOND, -MICRO, timedelta(0), SECOND):
                instants.add(edge + delta)
    numbered = number_all(
        tx,
        pattern="D{YEAR}{MONTH}{DAY}-{COUNTER}",
        reset="daily",
        zone=zone,
        dates=sorted(instants),
        text=lambda day: f"D{day:%Y%m%d}",
    )
    days = {day for day, _ in numbered}
    for _, before, after in TRANSITIONS[zone]:
        assert {before, after} <= days
    if zone == "Pacific/Apia":
        assert date(2011, 12, 30) not in days  # no instant fell on the skipped day


@pytest.mark.parametrize(
    ("zone", "wall"),
    [
        ("Europe/Paris", datetime(2026, 10, 25, 2, 30)),  # 02:00-03:00 twice
        ("America/Santiago", datetime(2026, 4, 4, 23, 30)),  # 23:00-24:00 twice
        ("Australia/Lord_Howe", datetime(2026, 4, 5, 1, 45)),  # 01:30-02:00 twice
    ],
)
def test_the_repeated_hour_is_one_day(tx, zone, wall):
    """Both readings of an ambiguous local time (``fold=0`` and ``fold=1``) are
    instants of the same local day, counted on one counter."""
    first = wall.replace(tzinfo=ZoneInfo(zone), fold=0)
    second = wall.replace(tzinfo=ZoneInfo(zone), fold=1)
    assert second.astimezone(UTC) - first.astimezone(UTC) in (
        timedelta(hours=1),
        timedelta(minutes=30),
    )
    numbered = number_all(
        tx,
        pattern="D{YEAR}{MONTH}{DAY}-{COUNTER}",
        reset="daily",
        zone=zone,
        dates=[first, second.astimezone(UTC)],
        text=lambda day: f"D{day:%Y%m%d}",
    )
    assert [n for _, n in numbered] == [f"D{wall:%Y%m%d}-1", f"D{wall:%Y%m%d}-2"]


@pytest.mark.parametrize(
    ("zone", "wall"),
    [
        ("Europe/Paris", datetime(2026, 3, 29, 2, 30)),  # skipped by the spring change
        ("America/Santiago", datetime(2026, 9, 6, 0, 30)),  # a midnight that never was
        ("Asia/Tehran", datetime(2021, 3, 22, 0, 15)),
        ("Pacific/Apia", datetime(2011, 12, 30, 12, 0)),  # a day that never was
    ],
)
def test_naive_wall_clock_times_are_taken_as_written(tx, zone, wall):
    """A naive datetime is the wall-clock time in the sequence's zone, even one that
    the clocks skipped: the document keeps the day it was written with."""
    numbered = number_all(
        tx,
        pattern="D{YEAR}{MONTH}{DAY}-{COUNTER}",
        reset="daily",
        zone=zone,
        dates=[wall, wall.date(), wall + timedelta(days=1)],
        text=lambda day: f"D{day:%Y%m%d}",
    )
    assert [n for _, n in numbered] == [
        f"D{wall:%Y%m%d}-1",
        f"D{wall:%Y%m%d}-2",
        f"D{wall + timedelta(days=1):%Y%m%d}-1",
    ]


@pytest.mark.parametrize(
    ("zone", "reset"),
    [
        ("Asia/Tokyo", "yearly"),  # +9: the year turns at 15:00 UTC
        ("America/Los_Angeles", "yearly"),  # -8: the year turns at 08:00 UTC
        ("Pacific/Kiritimati", "monthly"),  # +14
        ("Pacific/Pago_Pago", "monthly"),  # -11
        ("Asia/Kathmandu", "daily"),  # +5:45
        ("UTC", "daily"),
    ],
)
def test_midnight_local_and_utc_at_year_end(tx, zone, reset):
    """Documents dated just before and after midnight, local and UTC, on New Year's
    Eve: the local calendar decides, and the counter restarts at local midnight."""
    tz = ZoneInfo(zone)
    local_midnight = datetime(2027, 1, 1, tzinfo=tz).astimezone(UTC)
    utc_midnight = utc(2027, 1, 1)
    instants = sorted(
        {
            edge + delta
            for edge in (local_midnight, utc_midnight)
            for delta in (-timedelta(hours=2), -MICRO, timedelta(0), timedelta(hours=2))
        }
    )
    numbered = number_all(
        tx,
        pattern="N{YEAR}{MONTH}{DAY}-{COUNTER}",
        reset=reset,
        zone=zone,
        dates=instants,
        text=lambda day: f"N{day:%Y%m%d}",
    )
    by_instant = dict(zip(instants, (day for day, _ in numbered), strict=True))
    assert by_instant[local_midnight - MICRO] == date(2026, 12, 31)
    assert by_instant[local_midnight] == date(2027, 1, 1)
    if zone != "UTC":
        # UTC midnight is not the local one: one side of it is already (or still) the
        # other local year
        assert by_instant[utc_midnight] == by_instant[utc_midnight - MICRO]


# -- month and year ends, leap days ---------------------------------------------------------

CALENDAR_EDGES = [
    date(1900, 2, 28),  # 1900 is not a leap year
    date(1900, 3, 1),
    date(2000, 2, 28),  # 2000 is
    date(2000, 2, 29),
    date(2000, 3, 1),
    date(2023, 1, 31),
    date(2023, 2, 1),
    date(2023, 2, 28),  # no 29 February in 2023: March follows
    date(2023, 3, 1),
    date(2023, 4, 30),
    date(2023, 5, 1),
    date(2023, 12, 31),
    date(2024, 1, 1),
    date(2024, 2, 28),
    date(2024, 2, 29),
    date(2024, 3, 1),
    date(2024, 12, 31),
    date(2025, 1, 1),
    date(2100, 2, 28),  # 2100 is not
    date(2100, 3, 1),
    date(9999, 12, 31),
]


@pytest.mark.parametrize(
    ("reset", "pattern", "text"),
    [
        ("daily", "{YEAR}{MONTH}{DAY}-{COUNTER}", "%Y%m%d"),
        ("daily", "{YEAR}-{DOY}-{COUNTER}", "doy"),
        ("monthly", "{YEAR}{MONTH}-{COUNTER}", "%Y%m"),
        ("monthly", "{YY}{MONTH}-{COUNTER}", "%y%m"),
        ("yearly", "{YEAR}-{COUNTER}", "%Y"),
        ("fiscal_yearly", "{FY}-{COUNTER}", "fy3"),
    ],
)
def test_month_and_year_ends_and_leap_days(tx, reset, pattern, text):
    def render(day: date) -> str:
        if text == "doy":
            return f"{day.year}-{(day - date(day.year, 1, 1)).days + 1:03d}"
        if text == "fy3":
            return f"{fiscal_year(day, 3)}"
        return f"{day:{text}}"

    numbered = number_all(
        tx,
        pattern=pattern,
        reset=reset,
        fiscal_year_start=3,
        dates=CALENDAR_EDGES,
        text=render,
    )
    got = dict(numbered)
    if text == "doy":
        assert got[date(2024, 12, 31)] == "2024-366-1"
        assert got[date(2023, 12, 31)] == "2023-365-1"
    if reset == "monthly":
        # 28 and 29 February share a counter; 1 March starts the next one
        assert got[date(2024, 2, 29)].endswith("-2")
        assert got[date(2024, 3, 1)].endswith("-1")
    if reset == "fiscal_yearly":
        # a fiscal year starting in March ends on 29 February in leap years
        # FY2023: 1 March, 30 April, 1 May, 31 December 2023, 1 January, 28 and
        # 29 February 2024
        assert got[date(2024, 2, 29)] == "2023-7"
        assert got[date(2024, 3, 1)] == "2024-1"


def test_leap_day_in_a_zone_ahead_of_utc(tx):
    """28 February 10:00 UTC is already the next day in Kiritimati (+14): 29 February
    in a leap year, 1 March otherwise."""
    instants = [utc(2023, 2, 28, 9, 59), utc(2023, 2, 28, 10), utc(2024, 2, 28, 10)]
    instants += [utc(2024, 2, 29, 9, 59, 59), utc(2024, 2, 29, 10)]
    numbered = number_all(
        tx,
        pattern="L{YEAR}{MONTH}{DAY}-{COUNTER}",
        reset="monthly",
        zone="Pacific/Kiritimati",
        dates=instants,
        text=lambda day: f"L{day:%Y%m%d}",
    )
    assert [n for _, n in numbered] == [
        "L20230228-1",
        "L20230301-1",
        "L20240229-1",
        "L20240229-2",
        "L20240301-1",
    ]


# -- fiscal years -----------------------------------------------------------------------------


def fiscal_edges(start: int) -> list[date]:
    """The last and first day of each fiscal year from 2022 to 2026, and days between."""
    days: set[date] = set()
    for year in range(2022, 2027):
        first = date(year, start, 1)
        days |= {first - timedelta(days=1), first, first + timedelta(days=45)}
        days.add(date(year, 2, 28))
        if year % 4 == 0:
            days.add(date(year, 2, 29))
    return sorted(days)


@pytest.mark.parametrize("start", range(1, 13))
def test_every_fiscal_year_start(tx, start):
    """Documents on the last and the first day of each fiscal year: ``{FY}`` is the
    year the fiscal year starts in, ``{FYEND}`` the one it ends in, ``{FQ}`` its
    quarter, and the counter restarts on the first day."""

    def text(day: date) -> str:
        fy = fiscal_year(day, start)
        end = fy if start == 1 else fy + 1
        quarter = ((day.month - start) % 12) // 3 + 1
        return f"F{fy}-{end}-{fy % 100:02d}{end % 100:02d}-Q{quarter}"

    days = fiscal_edges(start)
    numbered = number_all(
        tx,
        pattern="F{FY}-{FYEND}-{FYY}{FYYEND}-Q{FQ}-{COUNTER}",
        reset="fiscal_yearly",
        fiscal_year_start=start,
        dates=days,
        text=text,
    )
    got = dict(numbered)
    for year in range(2023, 2027):
        first = date(year, start, 1)
        last = first - timedelta(days=1)
        assert got[first].startswith(f"F{year}-") and got[first].endswith("-Q1-1")
        assert got[last].startswith(f"F{year - 1}-") and "-Q4-" in got[last]


@pytest.mark.parametrize("start", [1, 4, 7, 10])
def test_fiscal_year_in_a_zone_behind_utc(tx, start):
    """The first instant of a fiscal year in UTC is still the previous fiscal year in
    Honolulu (-10): the zone's calendar decides the fiscal year too."""
    first = utc(2026, start, 1)
    hawaii_first = datetime(2026, start, 1, tzinfo=ZoneInfo("Pacific/Honolulu")).astimezone(UTC)
    assert hawaii_first - first == timedelta(hours=10)
    instants = [first - MICRO, first, hawaii_first - MICRO, hawaii_first]
    numbered = number_all(
        tx,
        pattern="F{FY}-{FQ}-{COUNTER}",
        reset="fiscal_yearly",
        zone="Pacific/Honolulu",
        fiscal_year_start=start,
        dates=instants,
        text=lambda day: f"F{fiscal_year(day, start)}-{((day.month - start) % 12) // 3 + 1}",
    )
    assert [n for _, n in numbered] == ["F2025-4-1", "F2025-4-2", "F2025-4-3", "F2026-1-1"]
