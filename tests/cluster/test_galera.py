"""Numbering on a private 3-node MariaDB Galera cluster, writers on every node.

Runs when ``SA_SEQUENCING_GALERA=1``: the module starts the cluster itself through
``tools/galera.py`` (under ``SA_SEQUENCING_GALERA_DIR``, default
``/tmp/sa-seq-galera``; ports 23306-23308 and 24567+) and stops it afterwards (unless
it was running already)::

    SA_SEQUENCING_GALERA=1 python -m pytest tests/cluster -p no:cacheprovider

Every writer goes through :func:`~sa_sequencing.run_in_transaction` with its
defaults; the numbers read back from every node must be exactly 1..N.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from writers import CLUSTER_SEQUENCING
from writers import PREFIX
from writers import SEQUENCE
from writers import census
from writers import invoice_numbers
from writers import ledger_numbers
from writers import reset_schema
from writers import run_writers

from sa_sequencing import CommitOutcomeUnknownError
from sa_sequencing import SequenceNotFoundError
from sa_sequencing import run_in_transaction
from sa_sequencing.faults import Fault
from sa_sequencing.faults import classify

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.environ.get("SA_SEQUENCING_GALERA") != "1",
    reason="Galera cluster tests: set SA_SEQUENCING_GALERA=1 (needs galera-4 and mariadbd; "
    "the tests start a private cluster with tools/galera.py)",
)


def load_galera() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sa_seq_galera", ROOT / "tools" / "galera.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def galera() -> ModuleType:
    return load_galera()


@pytest.fixture(scope="module")
def urls(galera: ModuleType) -> Iterator[list[str]]:
    base = galera.DEFAULT_DIR
    running = any(galera.node_status(n)["pid"] != "-" for n in galera.nodes(base))
    started = galera.start_cluster(base)
    yield started
    if not running:
        galera.stop_cluster(base)


def assert_exactly_one_to_n(urls: list[str], acknowledged: list[str]) -> list[int]:
    """The ledger of every node holds exactly 1..N, the same N; every number a writer
    was told committed is in it; the invoices' numbers are among them, once each."""
    stored = [ledger_numbers(url) for url in urls]
    for numbers in stored:
        assert numbers == list(range(1, len(numbers) + 1))
        assert numbers == stored[0]
    acked = sorted(int(n.removeprefix(PREFIX)) for n in acknowledged)
    assert len(acked) == len(set(acked)), "a number acknowledged twice"
    assert set(acked) <= set(stored[0])
    for url in urls:
        invoices = invoice_numbers(url)
        assert len(invoices) == len(set(invoices))
        assert set(invoices) <= set(stored[0])
    return stored[0]


def test_writers_on_every_node_lose_nothing_with_the_defaults(urls: list[str]) -> None:
    """Two writer processes per node on one hot counter, generate and the flush hook:
    many first attempts meet a certification failure (at the counter,
    the ledger insert, the flush or COMMIT); run_in_transaction's defaults run every
    one of them to success."""
    reset_schema(urls)
    results = run_writers(urls, per_node=2, transactions=100, retry={})
    escaped = census(results)
    print(
        f"writers: {sum(len(r.attempts) for r in results)} transactions, "
        f"{sum(sum(r.attempts) for r in results)} runs, escaped {dict(escaped)}"
    )
    assert not escaped, (escaped, [t for r in results for t in r.tracebacks][:3])
    acknowledged = [n for r in results for n in r.committed]
    stored = assert_exactly_one_to_n(urls, acknowledged)
    assert len(stored) == len(acknowledged)
    runs = [n for r in results for n in r.attempts]
    assert sum(runs) > len(runs), "no conflict at all: the test proved nothing"


def test_a_node_killed_and_rejoined_mid_run(galera: ModuleType, urls: list[str]) -> None:
    """Node 3 is SIGKILLed while writers work on all three nodes, then restarted; it
    rejoins by state transfer. A writer's retry moves to the next node. Only a COMMIT
    cut by the kill may escape (CommitOutcomeUnknownError); every node ends with the
    same numbers 1..N."""
    reset_schema(urls)
    node3 = galera.nodes(galera.DEFAULT_DIR)[2]

    def chaos() -> None:
        time.sleep(4)
        galera.kill_node(node3)
        time.sleep(4)
        galera.start_node(node3, timeout=120)

    results = run_writers(
        urls, per_node=2, transactions=120, retry={}, failover=True, during=chaos
    )
    for node in galera.nodes(galera.DEFAULT_DIR):
        galera._wait_synced(node, size=3, timeout=120)
    escaped = census(results)
    print(
        f"kill run: {sum(len(r.attempts) for r in results)} transactions, "
        f"{sum(sum(r.attempts) for r in results)} runs, escaped {dict(escaped)}"
    )
    unknown = sum(n for kind, n in escaped.items() if kind.startswith("CommitOutcomeUnknown"))
    assert sum(escaped.values()) == unknown, escaped
    acknowledged = [n for r in results for n in r.committed]
    stored = assert_exactly_one_to_n(urls, acknowledged)
    # a transaction with an unknown outcome drew at most two numbers
    assert len(stored) - len(acknowledged) <= 2 * unknown


def test_certification_failure_at_commit_is_run_again(urls: list[str]) -> None:
    """A transaction on node 2 draws a number; node 1 commits a draw from the same
    counter before node 2 commits: node 2's COMMIT fails certification (1213) and
    run_in_transaction runs the transaction again."""
    reset_schema(urls)
    one, two = (sa.create_engine(url) for url in urls[:2])
    failed_at: list[str] = []
    sa.event.listen(
        two,
        "handle_error",
        lambda ctx: failed_at.append(
            "COMMIT" if ctx.statement is None else ctx.statement.split()[0]
        ),
    )
    runs: list[str] = []

    def work(session: Session) -> str:
        number = CLUSTER_SEQUENCING.manager(session).generate(SEQUENCE)
        if not runs:
            with Session(one) as other, other.begin():
                CLUSTER_SEQUENCING.manager(other).generate(SEQUENCE)
            time.sleep(0.5)  # node 2 applies node 1's write set
        runs.append(number)
        return number

    try:
        number = run_in_transaction(lambda: Session(two), work)
    finally:
        one.dispose()
        two.dispose()
    assert runs == [f"{PREFIX}1", f"{PREFIX}2"]
    assert number == f"{PREFIX}2"
    assert failed_at and failed_at[-1] in ("COMMIT", "RELEASE", "INSERT")
    assert ledger_numbers(urls[0]) == [1, 2]


def test_a_node_that_rejects_queries_is_not_ready_and_waited_for(urls: list[str]) -> None:
    """``wsrep_reject_queries = ALL`` makes node 3 answer 1047 "WSREP has not yet
    prepared node for application use", as a node outside the primary component does:
    classified NOT_READY, and run_in_transaction keeps trying until it is back."""
    reset_schema(urls)
    admin = pymysql.connect(host="127.0.0.1", port=sa.make_url(urls[2]).port, user="root")
    engine = sa.create_engine(urls[2], pool_pre_ping=False)
    errors: list[BaseException] = []
    sa.event.listen(engine, "handle_error", lambda ctx: errors.append(ctx.original_exception))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")  # a pooled connection, before the node goes
        admin.cursor().execute("SET GLOBAL wsrep_reject_queries = ALL")
        timer = threading.Timer(
            1.5, lambda: admin.cursor().execute("SET GLOBAL wsrep_reject_queries = NONE")
        )
        timer.start()
        number = run_in_transaction(
            lambda: Session(engine),
            lambda s: CLUSTER_SEQUENCING.manager(s).generate(SEQUENCE),
        )
        timer.join()
    finally:
        admin.cursor().execute("SET GLOBAL wsrep_reject_queries = NONE")
        admin.close()
        engine.dispose()
    assert number == f"{PREFIX}1"
    assert errors, "the node answered at once: nothing was tested"
    assert {getattr(e, "args", (0,))[0] for e in errors} == {1047}
    assert {classify(e) for e in errors} == {Fault.NOT_READY}


def define_then_generate(urls: list[str], trials: int, sync_wait: int | None) -> int:
    """Define a sequence on node 1 and draw from it on node 2 at once, ``trials``
    times; how many draws met SequenceNotFoundError."""
    one, two = (sa.create_engine(url) for url in urls[:2])
    missing = 0
    try:
        for i in range(trials):
            with Session(one) as session, session.begin():
                CLUSTER_SEQUENCING.manager(session).define(f"fresh_{i}", "F-{COUNTER}")
            try:
                with Session(two) as session, session.begin():
                    if sync_wait is not None:
                        session.execute(sa.text(f"SET SESSION wsrep_sync_wait = {sync_wait}"))
                    CLUSTER_SEQUENCING.manager(session).generate(f"fresh_{i}")
            except SequenceNotFoundError:
                missing += 1
    finally:
        one.dispose()
        two.dispose()
    return missing


def test_reads_after_define_see_it_with_wsrep_sync_wait(urls: list[str]) -> None:
    """With ``wsrep_sync_wait = 1`` a read waits until the node has applied every write
    set committed before it began: a definition made on node 1 is always found."""
    reset_schema(urls)
    assert define_then_generate(urls, 60, sync_wait=1) == 0


def test_a_lost_commit_is_never_run_again(urls: list[str]) -> None:
    """The server side kills the connection between the end of the work and COMMIT:
    CommitOutcomeUnknownError, and the work ran once."""
    reset_schema(urls)
    engine = sa.create_engine(urls[1])
    runs: list[str] = []

    def work(session: Session) -> str:
        number = CLUSTER_SEQUENCING.manager(session).generate(SEQUENCE)
        runs.append(number)
        pid = session.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one()
        with engine.connect() as killer:
            killer.exec_driver_sql(f"KILL {pid}")
        time.sleep(0.3)
        return number

    try:
        with pytest.raises(CommitOutcomeUnknownError):
            run_in_transaction(lambda: Session(engine), work)
    finally:
        engine.dispose()
    assert runs == [f"{PREFIX}1"]
