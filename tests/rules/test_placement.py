"""The placement cache never serves a stale text: the numbers follow a changed
definition, the document day and the context at once (a new pattern version:
test_versions.test_cached_definitions_see_a_new_version)."""

from __future__ import annotations

from datetime import date

import pytest

from sa_sequencing.allocation.caches import PlacementCache


def test_a_changed_pattern_is_used_by_the_next_number(tx):
    with tx() as seqs:
        seqs.define("inv", "INV-{COUNTER:3}")
        assert seqs.generate("inv") == "INV-001"
    with tx() as seqs:
        seqs.update("inv", pattern="BILL-{COUNTER:4}")
    with tx() as seqs:
        assert seqs.generate("inv") == "BILL-0002"


def test_context_is_rendered_per_number_and_checked_after_a_cached_placement(tx, snapshot):
    with tx() as seqs:
        seqs.define("doc", "D-{COUNTER}")
        seqs.define("dept", "{DEPT}-{COUNTER}")
        assert seqs.generate("doc") == "D-1"
        assert seqs.generate("dept", context={"DEPT": "A"}) == "A-1"
        assert seqs.generate("dept", context={"dept": "B"}) == "B-2"
    before = snapshot()
    with tx() as seqs:
        # an empty, non-mapping context is refused even where the context-free
        # placement of the same (sequence, scope, day) is cached
        with pytest.raises(TypeError, match="context must be a mapping"):
            seqs.generate("doc", context=[])
    assert snapshot() == before


def test_the_cache_is_bounded(tx, sequencing, sessions):
    cache = PlacementCache()
    cache.maxsize = 3
    with tx() as seqs:
        seqs.define("doc", "D-{DAY}-{COUNTER}")
    with sessions() as session:
        definition = sequencing.allocator.definition(session.connection(), "doc", "")
    placements = [cache.place(definition, "", date(2026, 1, day), None) for day in (1, 2, 3)]
    assert cache.place(definition, "", date(2026, 1, 2), None) is placements[1]
    assert [p.prefix for p in placements] == ["D-01-", "D-02-", "D-03-"]
    cache.place(definition, "", date(2026, 1, 4), None)
    assert len(cache._entries) <= cache.maxsize
