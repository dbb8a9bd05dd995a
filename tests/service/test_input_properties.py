"""Property-based attacks on every text and data input, on every database.

Whatever a caller passes, a call either succeeds and stores exactly what it was
given, or raises a :class:`~sa_sequencing.SequencingError` and writes nothing.
These are the tests that found the NUL bytes, lone surrogates, 4,300-digit
integers and silently rewritten metadata keys of issue 10; they stay in the suite
(the MariaDB collation that let distinct scopes share a counter was found here too;
its property now lives in ``test_key_collation.py``).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sa_sequencing import SequencingError

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Any text at all: control characters, NUL, lone surrogates, astral characters.
any_text = st.text(st.characters(codec=None, categories=None), max_size=40) | st.sampled_from(
    ["a\x00", "\ud800", "x" * 300, "", " a", "é", "😀", "\uff21\uff23\uff2d\uff25"]
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | any_text
)
json_like = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(any_text | st.integers(0, 3), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture
def base(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{D}-{COUNTER:4}", gap_policy="report_gaps_only")
        seqs.define("n", "N-{COUNTER:4}", gap_policy="report_gaps_only")
        seqs.generate("n")


def _refused_or_stored(tx, snapshot, call, check):
    before = snapshot()
    with tx() as seqs:
        try:
            result = call(seqs)
        except SequencingError:
            refused = True
        else:
            refused = False
    if refused:
        assert snapshot() == before
    else:
        with tx() as seqs:
            check(seqs, result)
        with tx() as seqs:  # leave the next example a clean slate
            for definition in seqs.list():
                if definition.name not in ("inv", "n"):
                    seqs.delete(definition.name, scope=definition.scope)


@PROPERTY
@given(scope=any_text)
def test_any_scope(base, tx, snapshot, scope):
    """Distinct scopes never sharing a counter is tests/store/test_key_collation.py's."""

    def check(seqs, number):
        assert number.startswith("N-")
        assert {e.scope for e in seqs.audit_log("n", scope=scope)} == {scope}

    _refused_or_stored(tx, snapshot, lambda s: s.generate("n", scope=scope), check)


@PROPERTY
@given(value=any_text | st.integers(min_value=-(2**20000), max_value=2**20000))
def test_any_context_value(base, tx, snapshot, value):
    def check(seqs, number):
        text = str.__str__(value) if isinstance(value, str) else str(value)
        assert number.startswith(f"INV-{text}-")
        assert seqs.validate("inv", number)
        assert seqs.parse("inv", number)["D"] == text

    _refused_or_stored(tx, snapshot, lambda s: s.generate("inv", context={"D": value}), check)


@PROPERTY
@given(actor=any_text, reason=any_text)
def test_any_actor_and_reason(base, tx, snapshot, actor, reason):
    def check(seqs, _):
        gap = seqs.gaps("n")[0]
        assert (gap.reason, gap.performed_by) == (reason, actor)

    _refused_or_stored(
        tx, snapshot, lambda s: s.void("n", "N-0001", reason=reason, performed_by=actor), check
    )


def _same_json(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@PROPERTY
@given(metadata=st.dictionaries(any_text | st.integers(0, 3), json_like, max_size=4))
def test_any_metadata_is_stored_exactly_or_refused(base, tx, snapshot, metadata):
    def check(seqs, _):
        assert _same_json(metadata, seqs.get("meta").metadata)

    _refused_or_stored(
        tx, snapshot, lambda s: s.define("meta", "M-{COUNTER}", metadata=metadata), check
    )


@PROPERTY
@given(text=any_text | st.text(alphabet="INV-0123456789\uff10\u0661", max_size=300))
def test_validate_and_parse_never_fail_on_untrusted_text(base, tx, text):
    with tx() as seqs:
        valid = seqs.validate("inv", text)
        assert valid in (True, False)
        if valid:
            assert seqs.parse("inv", text)["D"]
        else:
            with pytest.raises(SequencingError):
                seqs.parse("inv", text)
