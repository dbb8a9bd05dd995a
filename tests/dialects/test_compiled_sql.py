"""The SQL each dialect strategy sends, compiled without a server.

Every strategy is driven through its public methods (``advance``, ``lock_counter``,
``read_counter``, ``write_counter``, ``insert_number_run``, ``insert_audit_rows``) on
a *recording connection*: a stand-in that keeps the SQL text it is handed (the
statement compiled for the dialect, or the driver SQL of a prepared statement, exactly
as the driver would get it) and answers with one canned row.  Nothing here checks what
a database does with the SQL (the backend tests do); these check the shape that the
guarantees rest on, per dialect, in a second and with no server: the revision and
capacity guards of the one-statement counter, the read-back of the new value, the
locking clauses where the capability flags say, and the recursive CTE of the ledger.

The dialects are made as SQLAlchemy makes them from a URL, then told the server's
version as SQLAlchemy's first connect does (``_parse_server_version`` and the vendor's
``_initialize_*``), so the capability flags are those of a real connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from typing import Any

import pytest
from sqlalchemy import MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.engine import make_url

from sa_sequencing import Sequencing
from sa_sequencing.dialects import AuditSpec
from sa_sequencing.dialects import CounterKey
from sa_sequencing.dialects import CounterState
from sa_sequencing.dialects import CounterStrategy
from sa_sequencing.dialects import MariaDBCounterStrategy
from sa_sequencing.dialects import MySQLCounterStrategy
from sa_sequencing.dialects import PostgreSQLCounterStrategy
from sa_sequencing.dialects import SQLiteCounterStrategy
from sa_sequencing.dialects import registered_strategy
from sa_sequencing.dialects.base import Advance
from sa_sequencing.dialects.mysql import ReadBack
from sa_sequencing.store.claims import claim_rows
from sa_sequencing.store.gaps import free_gaps

NOW = datetime(2026, 3, 7, 12, 0, tzinfo=timezone.utc)
KEY = CounterKey(7, "tenant", "2026")
TABLES = Sequencing(MetaData()).tables
AUDIT = AuditSpec("inv", "tenant", "INV-2026-", 5, "", {"date": "2026-03-07"}, "alice")


def dialect(url: str, server: str | None = None) -> Dialect:
    """The dialect of ``url``, as after connecting to a server reporting ``server``."""
    made: Any = make_url(url).get_dialect()()
    if server is not None:
        made._parse_server_version(server)
        if made.is_mariadb:
            made._initialize_mariadb(None)
        else:
            made._casing = 0
            made._initialize_mysql(None)
    return made


#: name -> (URL, server version string); the MariaDB of the test servers is reached
#: through a mysql+pymysql URL, so that dialect is called "mysql" and knows is_mariadb.
DIALECTS = {
    "postgresql": ("postgresql+psycopg://", None),
    "mysql": ("mysql+pymysql://", "8.0.36"),
    "mariadb": ("mysql+pymysql://", "10.11.6-MariaDB"),
    "mariadb-url": ("mariadb+pymysql://", "10.11.6-MariaDB"),
    "sqlite": ("sqlite://", None),
}


def strategy(name: str) -> CounterStrategy:
    url, server = DIALECTS[name]
    made = dialect(url, server)
    return registered_strategy(made)(TABLES, made, lock_timeout=None, lock_retries=3, stats=None)


@dataclass
class Row:
    value: int = 5
    cycle: int = 1
    id: int = 1

    def __getitem__(self, index: int) -> int:
        return self.value


class Result:
    def __init__(self, row: Row | None) -> None:
        self.row = row
        self.rowcount = 0 if row is None else 1
        self.lastrowid = None if row is None else row.value

    def scalar(self) -> int | None:
        return None if self.row is None else self.row.value

    scalar_one = scalar

    def first(self) -> Row | None:
        return self.row

    def one(self) -> Row:
        assert self.row is not None
        return self.row

    def __iter__(self) -> Iterator[Row]:
        return iter([] if self.row is None else [self.row])


class Recorder:
    """Stands in for a Connection: keeps the SQL and parameters it is sent."""

    def __init__(self, made: Dialect, row: Row | None = None) -> None:
        self.dialect = made
        self.row = Row() if row is None else row
        self.sent: list[tuple[str, Any]] = []
        self.info: dict[str, Any] = {}

    def get_execution_options(self) -> dict[str, Any]:
        return {}

    def execute(self, statement: Any, params: Any = None) -> Result:
        self.sent.append((str(statement.compile(dialect=self.dialect)), params))
        return Result(self.row)

    def exec_driver_sql(self, sql: str, params: Any = None) -> Result:
        self.sent.append((sql, params))
        return Result(self.row)

    @property
    def sql(self) -> list[str]:
        return [" ".join(text.split()) for text, _ in self.sent]


def advance_request(count: int = 3, *, audit: AuditSpec | None = None) -> Advance:
    return Advance(
        KEY, revision=4, count=count, start=1, step=2, capacity=99_999, now=NOW, audit=audit
    )


def shape(*parts: str) -> re.Pattern[str]:
    """A regex of SQL fragments in this order, anything between them."""
    return re.compile(".*".join(parts), re.IGNORECASE)


# -- which strategy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("postgresql", PostgreSQLCounterStrategy),
        ("mysql", MySQLCounterStrategy),
        ("mariadb", MySQLCounterStrategy),
        ("mariadb-url", MariaDBCounterStrategy),
        ("sqlite", SQLiteCounterStrategy),
    ],
)
def test_each_database_gets_its_strategy(name, cls):
    assert type(strategy(name)) is cls


def test_another_database_gets_the_generic_strategy():
    assert registered_strategy(dialect("mssql+pyodbc://")) is CounterStrategy


# -- the one-statement counter ----------------------------------------------------------


@pytest.mark.parametrize("name", ["postgresql", "sqlite"])
def test_the_upsert_guards_revision_and_capacity_and_returns_the_value(name):
    s = strategy(name)
    conn = Recorder(s.dialect, Row(value=11))
    assert s.advance(conn, advance_request()) == 11
    [sql] = conn.sql
    assert shape(
        r"^INSERT INTO sequence_counters \(sequence_id, scope, period, value, cycle, updated_at\)",
        r" SELECT ",
        r" FROM sequences WHERE sequences\.id = \S+ AND sequences\.revision = \S+",
        r" AND \S+ <= \S+ ON CONFLICT \(sequence_id, scope, period\)",
        r" DO UPDATE SET value = \(sequence_counters\.value \+ \S+\), updated_at = \S+",
        r" WHERE sequence_counters\.value <= \S+",
        r" RETURNING (sequence_counters\.)?value$",
    ).search(sql), sql


def test_postgresql_binds_the_guards_by_name():
    s = strategy("postgresql")
    conn = Recorder(s.dialect)
    s.advance(conn, advance_request(count=3))
    sql, params = conn.sent[0]
    assert "sequences.revision = %(revision)s" in sql
    assert "%(first_last)s::BIGINT <= %(capacity)s::BIGINT" in sql
    assert "value = (sequence_counters.value + %(increment)s::BIGINT)" in sql
    assert "WHERE sequence_counters.value <= %(headroom)s::BIGINT" in sql
    # value <= capacity - increment: never value + increment, which overflows a BIGINT
    assert "+ %(increment)s::BIGINT <=" not in sql
    assert params["revision"] == 4
    assert params["first_last"] == 1 + 2 * 2
    assert params["increment"] == 3 * 2
    assert params["headroom"] == 99_999 - 3 * 2
    assert (params["k_sequence_id"], params["k_scope"], params["k_period"]) == (
        7,
        "tenant",
        "2026",
    )


def test_sqlite_sends_one_value_per_placeholder():
    s = strategy("sqlite")
    conn = Recorder(s.dialect)
    s.advance(conn, advance_request(count=3))
    sql, params = conn.sent[0]
    assert sql.count("?") == len(params)
    assert 99_999 - 6 in params  # the headroom
    assert 4 in params  # the revision


@pytest.mark.parametrize("count", [1, 4])
def test_postgresql_writes_the_ledger_rows_in_the_counter_statement(count):
    s = strategy("postgresql")
    assert s.fuses_number_audit
    conn = Recorder(s.dialect, Row(value=9))
    assert s.advance(conn, advance_request(count=count, audit=AUDIT)) == 9
    [sql] = conn.sql
    assert shape(
        r"^WITH advanced AS \(INSERT INTO sequence_counters ",
        r"sequences\.revision = %\(revision\)s",
        r"ON CONFLICT \(sequence_id, scope, period\) DO UPDATE ",
        r"WHERE sequence_counters\.value <= %\(headroom\)s::BIGINT ",
        r"RETURNING sequence_counters\.value\)",
        r", audited AS \(INSERT INTO sequence_audits \(sequence_name, scope, event, number, "
        r"counter_value, data, performed_by, created_at\) SELECT ",
        r"%\(prefix\)s::VARCHAR \|\| lpad\(CAST\(",
        r"greatest\(%\(width\)s::INTEGER, length\(",
        r"\|\| %\(suffix\)s::VARCHAR",
        r"clock_timestamp\(\)",
        r"FROM advanced",
        r"\) SELECT advanced\.value FROM advanced$",
    ).search(sql), sql
    # one number: no generate_series join (which PostgreSQL re-plans on every call)
    assert ("generate_series" in sql) == (count > 1)
    if count > 1:
        assert "advanced.value - offsets.n * %(step)s::BIGINT" in sql
        assert "ORDER BY offsets.n DESC" in sql
    params = conn.sent[0][1]
    assert (params["prefix"], params["width"], params["suffix"]) == ("INV-2026-", 5, "")
    assert params["sequence_name"] == "inv"
    assert params["performed_by"] == "alice"


@pytest.mark.parametrize("name", ["mysql", "mariadb", "mariadb-url"])
def test_mysql_counts_with_on_duplicate_key_update_and_last_insert_id(name):
    s = strategy(name)
    conn = Recorder(s.dialect, Row(value=11))
    assert s.advance(conn, advance_request()) == 11
    [sql] = conn.sql  # pymysql: the value comes back in the OK packet (lastrowid)
    assert isinstance(s, MySQLCounterStrategy)
    assert s.read_back is ReadBack.LASTROWID
    assert shape(
        r"^INSERT INTO sequence_counters \(sequence_id, scope, `?period`?, value, cycle, "
        r"updated_at\)",
        r" SELECT %s AS \w+, %s AS \w+, %s AS \w+, last_insert_id\(%s\)",
        r" FROM sequences WHERE sequences\.id = %s AND sequences\.revision = %s",
        # updated_at first: MySQL assigns left to right, and the guard reads the old value
        r" ON DUPLICATE KEY UPDATE updated_at = if\(sequence_counters\.value <= %s, %s, "
        r"sequence_counters\.updated_at\), ",
        r"value = last_insert_id\(sequence_counters\.value \+ %s\)$",
    ).search(sql), sql
    params = conn.sent[0][1]
    assert sql.count("%s") == len(params)
    assert 99_999 - 6 in params


@pytest.mark.parametrize(
    ("url", "server", "read_back", "last"),
    [
        # MariaDB Connector/Python loses the insert id: RETURNING on 10.5+, else a SELECT
        ("mariadb+mariadbconnector://", "10.11.6-MariaDB", ReadBack.RETURNING, "RETURNING"),
        ("mariadb+mariadbconnector://", "10.4.32-MariaDB", ReadBack.SELECT, "SELECT"),
        ("mysql+mysqlconnector://", "8.0.36", ReadBack.SELECT, "SELECT"),
        ("mysql+mysqldb://", "8.0.36", ReadBack.LASTROWID, None),
    ],
)
def test_mysql_reads_the_new_value_back_as_the_driver_allows(url, server, read_back, last):
    made = dialect(url, server)
    s = registered_strategy(made)(TABLES, made)
    assert isinstance(s, MySQLCounterStrategy)
    assert s.read_back is read_back
    conn = Recorder(made, Row(value=11))
    assert s.advance(conn, advance_request()) == 11
    if last == "RETURNING":
        [sql] = conn.sql
        assert sql.endswith("RETURNING sequence_counters.value")
    elif last == "SELECT":
        assert conn.sql[1] == "SELECT last_insert_id() AS last_insert_id_1"
    else:
        assert len(conn.sql) == 1


@pytest.mark.parametrize("name", ["mysql", "mariadb"])
def test_mysql_undoes_an_increment_past_capacity_while_the_row_is_locked(name):
    s = strategy(name)
    conn = Recorder(s.dialect, Row(value=100_001))  # past the capacity of 99,999
    assert s.advance(conn, advance_request(count=3)) is None
    assert shape(
        r"^UPDATE sequence_counters SET value=\(sequence_counters\.value - %s\)",
        r" WHERE sequence_counters\.sequence_id = %s AND sequence_counters\.scope = %s",
    ).search(conn.sql[1]), conn.sql[1]
    assert conn.sent[1][1]["increment"] == 6


# -- the slow path: lock, read, write ----------------------------------------------------


@pytest.mark.parametrize("name", ["postgresql", "sqlite"])
def test_the_upsert_strategies_lock_a_counter_with_a_write(name):
    s = strategy(name)
    conn = Recorder(s.dialect, Row(value=42, cycle=3))
    state = s.lock_counter(conn, KEY, empty=CounterState(-1, 1), now=NOW)
    assert state == CounterState(42, 3)
    [sql] = conn.sql
    assert shape(
        r"^INSERT INTO sequence_counters \(sequence_id, scope, period, value, cycle, updated_at\)"
        r" VALUES ",
        r" ON CONFLICT \(sequence_id, scope, period\) DO UPDATE ",
        r"SET value = sequence_counters\.value",
        r" RETURNING (sequence_counters\.)?value, (sequence_counters\.)?cycle$",
    ).search(sql), sql
    assert conn.sent[0][1]["new_value"] == -1


@pytest.mark.parametrize("name", ["mysql", "mariadb"])
def test_mysql_creates_or_locks_then_reads_for_update(name):
    s = strategy(name)
    conn = Recorder(s.dialect, Row(value=42, cycle=3))
    assert s.lock_counter(conn, KEY, empty=CounterState(0, 1), now=NOW) == CounterState(42, 3)
    insert, read = conn.sql
    assert "ON DUPLICATE KEY UPDATE value = sequence_counters.value" in insert
    assert read.startswith("SELECT sequence_counters.value, sequence_counters.cycle FROM")
    assert read.endswith("FOR UPDATE")


@pytest.mark.parametrize(
    ("name", "locking"),
    [
        ("postgresql", " FOR UPDATE"),
        ("mysql", " FOR UPDATE"),
        ("sqlite", ""),
    ],
)
def test_the_generic_strategy_reads_for_update_where_the_database_has_it(name, locking):
    # SQLite has no FOR UPDATE: its strategy locks with a write instead (see above)
    made = strategy(name).dialect
    s = CounterStrategy(TABLES, made)
    conn = Recorder(made)
    s.lock_counter(conn, KEY, empty=CounterState(0, 1), now=NOW)
    read = conn.sql[0]
    assert read.startswith("SELECT sequence_counters.value, sequence_counters.cycle FROM")
    if locking:
        assert read.endswith(locking)
    else:
        assert "FOR UPDATE" not in read


@pytest.mark.parametrize("name", list(DIALECTS))
def test_read_counter_takes_no_lock_and_write_counter_sets_value_and_cycle(name):
    s = strategy(name)
    conn = Recorder(s.dialect, Row(value=8, cycle=2))
    assert s.read_counter(conn, KEY) == CounterState(8, 2)
    s.write_counter(conn, KEY, CounterState(10, 2), now=NOW)
    read, write = conn.sql
    assert "FOR UPDATE" not in read
    assert shape(
        r"^UPDATE sequence_counters SET value=\S+, cycle=\S+, updated_at=\S+",
        r" WHERE sequence_counters\.sequence_id = \S+ AND sequence_counters\.scope = \S+",
        r" AND sequence_counters\.`?period`? = \S+$",
    ).search(write), write
    assert conn.sent[1][1]["new_value"] == 10


# -- the ledger --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cast", "lead"),
    [
        ("sqlite", "CAST(? AS NUMERIC(19, 0))", ""),
        ("mariadb", "CAST(%s AS DECIMAL(19, 0))", MySQLCounterStrategy.number_run_lead),
    ],
)
def test_a_run_of_numbers_is_one_recursive_insert(name, cast, lead):
    """The run counts in DECIMAL(19, 0): MariaDB sizes CAST(1 AS SIGNED) by its digits
    (INT), and a run with a step of 2**31 - 1 overflowed it."""
    s = strategy(name)
    assert s.renders_number_runs
    conn = Recorder(s.dialect)
    assert s.insert_number_run(conn, AUDIT, first=3, last=23, step=5, now=NOW)
    [sql] = conn.sql
    assert sql.startswith(lead)
    if lead:
        assert "SET STATEMENT max_recursive_iterations = 4294967295 FOR" in sql
    p = "?" if name == "sqlite" else "%s"
    assert "WITH RECURSIVE run(v) AS (SELECT " + cast + " AS v UNION ALL SELECT run.v + " in sql
    # v <= last - step, not v + step <= last: near 2**63 - 1 the sum would overflow
    assert f"FROM run WHERE run.v <= {p})" in sql
    assert (
        "INSERT INTO sequence_audits (sequence_name, scope, event, number, counter_value, " in sql
    )
    assert "FROM run ORDER BY run.v" in sql
    params = conn.sent[0][1]
    assert sql.count(p) == len(params)
    assert 23 - 5 in params  # last_but_step


@pytest.mark.parametrize("name", ["mysql", "postgresql"])
def test_where_runs_are_not_rendered_nothing_is_sent(name):
    # MySQL stops a recursive CTE at 1000 rows; PostgreSQL writes them in the counter
    # statement; the caller writes the rows itself when told False
    s = strategy(name)
    conn = Recorder(s.dialect)
    assert not s.insert_number_run(conn, AUDIT, first=1, last=9, step=1, now=NOW)
    assert conn.sent == []


@pytest.mark.parametrize("name", list(DIALECTS))
def test_ledger_rows_are_one_insert_run_for_many(name):
    s = strategy(name)
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
    assert sql.startswith(
        "INSERT INTO sequence_audits (sequence_name, scope, event, number, counter_value, "
        "data, performed_by, created_at) VALUES ("
    )
    assert len(params) == 2  # executemany


# -- locking capabilities ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "server", "skip_locked", "for_update_of", "gap_locks"),
    [
        ("postgresql+psycopg://", None, True, True, False),
        ("mysql+pymysql://", "8.0.36", True, True, True),
        ("mysql+pymysql://", "8.0.0", False, True, True),
        ("mysql+pymysql://", "5.7.44", False, False, True),
        ("mysql+pymysql://", "10.11.6-MariaDB", True, False, True),
        ("mysql+pymysql://", "10.6.0-MariaDB", True, False, True),
        ("mysql+pymysql://", "10.5.23-MariaDB", False, False, True),
        ("mariadb+pymysql://", "10.11.6-MariaDB", True, False, True),
        ("sqlite://", None, False, True, False),
    ],
)
def test_capability_flags_follow_the_server(url, server, skip_locked, for_update_of, gap_locks):
    made = dialect(url, server)
    s = registered_strategy(made)(TABLES, made)
    assert s.supports_skip_locked is skip_locked
    assert s.renders_for_update_of is for_update_of
    assert s.locks_index_gaps is gap_locks


@pytest.mark.parametrize("name", ["postgresql", "mysql", "mariadb", "sqlite"])
def test_claims_lock_rows_as_the_flags_say(name):
    s = strategy(name)
    g = TABLES.gaps
    conn = Recorder(s.dialect, Row(value=3, cycle=1, id=12))
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
    if name == "postgresql":
        # one locking read that passes over the rows other transactions hold
        [sql] = locking
        assert sql.endswith("FOR UPDATE SKIP LOCKED")
        assert "LIMIT" in sql
    elif name in ("mysql", "mariadb"):
        # a plain read, then each row locked by its primary key (no gap locks)
        assert "FOR UPDATE" not in conn.sql[0]
        [sql] = locking
        assert re.search(r"\.id = %s FOR UPDATE SKIP LOCKED$", sql), sql
    else:
        # no SKIP LOCKED: an UPDATE that re-checks the status guard
        assert locking == []
        assert conn.sql[-1].startswith("UPDATE sequence_gaps SET status=")
        assert "sequence_gaps.status = ?" in conn.sql[-1]
