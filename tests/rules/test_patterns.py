"""Tests of the pattern language (no database)."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import doctest
import enum
import pickle
import re
from typing import Any

import pytest
from hypothesis import assume
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sa_sequencing.errors import PatternError
from sa_sequencing.errors import SequencingError
from sa_sequencing.rules import patterns
from sa_sequencing.rules.patterns import Pattern
from sa_sequencing.rules.patterns import date_fields

DAY = datetime.date(2026, 3, 9)
DATE_NAMES = (
    "YEAR",
    "YY",
    "MONTH",
    "DAY",
    "QUARTER",
    "WEEK",
    "ISOYEAR",
    "DOY",
    "FY",
    "FYY",
    "FYEND",
    "FYYEND",
    "FQ",
)


def render(source: str, counter: int = 42, **kwargs: object) -> str:
    kwargs.setdefault("day", DAY)
    return Pattern.compile(source).render(counter, **kwargs)  # type: ignore[arg-type]


def compile_error(source: str) -> str:
    with pytest.raises(PatternError) as caught:
        Pattern.compile(source)
    return str(caught.value)


# -- examples -----------------------------------------------------------------


def test_module_docstring_examples_hold() -> None:
    assert doctest.testmod(patterns).failed == 0


def test_classic_invoice_number_renders_and_validates() -> None:
    pattern = Pattern.compile("INV-{YEAR}-{COUNTER:5}")
    assert pattern.render(42, day=DAY) == "INV-2026-00042"
    assert pattern.validate("INV-2026-00042")
    assert pattern.parse("INV-2026-00042") == {"YEAR": 2026, "COUNTER": 42}
    assert pattern.counter_width == 5
    assert pattern.capacity == 99_999
    assert pattern.token_names == {"YEAR", "COUNTER"}
    assert pattern.context_names == frozenset()


@pytest.mark.parametrize(
    "number",
    ["INV-2026-0042", "INV-2026-012345", "INV-2026-42", "INV-0999-00042", "inv-2026-00042"],
)
def test_wrong_numbers_do_not_validate(number: str) -> None:
    pattern = Pattern.compile("INV-{YEAR}-{COUNTER:5}")
    assert not pattern.validate(number)
    with pytest.raises(PatternError, match=re.escape(repr(number))) as caught:
        pattern.parse(number)
    assert "INV-{YEAR}-{COUNTER:5}" in str(caught.value)


def test_non_ascii_digits_do_not_validate() -> None:
    pattern = Pattern.compile("INV-{YEAR}-{COUNTER:5}")
    assert not pattern.validate("INV-2026-\u0660\u0660\u0660\u0664\u0662")
    assert not pattern.validate(42)  # type: ignore[arg-type]


def test_lowercase_name_and_zero_width_prefix() -> None:
    assert render("{counter:05}") == "00042"
    assert Pattern.compile("{counter:05}").counter_width == 5
    assert Pattern.compile("{Counter:005}").validate("00042")


def test_escaped_braces_render_and_validate() -> None:
    pattern = Pattern.compile("{{{YEAR}}}-{COUNTER}-}}{{")
    number = pattern.render(7, day=DAY)
    assert number == "{2026}-7-}{"
    assert pattern.validate(number)
    assert pattern.parse(number) == {"YEAR": 2026, "COUNTER": 7}


def test_overflowing_counter_keeps_all_digits() -> None:
    pattern = Pattern.compile("QT-{YEAR}-{COUNTER:5}")
    assert pattern.render(123_456, day=DAY) == "QT-2026-123456"
    assert pattern.validate("QT-2026-123456")
    assert pattern.parse("QT-2026-123456")["COUNTER"] == 123_456


def test_unpadded_counter_and_cycle() -> None:
    pattern = Pattern.compile("{CYCLE}/{COUNTER}")
    assert pattern.render(0, day=DAY) == "1/0"
    assert pattern.render(10, day=DAY, cycle=12) == "12/10"
    assert pattern.validate("12/10")
    assert not pattern.validate("0/1")
    assert not pattern.validate("1/01")
    assert pattern.counter_width is None
    assert pattern.capacity is None


def test_padded_cycle() -> None:
    pattern = Pattern.compile("{CYCLE:3}-{COUNTER}")
    assert pattern.render(5, day=DAY, cycle=2) == "002-5"
    assert pattern.render(5, day=DAY, cycle=1234) == "1234-5"
    assert pattern.validate("001-1")
    assert pattern.validate("1234-1")
    assert not pattern.validate("000-1")
    assert not pattern.validate("0123-1")
    assert pattern.parse("002-5") == {"CYCLE": 2, "COUNTER": 5}


def test_all_builtin_tokens() -> None:
    source = (
        "{YEAR}.{YY}.{MONTH}.{DAY}.{QUARTER}.{WEEK}.{ISOYEAR}.{DOY}."
        "{FY}.{FYY}.{FYEND}.{FYYEND}.{FQ}-{COUNTER}"
    )
    pattern = Pattern.compile(source)
    day = datetime.date(2027, 2, 10)
    number = pattern.render(3, day=day, fiscal_year_start=4)
    assert number == "2027.27.02.10.1.06.2027.041.2026.26.2027.27.4-3"
    expected: dict[str, int | str] = dict(date_fields(day, fiscal_year_start=4))
    expected["COUNTER"] = 3
    assert pattern.parse(number) == expected
    # January start: the fiscal year is the calendar year.
    number = pattern.render(3, day=day)
    assert number == "2027.27.02.10.1.06.2027.041.2027.27.2027.27.1-3"


@pytest.mark.parametrize(
    ("day", "start", "fy", "fy_end", "fq"),
    [
        (datetime.date(2027, 2, 10), 4, 2026, 2027, 4),
        (datetime.date(2026, 4, 1), 4, 2026, 2027, 1),
        (datetime.date(2026, 3, 31), 4, 2025, 2026, 4),
        (datetime.date(2026, 7, 1), 7, 2026, 2027, 1),
        (datetime.date(2026, 12, 31), 12, 2026, 2027, 1),
        (datetime.date(2026, 11, 30), 12, 2025, 2026, 4),
        (datetime.date(2026, 6, 15), 1, 2026, 2026, 2),
    ],
)
def test_fiscal_fields(day: datetime.date, start: int, fy: int, fy_end: int, fq: int) -> None:
    fields = date_fields(day, fiscal_year_start=start)
    assert (fields["FY"], fields["FYEND"], fields["FQ"]) == (fy, fy_end, fq)
    assert (fields["FYY"], fields["FYYEND"]) == (fy % 100, fy_end % 100)


@pytest.mark.parametrize("start", [0, 13, -1, True, 1.0, "4"])
def test_fiscal_year_start_out_of_range(start: object) -> None:
    with pytest.raises(ValueError, match="fiscal_year_start"):
        date_fields(DAY, fiscal_year_start=start)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fiscal_year_start"):
        render("{COUNTER}", fiscal_year_start=start)


def test_date_fields_returns_a_fresh_dict() -> None:
    fields = date_fields(DAY)
    fields["YEAR"] = 1
    assert date_fields(DAY)["YEAR"] == 2026
    assert date_fields(datetime.datetime(2026, 3, 9, 23, 59)) == date_fields(DAY)
    with pytest.raises(TypeError):
        date_fields("2026-03-09")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (datetime.date(2026, 12, 31), "2026-W53"),
        (datetime.date(2027, 1, 1), "2026-W53"),
        (datetime.date(2027, 1, 4), "2027-W01"),
        (datetime.date(2024, 12, 30), "2025-W01"),
    ],
)
def test_iso_week_at_year_boundaries(day: datetime.date, expected: str) -> None:
    assert render("{ISOYEAR}-W{WEEK}/{COUNTER}", 1, day=day) == f"{expected}/1"


def test_day_of_year() -> None:
    assert render("{DOY}-{COUNTER}", 1, day=datetime.date(2024, 12, 31)) == "366-1"
    assert render("{DOY}-{COUNTER}", 1, day=datetime.date(2025, 12, 31)) == "365-1"
    assert render("{DOY}-{COUNTER}", 1, day=datetime.date(2025, 1, 1)) == "001-1"
    assert Pattern.compile("{DOY}-{COUNTER}").validate("366-1")
    assert not Pattern.compile("{DOY}-{COUNTER}").validate("367-1")


def test_date_token_padding() -> None:
    assert render("{MONTH:1}-{COUNTER}") == "03-42"
    assert render("{MONTH:3}-{COUNTER}") == "003-42"
    assert render("{YEAR:6}-{COUNTER}") == "002026-42"
    pattern = Pattern.compile("{MONTH:3}-{COUNTER}")
    assert pattern.parse("003-42") == {"MONTH": 3, "COUNTER": 42}
    assert not pattern.validate("03-42")


def test_years_must_keep_four_digits() -> None:
    with pytest.raises(PatternError, match=r"\{YEAR\} would be 999"):
        render("{YEAR}-{COUNTER}", day=datetime.date(999, 12, 31))
    with pytest.raises(PatternError, match=r"\{FYEND\} would be 10000"):
        render("{FYEND}-{COUNTER}", day=datetime.date(9999, 5, 1), fiscal_year_start=4)
    # Tokens the pattern does not use are not checked.
    assert render("{YY}-{COUNTER}", day=datetime.date(999, 12, 31)) == "99-42"


def test_datetime_is_accepted_as_day() -> None:
    assert render("{YEAR}{MONTH}{DAY}-{COUNTER}", day=datetime.datetime(2026, 3, 9, 8)) == (
        "20260309-42"
    )
    with pytest.raises(TypeError):
        render("{COUNTER}", day="2026-03-09")


# -- context variables ----------------------------------------------------------


@pytest.mark.parametrize("key", ["DEPT", "dept", "Dept", "dEpT"])
def test_context_keys_match_case_insensitively(key: str) -> None:
    assert render("{dept}-{COUNTER}", context={key: "SALES"}) == "SALES-42"


def test_context_int_and_unicode_values() -> None:
    assert render("{DEPT}-{COUNTER}", context={"DEPT": 7}) == "7-42"
    assert render("{DEPT}-{COUNTER}", context={"DEPT": "Vertrieb_Köln"}) == "Vertrieb_Köln-42"
    pattern = Pattern.compile("{DEPT}-{COUNTER}")
    assert pattern.parse("Vertrieb_Köln-42") == {"DEPT": "Vertrieb_Köln", "COUNTER": 42}


def test_str_enum_context_value_renders_its_value() -> None:
    class Dept(str, enum.Enum):
        SALES = "sales"

        def __str__(self) -> str:
            return "Dept.SALES"

    assert render("{DEPT}-{COUNTER}", context={"DEPT": Dept.SALES}) == "sales-42"


def test_padded_context_variable() -> None:
    pattern = Pattern.compile("{DEPT:6}-{COUNTER}")
    assert pattern.render(1, day=DAY, context={"dept": "HR"}) == "0000HR-1"
    assert pattern.render(1, day=DAY, context={"dept": "LOGISTICS"}) == "LOGISTICS-1"
    assert pattern.parse("0000HR-1") == {"DEPT": "0000HR", "COUNTER": 1}
    assert not pattern.validate("HR-1")


def test_unneeded_context_keys_are_ignored() -> None:
    context = {"dept": "A", "DEPT": "B", 3: "x"}
    assert render("{YEAR}-{COUNTER}", context=context) == "2026-42"


def test_missing_context_variable_is_named() -> None:
    with pytest.raises(PatternError) as caught:
        render("{DEPT}/{REGION}-{COUNTER}", context={"region": "EU", "branch": "X"})
    message = str(caught.value)
    assert "{DEPT}" in message
    assert "'region'" in message
    assert "'branch'" in message
    with pytest.raises(PatternError, match=r"\{DEPT\}"):
        render("{DEPT}-{COUNTER}")


def test_context_keys_differing_in_case_are_refused() -> None:
    with pytest.raises(PatternError, match="'dept' and 'DEPT'"):
        render("{DEPT}-{COUNTER}", context={"dept": "A", "DEPT": "A"})


def test_lookalike_non_ascii_key_does_not_match() -> None:
    # '\u017f' (long s) upper-cases to 'S'.
    with pytest.raises(PatternError, match="missing"):
        render("{S}-{COUNTER}", context={"\u017f": "x"})


@pytest.mark.parametrize("value", ["", "A-B", "A B", "a.b", True, False, None, -3, 1.5, b"AB"])
def test_bad_context_values_are_refused(value: object) -> None:
    with pytest.raises(PatternError) as caught:
        render("{DEPT}-{COUNTER}", context={"dept": value})
    message = str(caught.value)
    assert "{DEPT}" in message
    assert repr(value) in message
    assert "letters, digits and '_'" in message


def test_rendered_number_length_is_limited() -> None:
    with pytest.raises(PatternError, match="255"):
        render("{DEPT}-{COUNTER}", context={"dept": "A" * 300})
    with pytest.raises(PatternError, match="255"):
        render("X" * 200 + "-{COUNTER}", 10**60)
    assert len(render("X" * 200 + "-{COUNTER}", 10**53)) == 255


@pytest.mark.parametrize(
    ("counter", "cycle", "error"),
    [(-1, 1, ValueError), (True, 1, TypeError), (1.0, 1, TypeError), (1, 0, ValueError)],
)
def test_bad_counter_or_cycle(counter: object, cycle: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        render("{CYCLE}-{COUNTER}", counter, cycle=cycle)  # type: ignore[arg-type]


# -- render_around_counter ----------------------------------------------------


def test_render_around_counter() -> None:
    pattern = Pattern.compile("{DEPT}/INV-{YEAR}-{COUNTER:5}-{MONTH}")
    before, width, after = pattern.render_around_counter(day=DAY, context={"DEPT": "HR"})
    assert (before, width, after) == ("HR/INV-2026-", 5, "-03")
    for counter in (0, 42, 99_999, 1_234_567):
        glued = before + str(counter).zfill(5) + after
        assert glued == pattern.render(counter, day=DAY, context={"DEPT": "HR"})
    assert Pattern.compile("{COUNTER}").render_around_counter(day=DAY) == ("", None, "")


# -- repeated tokens ------------------------------------------------------------


def test_repeated_date_token_must_agree() -> None:
    pattern = Pattern.compile("{YEAR}-{COUNTER}-{year}")
    assert pattern.render(1, day=DAY) == "2026-1-2026"
    assert pattern.validate("2026-1-2026")
    assert not pattern.validate("2026-1-2027")
    with pytest.raises(PatternError, match=r"2026.*2027"):
        pattern.parse("2026-1-2027")
    assert pattern.regex.groupindex == {"YEAR": 1, "COUNTER": 2}


def test_repeated_context_variable_with_different_padding() -> None:
    pattern = Pattern.compile("{DEPT}-{COUNTER}/{DEPT:4}")
    assert pattern.render(1, day=DAY, context={"dept": "HR"}) == "HR-1/00HR"
    assert pattern.render(1, day=DAY, context={"dept": "0HR"}) == "0HR-1/00HR"
    assert pattern.parse("HR-1/00HR") == {"DEPT": "HR", "COUNTER": 1}
    assert pattern.validate("0HR-1/00HR")
    assert pattern.validate("SALES-1/SALES")
    assert not pattern.validate("HR-1/000HR")
    assert not pattern.validate("HR-1/0SALES")
    assert not pattern.validate("SALES-1/SALESX")


# -- syntax errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "pieces"),
    [
        ("INV-{YEAR", ["unclosed '{' at position 4", "'{{'"]),
        ("INV-{YE{AR}-{COUNTER}", ["unclosed '{' at position 4"]),
        ("INV}-{COUNTER}", ["unmatched '}' at position 3", "'}}'"]),
        ("INV-{}-{COUNTER}", ["empty '{}' at position 4"]),
        ("INV-{1X}-{COUNTER}", ["'1X'", "position 4"]),
        ("INV-{DE PT}-{COUNTER}", ["'DE PT'", "position 4"]),
        ("INV-{:5}-{COUNTER}", ["''", "position 4"]),
        ("INV-{COUNTER:}", ["missing width", "'{COUNTER:}'", "position 4"]),
        ("INV-{COUNTER:abc}", ["'abc'", "'{COUNTER:abc}'", "position 4"]),
        ("INV-{COUNTER:-3}", ["'-3'", "position 4"]),
        ("INV-{COUNTER:0}", ["width 0", "'{COUNTER:0}'", "position 4"]),
        ("INV-{COUNTER:19}", ["width 19", "1..18", "position 4"]),
        ("INV-{YEAR:33}-{COUNTER}", ["width 33", "1..32", "position 4"]),
        ("INV-{DEPT:33}-{COUNTER}", ["width 33", "1..32", "position 4"]),
        ("INV-{YEAR}", ["no {COUNTER}", "'INV-{YEAR}-{COUNTER:5}'"]),
        ("{COUNTER}-{counter:3}", ["{COUNTER}", "positions 0, 10"]),
        ("", ["is empty"]),
        ("{{COUNTER}}", ["no {COUNTER}"]),
    ],
)
def test_syntax_errors(source: str, pieces: list[str]) -> None:
    message = compile_error(source)
    assert message.startswith(f"pattern {source!r}: ")
    for piece in pieces:
        assert piece in message


def test_width_limits_are_inclusive() -> None:
    assert Pattern.compile("{COUNTER:18}").capacity == 10**18 - 1
    assert Pattern.compile("{DEPT:32}-{COUNTER}").validate("0" * 31 + "A-1")


def test_pattern_length_limit() -> None:
    source = "X" * 246 + "{COUNTER}"
    assert len(source) == 255
    assert Pattern.compile(source).render(1, day=DAY) == "X" * 246 + "1"
    message = compile_error("X" + source)
    assert "256 characters" in message
    assert "255" in message


def test_pattern_errors_are_sequencing_errors() -> None:
    with pytest.raises(SequencingError):
        Pattern.compile("{")
    with pytest.raises(TypeError):
        Pattern.compile(None)  # type: ignore[arg-type]


# -- ambiguity ------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{YEAR}{MONTH}-{COUNTER:4}",
        "INV{COUNTER:5}",
        "{DEPT}{YEAR}-{COUNTER}",
        "{DEPT}X-{COUNTER}",
        "{DEPT}{{{COUNTER}",
        "{DEPT} {COUNTER}",
        "{DEPT}.{CYCLE}.{COUNTER}{YEAR}{MONTH}",
        "{DEPT}-{DEPT}-{COUNTER}",
    ],
)
def test_readable_patterns_are_accepted(source: str) -> None:
    Pattern.compile(source)


@pytest.mark.parametrize(
    ("source", "first", "second"),
    [
        ("{DEPT}{COUNTER:5}", "DEPT", "COUNTER"),
        ("{DEPT}{YEAR}{COUNTER}", "DEPT", "COUNTER"),
        ("{A}X{B}-{COUNTER}", "A", "B"),
        ("{DEPT}_{COUNTER}", "DEPT", "COUNTER"),
        ("{CYCLE}{COUNTER}", "CYCLE", "COUNTER"),
        ("{COUNTER}0{CYCLE:3}", "COUNTER", "CYCLE"),
        ("{DEPT}é{REGION}-{COUNTER}", "DEPT", "REGION"),
    ],
)
def test_ambiguous_patterns_are_refused(source: str, first: str, second: str) -> None:
    message = compile_error(source)
    assert f"{{{first}}} and {{{second}}} must be separated" in message
    assert "'-' or '/'" in message


def test_ambiguity_message_matches_the_documented_form() -> None:
    assert compile_error("{DEPT}{COUNTER:5}").startswith(
        "pattern '{DEPT}{COUNTER:5}': {DEPT} and {COUNTER} must be separated by a "
        "character such as '-' or '/' so numbers can be read back"
    )


# -- the Pattern object ---------------------------------------------------------


def test_compile_caches_and_patterns_compare_by_source() -> None:
    assert Pattern.compile("INV-{COUNTER}") is Pattern.compile("INV-{COUNTER}")
    assert Pattern("INV-{COUNTER}") == Pattern.compile("INV-{COUNTER}")
    assert Pattern.compile("INV-{counter}") != Pattern.compile("INV-{COUNTER}")
    assert Pattern.compile("INV-{COUNTER}") != "INV-{COUNTER}"
    assert len({Pattern("A-{COUNTER}"), Pattern.compile("A-{COUNTER}")}) == 1
    assert repr(Pattern.compile("A-{COUNTER}")) == "Pattern('A-{COUNTER}')"


def test_patterns_are_immutable_and_copyable() -> None:
    pattern = Pattern.compile("INV-{YEAR}-{COUNTER:5}")
    with pytest.raises(AttributeError):
        pattern.source = "x"
    with pytest.raises(AttributeError):
        del pattern.counter_width
    for clone in (pickle.loads(pickle.dumps(pattern)), copy.deepcopy(pattern)):
        assert clone == pattern
        assert clone.render(1, day=DAY) == "INV-2026-00001"


def test_segments() -> None:
    segments = Pattern.compile("A{{-{dept:3}-{COUNTER}").segments
    assert segments == (
        patterns.Text("A{-"),
        patterns.Token("DEPT", 3, "context", 4, "{dept:3}"),
        patterns.Text("-"),
        patterns.Token("COUNTER", None, "counter", 13, "{COUNTER}"),
    )


def test_regex_is_anchored() -> None:
    regex = Pattern.compile("INV-{COUNTER:3}").regex
    assert regex.match("INV-001")
    assert not regex.match("INV-001x")
    assert not regex.search("xINV-001")
    assert not regex.match("INV-001\n")


def test_with_counter_width() -> None:
    pattern = Pattern.compile("{{INV}}-{YEAR}-{counter:05}/{DEPT}")
    wider = pattern.with_counter_width(6)
    assert wider.source == "{{INV}}-{YEAR}-{COUNTER:6}/{DEPT}"
    assert wider.capacity == 999_999
    assert Pattern.compile("A-{COUNTER}").with_counter_width(3).source == "A-{COUNTER:3}"
    with pytest.raises(PatternError, match="19"):
        pattern.with_counter_width(19)
    with pytest.raises(PatternError, match="0"):
        pattern.with_counter_width(0)


# -- missing_reset_tokens -------------------------------------------------------


class Period(str, enum.Enum):
    """Stands in for :class:`sa_sequencing.rules.enums.ResetPeriod` (a str-based enum)."""

    YEARLY = "yearly"


@pytest.mark.parametrize(
    ("source", "period", "start", "missing"),
    [
        ("{COUNTER}", "never", 1, None),
        ("{COUNTER}", "yearly", 1, "{YEAR}"),
        ("{YEAR}-{COUNTER}", "yearly", 1, None),
        ("{YY}-{COUNTER}", "yearly", 1, None),
        ("{FY}-{COUNTER}", "yearly", 1, None),
        ("{FY}-{COUNTER}", "yearly", 4, "{YEAR}"),
        ("{ISOYEAR}-{COUNTER}", "yearly", 1, "{YEAR}"),
        ("{COUNTER}", "fiscal_yearly", 4, "{FY}"),
        ("{FYY}-{COUNTER}", "fiscal_yearly", 4, None),
        ("{FYEND}-{COUNTER}", "fiscal_yearly", 4, None),
        ("{YEAR}-{COUNTER}", "fiscal_yearly", 4, "{FY}"),
        ("{YEAR}-{COUNTER}", "fiscal_yearly", 1, None),
        ("{YEAR}-{COUNTER}", "monthly", 1, "{MONTH}"),
        ("{MONTH}-{COUNTER}", "monthly", 1, "{YEAR}"),
        ("{YEAR}{MONTH}-{COUNTER}", "monthly", 1, None),
        ("{FY}{MONTH}-{COUNTER}", "monthly", 4, None),
        ("{ISOYEAR}{WEEK}{MONTH}-{COUNTER}", "monthly", 1, "{YEAR}"),
        ("{YEAR}{MONTH}-{COUNTER}", "daily", 1, "{DAY}"),
        ("{MONTH}{DAY}-{COUNTER}", "daily", 1, "{YEAR}"),
        ("{YY}{MONTH}{DAY}-{COUNTER}", "daily", 1, None),
        ("{FYEND}{MONTH}{DAY}-{COUNTER}", "daily", 4, None),
        ("{YEAR}{DOY}-{COUNTER}", "daily", 1, None),
        ("{FY}{DOY}-{COUNTER}", "daily", 1, None),
        ("{FY}{DOY}-{COUNTER}", "daily", 4, "{YEAR}"),
        ("{DOY}-{COUNTER}", "daily", 1, "{YEAR}"),
        ("{DAY}-{COUNTER}", "daily", 1, "{MONTH}"),
    ],
)
def test_missing_reset_tokens(source: str, period: str, start: int, missing: str | None) -> None:
    advice = Pattern.compile(source).missing_reset_tokens(period, fiscal_year_start=start)
    if missing is None:
        assert advice is None
    else:
        assert advice is not None
        assert advice.startswith("add ")
        assert missing in advice


def test_missing_reset_tokens_accepts_str_enum_and_refuses_unknown() -> None:
    pattern = Pattern.compile("{COUNTER}")
    assert pattern.missing_reset_tokens(Period.YEARLY) is not None
    assert Pattern.compile("{YEAR}-{COUNTER}").missing_reset_tokens(Period.YEARLY) is None
    with pytest.raises(ValueError, match="weekly"):
        pattern.missing_reset_tokens("weekly")
    with pytest.raises(ValueError, match="fiscal_year_start"):
        pattern.missing_reset_tokens("never", fiscal_year_start=13)


# -- properties -----------------------------------------------------------------

SEPARATORS = ("-", "/", ".", " ", "#", "{{", "}}")
CONTEXT_NAMES = ("DEPT", "REGION", "X_1", "_T")
WORD_LITERALS = st.text(alphabet="ABCxyz019_é", min_size=1, max_size=3)
VALUE_TEXT = st.text(
    alphabet=st.characters(categories=["Lu", "Ll", "Lo", "Nd"], include_characters="_"),
    min_size=1,
    max_size=6,
)
# ISOYEAR, FY and FYEND can step one year outside the calendar year.
DAYS = st.dates(min_value=datetime.date(1001, 1, 1), max_value=datetime.date(9998, 12, 31))

Used = tuple[str, int | None]  # canonical name and width of one token occurrence


@st.composite
def token(draw: st.DrawFn, name: str, max_width: int) -> tuple[str, Used]:
    written = draw(st.sampled_from([name, name.lower(), name.capitalize()]))
    width = draw(st.none() | st.integers(1, max_width))
    if width is None:
        return "{" + written + "}", (name, None)
    zeros = draw(st.sampled_from(["", "0", "00"]))
    return f"{{{written}:{zeros}{width}}}", (name, width)


@st.composite
def valid_patterns(draw: st.DrawFn) -> tuple[str, list[Used]]:
    runs = draw(st.integers(1, 4))
    counter_run = draw(st.integers(0, runs - 1))
    pieces: list[str] = []
    used: list[Used] = []
    for run in range(runs):
        items: list[tuple[str, Used | None]] = []
        for _ in range(draw(st.integers(0, 3))):
            if draw(st.booleans()):
                items.append((draw(WORD_LITERALS), None))
            else:
                items.append(draw(token(draw(st.sampled_from(DATE_NAMES)), 6)))
        variable = "COUNTER" if run == counter_run else None
        variable = variable or draw(st.sampled_from([None, "CYCLE", *CONTEXT_NAMES]))
        if variable:
            spot = draw(st.integers(0, len(items)))
            items.insert(spot, draw(token(variable, 18 if variable == "COUNTER" else 8)))
        # Between runs at least one separator, at either end optionally some.
        edge = run == 0
        separators = st.lists(st.sampled_from(SEPARATORS), min_size=0 if edge else 1)
        pieces.append("".join(draw(separators)))
        for text, occurrence in items:
            pieces.append(text)
            if occurrence:
                used.append(occurrence)
    pieces.append("".join(draw(st.lists(st.sampled_from(SEPARATORS), max_size=2))))
    return "".join(pieces), used


@dataclasses.dataclass(frozen=True)
class Rendering:
    """A valid pattern with everything needed to render one of its numbers."""

    source: str
    used: list[Used]
    day: datetime.date
    fiscal_year_start: int
    counter: int
    cycle: int
    context: dict[str, str | int]

    def render_options(self) -> dict[str, Any]:
        """The keywords of ``render`` and ``render_around_counter`` besides the counter."""
        return {
            name: getattr(self, name) for name in ("day", "context", "fiscal_year_start", "cycle")
        }

    def expected_values(self) -> dict[str, int | str]:
        """What ``parse`` must read back from the rendered number."""
        fields = date_fields(self.day, fiscal_year_start=self.fiscal_year_start)
        expected: dict[str, int | str] = {}
        for name, width in self.used:
            if name in expected:
                continue
            if name in fields:
                expected[name] = fields[name]
            elif name in ("COUNTER", "CYCLE"):
                expected[name] = self.counter if name == "COUNTER" else self.cycle
            else:
                expected[name] = str(self.context[name.lower()]).rjust(width or 0, "0")
        return expected


@st.composite
def renderings(draw: st.DrawFn) -> Rendering:
    source, used = draw(valid_patterns())
    assume(len(source) <= 255)
    context = draw(
        st.fixed_dictionaries(
            {name.lower(): VALUE_TEXT | st.integers(0, 10**9) for name in CONTEXT_NAMES}
        )
    )
    assume(all(re.fullmatch(r"\w+", str(v)) for v in context.values()))
    return Rendering(
        source,
        used,
        day=draw(DAYS),
        fiscal_year_start=draw(st.integers(1, 12)),
        counter=draw(st.integers(0, 10**12)),
        cycle=draw(st.integers(1, 10**6)),
        context=context,
    )


# No deadline: other test runs may share the machine and slow single examples.
@settings(deadline=None)
@given(case=renderings())
def test_rendered_numbers_parse_back(case: Rendering) -> None:
    compiled = Pattern.compile(case.source)
    number = compiled.render(case.counter, **case.render_options())
    assert compiled.validate(number)
    assert compiled.parse(number) == case.expected_values()
    assert compiled.token_names == {name for name, _ in case.used}


@settings(deadline=None)
@given(case=renderings())
def test_render_around_counter_glues_to_render(case: Rendering) -> None:
    compiled = Pattern.compile(case.source)
    options = case.render_options()
    before, width, after = compiled.render_around_counter(**options)
    assert width == compiled.counter_width
    digits = str(case.counter).zfill(width) if width else str(case.counter)
    assert before + digits + after == compiled.render(case.counter, **options)


@settings(deadline=None)
@given(day=DAYS, start=st.integers(1, 12))
def test_date_fields_invariants(day: datetime.date, start: int) -> None:
    fields = date_fields(day, fiscal_year_start=start)
    assert fields["FYEND"] - fields["FY"] == (0 if start == 1 else 1)
    assert fields["FY"] <= fields["YEAR"] <= fields["FYEND"]
    assert fields["YY"] == fields["YEAR"] % 100
    fiscal_start = datetime.date(fields["FY"], start, 1)
    assert fiscal_start <= day
    months_in = (day.year - fiscal_start.year) * 12 + day.month - start
    assert 0 <= months_in < 12
    assert fields["FQ"] == months_in // 3 + 1
