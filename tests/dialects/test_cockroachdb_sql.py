"""The SQL the CockroachDB strategy sends, compiled by the real ``cockroachdb``
dialects of ``sqlalchemy-cockroachdb`` without a server.

Every public method of :class:`~sa_sequencing.dialects.CockroachDBCounterStrategy` is
driven on the recording connection of ``test_compiled_sql`` (the SQL text exactly as
the driver gets it, one canned row back), and the shape that the guarantees rest on
is checked: the revision and capacity guards of the one-statement upsert, the
``RETURNING`` read-back, the ledger rows written by the same statement (data-modifying
CTEs), ``SET LOCAL lock_timeout``, and the claims with or without ``SKIP LOCKED``
as the server version allows.  No statement may rely on what CockroachDB lacks
(``LOCK TABLE``, advisory locks) or on the ``cockroach_restart`` savepoint protocol.

``sqlalchemy-cockroachdb`` 2.0.4 requires SQLAlchemy >= 2.0.47, < 2.1, so it is not
in the ``test`` extra (which runs the suite on the newest SQLAlchemy): these tests
run where it is installed (``pip install "sa_sequencing[cockroachdb]"``, or the
package alone with ``--no-deps``) and are skipped elsewhere.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.engine import Dialect
from sqlalchemy.engine import make_url
from test_compiled_sql import AUDIT
from test_compiled_sql import KEY
from test_compiled_sql import NOW
from test_compiled_sql import TABLES
from test_compiled_sql import Recorder
from test_compiled_sql import Row
from test_compiled_sql import advance_request
from test_compiled_sql import shape

from sa_sequencing.dialects import CockroachDBCounterStrategy
from sa_sequencing.dialects import CounterState
from sa_sequencing.dialects import PostgreSQLCounterStrategy
from sa_sequencing.dialects import registered_strategy
from sa_sequencing.store.claims import claim_rows
from sa_sequencing.store.gaps import free_gaps

pytest.importorskip(
    "sqlalchemy_cockroachdb",
    reason="sqlalchemy-cockroachdb is not installed (it needs SQLAlchemy < 2.1)",
)

URLS = ["cockroachdb+psycopg://", "cockroachdb+asyncpg://", "cockroachdb+psycopg2://"]


def crdb(url: str = "cockroachdb+psycopg://", *, v222plus: bool | None = None) -> Dialect:
    """The dialect of ``url``; ``v222plus``: as after connecting to a server of v22.2
    or later (True) or older (False), the flag its ``initialize()`` sets from
    ``SELECT version()``; None: never connected (SQL compiled offline)."""
    made: Any = make_url(url).get_dialect()()
    if v222plus is not None:
        made._is_v222plus = v222plus
    return made


def strategy(url: str = "cockroachdb+psycopg://", **options: Any) -> CockroachDBCounterStrategy:
    made = crdb(url)
    s = registered_strategy(made)(TABLES, made, **options)
    assert isinstance(s, CockroachDBCounterStrategy)
    return s


class TxRecorder(Recorder):
    """A recording connection inside one transaction (for the lock timeout)."""

    transaction = object()

    def get_transaction(self) -> object:
        return self.transaction


@pytest.mark.parametrize("url", [*URLS, "cockroachdb://"])
def test_every_cockroachdb_dialect_gets_the_cockroachdb_strategy(url):
    made = crdb(url)
    assert made.name == "cockroachdb"
    assert registered_strategy(made) is CockroachDBCounterStrategy
    assert registered_strategy(make_url("postgresql+psycopg://").get_dialect()()) is (
        PostgreSQLCounterStrategy
    )


@pytest.mark.parametrize("url", URLS)
def test_the_upsert_guards_revision_and_capacity_and_returns_the_value(url):
    s = strategy(url)
    conn = Recorder(s.dialect, Row(value=11))
    assert s.advance(conn, advance_request(count=3)) == 11
    [(sql, params)] = conn.sent
    one_line = " ".join(sql.split())
    assert shape(
        r"^INSERT INTO sequence_counters \(sequence_id, scope, period, value, cycle, updated_at\)",
        r" SELECT ",
        r" FROM sequences WHERE sequences\.id = \S+ AND sequences\.revision = \S+",
        r" AND \S+ <= \S+ ON CONFLICT \(sequence_id, scope, period\)",
        r" DO UPDATE SET value = \(sequence_counters\.value \+ \S+\), updated_at = \S+",
        r" WHERE sequence_counters\.value <= \S+",
        r" RETURNING sequence_counters\.value$",
    ).search(one_line), one_line
    # value <= capacity - increment: never value + increment, which overflows a BIGINT
    assert not re.search(r"value \+ \S+ <=", one_line)
    if isinstance(params, dict):  # psycopg, psycopg2: named parameters
        assert params["headroom"] == 99_999 - 3 * 2
        assert params["first_last"] == 1 + 2 * 2
        assert params["revision"] == 4
    else:  # asyncpg: $1, $2, ... one value per placeholder
        assert len(set(re.findall(r"\$\d+", one_line))) == len(params)
        assert 99_999 - 3 * 2 in params


@pytest.mark.parametrize("count", [1, 4])
def test_the_ledger_rows_are_written_by_the_counter_statement(count):
    s = strategy()
    assert s.fuses_number_audit
    conn = Recorder(s.dialect, Row(value=9))
    assert s.advance(conn, advance_request(count=count, audit=AUDIT)) == 9
    [sql] = conn.sql
    assert shape(
        r"^WITH advanced AS \(INSERT INTO sequence_counters ",
        r"sequences\.revision = %\(revision\)s",
        r"ON CONFLICT \(sequence_id, scope, period\) DO UPDATE ",
        r"RETURNING sequence_counters\.value\)",
        r", audited AS \(INSERT INTO sequence_audits \(sequence_name, scope, event, number, "
        r"counter_value, data, performed_by, created_at\) SELECT ",
        r"%\(prefix\)s::VARCHAR \|\| lpad\(CAST\(",
        r"greatest\(%\(width\)s::INTEGER, length\(",
        r"clock_timestamp\(\)",
        r"FROM advanced",
        r"\) SELECT advanced\.value FROM advanced$",
    ).search(sql), sql
    assert ("generate_series" in sql) == (count > 1)
    if count > 1:
        assert "AS offsets(n)" in sql
        assert "ORDER BY offsets.n DESC" in sql
    # one statement writes both tables: none for the runs of numbers
    assert not s.insert_number_run(conn, AUDIT, first=1, last=9, step=1, now=NOW)
    assert len(conn.sent) == 1


def test_the_slow_path_locks_with_an_upsert_and_writes_with_an_update():
    s = strategy()
    conn = Recorder(s.dialect, Row(value=42, cycle=3))
    assert s.lock_counter(conn, KEY, empty=CounterState(-1, 1), now=NOW) == CounterState(42, 3)
    assert s.read_counter(conn, KEY) == CounterState(42, 3)
    s.write_counter(conn, KEY, CounterState(44, 3), now=NOW)
    lock, read, write = conn.sql
    assert shape(
        r"^INSERT INTO sequence_counters \(sequence_id, scope, period, value, cycle, updated_at\)"
        r" VALUES ",
        r" ON CONFLICT \(sequence_id, scope, period\) DO UPDATE SET value = "
        r"sequence_counters\.value",
        r" RETURNING sequence_counters\.value, sequence_counters\.cycle$",
    ).search(lock), lock
    assert read.startswith("SELECT sequence_counters.value, sequence_counters.cycle FROM")
    assert "FOR UPDATE" not in read
    assert write.startswith("UPDATE sequence_counters SET value=%(new_value)s::BIGINT")


def test_ledger_rows_of_the_slow_path_are_one_executemany():
    s = strategy()
    conn = Recorder(s.dialect)
    row = {
        "sequence_name": "inv",
        "scope": "",
        "event": "number_generated",
        "number": "A-1",
        "counter_value": 1,
        "data": None,
        "performed_by": None,
        "created_at": NOW,
    }
    s.insert_audit_rows(conn, [row, {**row, "number": "A-2", "counter_value": 2}])
    [(sql, params)] = conn.sent
    assert sql.startswith("INSERT INTO sequence_audits (sequence_name, scope, event, number, ")
    assert len(params) == 2


def test_a_lock_timeout_is_set_once_per_transaction_and_retried_under_a_savepoint():
    s = strategy(lock_timeout=1.5)
    assert s.retry_needs_savepoint
    conn = TxRecorder(s.dialect)
    s.prepare_lock_wait(conn)
    s.prepare_lock_wait(conn)
    assert conn.sql == ["SET LOCAL lock_timeout = '1500ms'"]
    patient = strategy()
    assert not patient.retry_needs_savepoint
    conn = TxRecorder(patient.dialect)
    patient.prepare_lock_wait(conn)
    assert conn.sent == []


@pytest.mark.parametrize(
    ("v222plus", "skip_locked"),
    [(None, False), (False, False), (True, True)],
)
def test_claims_skip_locked_rows_from_v22_2(v222plus, skip_locked):
    made = crdb(v222plus=v222plus)
    s = CockroachDBCounterStrategy(TABLES, made)
    assert s.supports_skip_locked is skip_locked
    assert s.renders_for_update_of
    assert not s.locks_index_gaps
    g = TABLES.gaps
    conn = Recorder(made, Row(value=3, cycle=1, id=12))
    claimed = claim_rows(
        conn,
        g,
        free_gaps(g, 7, "tenant", "2026"),
        order_by=[g.c.cycle, g.c.value],
        limit=1,
        values={"status": "filled"},
        skip_locked=s.supports_skip_locked,
        gap_locks=s.locks_index_gaps,
    )
    assert [r.id for r in claimed] == [12]
    locking = [sql for sql in conn.sql if "FOR UPDATE" in sql]
    if skip_locked:
        [sql] = locking
        assert re.search(r" LIMIT \S+ FOR UPDATE SKIP LOCKED$", sql), sql
    else:
        # the UPDATE re-checks the status guard: a row taken meanwhile is not ours
        assert locking == []
        assert conn.sql[-1].startswith("UPDATE sequence_gaps SET status=")
        assert "sequence_gaps.status = %(status_1)s" in conn.sql[-1]


def test_nothing_relies_on_what_cockroachdb_lacks():
    """No LOCK TABLE, no advisory lock, no cockroach_restart savepoint, in any
    statement the strategy sends."""
    s = strategy(lock_timeout=0.5)
    conn = TxRecorder(s.dialect, Row(value=5, cycle=1))
    s.prepare_lock_wait(conn)
    s.advance(conn, advance_request(count=1))
    s.advance(conn, advance_request(count=1, audit=AUDIT))
    s.advance(conn, advance_request(count=3, audit=AUDIT))
    s.lock_counter(conn, KEY, empty=CounterState(0, 1), now=NOW)
    s.read_counter(conn, KEY)
    s.write_counter(conn, KEY, CounterState(6, 1), now=NOW)
    assert len(conn.sent) == 7
    for sql in conn.sql:
        lowered = sql.lower()
        assert "lock table" not in lowered
        assert "advisory" not in lowered
        assert "cockroach_restart" not in lowered
