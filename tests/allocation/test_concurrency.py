"""Concurrency: real connections in threads and processes; no duplicate, no hole."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time

import pytest
from threads import Cancelled
from threads import commit_in_threads
from workers import draw_numbers

from sa_sequencing import DuplicateSequenceError

THREADS = 8
PROCESSES = 4


def _assert_gapless(numbers: list[str], prefix: str = "N-") -> None:
    values = sorted(int(n.removeprefix(prefix)) for n in numbers)
    assert len(values) == len(set(values)), "duplicate numbers"
    assert values == list(range(1, len(values) + 1)), "a hole in the committed numbers"


def _committed_in_ledger(tx, name):
    with tx() as seqs:
        return [
            e.number for e in seqs.audit_log(name, limit=None) if e.event == "number_generated"
        ]


def test_threads_commit_exactly_one_to_n(tx, sessions, sequencing):
    """8 threads, 25 transactions each, a fifth rolled back on purpose.

    On InnoDB the first number of a counter creates its row: if the creating
    transaction rolls back while others wait for that row, InnoDB picks one of the
    waiters as a deadlock victim (a retryable ``SequenceBusyError``), which runs again
    as an application would (``run_in_transaction``)."""
    with tx() as seqs:
        seqs.define("hot", "N-{COUNTER}")

    def draw(thread: int, round_: int, session) -> list[str]:
        rng = random.Random(thread * 1000 + round_)
        seqs = sequencing.manager(session)
        count = rng.choice((1, 1, 1, 2, 3))
        numbers = seqs.generate_many("hot", count) if count > 1 else [seqs.generate("hot")]
        if rng.random() < 0.2:
            raise Cancelled
        return numbers

    results = commit_in_threads(THREADS, 25, sessions, draw, attempts=5)
    committed = [n for numbers in results for n in numbers]
    assert len(committed) > 100
    _assert_gapless(committed)
    assert sorted(_committed_in_ledger(tx, "hot")) == sorted(committed)


def test_processes_commit_exactly_one_to_n(tx, url):
    with tx() as seqs:
        seqs.define("hot", "N-{COUNTER}")
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(draw_numbers, [(url, "hot", 25, seed) for seed in range(PROCESSES)])
    committed = [n for result in results for n in result]
    assert len(committed) > 40
    _assert_gapless(committed)
    assert sorted(_committed_in_ledger(tx, "hot")) == sorted(committed)


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_second_transaction_waits_for_the_first(tx, sessions, sequencing, outcome):
    """django-sequences' interleaving test: the counter is held until the end."""
    with tx() as seqs:
        seqs.define("seq", "{COUNTER}")
    events: list[tuple[str, object]] = []
    first_has_number = threading.Event()

    def one() -> None:
        with sessions() as session:
            session.begin()
            events.append(("one", int(sequencing.manager(session).generate("seq"))))
            first_has_number.set()
            time.sleep(0.4)
            events.append(("one", outcome))
            getattr(session, outcome)()

    def two() -> None:
        first_has_number.wait(5)
        with sessions() as session, session.begin():
            events.append(("two", "begin"))
            events.append(("two", int(sequencing.manager(session).generate("seq"))))

    threads = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected_second = 2 if outcome == "commit" else 1
    assert events == [
        ("one", 1),
        ("two", "begin"),
        ("one", outcome),
        ("two", expected_second),
    ]


def test_two_concurrent_defines_one_wins(sessions, sequencing, tx):
    outcomes: dict[str, object] = {}
    first_defined = threading.Event()

    def first() -> None:
        with sessions() as session:
            session.begin()
            sequencing.manager(session).define("race", "R-{COUNTER}")
            first_defined.set()
            time.sleep(0.4)
            session.commit()
            outcomes["first"] = "won"

    def second() -> None:
        first_defined.wait(5)
        with sessions() as session:
            session.begin()
            try:
                sequencing.manager(session).define("race", "OTHER-{COUNTER}")
            except DuplicateSequenceError as exc:
                outcomes["second"] = exc
                session.rollback()
            else:
                session.commit()
                outcomes["second"] = "won"

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes["first"] == "won"
    assert isinstance(outcomes["second"], DuplicateSequenceError)
    with tx() as seqs:
        assert seqs.get("race").pattern == "R-{COUNTER}"
        assert [d.name for d in seqs.list()] == ["race"]


def test_threads_on_the_slow_path_are_gapless(tx, sessions, sequencing):
    """A count-based reset goes through lock-then-plan: same guarantee, first use included."""
    with tx() as seqs:
        seqs.define("books", "B{CYCLE}-{COUNTER}", reset_limit=7)
    rngs = [random.Random(seed) for seed in range(6)]

    def work(thread: int, _round: int, session) -> str:
        number = sequencing.manager(session).generate("books")
        if rngs[thread].random() < 0.2:
            raise Cancelled  # rolled back on purpose
        return number

    # InnoDB can pick a deadlock victim among transactions racing to create the same
    # new counter row; the cure is to run the transaction again.
    committed = commit_in_threads(6, 12, sessions, work, attempts=5, backoff=0.01)
    ordinals = []
    for number in committed:
        cycle, counter = number.removeprefix("B").split("-")
        assert 1 <= int(counter) <= 7
        ordinals.append((int(cycle) - 1) * 7 + int(counter))
    assert sorted(ordinals) == list(range(1, len(committed) + 1))
