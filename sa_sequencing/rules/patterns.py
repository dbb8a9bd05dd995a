"""The pattern language that lays out document numbers.

A *pattern* is literal text with *tokens* in braces.  Rendering a number replaces
each token with a value from the counter, the document date, the count-based reset
cycle or the caller's context: ``INV-{YEAR}-{COUNTER:5}`` gives ``INV-2026-00042``.

.. rubric:: Syntax

* ``{NAME}`` is a token.  ``{NAME:N}``, or ``{NAME:0N}`` which means the same, pads
  the value on the left with ``0`` to at least ``N`` characters.  Padding never cuts
  a value short: a counter that outgrows ``{COUNTER:5}`` is written with six digits.
* Names are letters, digits and ``_`` and do not start with a digit.  They are read
  case-insensitively, so ``{counter:05}`` is ``{COUNTER:5}``.
* ``{{`` stands for a literal ``{`` and ``}}`` for a literal ``}``.
* A pattern holds exactly one ``{COUNTER}``; other tokens may appear more than once.
* Widths run from 1 to 18 for ``{COUNTER}`` and from 1 to 32 for other tokens.  A
  pattern, and every number rendered from it, is at most 255 characters long.

Mistakes raise :class:`~sa_sequencing.errors.PatternError`, whose message names the
pattern and the 0-based position and says what to write instead.

.. rubric:: Built-in tokens

Date tokens have a fixed natural width.  A smaller ``N`` is ignored and a larger one
pads: ``{MONTH:1}`` still gives ``03`` and ``{MONTH:3}`` gives ``003``.

=============  =====  ==========================================================
Token          Width  Value
=============  =====  ==========================================================
``YEAR``       4      calendar year, 1000 to 9999
``YY``         2      last two digits of the year
``MONTH``      2      month, ``01`` to ``12``
``DAY``        2      day of the month, ``01`` to ``31``
``QUARTER``    1      calendar quarter, ``1`` to ``4``
``WEEK``       2      ISO 8601 week number, ``01`` to ``53``
``ISOYEAR``    4      the ISO 8601 year that the week belongs to
``DOY``        3      day of the year, ``001`` to ``366``
``FY``         4      calendar year in which the fiscal year starts
``FYY``        2      last two digits of ``FY``
``FYEND``      4      calendar year in which the fiscal year ends
``FYYEND``     2      last two digits of ``FYEND``
``FQ``         1      fiscal quarter, ``1`` to ``4``
``COUNTER``    any    the counter, from 0
``CYCLE``      any    the count-based reset cycle, from 1
=============  =====  ==========================================================

The fiscal tokens follow the sequence's ``fiscal_year_start`` month.  With a fiscal
year starting in April, 10 February 2027 is in ``FY`` 2026, ``FYEND`` 2027 and
``FQ`` 4, and 1 April 2026 opens ``FY`` 2026 with ``FQ`` 1.  With the default start
in January, ``FY`` and ``FYEND`` are the calendar year.

.. rubric:: Context variables

Any other name, such as ``{DEPT}``, is a context variable whose value the caller
passes when a number is issued.  Keys match case-insensitively (``DEPT``, ``dept``
and ``Dept`` all serve ``{DEPT}``); two keys that differ only in case are refused.
A value is a non-empty :class:`str` or an :class:`int` made of letters, digits and
``_`` only.  Padding works here too: ``{DEPT:6}`` turns ``HR`` into ``0000HR``.

.. rubric:: Reading numbers back

:meth:`Pattern.validate` tells whether a text is a number of the pattern, and
:meth:`Pattern.parse` recovers the values in it.  For that every token's extent must
be clear, so two tokens of variable width (``{COUNTER}``, ``{CYCLE}`` and context
variables) may not sit between the same two separators.  A separator is any literal
character other than a letter, a digit or ``_``: ``-``, ``/``, ``.``, a space, an
escaped brace.  Date tokens have a fixed width and need none.
``{YEAR}{MONTH}-{COUNTER:4}``, ``INV{COUNTER:5}`` and ``{DEPT}{YEAR}-{COUNTER}`` are
accepted; ``{DEPT}{YEAR}{COUNTER}`` and ``{A}X{B}-{COUNTER}`` are not.

>>> import datetime
>>> p = Pattern.compile("INV-{YEAR}-{DEPT}-{COUNTER:5}")
>>> p.render(42, day=datetime.date(2026, 3, 9), context={"dept": "SALES"})
'INV-2026-SALES-00042'
>>> p.parse("INV-2026-SALES-00042")
{'YEAR': 2026, 'DEPT': 'SALES', 'COUNTER': 42}

.. rubric:: Resets

A counter that restarts every year, month or day only gives distinct numbers if the
pattern shows the period; :meth:`Pattern.missing_reset_tokens` says what is missing.
``{ISOYEAR}`` and ``{WEEK}`` do not count: ISO years start on other days.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Mapping
from typing import final

from ..errors import ArgumentTypeError
from ..errors import InvalidArgumentError
from ..errors import PatternError
from .tokens import FOUR_DIGIT_YEARS
from .tokens import MAX_COUNTER_WIDTH
from .tokens import MAX_NUMBER_LENGTH
from .tokens import MAX_PATTERN_LENGTH
from .tokens import Text
from .tokens import Token
from .tokens import TokenKind
from .tokens import as_day
from .tokens import as_int
from .tokens import cached_date_fields
from .tokens import check_fiscal_start
from .tokens import check_readable
from .tokens import date_fields
from .tokens import format_template
from .tokens import pattern_error
from .tokens import scan
from .tokens import shortest_text
from .tokens import token_regex

__all__ = ["Pattern", "Text", "Token", "TokenKind", "date_fields"]

_FISCAL_YEARS = frozenset({"FY", "FYY", "FYEND", "FYYEND"})
_CALENDAR_YEARS = frozenset({"YEAR", "YY"})
_RESET_PERIODS = ("never", "daily", "monthly", "yearly", "fiscal_yearly")
# Unicode-aware on purpose: context values may be written in any script.
_WORDS = re.compile(r"\w+")


@final
class Pattern:
    """A compiled, immutable number pattern, equal and hashed by :attr:`source`.

    Build one with :meth:`compile`, which caches.
    """

    source: str
    """The pattern as written."""
    segments: tuple[Text | Token, ...]
    """The pattern split into literal text and tokens."""
    counter_width: int | None
    """``N`` of ``{COUNTER:N}``, or ``None`` for an unpadded counter."""
    capacity: int | None
    """The largest counter that fits the padding, ``10**N - 1``, or ``None``."""
    context_names: frozenset[str]
    """Canonical names of the context variables the pattern needs."""
    token_names: frozenset[str]
    """Canonical names of all tokens used, built-in and context."""
    _counter: Token
    _before: str
    _after: str
    _regex: re.Pattern[str]
    _groups: tuple[tuple[str, TokenKind, int], ...]
    _has_cycle: bool
    _years: tuple[str, ...]
    _needs_dates: bool

    def __init__(self, source: str) -> None:
        if not isinstance(source, str):
            raise ArgumentTypeError(f"a pattern must be a str, not {type(source).__name__}")
        if not source:
            raise pattern_error(source, "is empty (write e.g. 'INV-{YEAR}-{COUNTER:5}')")
        if len(source) > MAX_PATTERN_LENGTH:
            raise pattern_error(
                source,
                f"is {len(source)} characters long, more than {MAX_PATTERN_LENGTH} "
                f"(shorten it from position {MAX_PATTERN_LENGTH} on)",
            )
        segments = scan(source)
        tokens = [s for s in segments if isinstance(s, Token)]
        counters = [t for t in tokens if t.kind == "counter"]
        if not counters:
            glue = "" if source[-1] in "-/" else "-"
            raise pattern_error(
                source, f"has no {{COUNTER}} (add one: '{source}{glue}{{COUNTER:5}}')"
            )
        if len(counters) > 1:
            where = ", ".join(str(t.position) for t in counters)
            raise pattern_error(
                source, f"has {{COUNTER}} at positions {where}; write it exactly once"
            )
        check_readable(source, segments)
        regex: list[str] = []
        groups: list[tuple[str, TokenKind, int]] = []
        for segment in segments:
            if isinstance(segment, Text):
                regex.append(re.escape(segment.text))
                continue
            first = all(name != segment.name for name, _, _ in groups)
            label = f"?P<{segment.name}>" if first else ""
            regex.append(f"({label}{token_regex(segment)})")
            groups.append((segment.name, segment.kind, segment.width or 0))
        counter, names = counters[0], frozenset(t.name for t in tokens)
        cut = segments.index(counter)
        init = object.__setattr__  # __setattr__ itself is closed for immutability
        init(self, "source", source)
        init(self, "segments", segments)
        init(self, "counter_width", counter.width)
        init(self, "capacity", None if counter.width is None else 10**counter.width - 1)
        init(self, "context_names", frozenset(t.name for t in tokens if t.kind == "context"))
        init(self, "token_names", names)
        init(self, "_counter", counter)
        init(self, "_before", format_template(segments[:cut]))
        init(self, "_after", format_template(segments[cut + 1 :]))
        init(self, "_regex", re.compile(rf"\A{''.join(regex)}\Z"))
        init(self, "_groups", tuple(groups))
        init(self, "_has_cycle", "CYCLE" in names)
        init(self, "_years", tuple(sorted(names & FOUR_DIGIT_YEARS)))
        init(self, "_needs_dates", any(t.kind == "date" for t in tokens))

    @classmethod
    def compile(cls, source: str) -> Pattern:
        """Return the compiled pattern for ``source`` (cached); raise :class:`PatternError`."""
        if not isinstance(source, str):
            raise ArgumentTypeError(f"a pattern must be a str, not {type(source).__name__}")
        return _compile(source)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Pattern is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Pattern is immutable; cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        return self.source == other.source if isinstance(other, Pattern) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.source)

    def __repr__(self) -> str:
        return f"Pattern({self.source!r})"

    @property
    def regex(self) -> re.Pattern[str]:
        """Anchored regex of the numbers; named groups hold each token's first occurrence."""
        return self._regex

    def _context_texts(self, context: Mapping[str, object] | None) -> dict[str, str]:
        found: dict[str, tuple[str, object]] = {}
        for key, value in (context or {}).items():
            # isascii: str.upper() turns some non-ASCII letters into ASCII ones
            # ('\u017f' becomes 'S'), which would let a look-alike key match.
            name = key.upper() if isinstance(key, str) and key.isascii() else None
            if name not in self.context_names:
                continue
            if name in found:
                raise pattern_error(
                    self.source,
                    f"context keys {found[name][0]!r} and {key!r} both give {{{name}}}; "
                    "pass only one",
                )
            found[name] = (key, value)
        missing = ", ".join(f"{{{n}}}" for n in sorted(self.context_names - found.keys()))
        if missing:
            given = ", ".join(repr(k) for k in context) if context else "none"
            raise pattern_error(
                self.source, f"context variable {missing} missing (keys given: {given})"
            )
        texts: dict[str, str] = {}
        for name, (key, value) in found.items():
            text = ""
            if isinstance(value, str):
                text = str.__str__(value)  # the plain text, even of a str-based enum
            elif (
                isinstance(value, int)
                and not isinstance(value, bool)
                # str() refuses ints over 4,300 digits; none fits a number anyway
                and value.bit_length() <= MAX_NUMBER_LENGTH * 4
            ):
                text = str(int(value))
            if not text and isinstance(value, int) and not isinstance(value, bool):
                raise pattern_error(
                    self.source,
                    f"context variable {{{name}}} (key {key!r}) is an int of "
                    f"{value.bit_length()} bits, longer than any number "
                    f"({MAX_NUMBER_LENGTH} characters)",
                )
            if not _WORDS.fullmatch(text):
                shown = repr(value)[:60]
                raise pattern_error(
                    self.source,
                    f"context variable {{{name}}} (key {key!r}) has value {shown}; it must "
                    "be a non-empty str or int of letters, digits and '_' only, so numbers "
                    "can be read back",
                )
            texts[name] = text
        return texts

    def shortest_length_around_counter(self) -> int:
        """The fewest characters around the counter of any number of this pattern."""
        return sum(
            len(s.text) if isinstance(s, Text) else shortest_text(s)
            for s in self.segments
            if s is not self._counter
        )

    def render_around_counter(
        self,
        *,
        day: datetime.date,
        context: Mapping[str, object] | None = None,
        fiscal_year_start: int = 1,
        cycle: int = 1,
    ) -> tuple[str, int | None, str]:
        """Render all but the counter: ``(before, counter_width, after)``.

        ``render(c)`` is ``before + str(c).zfill(counter_width) + after``, without
        the ``zfill`` when ``counter_width`` is ``None``.
        """
        check_fiscal_start(fiscal_year_start)
        cycle, day = as_int(cycle, "cycle", 1), as_day(day)
        if context is not None and not isinstance(context, Mapping):
            raise ArgumentTypeError(
                f"context must be a mapping or None, not {type(context).__name__}"
            )
        values: Mapping[str, object] = {}
        if self._needs_dates:
            values = fields = cached_date_fields(day, fiscal_year_start)
            for name in self._years:
                if not 1000 <= fields[name] <= 9999:
                    raise pattern_error(
                        self.source,
                        f"{{{name}}} would be {fields[name]} on {day.isoformat()}; "
                        "it must stay within 1000..9999",
                    )
        if self._has_cycle or self.context_names:
            values = {**values, "CYCLE": cycle, **self._context_texts(context)}
        before, after = self._before.format_map(values), self._after.format_map(values)
        if len(before) + len(after) + (self.counter_width or 1) > MAX_NUMBER_LENGTH:
            raise pattern_error(
                self.source, f"numbers would be longer than {MAX_NUMBER_LENGTH} characters"
            )
        return before, self.counter_width, after

    def render_without_context(
        self, counter: int, *, day: datetime.date, fiscal_year_start: int = 1, cycle: int = 1
    ) -> str:
        """The number for ``counter`` with every context variable shown as ``?``: for a
        value no document had (one an override skipped), so no context exists."""
        values: dict[str, object] = {"CYCLE": as_int(cycle, "cycle", 1)}
        if self._needs_dates:
            values.update(cached_date_fields(as_day(day), fiscal_year_start))
        values.update(dict.fromkeys(self.context_names, "?"))
        digits = str(as_int(counter, "counter", 0))
        width = self.counter_width
        return (
            self._before.format_map(values)
            + (digits.zfill(width) if width else digits)
            + self._after.format_map(values)
        )

    def render(
        self,
        counter: int,
        *,
        day: datetime.date,
        context: Mapping[str, object] | None = None,
        fiscal_year_start: int = 1,
        cycle: int = 1,
    ) -> str:
        """Render the number for ``counter`` issued on ``day``."""
        digits = str(as_int(counter, "counter", 0))
        before, width, after = self.render_around_counter(
            day=day, context=context, fiscal_year_start=fiscal_year_start, cycle=cycle
        )
        number = before + (digits.zfill(width) if width else digits) + after
        if len(number) > MAX_NUMBER_LENGTH:
            raise pattern_error(
                self.source, f"number {number!r} is longer than {MAX_NUMBER_LENGTH}"
            )
        return number

    def _read(self, number: object) -> tuple[dict[str, int | str] | None, str]:
        if isinstance(number, str) and len(number) > MAX_NUMBER_LENGTH:
            # Also keeps int() below from meeting more than 4,300 digits.
            return None, f"it is longer than any number ({MAX_NUMBER_LENGTH} characters)"
        match = self._regex.match(number) if isinstance(number, str) else None
        if match is None:
            return None, "it does not have the pattern's form"
        values: dict[str, int | str] = {}
        widths: dict[str, int] = {}
        for index, (name, kind, width) in enumerate(self._groups, start=1):
            text = match.group(index)
            value: int | str = text if kind == "context" else int(text)
            seen = values.setdefault(name, value)
            widths.setdefault(name, width)
            if isinstance(seen, str) and isinstance(value, str):
                # Two paddings of one value agree when the shorter text, padded to
                # the longer one's width, gives the longer text.
                pairs = sorted([(seen, widths[name]), (value, width)], key=lambda p: len(p[0]))
                agree = pairs[0][0].rjust(pairs[1][1], "0") == pairs[1][0]
            else:
                agree = seen == value
            if not agree:
                return None, f"{{{name}}} reads {seen!r} in one place and {value!r} in another"
        return values, ""

    def validate(self, number: str) -> bool:
        """Tell whether ``number`` has this pattern's form, repeated tokens agreeing."""
        return self._read(number)[0] is not None

    def parse(self, number: str) -> dict[str, int | str]:
        """Return the token values in ``number``, keyed by canonical name.

        Built-in tokens give :class:`int` values, context variables their text as it
        stands.  Raise :class:`PatternError` when ``number`` is not of this pattern.
        """
        values, why = self._read(number)
        if values is None:
            # repr() of an int of more than 4,300 digits fails
            shown = repr(number) if isinstance(number, str) else f"a {type(number).__name__}"
            raise PatternError(f"number {shown} does not match pattern {self.source!r}: {why}")
        return values

    def with_counter_width(self, width: int) -> Pattern:
        """Return the same pattern with ``{COUNTER:width}``, e.g. to widen on overflow."""
        width = as_int(width, "width", 0)
        if not 1 <= width <= MAX_COUNTER_WIDTH:
            raise pattern_error(
                self.source, f"counter width {width} is not in 1..{MAX_COUNTER_WIDTH}"
            )
        start = self._counter.position
        end = start + len(self._counter.written)
        return _compile(f"{self.source[:start]}{{COUNTER:{width}}}{self.source[end:]}")

    def missing_reset_tokens(self, reset_period: str, *, fiscal_year_start: int = 1) -> str | None:
        """Say what to add so that ``reset_period`` cannot repeat numbers, or ``None``.

        ``reset_period`` is ``never``, ``daily``, ``monthly``, ``yearly`` or
        ``fiscal_yearly``, or the matching :class:`~sa_sequencing.rules.enums.ResetPeriod`.
        """
        check_fiscal_start(fiscal_year_start)
        # A str-based enum hashes by member name, so compare its plain value.
        period = getattr(reset_period, "value", reset_period)
        if period not in _RESET_PERIODS:
            allowed = ", ".join(repr(p) for p in _RESET_PERIODS)
            raise InvalidArgumentError(
                f"unknown reset period {reset_period!r}: must be one of {allowed}"
            )
        names = self.token_names
        # With a fiscal year starting in January, fiscal years are calendar years.
        january = fiscal_year_start == 1
        calendar = _CALENDAR_YEARS | (_FISCAL_YEARS if january else frozenset())
        fiscal = _FISCAL_YEARS | (_CALENDAR_YEARS if january else frozenset())
        has_year = bool(names & (calendar | _FISCAL_YEARS))
        has_date = "MONTH" in names and "DAY" in names
        add: list[str] = []
        if period == "yearly" and not names & calendar:
            add.append("a year token such as {YEAR} or {YY}")
        elif period == "fiscal_yearly" and not names & fiscal:
            add.append("a fiscal-year token such as {FY}, {FYY}, {FYEND} or {FYYEND}")
        elif period == "monthly":
            if not has_year:
                add.append("a year token such as {YEAR} or {FY}")
            if "MONTH" not in names:
                add.append("{MONTH}")
        # A fiscal year holding a 29 February can see one day-of-year twice, so {DOY}
        # needs a calendar year.
        elif period == "daily" and not (
            (has_year and has_date) or ("DOY" in names and names & calendar)
        ):
            if "DOY" in names and not has_date:
                add.append("a calendar year token such as {YEAR} or {YY}")
            else:
                add += [] if has_year else ["a year token such as {YEAR}"]
                add += [] if has_date else ["{MONTH} and {DAY} (or {DOY})"]
        return f"add {', plus '.join(add)} to the pattern" if add else None


@functools.lru_cache(maxsize=1024)
def _compile(source: str) -> Pattern:
    return Pattern(source)
