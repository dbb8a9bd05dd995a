"""Every bad input is refused before anything is written, with a SequencingError.

Each case runs in a transaction that *commits* after the refusal was caught: if the
library had written anything before refusing (a counter moved, a ledger row), the
commit would keep it, and the before/after snapshot of the six tables would differ.
A raw driver error (``DataError``, ``StatementError``), ``OverflowError``,
``UnicodeEncodeError`` or ``RecursionError`` fails the case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import pytest

from sa_sequencing import ArgumentTypeError
from sa_sequencing import ConfigurationError
from sa_sequencing import InvalidArgumentError
from sa_sequencing import InvalidCounterValueError
from sa_sequencing import PatternError
from sa_sequencing import SequenceExhaustedError
from sa_sequencing import SequenceManager
from sa_sequencing import SequenceNotFoundError
from sa_sequencing import SequencingError

NUL = "a\x00b"
SURROGATE = "a\ud800b"
HUGE_INT = 10**5000  # str() refuses it: Python's 4,300-digit limit
DEEP: dict[str, Any] = {}
_inner = DEEP
for _ in range(5000):
    _inner["k"] = {}
    _inner = _inner["k"]

CTX = {"D": "X"}
#: Unusable context text: refused as an argument, or by the pattern it cannot go in.
TEXT_ERRORS = (InvalidArgumentError, PatternError)
DAY = date(2026, 3, 1)


@pytest.fixture
def prepared(tx):
    """Sequences with one issued number and an open reservation."""
    with tx() as seqs:
        seqs.define(
            "inv",
            "INV-{YEAR}-{D}-{COUNTER:5}",
            reset_period="yearly",
            gap_policy="report_gaps_only",
        )
        seqs.define("n", "N-{COUNTER}", gap_policy="report_gaps_only")
        seqs.define("m", "M-{YEAR}{MONTH}{DAY}-{COUNTER}", reset_period="daily")
        seqs.define("fy", "F-{FY}-{COUNTER}", reset_period="fiscal_yearly", fiscal_year_start=4)
        seqs.define(
            "wide", "W-{YEAR}-{COUNTER}", reset_period="yearly", gap_policy="report_gaps_only"
        )
        assert seqs.generate("inv", context=CTX, date=DAY) == "INV-2026-X-00001"
        assert seqs.generate("n") == "N-1"
        reservation = seqs.reserve("n", 2)
    return reservation.id


Call = Callable[[SequenceManager], object]


def _inv(seqs: SequenceManager, **kw: Any) -> object:
    return seqs.generate("inv", context=kw.pop("context", CTX), date=kw.pop("date", DAY), **kw)


# (id, call, expected error class)
CASES: list[tuple[str, Call, type[BaseException]]] = [
    # -- text that no database can store, or stores differently ------------------------
    ("context-nul", lambda s: _inv(s, context={"D": NUL}), TEXT_ERRORS),
    ("context-surrogate", lambda s: _inv(s, context={"D": SURROGATE}), TEXT_ERRORS),
    ("context-huge-int", lambda s: _inv(s, context={"D": HUGE_INT}), TEXT_ERRORS),
    ("context-key-not-str", lambda s: _inv(s, context={1: "x", "D": "X"}), ArgumentTypeError),
    ("context-too-long", lambda s: _inv(s, context={"D": "x" * 300}), PatternError),
    ("context-not-mapping", lambda s: _inv(s, context=[("D", "X")]), ArgumentTypeError),
    ("many-context-nul", lambda s: s.generate_many("inv", 2, context={"D": NUL}), SequencingError),
    ("preview-context-nul", lambda s: s.preview("inv", context={"D": NUL}), InvalidArgumentError),
    ("scope-nul", lambda s: s.generate("n", scope=NUL), ConfigurationError),
    ("scope-surrogate", lambda s: s.generate("n", scope=SURROGATE), InvalidArgumentError),
    ("scope-float", lambda s: s.generate("n", scope=1.5), ArgumentTypeError),
    ("name-surrogate", lambda s: s.generate("n" + SURROGATE), InvalidArgumentError),
    ("name-int", lambda s: s.generate(5), ArgumentTypeError),
    # -- performed_by, on every method that takes it -----------------------------------
    *[
        (f"{method}-actor-{label}", call, error)
        for label, actor, error in [
            ("nul", NUL, InvalidArgumentError),
            ("surrogate", SURROGATE, InvalidArgumentError),
            ("too-long", "x" * 256, InvalidArgumentError),
            ("int", 5, ArgumentTypeError),
        ]
        for method, call in [
            ("generate", lambda s, a=actor: s.generate("n", performed_by=a)),
            ("generate_many", lambda s, a=actor: s.generate_many("n", 2, performed_by=a)),
            ("define", lambda s, a=actor: s.define("new", "X-{COUNTER}", performed_by=a)),
            ("update", lambda s, a=actor: s.update("n", step=2, performed_by=a)),
            ("delete", lambda s, a=actor: s.delete("n", performed_by=a)),
            ("lock", lambda s, a=actor: s.lock("n", performed_by=a)),
            ("unlock", lambda s, a=actor: s.unlock("n", performed_by=a)),
            ("void", lambda s, a=actor: s.void("n", "N-1", performed_by=a)),
            ("override", lambda s, a=actor: s.override("n", 100, performed_by=a)),
            ("reserve", lambda s, a=actor: s.reserve("n", 2, performed_by=a)),
            ("release_expired", lambda s, a=actor: s.release_expired(performed_by=a)),
            (
                "define_version",
                lambda s, a=actor: s.define_version(
                    "n", "V-{COUNTER}", effective_from=date(2030, 1, 1), performed_by=a
                ),
            ),
        ]
    ],
    # -- numbers given back to us --------------------------------------------------------
    ("void-huge-digits", lambda s: s.void("n", "N-" + "9" * 5000), InvalidArgumentError),
    ("void-nul", lambda s: s.void("n", "N-1\x00"), InvalidArgumentError),
    ("void-surrogate", lambda s: s.void("n", "N-1" + SURROGATE), InvalidArgumentError),
    ("void-int", lambda s: s.void("n", 1), ArgumentTypeError),
    ("void-reason-nul", lambda s: s.void("n", "N-1", reason=NUL), InvalidArgumentError),
    (
        "void-reason-surrogate",
        lambda s: s.void("n", "N-1", reason=SURROGATE),
        InvalidArgumentError,
    ),
    ("parse-huge-digits", lambda s: s.parse("n", "N-" + "9" * 5000), SequencingError),
    ("parse-nul", lambda s: s.parse("n", "N-1\x00"), SequencingError),
    ("parse-int", lambda s: s.parse("n", 1), ArgumentTypeError),
    ("validate-int", lambda s: s.validate("n", 1), ArgumentTypeError),
    # -- counters beyond a signed 64-bit integer -------------------------------------------
    ("override-max", lambda s: s.override("n", 2**63), InvalidCounterValueError),
    ("override-str", lambda s: s.override("n", "100"), ArgumentTypeError),
    (
        # each skipped value would be a gap row; the period's counter does not exist
        # yet, and the refusal must not create it either
        "override-skips-too-many",
        lambda s: s.override("wide", 2_000_000, date=date(2031, 1, 1)),
        InvalidCounterValueError,
    ),
    ("override-bool", lambda s: s.override("n", True), ArgumentTypeError),
    ("many-2**63", lambda s: s.generate_many("n", 2**63), InvalidArgumentError),
    ("many-negative", lambda s: s.generate_many("n", -1), InvalidArgumentError),
    ("many-str", lambda s: s.generate_many("n", "3"), ArgumentTypeError),
    ("reserve-2**63", lambda s: s.reserve("n", 2**63), InvalidArgumentError),
    ("reserve-zero", lambda s: s.reserve("n", 0), InvalidArgumentError),
    # -- reservations ----------------------------------------------------------------------
    ("reserve-ttl-max", lambda s: s.reserve("n", 2, ttl=timedelta.max), InvalidArgumentError),
    ("reserve-ttl-zero", lambda s: s.reserve("n", 2, ttl=timedelta(0)), InvalidArgumentError),
    ("reserve-ttl-int", lambda s: s.reserve("n", 2, ttl=30), ArgumentTypeError),
    ("finalize-nul", lambda s: s.finalize("r\x00"), SequencingError),
    ("finalize-surrogate", lambda s: s.finalize(SURROGATE), SequencingError),
    ("release-too-long", lambda s: s.release("r" * 300), SequencingError),
    (
        "release-expired-naive",
        lambda s: s.release_expired(now=datetime(2026, 1, 1)),
        SequencingError,
    ),
    # -- dates at the ends of the calendar -------------------------------------------------
    *[
        (f"date-9999-{name}", lambda s, n=name: s.generate(n, date=date(9999, 12, 31)), None)
        for name in ("inv", "m", "fy")
    ],
    (
        "date-past-9999-in-zone",
        lambda s: s.generate("m", date=datetime(9999, 12, 31, 23, tzinfo=timezone.utc)),
        None,
    ),
    ("date-str", lambda s: s.generate("n", date="2026-01-01"), ArgumentTypeError),
    # -- metadata ---------------------------------------------------------------------------
    (
        "metadata-int-key",
        lambda s: s.define("x", "X-{COUNTER}", metadata={1: "a"}),
        ArgumentTypeError,
    ),
    (
        "metadata-mixed-keys",
        lambda s: s.define("x", "X-{COUNTER}", metadata={"1": "a", 1: "b"}),
        ArgumentTypeError,
    ),
    ("metadata-deep", lambda s: s.define("x", "X-{COUNTER}", metadata=DEEP), InvalidArgumentError),
    (
        "metadata-nan",
        lambda s: s.define("x", "X-{COUNTER}", metadata={"a": float("nan")}),
        InvalidArgumentError,
    ),
    (
        "metadata-bytes",
        lambda s: s.define("x", "X-{COUNTER}", metadata={"a": b"x"}),
        InvalidArgumentError,
    ),
    (
        "metadata-nul",
        lambda s: s.define("x", "X-{COUNTER}", metadata={"a": NUL}),
        InvalidArgumentError,
    ),
    (
        "metadata-surrogate-key",
        lambda s: s.define("x", "X-{COUNTER}", metadata={SURROGATE: 1}),
        InvalidArgumentError,
    ),
    (
        "metadata-huge-int",
        lambda s: s.define("x", "X-{COUNTER}", metadata={"a": HUGE_INT}),
        InvalidArgumentError,
    ),
    (
        "metadata-too-big",
        lambda s: s.define("x", "X-{COUNTER}", metadata={"a": "x" * 70_000}),
        InvalidArgumentError,
    ),
    ("update-metadata-int-key", lambda s: s.update("n", metadata={1: "a"}), ArgumentTypeError),
    # -- patterns ---------------------------------------------------------------------------
    (
        "pattern-never-fits",
        lambda s: s.define("x", "X" * 250 + "{COUNTER:10}"),
        InvalidArgumentError,
    ),
    (
        "version-never-fits",
        lambda s: s.define_version(
            "n", "X" * 250 + "{COUNTER:10}", effective_from=date(2030, 1, 1)
        ),
        InvalidArgumentError,
    ),
    ("pattern-nul", lambda s: s.define("x", "X\x00{COUNTER}"), InvalidArgumentError),
    ("pattern-surrogate", lambda s: s.define("x", SURROGATE + "{COUNTER}"), InvalidArgumentError),
    (
        "timezone-nul",
        lambda s: s.define("x", "X-{COUNTER}", timezone="UTC\x00"),
        InvalidArgumentError,
    ),
    # -- other arguments ----------------------------------------------------------------------
    ("audit-limit-negative", lambda s: s.audit_log("n", limit=-1), InvalidArgumentError),
    ("audit-limit-str", lambda s: s.audit_log("n", limit="5"), ArgumentTypeError),
    ("gaps-include-filled-str", lambda s: s.gaps("n", include_filled="yes"), ArgumentTypeError),
    ("exist-ok-str", lambda s: s.define("x", "X-{COUNTER}", exist_ok="yes"), ArgumentTypeError),
]


@pytest.mark.parametrize(("label", "call", "error"), CASES, ids=[c[0] for c in CASES])
def test_refused_and_nothing_written(prepared, tx, snapshot, label, call, error):
    before = snapshot()
    with tx() as seqs:
        try:
            result = call(seqs)
        except SequencingError as exc:
            if error is not None:
                assert isinstance(exc, error), f"{type(exc).__name__}: {exc}"
            assert str(exc), "an error must say what is wrong"
        else:
            # Only the calendar-end cases may succeed: a real date in year 9999.
            assert error is None, f"accepted: {result!r}"
            return
    assert snapshot() == before


@pytest.mark.parametrize(
    "text",
    [
        "N-" + "9" * 5000,
        "N-1\x00",
        "N-1" + SURROGATE,
        "N-" + "1" * 1_000_000,
        "",
        "N-\u0661",  # an Arabic-Indic digit: \d matches it, int() reads it
        "N-\uff11",  # a full-width digit
        "N--1",
        "N-+1",
        "N- 1",
    ],
)
def test_validate_never_raises_on_untrusted_text(prepared, tx, text):
    with tx() as seqs:
        assert seqs.validate("n", text) is False


def test_generate_many_zero_returns_an_empty_list(prepared, tx, snapshot):
    before = snapshot()
    with tx() as seqs:
        assert seqs.generate_many("n", 0) == []
        assert seqs.generate_many("inv", 0, context=CTX, date=DAY) == []
        # an empty batch has no first row to take the context from
        assert seqs.generate_many("inv", 0) == []
        with pytest.raises(SequenceNotFoundError):
            seqs.generate_many("undefined", 0)
    assert snapshot() == before
    with tx() as seqs:
        assert seqs.generate("n") == "N-4"  # 1 issued, 2 and 3 reserved


@pytest.mark.parametrize("overflow", ["throw_exception", "extend_padding"])
def test_the_last_signed_64_bit_value_is_issued_then_refused(tx, snapshot, overflow):
    with tx() as seqs:
        seqs.define("big", "B-{COUNTER:3}", overflow=overflow)
        seqs.define("free", "F-{COUNTER}")
        if overflow == "extend_padding":
            seqs.override("big", 2**63 - 2)
            assert seqs.generate("big") == f"B-{2**63 - 1}"
        seqs.override("free", 2**63 - 3)
        assert seqs.generate_many("free", 2) == [f"F-{2**63 - 2}", f"F-{2**63 - 1}"]
    before = snapshot()
    for name in ("free", "big") if overflow == "extend_padding" else ("free",):
        with tx() as seqs:
            with pytest.raises(SequenceExhaustedError, match="largest value a counter holds"):
                seqs.generate(name)
            with pytest.raises(SequenceExhaustedError):
                seqs.generate_many(name, 3)
            with pytest.raises(SequenceExhaustedError):
                seqs.preview(name)
            with pytest.raises(InvalidCounterValueError):
                seqs.override(name, 2**63)
    assert snapshot() == before


def test_generate_many_near_the_top_is_refused_whole(tx, snapshot):
    with tx() as seqs:
        seqs.define("free", "F-{COUNTER}", step=1000)
        seqs.override("free", 2**63 - 3001)
    before = snapshot()
    with tx() as seqs:
        with pytest.raises(SequenceExhaustedError):
            seqs.generate_many("free", 4)  # the 4th would pass 2**63 - 1
    assert snapshot() == before
    with tx() as seqs:
        assert seqs.generate_many("free", 3)[-1] == f"F-{2**63 - 1}"


def test_override_skips_are_gaps_with_reason_and_actor(tx):
    with tx() as seqs:
        seqs.define("r", "R-{D}-{COUNTER:4}", gap_policy="report_gaps_only")
        seqs.define("f", "F-{COUNTER:4}", gap_policy="fill_gaps", step=2)
        seqs.define("a", "A-{COUNTER:4}")  # allow_gaps: no registry
        seqs.generate("r", context={"D": "X"})
        seqs.generate("f")
        seqs.override("r", 4, performed_by="alice")
        seqs.override("f", 7, performed_by="bob")
        seqs.override("a", 5, performed_by="carol")
    with tx() as seqs:
        assert seqs.gap_report("r") == ["R-?-0002", "R-?-0003", "R-?-0004"]
        gaps = seqs.gaps("r")
        assert {(g.reason, g.status, g.performed_by) for g in gaps} == {
            ("override", "skipped", "alice")
        }
        assert seqs.gap_report("f") == ["F-0003", "F-0005", "F-0007"]
        # skipped values are never served, even under fill_gaps
        assert seqs.generate("f") == "F-0009"
        assert seqs.gap_report("a") == []
        assert seqs.metrics("r").gap_count == 3
        # every value up to the counter is issued or explained
        issued = {e.number for e in seqs.audit_log("r", limit=None) if e.number}
        assert sorted(issued | set(seqs.gap_report("r"))) == [
            "R-?-0002",
            "R-?-0003",
            "R-?-0004",
            "R-X-0001",
        ]
        with pytest.raises(InvalidCounterValueError, match="already a gap"):
            seqs.void("f", "F-0005")


@pytest.mark.parametrize(
    ("pattern", "reset"),
    [
        ("M-{YEAR}{MONTH}{DAY}-{COUNTER}", "daily"),
        ("M-{YEAR}{MONTH}-{COUNTER}", "monthly"),
        ("M-{YEAR}-{COUNTER}", "yearly"),
        ("M-{FY}-{COUNTER}", "fiscal_yearly"),
        ("M-{ISOYEAR}-{WEEK}-{DOY}-{COUNTER}", "never"),
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_the_last_day_of_9999_in_any_zone(tx, pattern, reset, zone):
    """A real date: numbered, previewed, voided and reported, or refused cleanly."""
    last_day = date(9999, 12, 31)
    with tx() as seqs:
        seqs.define(
            "end",
            pattern,
            reset_period=reset,
            timezone=zone,
            gap_policy="report_gaps_only",
            fiscal_year_start=1 if reset != "fiscal_yearly" else 4,
            allow_repeats=reset == "never",
        )
        try:
            number = seqs.generate("end", date=last_day)
        except SequencingError as exc:
            # {FY} of a fiscal year starting in 9999 is 9999; {ISOYEAR} of 9999-12-31 is
            # 9999 too; nothing here should be refused, but if it is, it is clean.
            pytest.fail(f"refused a real date: {exc}")
        assert seqs.preview("end", date=last_day) != number
        seqs.void("end", number)
        assert seqs.gap_report("end") == [number]
        seqs.metrics("end", date=last_day)
    with tx() as seqs:
        # an instant that is already year 10000 in the zone, or still 9999
        late = datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)
        try:
            seqs.generate("end", date=late)
        except InvalidArgumentError as exc:
            assert zone == "Pacific/Kiritimati" and "9999" in str(exc)


@pytest.mark.parametrize("actor", [NUL, SURROGATE, "x" * 256, 5])
def test_performed_by_is_checked_by_finalize_release_and_generate_batch(
    prepared, tx, snapshot, actor
):
    from sa_sequencing import NumberRequest

    before = snapshot()
    with tx() as seqs:
        with pytest.raises(SequencingError):
            seqs.finalize(prepared, performed_by=actor)
        with pytest.raises(SequencingError):
            seqs.release(prepared, performed_by=actor)
        with pytest.raises(SequencingError):
            seqs.generate_batch([NumberRequest("n", 2)], performed_by=actor)
    assert snapshot() == before
