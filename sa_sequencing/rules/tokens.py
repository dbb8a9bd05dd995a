"""The tokens of the pattern language, for :mod:`sa_sequencing.rules.patterns`.

The language itself is documented there; this module holds the pieces that
:class:`~sa_sequencing.rules.patterns.Pattern` is built from:

* :func:`scan` splits a pattern into :class:`Text` and :class:`Token` segments and
  refuses malformed tokens, :func:`check_readable` refuses patterns whose numbers could
  not be read back;
* :func:`token_regex` and :func:`format_template` turn segments into the regex that
  reads numbers and the ``str.format_map`` template that writes them;
* :func:`date_fields` (and its cached core :func:`cached_date_fields`) gives the value
  of every date token on a day;
* :func:`pattern_error`, :func:`check_fiscal_start`, :func:`as_day` and :func:`as_int`
  word the errors and check the arguments the same way everywhere.

Everything here is re-exported from :mod:`sa_sequencing.rules.patterns` where it is public;
import it from there.
"""

from __future__ import annotations

import datetime
import functools
import operator
import re
from typing import Literal
from typing import NamedTuple

from ..errors import ArgumentTypeError
from ..errors import InvalidArgumentError
from ..errors import PatternError

__all__ = [
    "FOUR_DIGIT_YEARS",
    "MAX_COUNTER_WIDTH",
    "MAX_NUMBER_LENGTH",
    "MAX_PATTERN_LENGTH",
    "MAX_TOKEN_WIDTH",
    "Text",
    "Token",
    "TokenKind",
    "as_day",
    "as_int",
    "cached_date_fields",
    "check_fiscal_start",
    "check_readable",
    "date_fields",
    "format_template",
    "pattern_error",
    "scan",
    "shortest_text",
    "token_regex",
]

MAX_PATTERN_LENGTH = 255
MAX_NUMBER_LENGTH = 255
MAX_COUNTER_WIDTH = 18
MAX_TOKEN_WIDTH = 32

TokenKind = Literal["date", "counter", "cycle", "context"]

# [0-9], not \d: \d also takes Arabic-Indic and other digits, and a number written
# with those must not pass for one of ours.
_YEAR_RX, _TWO_RX, _QUARTER_RX = "[1-9][0-9]{3}", "[0-9]{2}", "[1-4]"
# name -> (natural width, regex of the natural value)
_DATE_TOKENS: dict[str, tuple[int, str]] = {
    "YEAR": (4, _YEAR_RX),
    "YY": (2, _TWO_RX),
    "MONTH": (2, "0[1-9]|1[0-2]"),
    "DAY": (2, "0[1-9]|[12][0-9]|3[01]"),
    "QUARTER": (1, _QUARTER_RX),
    "WEEK": (2, "0[1-9]|[1-4][0-9]|5[0-3]"),
    "ISOYEAR": (4, _YEAR_RX),
    "DOY": (3, "00[1-9]|0[1-9][0-9]|[12][0-9]{2}|3[0-5][0-9]|36[0-6]"),
    "FY": (4, _YEAR_RX),
    "FYY": (2, _TWO_RX),
    "FYEND": (4, _YEAR_RX),
    "FYYEND": (2, _TWO_RX),
    "FQ": (1, _QUARTER_RX),
}
# A year outside 1000..9999 would change width and could not be parsed back.
FOUR_DIGIT_YEARS = frozenset({"YEAR", "ISOYEAR", "FY", "FYEND"})

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DIGITS = re.compile(r"[0-9]+")
# Escaped braces first; a token's body holds no brace, so '{A{B}' is an unclosed '{'.
_LEXER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]|[^{}]+")
# Unicode-aware on purpose: context values may be written in any script.
_WORD_CHAR = re.compile(r"\w")


class Text(NamedTuple):
    """Literal text of a pattern, with ``{{`` and ``}}`` already unescaped."""

    text: str


class Token(NamedTuple):
    """A ``{NAME}`` or ``{NAME:N}`` token of a pattern."""

    name: str
    """Canonical (uppercase) name."""
    width: int | None
    """``N`` as written, or ``None`` when unpadded."""
    kind: TokenKind
    position: int
    """0-based position of the opening brace in the pattern."""
    written: str
    """The token as written, braces included."""


def pattern_error(source: str, message: str) -> PatternError:
    return PatternError(f"pattern {source!r}: {message}")


def check_fiscal_start(month: int) -> None:
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        # repr() of an int of more than 4,300 digits fails
        too_big = isinstance(month, int) and month.bit_length() > 64
        shown = "an int of that size" if too_big else repr(month)
        raise InvalidArgumentError(f"fiscal_year_start must be a month from 1 to 12, not {shown}")


def as_day(day: object) -> datetime.date:
    # A datetime is a date too, but would give the field cache one entry per instant.
    if isinstance(day, datetime.datetime):
        return day.date()
    if isinstance(day, datetime.date):
        return day
    raise ArgumentTypeError(f"day must be a datetime.date, not {type(day).__name__}")


def as_int(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{what} must be an int, not {type(value).__name__}")
    number = operator.index(value)
    if number.bit_length() > MAX_NUMBER_LENGTH * 4:
        # more digits than a number holds, and str() refuses past 4,300 of them
        raise InvalidArgumentError(
            f"{what} is an int of {number.bit_length()} bits: more digits than the "
            f"{MAX_NUMBER_LENGTH} characters of a number"
        )
    if number < minimum:
        raise InvalidArgumentError(f"{what} must be at least {minimum}, not {number}")
    return number


@functools.lru_cache(maxsize=512)
def cached_date_fields(day: datetime.date, fiscal_year_start: int) -> dict[str, int]:
    # Shared by every caller through the cache: read it, never change it.
    year, month = day.year, day.month
    isoyear, week, _ = day.isocalendar()
    fy = year if month >= fiscal_year_start else year - 1
    fy_end = fy if fiscal_year_start == 1 else fy + 1
    return {
        "YEAR": year,
        "YY": year % 100,
        "MONTH": month,
        "DAY": day.day,
        "QUARTER": (month - 1) // 3 + 1,
        "WEEK": week,
        "ISOYEAR": isoyear,
        "DOY": day.timetuple().tm_yday,
        "FY": fy,
        "FYY": fy % 100,
        "FYEND": fy_end,
        "FYYEND": fy_end % 100,
        "FQ": (month - fiscal_year_start) % 12 // 3 + 1,
    }


def date_fields(day: datetime.date, *, fiscal_year_start: int = 1) -> dict[str, int]:
    """Return the value of every date token on ``day``, keyed by token name.

    ``fiscal_year_start`` is the month (1 to 12) in which the fiscal year begins;
    anything else raises :class:`ValueError`.
    """
    check_fiscal_start(fiscal_year_start)
    return dict(cached_date_fields(as_day(day), fiscal_year_start))


def _scan_token(source: str, start: int, body: str) -> Token:
    written, where = "{" + body + "}", f"at position {start}"
    if not body:
        raise pattern_error(source, f"empty '{{}}' {where} (write a name such as {{COUNTER}})")
    name, colon, width_text = body.partition(":")
    if not _NAME.fullmatch(name):
        raise pattern_error(
            source,
            f"invalid name {name!r} in {written!r} {where} (use letters, digits and '_', "
            "not starting with a digit, e.g. {DEPT}; write '{{' for a literal brace)",
        )
    canonical = name.upper()
    kind: TokenKind = "date" if canonical in _DATE_TOKENS else "context"
    if canonical in ("COUNTER", "CYCLE"):
        kind = "counter" if canonical == "COUNTER" else "cycle"
    if not colon:
        return Token(canonical, None, kind, start, written)
    hint = f"(write {{{canonical}}} or e.g. {{{canonical}:5}})"
    if not _DIGITS.fullmatch(width_text):
        what = f"invalid width {width_text!r}" if width_text else "missing width after ':'"
        raise pattern_error(source, f"{what} in {written!r} {where} {hint}")
    width = int(width_text)
    limit = MAX_COUNTER_WIDTH if kind == "counter" else MAX_TOKEN_WIDTH
    if not 1 <= width <= limit:
        raise pattern_error(
            source, f"width {width} in {written!r} {where} is not in 1..{limit} {hint}"
        )
    return Token(canonical, width, kind, start, written)


def scan(source: str) -> tuple[Text | Token, ...]:
    segments: list[Text | Token] = []
    literal: list[str] = []
    for match in _LEXER.finditer(source):
        piece, body, at = match.group(), match.group(1), match.start()
        if piece in ("{{", "}}"):
            literal.append(piece[0])
        elif piece == "{":
            hint = "(write '{{' for a literal brace)"
            raise pattern_error(source, f"unclosed '{{' at position {at} {hint}")
        elif piece == "}":
            raise pattern_error(
                source, f"unmatched '}}' at position {at} (write '}}}}' for a literal brace)"
            )
        elif body is None:
            literal.append(piece)
        else:
            if literal:
                segments.append(Text("".join(literal)))
                literal = []
            segments.append(_scan_token(source, at, body))
    if literal:
        segments.append(Text("".join(literal)))
    return tuple(segments)


def check_readable(source: str, segments: tuple[Text | Token, ...]) -> None:
    # Tokens only render word characters, so a number splits at its non-word
    # characters exactly where the pattern does, and inside one such run a single
    # variable-width token gets whatever length the fixed-width parts leave over.
    held: Token | None = None
    for segment in segments:
        if isinstance(segment, Text):
            if any(not _WORD_CHAR.fullmatch(char) for char in segment.text):
                held = None
        elif segment.kind != "date":
            if held is not None:
                raise pattern_error(
                    source,
                    f"{{{held.name}}} and {{{segment.name}}} must be separated by a "
                    "character such as '-' or '/' so numbers can be read back "
                    f"(positions {held.position} and {segment.position})",
                )
            held = segment


def token_regex(token: Token) -> str:
    width = token.width
    if token.kind == "date":
        natural, regex = _DATE_TOKENS[token.name]
        return f"0{{{width - natural}}}(?:{regex})" if width and width > natural else regex
    if token.kind == "context":
        return rf"\w{{{width},}}" if width else r"\w+"
    # Exactly `width` digits while the value fits the padding, more digits and no
    # leading zero once it has outgrown it.
    wider = f"[1-9][0-9]{{{width},}}"
    if token.kind == "counter":
        return f"[0-9]{{{width}}}|{wider}" if width else "0|[1-9][0-9]*"
    # Cycles start at 1, so a padded field of zeros only is no cycle.
    return f"(?=[0-9]{{0,{width - 1}}}[1-9])[0-9]{{{width}}}|{wider}" if width else "[1-9][0-9]*"


def shortest_text(token: Token) -> int:
    """The fewest characters ``token`` renders to (a context variable: one)."""
    if token.kind == "date":
        return max(token.width or 0, _DATE_TOKENS[token.name][0])
    return token.width or 1


def format_template(segments: tuple[Text | Token, ...]) -> str:
    # One str.format_map call per part renders much faster than assembling the
    # pieces in Python for every issued number.
    parts: list[str] = []
    for segment in segments:
        if isinstance(segment, Text):
            parts.append(segment.text.replace("{", "{{").replace("}", "}}"))
        elif segment.kind == "date":
            width = max(segment.width or 0, _DATE_TOKENS[segment.name][0])
            parts.append(f"{{{segment.name}:0{width}d}}")
        elif segment.width:
            spec = "d" if segment.kind == "cycle" else ""
            parts.append(f"{{{segment.name}:0>{segment.width}{spec}}}")
        else:
            parts.append(f"{{{segment.name}}}")
    return "".join(parts)
