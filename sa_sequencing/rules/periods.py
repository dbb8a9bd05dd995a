"""Document dates, time zones and reset periods.

A number belongs to the *document date*: the ``date=`` given to ``generate`` (or the
column's ``date=`` attribute), read in the sequence's time zone, and today there
when none is given.  The date picks the reset period, so a document back-dated into
last year draws from last year's counter, and it fills the date tokens.

Period keys are what the counter rows are keyed by: ``""`` (never), ``"2026"``
(yearly), ``"FY2026"`` (fiscal year that starts in 2026), ``"2026-03"`` (monthly),
``"2026-03-07"`` (daily).
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from ..errors import ArgumentTypeError
from ..errors import ConfigurationError
from ..errors import InvalidArgumentError
from .enums import ResetPeriod

__all__ = ["document_day", "fiscal_year_of", "period_key", "zone"]


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; :class:`ConfigurationError` if unknown."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"invalid timezone {name!r}: give an IANA name such as 'UTC'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"unknown timezone {name!r}: give an IANA name such as 'Europe/Paris' "
            "(on systems without a time zone database, install the 'tzdata' package)"
        ) from exc


def document_day(value: date | datetime | None, tz: ZoneInfo) -> date:
    """The calendar day a document is dated in the sequence's time zone.

    An aware datetime is converted to ``tz``; a naive one is taken as wall-clock time
    there; a plain date is used as it is; ``None`` means today in ``tz``.
    """
    if value is None:
        return datetime.now(tz).date()
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            try:
                return value.astimezone(tz).date()
            except OverflowError:
                raise InvalidArgumentError(
                    f"date {value.isoformat()} falls outside the years 1 to 9999 in the "
                    f"sequence's time zone {tz.key}"
                ) from None
        return value.date()
    if isinstance(value, date):
        return value
    raise ArgumentTypeError(
        f"date must be a datetime.date or datetime.datetime, not {type(value).__name__}"
    )


def fiscal_year_of(day: date, fiscal_year_start: int) -> int:
    """The calendar year in which the fiscal year containing ``day`` starts."""
    return day.year if day.month >= fiscal_year_start else day.year - 1


def period_key(reset_period: ResetPeriod, day: date, fiscal_year_start: int = 1) -> str:
    """The key of the counter that serves documents dated ``day``."""
    if reset_period is ResetPeriod.NEVER:
        return ""
    if reset_period is ResetPeriod.YEARLY:
        return f"{day.year:04d}"
    if reset_period is ResetPeriod.MONTHLY:
        return f"{day.year:04d}-{day.month:02d}"
    if reset_period is ResetPeriod.DAILY:
        return day.isoformat()
    return f"FY{fiscal_year_of(day, fiscal_year_start):04d}"
