"""The definition gate without a database: ``validate_options`` refuses every option
value that cannot work with an error that names the option (``define`` and ``update``
write nothing then), names and scopes are checked, and a definition read back from
its row gives the options it was defined with."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import settings
from rule_defs import definition
from rule_defs import definitions
from rule_defs import options

from sa_sequencing.errors import ArgumentTypeError
from sa_sequencing.errors import ConfigurationError
from sa_sequencing.errors import InvalidArgumentError
from sa_sequencing.errors import PatternError
from sa_sequencing.errors import SequenceLockedError
from sa_sequencing.errors import SequencingError
from sa_sequencing.rules.definitions import DEFAULTS
from sa_sequencing.rules.definitions import locked_error
from sa_sequencing.rules.definitions import max_counter_digits
from sa_sequencing.rules.definitions import normalize_name
from sa_sequencing.rules.definitions import normalize_scope
from sa_sequencing.rules.definitions import validate_options
from sa_sequencing.rules.enums import GapPolicy
from sa_sequencing.rules.enums import OverflowBehavior
from sa_sequencing.rules.enums import ResetPeriod
from sa_sequencing.rules.limits import MAX_COUNTER
from sa_sequencing.rules.limits import NUMBER_LENGTH

PATTERN = "INV-{YEAR}-{CYCLE}-{COUNTER:4}"


def test_the_defaults_are_accepted_and_stored_as_plain_values():
    values = validate_options("inv", "", "INV-{COUNTER:4}", options())
    assert values == {
        "pattern": "INV-{COUNTER:4}",
        "reset_period": "never",
        "gap_policy": "allow_gaps",
        "overflow": "throw_exception",
        "step": 1,
        "start": 1,
        "exhaustion_threshold": 90,
        "fiscal_year_start": 1,
        "cache_size": 0,
        "audit_numbers": True,
        "allow_repeats": False,
        "reset_limit": None,
        "timezone": "UTC",
        "metadata_": None,
        "counter_by": (),
    }


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("step", 0, ConfigurationError),
        ("step", -1, ConfigurationError),
        ("step", 2**31, ConfigurationError),
        ("step", "1", ArgumentTypeError),
        ("step", 1.0, ArgumentTypeError),
        ("step", True, ArgumentTypeError),
        ("start", -1, ConfigurationError),
        ("start", MAX_COUNTER + 1, ConfigurationError),
        ("start", None, ArgumentTypeError),
        ("reset_limit", 0, ConfigurationError),
        ("reset_limit", 2**31, ConfigurationError),
        ("reset_limit", "3", ArgumentTypeError),
        ("exhaustion_threshold", 0, ConfigurationError),
        ("exhaustion_threshold", 101, ConfigurationError),
        ("exhaustion_threshold", 0.5, ArgumentTypeError),
        ("fiscal_year_start", 0, ConfigurationError),
        ("fiscal_year_start", 13, ConfigurationError),
        ("fiscal_year_start", "4", ArgumentTypeError),
        ("cache_size", -1, ConfigurationError),
        ("cache_size", 1_000_001, ConfigurationError),
        ("cache_size", False, ArgumentTypeError),
        ("reset_period", "weekly", ConfigurationError),
        ("reset_period", 1, ConfigurationError),
        ("gap_policy", "fill", ConfigurationError),
        ("overflow", "wrap", ConfigurationError),
        ("audit_numbers", 1, ArgumentTypeError),
        ("audit_numbers", "yes", ArgumentTypeError),
        ("allow_repeats", None, ArgumentTypeError),
        ("timezone", "Mars/Olympus", ConfigurationError),
        ("timezone", 0, ArgumentTypeError),
        ("timezone", "A" * 65, InvalidArgumentError),
        ("metadata", ["a"], ArgumentTypeError),
        ("metadata", {1: "a"}, ArgumentTypeError),
        ("metadata", {"a": float("nan")}, InvalidArgumentError),
        ("metadata", {"a": 2**63}, InvalidArgumentError),
    ],
)
def test_a_bad_option_is_refused_with_an_error_naming_it(option, value, error):
    with pytest.raises(error) as raised:
        validate_options("inv", "", PATTERN, options(**{option: value}))
    assert isinstance(raised.value, SequencingError)
    assert option in str(raised.value)


def test_an_unknown_option_is_named_with_the_known_ones():
    with pytest.raises(ArgumentTypeError, match=r"unknown option\(s\) colour, size; known: "):
        validate_options("inv", "", PATTERN, {**options(), "size": 1, "colour": 2})


@pytest.mark.parametrize(
    ("pattern", "given", "error", "named"),
    [
        # the pattern cannot be read, or numbers could outgrow the number column
        ("INV-{COUNTER", {}, PatternError, ["inv", "INV-{COUNTER"]),
        ("INV-{COUNTER}-{COUNTER}", {}, PatternError, ["inv"]),
        (None, {}, ArgumentTypeError, ["pattern"]),
        ("X" * 256, {}, InvalidArgumentError, ["pattern", "255"]),
        ("X" * 240 + "{COUNTER}", {}, PatternError, ["shorten", str(NUMBER_LENGTH)]),
        # options that contradict the pattern
        ("INV-{COUNTER:3}", {"start": 1000}, ConfigurationError, ["start 1000", "999"]),
        ("INV-{COUNTER}", {"reset_period": "yearly"}, ConfigurationError, ["yearly", "INV-"]),
        ("{YEAR}-{COUNTER}", {"reset_period": "monthly"}, ConfigurationError, ["monthly"]),
        ("INV-{COUNTER}", {"reset_limit": 5}, ConfigurationError, ["reset_limit=5", "{CYCLE}"]),
        ("{FYEND}-{COUNTER}", {"reset_period": "fiscal_yearly", "fiscal_year_start": 4}, None, []),
    ],
)
def test_options_that_contradict_the_pattern_are_refused(pattern, given, error, named):
    if error is None:
        assert validate_options("inv", "", pattern, options(**given))["pattern"] == pattern
        return
    with pytest.raises(error) as raised:
        validate_options("inv", "", pattern, options(**given))
    for text in named:
        assert text in str(raised.value)
    if isinstance(raised.value, (ConfigurationError, PatternError)) and not isinstance(
        raised.value, InvalidArgumentError
    ):
        assert raised.value.sequence == "inv"


def test_repeats_are_allowed_only_when_asked_for():
    given = options(reset_period="daily", reset_limit=3, allow_repeats=True)
    values = validate_options("inv", "", "INV-{COUNTER}", given)
    assert (values["reset_period"], values["reset_limit"]) == ("daily", 3)


def test_enum_options_take_members_and_any_case():
    values = validate_options(
        "inv",
        "",
        PATTERN,
        options(
            reset_period=" Yearly ",
            gap_policy=GapPolicy.FILL_GAPS,
            overflow="SWITCH_PATTERN",
        ),
    )
    assert (values["reset_period"], values["gap_policy"], values["overflow"]) == (
        "yearly",
        "fill_gaps",
        "switch_pattern",
    )


@settings(max_examples=60, deadline=None)
@given(definitions())
def test_a_definition_read_back_gives_the_options_it_was_defined_with(d):
    again = validate_options(d.name, "", d.pattern, d.options())
    assert definition(d.pattern, **{k: again[k] for k in DEFAULTS if k in again}) == d
    assert isinstance(d.reset_period, ResetPeriod)
    assert isinstance(d.overflow, OverflowBehavior)


# -- names and scopes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", ConfigurationError),
        (" inv", ConfigurationError),
        ("inv ", ConfigurationError),
        ("in\nv", ConfigurationError),
        ("n" * 101, ConfigurationError),
        ("bad\ud800", InvalidArgumentError),
        (None, ArgumentTypeError),
        (5, ArgumentTypeError),
    ],
)
def test_bad_names_are_refused(name, error):
    with pytest.raises(error, match="sequence name"):
        normalize_name(name)


def test_names_and_scopes_are_kept_as_given():
    assert normalize_name("n" * 100) == "n" * 100
    assert normalize_name("Invoice nº 1") == "Invoice nº 1"
    assert normalize_scope(None) == ""
    assert normalize_scope(42) == "42"
    assert normalize_scope("tenant-7") == "tenant-7"


@pytest.mark.parametrize(
    ("scope", "error"),
    [
        ("", ConfigurationError),
        (" t", ConfigurationError),
        ("t\x00", ConfigurationError),
        ("s" * 192, ConfigurationError),
        (True, ArgumentTypeError),
        (1.5, ArgumentTypeError),
        (b"t", ArgumentTypeError),
    ],
)
def test_bad_scopes_are_refused(scope, error):
    with pytest.raises(error, match="scope"):
        normalize_scope(scope)


# -- what a definition tells -----------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "bounded", "digits"),
    [(4, True, 4), (4, False, 19), (None, True, 19), (None, False, 19), (18, True, 18)],
)
def test_the_most_digits_a_counter_can_reach(width, bounded, digits):
    assert max_counter_digits(width, bounded=bounded) == digits
    assert digits == (width if width and bounded else len(str(MAX_COUNTER)))


def test_a_locked_definition_says_how_to_unlock_it():
    template = definition()
    error = locked_error(template, "tenant-1")
    assert isinstance(error, SequenceLockedError)
    assert "unlock('doc')" in str(error)
    assert (error.sequence, error.scope) == ("doc", "tenant-1")
    scoped = dataclasses.replace(template, scope="tenant-1")
    assert "unlock('doc', scope='tenant-1')" in str(locked_error(scoped, "tenant-1"))
