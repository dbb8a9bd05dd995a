"""Reset periods without a database: the counter key of a document date
(``period_key``) for every reset period and fiscal year start, the days a key covers
(``period_range``, which ``void`` reads numbers back with), and the document day."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sa_sequencing.errors import ArgumentTypeError
from sa_sequencing.errors import ConfigurationError
from sa_sequencing.errors import InvalidArgumentError
from sa_sequencing.rules.enums import ResetPeriod
from sa_sequencing.rules.locate import period_range
from sa_sequencing.rules.periods import document_day
from sa_sequencing.rules.periods import fiscal_year_of
from sa_sequencing.rules.periods import period_key
from sa_sequencing.rules.periods import zone

FAST = settings(max_examples=150, deadline=None)
days = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
months = st.integers(1, 12)


def fiscal_start_year(day: date, fiscal_year_start: int) -> int:
    """Walk back month by month to the 1st of the fiscal year's first month."""
    year, month = day.year, day.month
    while month != fiscal_year_start:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return year


def expected_key(period: ResetPeriod, day: date, fiscal_year_start: int) -> str:
    return {
        ResetPeriod.NEVER: "",
        ResetPeriod.YEARLY: str(day.year).zfill(4),
        ResetPeriod.MONTHLY: f"{str(day.year).zfill(4)}-{str(day.month).zfill(2)}",
        ResetPeriod.DAILY: f"{str(day.year).zfill(4)}-{day.month:02}-{day.day:02}",
        ResetPeriod.FISCAL_YEARLY: f"FY{str(fiscal_start_year(day, fiscal_year_start)).zfill(4)}",
    }[period]


@pytest.mark.parametrize(
    ("period", "day", "start", "key"),
    [
        ("never", date(2026, 3, 7), 1, ""),
        ("yearly", date(2026, 3, 7), 1, "2026"),
        ("monthly", date(2026, 3, 7), 1, "2026-03"),
        ("daily", date(2026, 3, 7), 1, "2026-03-07"),
        ("fiscal_yearly", date(2026, 3, 7), 1, "FY2026"),
        ("fiscal_yearly", date(2026, 3, 31), 4, "FY2025"),
        ("fiscal_yearly", date(2026, 4, 1), 4, "FY2026"),
        ("fiscal_yearly", date(2026, 12, 31), 12, "FY2026"),
        ("fiscal_yearly", date(2026, 11, 30), 12, "FY2025"),
        ("yearly", date(999, 1, 1), 1, "0999"),
    ],
)
def test_period_keys(period, day, start, key):
    assert period_key(ResetPeriod(period), day, start) == key


@FAST
@given(st.sampled_from(list(ResetPeriod)), days, months)
def test_period_key_of_any_day(period, day, start):
    assert period_key(period, day, start) == expected_key(period, day, start)


@FAST
@given(days, months)
def test_fiscal_year_is_the_year_it_starts_in(day, start):
    assert fiscal_year_of(day, start) == fiscal_start_year(day, start)


@FAST
@given(st.sampled_from(list(ResetPeriod)), days, days, months)
def test_keys_sort_like_the_days(period, a, b, start):
    # a report ordered by period key is in date order
    if a <= b:
        assert period_key(period, a, start) <= period_key(period, b, start)


@FAST
@given(st.sampled_from([p for p in ResetPeriod if p is not ResetPeriod.NEVER]), days, months)
def test_a_period_covers_exactly_the_days_of_its_key(period, day, start):
    key = period_key(period, day, start)
    first, last = period_range(period, key, start)
    assert first <= day <= last
    assert period_key(period, first, start) == key
    assert period_key(period, last, start) == key
    if first > date.min:
        assert period_key(period, first - timedelta(days=1), start) != key
    if last < date.max:
        assert period_key(period, last + timedelta(days=1), start) != key


@pytest.mark.parametrize("start", range(1, 13))
def test_the_first_and_last_day_python_knows_have_a_period(start):
    # a counter may be keyed by these periods: void must read its numbers back
    for period in (p for p in ResetPeriod if p is not ResetPeriod.NEVER):
        for day in (date.min, date.max):
            key = period_key(period, day, start)
            first, last = period_range(period, key, start)
            assert first <= day <= last


# -- the document day ------------------------------------------------------------------


def test_an_aware_datetime_is_read_in_the_sequences_time_zone():
    tokyo = ZoneInfo("Asia/Tokyo")
    late = datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc)  # 01:30 on Jan 1st there
    assert document_day(late, tokyo) == date(2027, 1, 1)
    assert period_key(ResetPeriod.YEARLY, document_day(late, tokyo)) == "2027"
    assert document_day(late, ZoneInfo("UTC")) == date(2026, 12, 31)


def test_a_naive_datetime_and_a_date_are_taken_as_they_are():
    tokyo = ZoneInfo("Asia/Tokyo")
    assert document_day(datetime(2026, 12, 31, 23, 59), tokyo) == date(2026, 12, 31)
    assert document_day(date(2026, 12, 31), tokyo) == date(2026, 12, 31)


def test_no_date_is_today_in_the_sequences_time_zone():
    for name in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"):
        tz = ZoneInfo(name)
        before = datetime.now(tz).date()
        assert before <= document_day(None, tz) <= datetime.now(tz).date()


@pytest.mark.parametrize("value", ["2026-03-07", 20260307, 1.5])
def test_a_date_of_another_type_is_refused(value):
    with pytest.raises(ArgumentTypeError, match=r"date must be a datetime\.date"):
        document_day(value, ZoneInfo("UTC"))


def test_an_aware_datetime_past_year_9999_there_is_refused():
    edge = datetime(9999, 12, 31, 23, 0, tzinfo=timezone.utc)
    with pytest.raises(InvalidArgumentError, match="outside the years 1 to 9999"):
        document_day(edge, ZoneInfo("Asia/Tokyo"))


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "../etc/passwd", None, 3])
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(ConfigurationError, match="timezone"):
        zone(name)
