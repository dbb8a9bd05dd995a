"""Sequence definitions: the validated, immutable view of a ``sequences`` row.

:func:`validate_options` is the single gate every definition passes through, on
``define`` and on ``update`` alike, so a definition in the table is always one
that can issue numbers without repeating them (unless the caller opted in with
``allow_repeats=True``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import ArgumentTypeError
from ..errors import ConfigurationError
from ..errors import PatternError
from ..errors import SequenceLockedError
from ..errors import describe
from .checks import check_flag
from .checks import check_metadata
from .checks import check_text
from .checks import shown_int
from .checks import unstorable
from .enums import GapPolicy
from .enums import OverflowBehavior
from .enums import ResetPeriod
from .limits import MAX_COUNTER
from .limits import NAME_LENGTH
from .limits import NUMBER_LENGTH
from .limits import PATTERN_LENGTH
from .limits import PERIOD_LENGTH
from .limits import SCOPE_LENGTH
from .limits import TIMEZONE_LENGTH
from .patterns import Pattern
from .periods import zone
from .versions import PatternVersion

__all__ = [
    "SequenceDefinition",
    "check_counter_by",
    "normalize_name",
    "normalize_scope",
    "validate_options",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: Options of ``define`` and ``update`` and their defaults.
DEFAULTS: dict[str, Any] = {
    "reset_period": ResetPeriod.NEVER,
    "reset_limit": None,
    "step": 1,
    "start": 1,
    "gap_policy": GapPolicy.ALLOW_GAPS,
    "overflow": OverflowBehavior.THROW_EXCEPTION,
    "exhaustion_threshold": 90,
    "timezone": "UTC",
    "fiscal_year_start": 1,
    "cache_size": 0,
    "audit_numbers": True,
    "allow_repeats": False,
    "metadata": None,
    "counter_by": (),
}

#: Options that change which counter a document draws from; fixed once numbers exist.
COUNTING_OPTIONS = frozenset({"reset_period", "reset_limit", "fiscal_year_start", "counter_by"})

#: The longest period key of a reset period (``2026-03-01``), before any series values.
_LONGEST_PERIOD = 10


def _identifier(text: str, what: str, limit: int, hint: str, shown: object) -> str:
    """Check a name or scope: non-empty, no surrounding blanks or control characters,
    at most ``limit`` characters."""
    if not text.strip() or text != text.strip() or _CONTROL.search(text):
        raise ConfigurationError(f"invalid {what} {shown!r}: {hint}")
    error = unstorable(text, what)
    if error is not None:
        raise error
    if len(text) > limit:
        raise ConfigurationError(
            f"{what} {text[:20]!r}... is {len(text)} characters long: the limit is {limit}"
        )
    return text


def normalize_name(name: object) -> str:
    """Check a sequence name: a non-empty string of at most 100 characters."""
    if not isinstance(name, str):
        raise ArgumentTypeError(f"sequence name must be a str, not {type(name).__name__}")
    hint = "give a non-empty name without surrounding blanks or control characters"
    return _identifier(name, "sequence name", NAME_LENGTH, hint, name)


def normalize_scope(scope: object) -> str:
    """The stored key of a scope: ``""`` for the global scope (``None``)."""
    if scope is None:
        return ""
    if isinstance(scope, bool) or not isinstance(scope, (str, int)):
        raise ArgumentTypeError(f"scope must be a str, an int or None, not {type(scope).__name__}")
    hint = "give a non-empty identifier, or scope=None for the global scope"
    if isinstance(scope, int) and scope.bit_length() > SCOPE_LENGTH * 4:
        # more digits than a scope holds (and str() refuses past 4,300 of them)
        raise ConfigurationError(
            f"scope is an int of {scope.bit_length()} bits: more digits than the "
            f"{SCOPE_LENGTH} characters a scope holds"
        )
    # the plain text of a str-based enum member (str() gives 'Tenant.ACME'), the
    # decimal digits of an int, whatever their classes' __str__ say
    text = str.__str__(scope) if isinstance(scope, str) else int.__repr__(scope)
    return _identifier(text, "scope", SCOPE_LENGTH, hint, scope)


#: Largest ``cache_size``: numbers a pool takes per block (each unused one may become
#: a gap row at shutdown).
MAX_CACHE_SIZE = 1_000_000


def _integer(value: object, option: str, *, minimum: int, maximum: int = MAX_COUNTER) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{option} must be an int, not {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise ConfigurationError(
            f"invalid {option} {shown_int(value)}: must be between {minimum} and {maximum}"
        )
    return value


def validate_options(
    name: str, scope: str, pattern: object, options: Mapping[str, Any]
) -> dict[str, Any]:
    """Check a whole definition and return its column values.

    ``options`` holds every key of :data:`DEFAULTS`.  Raises before anything is
    written: :class:`TypeError` for a value of the wrong type,
    :class:`~sa_sequencing.ConfigurationError` or :class:`~sa_sequencing.PatternError`
    (both also :class:`ValueError`) for a value that cannot work.
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ArgumentTypeError(
            f"unknown option(s) {', '.join(sorted(unknown))}; known: {', '.join(DEFAULTS)}"
        )
    where = describe(name, scope)
    overflow = OverflowBehavior.coerce(options["overflow"], field="overflow")
    compiled = compile_pattern(pattern, where, name, scope, overflow=overflow)
    values: dict[str, Any] = {
        "pattern": pattern,
        "reset_period": ResetPeriod.coerce(options["reset_period"], field="reset_period").value,
        "gap_policy": GapPolicy.coerce(options["gap_policy"], field="gap_policy").value,
        "overflow": overflow.value,
        "step": _integer(options["step"], "step", minimum=1, maximum=2**31 - 1),
        "start": _integer(options["start"], "start", minimum=0),
        "exhaustion_threshold": _integer(
            options["exhaustion_threshold"], "exhaustion_threshold", minimum=1, maximum=100
        ),
        "fiscal_year_start": _integer(
            options["fiscal_year_start"], "fiscal_year_start", minimum=1, maximum=12
        ),
        "cache_size": _integer(
            options["cache_size"], "cache_size", minimum=0, maximum=MAX_CACHE_SIZE
        ),
        "audit_numbers": check_flag(options["audit_numbers"], "audit_numbers"),
        "allow_repeats": check_flag(options["allow_repeats"], "allow_repeats"),
    }
    limit = options["reset_limit"]
    values["reset_limit"] = (
        None if limit is None else _integer(limit, "reset_limit", minimum=1, maximum=2**31 - 1)
    )
    tz = check_text(options["timezone"], "timezone", limit=TIMEZONE_LENGTH)
    assert tz is not None
    zone(tz)
    values["timezone"] = tz
    values["metadata_"] = check_metadata(options["metadata"], f"{where}: metadata")
    values["counter_by"] = check_counter_by(options["counter_by"], compiled, where, name, scope)

    if compiled.capacity is not None and values["start"] > compiled.capacity:
        raise ConfigurationError(
            f"{where}: start {values['start']} does not fit {{COUNTER:{compiled.counter_width}}} "
            f"(capacity {compiled.capacity}); widen the counter or lower start",
            sequence=name,
            scope=scope,
        )
    if not values["allow_repeats"]:
        missing = compiled.missing_reset_tokens(
            values["reset_period"], fiscal_year_start=values["fiscal_year_start"]
        )
        if missing:
            raise ConfigurationError(
                f"{where}: a {values['reset_period']} reset would repeat numbers with pattern "
                f"{pattern!r}: {missing} (or pass allow_repeats=True if repeats are intended)",
                sequence=name,
                scope=scope,
            )
        if values["reset_limit"] is not None and "CYCLE" not in compiled.token_names:
            raise ConfigurationError(
                f"{where}: reset_limit={values['reset_limit']} restarts the counter, so pattern "
                f"{pattern!r} would repeat numbers: add a {{CYCLE}} token (or pass "
                "allow_repeats=True if repeats are intended)",
                sequence=name,
                scope=scope,
            )
    return values


def check_counter_by(
    counter_by: object, compiled: Pattern, where: str, name: str, scope: str
) -> tuple[str, ...]:
    """The canonical ``counter_by`` names (upper case, in the order given), checked.

    Each must be a context variable of ``compiled`` (the definition's pattern; a
    pattern version or a new pattern passes through :func:`validate_options` with the
    definition's options, so each of them is checked too): a series value that is
    not in the number would let two series issue the same number.  The names must
    also leave room in the counter's period key (:data:`~.limits.PERIOD_LENGTH`)
    for one-character values; longer values are checked when a number is drawn.
    """
    example = "counter_by=('DEPARTMENT',)"
    if isinstance(counter_by, str) or not isinstance(counter_by, (tuple, list)):
        raise ArgumentTypeError(
            f"{where}: counter_by must be a tuple of context variable names "
            f"({example}), not {type(counter_by).__name__}"
        )
    names: list[str] = []
    for item in counter_by:
        if not isinstance(item, str):
            raise ArgumentTypeError(
                f"{where}: counter_by holds a {type(item).__name__}; give context variable "
                f"names as str ({example})"
            )
        # matched as context keys are: case-insensitively, ASCII only (see Pattern)
        canonical = item.upper() if item.isascii() else item
        if canonical in names:
            raise ConfigurationError(
                f"{where}: counter_by names {{{canonical}}} twice; name each variable once",
                sequence=name,
                scope=scope,
            )
        if canonical not in compiled.context_names:
            variables = ", ".join(f"{{{n}}}" for n in sorted(compiled.context_names)) or "none"
            raise ConfigurationError(
                f"{where}: counter_by names {item!r}, which is not a context variable of "
                f"pattern {compiled.source!r} (its context variables: {variables}); each "
                "counter_by variable must appear in the number, so that each value's numbers "
                "differ",
                sequence=name,
                scope=scope,
            )
        names.append(canonical)
    shortest = _LONGEST_PERIOD + sum(len(f"|{n}=x") for n in names)
    if shortest > PERIOD_LENGTH:
        raise ConfigurationError(
            f"{where}: counter_by {tuple(names)!r} gives counter keys of at least {shortest} "
            f"characters, more than the {PERIOD_LENGTH} a counter key holds; use fewer or "
            "shorter variable names",
            sequence=name,
            scope=scope,
        )
    return tuple(names)


def compile_pattern(
    pattern: object, where: str, name: str, scope: str, *, overflow: OverflowBehavior
) -> Pattern:
    """``pattern`` compiled, if its numbers can be stored: :class:`PatternError` (or
    :class:`~sa_sequencing.InvalidArgumentError` for text no database stores) else.

    A number is refused at ``generate`` when it *could* outgrow the number column
    (its counter at the most digits it can reach, see
    :func:`sa_sequencing.rules.placement.render_parts`), so a pattern is refused here by
    the same rule, with every context variable one character long.
    """
    text = check_text(pattern, "pattern", limit=PATTERN_LENGTH)
    assert text is not None
    try:
        compiled = Pattern.compile(text)
    except PatternError as exc:
        raise PatternError(f"{where}: {exc}", sequence=name, scope=scope) from exc
    shortest = compiled.shortest_length_around_counter()
    digits = max_counter_digits(
        compiled.counter_width, bounded=overflow is not OverflowBehavior.EXTEND_PADDING
    )
    if shortest + digits > NUMBER_LENGTH:
        raise PatternError(
            f"{where}: pattern {text!r} gives numbers of at least {shortest + digits} "
            f"characters ({shortest} around a counter of {digits} digits), but a number "
            f"holds at most {NUMBER_LENGTH}; shorten its text",
            sequence=name,
            scope=scope,
        )
    return compiled


def max_counter_digits(width: int | None, *, bounded: bool) -> int:
    """The most digits a counter rendered at ``width`` can have: ``width`` when the
    pattern's capacity stops it (``bounded``: the counter is padded and does not
    ``extend_padding``), else those of :data:`~sa_sequencing.rules.limits.MAX_COUNTER`."""
    if width and bounded:
        return width
    return max(width or 0, len(str(MAX_COUNTER)))


@dataclass(frozen=True)
class SequenceDefinition:
    """A sequence definition as stored, with its policies as enums."""

    id: int
    name: str
    scope: str | None
    """The definition's own scope; ``None`` for a global (template) definition."""
    pattern: str
    reset_period: ResetPeriod
    reset_limit: int | None
    step: int
    start: int
    gap_policy: GapPolicy
    overflow: OverflowBehavior
    exhaustion_threshold: int
    timezone: str
    fiscal_year_start: int
    cache_size: int
    audit_numbers: bool
    allow_repeats: bool
    is_locked: bool
    revision: int
    metadata: dict[str, Any] | None
    created_at: datetime | None = field(compare=False)
    updated_at: datetime | None = field(compare=False)
    versions: tuple[PatternVersion, ...] = field(default=(), compare=False)
    """Pattern versions by document date (filled in by the allocator)."""
    counter_by: tuple[str, ...] = ()
    """Context variables whose values each get their own counter (canonical names)."""

    @classmethod
    def from_row(cls, row: Any) -> SequenceDefinition:
        return cls(
            id=row.id,
            name=row.name,
            scope=row.scope or None,
            pattern=row.pattern,
            reset_period=ResetPeriod(row.reset_period),
            reset_limit=row.reset_limit,
            step=row.step,
            start=row.start,
            gap_policy=GapPolicy(row.gap_policy),
            overflow=OverflowBehavior(row.overflow),
            exhaustion_threshold=row.exhaustion_threshold,
            timezone=row.timezone,
            fiscal_year_start=row.fiscal_year_start,
            cache_size=row.cache_size,
            audit_numbers=bool(row.audit_numbers),
            allow_repeats=bool(row.allow_repeats),
            is_locked=bool(row.is_locked),
            revision=row.revision,
            metadata=row.metadata,
            created_at=row.created_at,
            updated_at=row.updated_at,
            counter_by=tuple(row.counter_by or ()),
        )

    @cached_property
    def compiled(self) -> Pattern:
        return Pattern.compile(self.pattern)

    @cached_property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def scope_key(self) -> str:
        return self.scope or ""

    def describe(self, scope: str | None = None) -> str:
        return describe(self.name, scope if scope is not None else self.scope)

    def options(self) -> dict[str, Any]:
        """The definition's options, as ``define`` takes them."""
        return {
            "reset_period": self.reset_period,
            "reset_limit": self.reset_limit,
            "step": self.step,
            "start": self.start,
            "gap_policy": self.gap_policy,
            "overflow": self.overflow,
            "exhaustion_threshold": self.exhaustion_threshold,
            "timezone": self.timezone,
            "fiscal_year_start": self.fiscal_year_start,
            "cache_size": self.cache_size,
            "audit_numbers": self.audit_numbers,
            "allow_repeats": self.allow_repeats,
            "metadata": self.metadata,
            "counter_by": self.counter_by,
        }


def locked_error(definition: SequenceDefinition, scope: str) -> SequenceLockedError:
    scope_arg = f", scope={definition.scope!r}" if definition.scope else ""
    return SequenceLockedError(
        f"{describe(definition.name, scope)} is locked and issues no numbers: unlock it with "
        f"unlock({definition.name!r}{scope_arg})",
        sequence=definition.name,
        scope=scope,
    )
