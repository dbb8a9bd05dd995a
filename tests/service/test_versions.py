"""Pattern versions by document date; overlaps refused; caches follow new versions."""

from __future__ import annotations

from datetime import date

import pytest

from sa_sequencing import ConfigurationError
from sa_sequencing import PatternError


def test_document_date_picks_the_version(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{YEAR}-{COUNTER:4}", reset_period="yearly")
        version = seqs.define_version(
            "inv",
            "INV/{YEAR}/{COUNTER:6}",
            effective_from=date(2026, 7, 1),
            effective_until=date(2026, 9, 30),
            performed_by="ann",
        )
        assert version.pattern == "INV/{YEAR}/{COUNTER:6}"
        seqs.define_version("inv", "F{YY}-{COUNTER:5}", effective_from=date(2027, 1, 1))
        assert seqs.preview("inv", date=date(2026, 6, 30)) == "INV-2026-0001"
        assert seqs.generate("inv", date=date(2026, 6, 30)) == "INV-2026-0001"
        # a version changes the layout, not the counter: the year's counter goes on
        assert seqs.preview("inv", date=date(2026, 7, 1)) == "INV/2026/000002"
        assert seqs.generate("inv", date=date(2026, 9, 30)) == "INV/2026/000002"
        assert seqs.generate("inv", date=date(2026, 10, 1)) == "INV-2026-0003"
        assert seqs.generate_many("inv", 2, date=date(2030, 5, 5)) == ["F30-00001", "F30-00002"]
        assert [v.effective_from for v in seqs.versions("inv")] == [
            date(2026, 7, 1),
            date(2027, 1, 1),
        ]
        created = [e for e in seqs.audit_log("inv") if e.event == "pattern_version_created"]
        assert [(e.data["pattern"], e.performed_by) for e in created] == [
            ("INV/{YEAR}/{COUNTER:6}", "ann"),
            ("F{YY}-{COUNTER:5}", None),
        ]
        assert seqs.validate("inv", "INV/2026/000002")
        assert seqs.parse("inv", "F30-00002") == {"YY": 30, "COUNTER": 2}
        # numbers of every version can be voided
        seqs.update("inv", gap_policy="report_gaps_only")
        seqs.void("inv", "INV/2026/000002")
        seqs.void("inv", "F30-00002")
        assert seqs.gap_report("inv") == ["INV/2026/000002", "F30-00002"]


def test_cached_definitions_see_a_new_version(tx, sessions, sequencing):
    with tx() as seqs:
        seqs.define("q", "Q-{COUNTER:3}")
        assert seqs.generate("q", date=date(2026, 1, 1)) == "Q-001"  # cached now
    with tx() as seqs:
        seqs.define_version("q", "R-{COUNTER:3}", effective_from=date(2026, 1, 1))
    with tx() as seqs:
        assert seqs.generate("q", date=date(2026, 1, 2)) == "R-002"
        assert seqs.generate("q", date=date(2025, 12, 31)) == "Q-003"


def test_overlaps_and_bad_versions_are_refused(tx, snapshot):
    with tx() as seqs:
        seqs.define("inv", "INV-{YEAR}-{COUNTER:4}", reset_period="yearly")
        seqs.define_version(
            "inv",
            "A-{YEAR}-{COUNTER:4}",
            effective_from=date(2026, 1, 1),
            effective_until=date(2026, 6, 30),
        )
        seqs.define_version("inv", "B-{YEAR}-{COUNTER:4}", effective_from=date(2027, 1, 1))
    before = snapshot()
    with tx() as seqs:
        for start, until in [
            (date(2026, 6, 30), date(2026, 12, 31)),  # shares 30 June
            (date(2025, 1, 1), None),  # open-ended over both
            (date(2025, 1, 1), date(2026, 1, 1)),
            (date(2030, 1, 1), None),  # inside the open-ended one
        ]:
            with pytest.raises(ConfigurationError, match=r"'inv' \(global scope\).*overlaps"):
                seqs.define_version(
                    "inv", "C-{YEAR}-{COUNTER:4}", effective_from=start, effective_until=until
                )
        with pytest.raises(ConfigurationError, match="yearly reset would repeat"):
            seqs.define_version("inv", "C-{COUNTER:4}", effective_from=date(2026, 7, 1))
        with pytest.raises(PatternError, match=r"no \{COUNTER\}"):
            seqs.define_version("inv", "C-{YEAR}", effective_from=date(2026, 7, 1))
        with pytest.raises(ValueError, match="before effective_from"):
            seqs.define_version(
                "inv",
                "C-{YEAR}-{COUNTER:4}",
                effective_from=date(2026, 9, 1),
                effective_until=date(2026, 8, 1),
            )
        with pytest.raises(TypeError, match="effective_from"):
            seqs.define_version("inv", "C-{YEAR}-{COUNTER:4}", effective_from="2026-07-01")
    assert snapshot() == before
    with tx() as seqs:  # the hole between the two versions is free
        seqs.define_version(
            "inv",
            "C-{YEAR}-{COUNTER:4}",
            effective_from=date(2026, 7, 1),
            effective_until=date(2026, 12, 31),
        )
