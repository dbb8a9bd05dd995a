"""define(..., exist_ok=True): an application may define its sequences at every start."""

from __future__ import annotations

import pytest
from threads import run_together

from sa_sequencing import ArgumentTypeError
from sa_sequencing import DuplicateSequenceError


def _define(seqs, **changes):
    options = {"reset_period": "yearly", "gap_policy": "report_gaps_only", **changes}
    pattern = options.pop("pattern", "INV-{YEAR}-{COUNTER:5}")
    return seqs.define("inv", pattern, scope="t1", exist_ok=True, **options)


def test_the_same_definition_twice_returns_the_stored_one(tx, snapshot):
    with tx() as seqs:
        first = _define(seqs, metadata={"owner": "finance"})
        seqs.generate("inv", scope="t1")
    before = snapshot()
    with tx() as seqs:
        again = _define(seqs, metadata={"owner": "finance"})
    assert again == first
    assert snapshot() == before  # no audit row, no new revision
    with tx() as seqs:
        with pytest.raises(DuplicateSequenceError, match="already defined"):
            seqs.define("inv", "INV-{YEAR}-{COUNTER:5}", scope="t1", reset_period="yearly")


@pytest.mark.parametrize(
    ("change", "stored", "given"),
    [
        (
            {"pattern": "INV-{YEAR}-{COUNTER:6}"},
            "INV-{YEAR}-{COUNTER:5}",
            "INV-{YEAR}-{COUNTER:6}",
        ),
        ({"gap_policy": "fill_gaps"}, "report_gaps_only", "fill_gaps"),
        ({"step": 2}, 1, 2),
        ({"metadata": {"owner": "x"}}, None, {"owner": "x"}),
    ],
)
def test_a_different_definition_names_every_difference(tx, snapshot, change, stored, given):
    with tx() as seqs:
        _define(seqs)
    before = snapshot()
    with tx() as seqs:
        with pytest.raises(DuplicateSequenceError) as info:
            _define(seqs, **change)
    key = next(iter(change))
    assert info.value.differences == {key: (stored, given)}
    assert key in str(info.value) and "update()" in str(info.value)
    assert info.value.sequence == "inv" and info.value.scope == "t1"
    assert snapshot() == before


def test_exist_ok_must_be_a_bool(tx):
    with tx() as seqs:
        with pytest.raises(ArgumentTypeError):
            seqs.define("inv", "INV-{COUNTER}", exist_ok=1)


def test_two_processes_starting_at_once_both_get_the_definition(sessions, sequencing):
    """Two application instances start together: one creates, the other (which
    loses the race on the unique key) returns what the first stored."""

    def start(_: int):
        with sessions() as session, session.begin():
            return _define(sequencing.manager(session)).id

    ids = run_together(2, start)
    assert ids[0] == ids[1]
    with sessions() as session:
        assert len(sequencing.manager(session).list()) == 1


def test_four_instances_starting_at_once_all_get_the_definition(sessions, sequencing):
    """Four losers of the insert race re-read the winner's row: with an exclusive
    re-read, MariaDB deadlocked two of them nearly every time (each held a shared lock
    on the key from its failed insert); the re-read is shared now."""

    def start(_: int):
        with sessions() as session, session.begin():
            return _define(sequencing.manager(session)).id

    for _ in range(5):
        with sessions() as session, session.begin():
            for definition in sequencing.manager(session).list():
                sequencing.manager(session).delete(definition.name, scope=definition.scope)
        ids = run_together(4, start)
        assert len(set(ids)) == 1
