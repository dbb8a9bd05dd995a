"""The policy enums of a sequence definition.

Their values are the strings of the original package and are what the
``sequences`` table stores.  :meth:`coerce` accepts a member or its string value,
case-insensitively, and names the allowed values when it refuses one.
"""

from __future__ import annotations

import enum
from typing import TypeVar

from ..errors import ConfigurationError

__all__ = ["GapPolicy", "OverflowBehavior", "ResetPeriod"]

_E = TypeVar("_E", bound="_CoercibleEnum")


class _CoercibleEnum(str, enum.Enum):
    @classmethod
    def coerce(cls: type[_E], value: object, *, field: str | None = None) -> _E:
        """Return the member for ``value`` (a member or its string value)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            wanted = value.strip().lower()
            for member in cls:
                if member.value == wanted:
                    return member
        allowed = ", ".join(repr(m.value) for m in cls)
        name = field or cls.__name__
        raise ConfigurationError(f"invalid {name} {value!r}: must be one of {allowed}")

    def __str__(self) -> str:
        return str(self.value)


class GapPolicy(_CoercibleEnum):
    """What happens to voided, released and expired numbers."""

    ALLOW_GAPS = "allow_gaps"
    """Holes are tolerated and not recorded."""
    FILL_GAPS = "fill_gaps"
    """Holes are recorded and the lowest one is served before the counter moves."""
    REPORT_GAPS_ONLY = "report_gaps_only"
    """Holes are recorded with reason and actor and never reused."""

    @property
    def tracks_gaps(self) -> bool:
        return self is not GapPolicy.ALLOW_GAPS

    @property
    def fills_gaps(self) -> bool:
        return self is GapPolicy.FILL_GAPS


class ResetPeriod(_CoercibleEnum):
    """When the counter starts again from ``start``."""

    NEVER = "never"
    DAILY = "daily"
    MONTHLY = "monthly"
    YEARLY = "yearly"
    FISCAL_YEARLY = "fiscal_yearly"


class OverflowBehavior(_CoercibleEnum):
    """What happens when the counter reaches the capacity of ``{COUNTER:N}``."""

    THROW_EXCEPTION = "throw_exception"
    """Raise :class:`~sa_sequencing.SequenceExhaustedError`."""
    EXTEND_PADDING = "extend_padding"
    """Keep counting; numbers grow one digit wider."""
    SWITCH_PATTERN = "switch_pattern"
    """Move to the next series (suffix A, B, ...) with the counter restarting."""
