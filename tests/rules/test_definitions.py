"""Definitions: define / get / find / list / update / delete and the scope-template rule."""

from __future__ import annotations

import pytest

from sa_sequencing import ALL_SCOPES
from sa_sequencing import ConfigurationError
from sa_sequencing import DuplicateSequenceError
from sa_sequencing import GapPolicy
from sa_sequencing import InvalidArgumentError
from sa_sequencing import OverflowBehavior
from sa_sequencing import PatternError
from sa_sequencing import ResetPeriod
from sa_sequencing import SequenceNotFoundError


def test_define_and_read_back(tx):
    with tx() as seqs:
        created = seqs.define(
            "invoice_number",
            "INV-{YEAR}-{COUNTER:5}",
            reset_period="yearly",
            gap_policy=GapPolicy.REPORT_GAPS_ONLY,
            timezone="Europe/Paris",
            metadata={"owner": "accounting"},
        )
    with tx() as seqs:
        got = seqs.get("invoice_number")
    assert got == created
    assert got.reset_period is ResetPeriod.YEARLY
    assert got.gap_policy is GapPolicy.REPORT_GAPS_ONLY
    assert got.overflow is OverflowBehavior.THROW_EXCEPTION
    assert got.timezone == "Europe/Paris"
    assert got.metadata == {"owner": "accounting"}
    assert got.scope is None
    assert got.created_at is not None and got.created_at.tzinfo is not None


def test_duplicate_define_is_refused_and_transaction_stays_usable(tx):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER}")
    with tx() as seqs:
        with pytest.raises(DuplicateSequenceError, match=r"'q' .*already defined"):
            seqs.define("q", "Q2-{COUNTER}")
        # the transaction goes on: the refusal left it usable
        assert seqs.generate("q") == "Q-1"
    with tx() as seqs:
        assert seqs.get("q").pattern == "Q-{COUNTER}"


def test_global_definition_is_a_template_each_scope_counting_alone(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER:5}")
        assert seqs.generate("inv", scope="t1") == "INV-00001"
        assert seqs.generate("inv", scope="t1") == "INV-00002"
        assert seqs.generate("inv", scope="t2") == "INV-00001"
        assert seqs.generate("inv") == "INV-00001"
        assert seqs.get("inv", scope="t1").scope is None  # served by the template


def test_scope_definition_overrides_template_even_after_cached_use(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER:5}")
        assert seqs.generate("inv", scope="t1") == "INV-00001"
    with tx() as seqs:
        seqs.define("inv", "T1-{COUNTER:3}", scope="t1")
    with tx() as seqs:
        assert seqs.generate("inv", scope="t1") == "T1-001"
        assert seqs.generate("inv", scope="t2") == "INV-00001"
        assert seqs.get("inv", scope="t1").scope == "t1"


def test_find_list_and_not_found(tx):
    with tx() as seqs:
        seqs.define("b", "B-{COUNTER}")
        seqs.define("a", "A-{COUNTER}")
        seqs.define("a", "A1-{COUNTER}", scope="t1")
        assert seqs.find("missing") is None
        with pytest.raises(SequenceNotFoundError, match=r"'missing'.*not defined"):
            seqs.get("missing")
        with pytest.raises(SequenceNotFoundError, match="'missing'"):
            seqs.generate("missing", scope="t9")
        assert [(d.name, d.scope) for d in seqs.list()] == [("a", None), ("a", "t1"), ("b", None)]
        assert [d.name for d in seqs.list(scope=None)] == ["a", "b"]
        assert [d.name for d in seqs.list(scope="t1")] == ["a"]
        assert len(seqs.list(scope=ALL_SCOPES)) == 3


def test_update_changes_pattern_and_is_audited(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER:4}")
        assert seqs.generate("inv") == "INV-0001"
        seqs.update("inv", pattern="NEW-{COUNTER:6}", performed_by="alice")
        assert seqs.generate("inv") == "NEW-000002"
        entry = seqs.audit_log("inv")[-2]
    assert entry.event == "pattern_modified"
    assert entry.performed_by == "alice"
    assert entry.data == {"changes": {"pattern": ["INV-{COUNTER:4}", "NEW-{COUNTER:6}"]}}


def test_update_of_counting_rules_refused_once_numbers_exist(tx, snapshot):
    with tx() as seqs:
        seqs.define("inv", "INV-{YEAR}-{COUNTER}", reset_period="yearly")
        seqs.update("inv", reset_period="monthly", pattern="INV-{YEAR}{MONTH}-{COUNTER}")
        seqs.generate("inv")
    before = snapshot()
    with tx() as seqs:
        with pytest.raises(ConfigurationError, match="reset_period cannot change once numbers"):
            seqs.update("inv", reset_period="yearly", pattern="INV-{YEAR}-{COUNTER}")
    assert snapshot() == before


def test_update_validates_the_merged_definition(tx, snapshot):
    with tx() as seqs:
        seqs.define("inv", "INV-{YEAR}-{COUNTER}", reset_period="yearly")
    before = snapshot()
    with tx() as seqs:
        with pytest.raises(ConfigurationError, match="would repeat numbers"):
            seqs.update("inv", pattern="INV-{COUNTER}")
        with pytest.raises(TypeError, match="unknown option"):
            seqs.update("inv", colour="red")
        with pytest.raises(SequenceNotFoundError, match="global definition serves this scope"):
            seqs.update("inv", scope="t1", step=2)
    assert snapshot() == before


def test_delete_removes_counters_keeps_ledger(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER}")
        seqs.generate("inv")
        seqs.delete("inv", performed_by="bob")
        assert seqs.find("inv") is None
        seqs.define("inv", "INV-{COUNTER}")
        assert seqs.generate("inv") == "INV-1"  # a fresh counter
        events = [e.event for e in seqs.audit_log("inv")]
    assert events == [
        "pattern_created",
        "number_generated",
        "sequence_deleted",
        "pattern_created",
        "number_generated",
    ]


@pytest.mark.parametrize(
    ("pattern", "options", "error", "message"),
    [
        ("INV-{COUNTER}", {"reset_period": "yearly"}, ConfigurationError, "add"),
        ("INV-{YEAR}-{COUNTER}", {"reset_period": "monthly"}, ConfigurationError, "MONTH"),
        ("INV-{COUNTER}", {"reset_limit": 10}, ConfigurationError, "CYCLE"),
        ("INV-{COUNTER", {}, PatternError, "position"),
        ("INV-{YEAR}", {}, PatternError, "COUNTER"),
        ("INV-{COUNTER}", {"reset_period": "weekly"}, ConfigurationError, "fiscal_yearly"),
        ("INV-{COUNTER}", {"gap_policy": "fill"}, ConfigurationError, "fill_gaps"),
        ("INV-{COUNTER}", {"overflow": "wrap"}, ConfigurationError, "extend_padding"),
        ("INV-{COUNTER}", {"step": -1}, ConfigurationError, "step"),
        ("INV-{COUNTER}", {"step": 0}, ConfigurationError, "step"),
        ("INV-{COUNTER}", {"start": -5}, ConfigurationError, "start"),
        ("INV-{COUNTER}", {"exhaustion_threshold": 0}, ConfigurationError, "exhaustion_threshold"),
        ("INV-{COUNTER}", {"timezone": "Mars/Olympus"}, ConfigurationError, "IANA"),
        ("INV-{COUNTER}", {"fiscal_year_start": 13}, ConfigurationError, "fiscal_year_start"),
        ("INV-{COUNTER:3}", {"start": 1000}, ConfigurationError, "capacity"),
        ("INV-{COUNTER}", {"step": "2"}, TypeError, "step must be an int"),
        ("INV-{COUNTER}", {"step": True}, TypeError, "step must be an int"),
        ("INV-{COUNTER}", {"metadata": {"x": object()}}, InvalidArgumentError, "JSON"),
        ("INV-{COUNTER}", {"cache_size": 1_000_001}, ConfigurationError, "cache_size"),
        (42, {}, TypeError, "pattern must be a str"),
    ],
)
def test_bad_definitions_are_refused_and_write_nothing(
    tx, snapshot, pattern, options, error, message
):
    before = snapshot()
    with tx() as seqs:
        with pytest.raises(error, match=message):
            seqs.define("bad", pattern, **options)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", ConfigurationError),
        ("  x", ConfigurationError),
        ("x" * 101, ConfigurationError),
        (5, TypeError),
    ],
)
def test_bad_names_are_refused(tx, snapshot, name, error):
    before = snapshot()
    with tx() as seqs:
        with pytest.raises(error):
            seqs.define(name, "A-{COUNTER}")
    assert snapshot() == before


def test_bad_scopes_are_refused(tx):
    with tx() as seqs:
        seqs.define("a", "A-{COUNTER}")
        with pytest.raises(ConfigurationError, match="scope=None for the global scope"):
            seqs.generate("a", scope="")
        with pytest.raises(ConfigurationError, match="limit is 191"):
            seqs.generate("a", scope="s" * 192)
        with pytest.raises(TypeError, match="scope must be"):
            seqs.generate("a", scope=1.5)
        assert seqs.generate("a", scope=7) == "A-1"  # int tenant ids are fine


def test_allow_repeats_opt_in(tx):
    with tx() as seqs:
        seqs.define("ticket", "T-{COUNTER:3}", reset_period="daily", allow_repeats=True)
        assert seqs.get("ticket").allow_repeats is True
