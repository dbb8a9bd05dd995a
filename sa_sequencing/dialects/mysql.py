"""MySQL and MariaDB: ``INSERT ... SELECT ... ON DUPLICATE KEY UPDATE`` with
``LAST_INSERT_ID(expr)``.

::

    INSERT INTO sequence_counters (sequence_id, scope, period, value, cycle, updated_at)
    SELECT :sequence_id, :scope, :period, LAST_INSERT_ID(:first_last), 1, :now
      FROM sequences WHERE sequences.id = :sequence_id AND sequences.revision = :revision
    ON DUPLICATE KEY UPDATE value = LAST_INSERT_ID(value + :increment), updated_at = :now

``LAST_INSERT_ID(expr)`` makes the server send the new value back in the statement's
OK packet, so the read-back costs no second round trip.  How the value reaches us
depends on the driver (:class:`ReadBack`):

* PyMySQL, mysqlclient, asyncmy and aiomysql keep the OK packet's insert id in the
  cursor's ``lastrowid`` after SQLAlchemy has closed it: it is read from there;
* MariaDB Connector/Python does not (SQLAlchemy reports its ``lastrowid`` only for
  ORM-style inserts, and the closed cursor refuses to tell; it also reports an insert
  id of 0 as ``None``).  On MariaDB 10.5+ the statement then ends in
  ``RETURNING value``, which MariaDB evaluates after the update: still one round trip;
* anywhere else (another driver, or that one against MySQL) a ``SELECT
  LAST_INSERT_ID()`` follows on the same connection: one more round trip, but right
  whatever the driver does with ``lastrowid``.

A guard miss inserts nothing (row count 0, no row returned).  MySQL cannot refuse the
update conditionally and still tell the cases apart, so passing the pattern's capacity
is undone by a compensating ``UPDATE`` while the row is still locked; it happens once,
at exhaustion.

The ``number_generated`` ledger row of a single number is a second statement, a
second round trip while the counter row is locked.  Both ways to fuse it were
measured here (PyMySQL, local MariaDB 10.11, per number in its own transaction):

* a compound statement (``BEGIN NOT ATOMIC ... END``), which MariaDB takes as one
  statement: through SQLAlchemy it was *slower* than two statements (about 1,070
  against 980 us), because the server parses the block on every call and the value
  has to come back as a result set;
* a multi-statement query (``INSERT ...; INSERT ...``): +50 us over the counter
  statement alone instead of +143 us, but only on connections opened with
  ``CLIENT.MULTI_STATEMENTS`` (a stacked-query risk we do not impose), and only
  through a raw cursor, because SQLAlchemy's result drains the second result and
  with it the first statement's insert id.

Runs of numbers (``generate_many``, flushes) write their rows with one statement
whatever their length (:meth:`~.ledger.LedgerWriter.insert_number_run`).

Lock waits end with error 1205, which rolls back only the statement (with the default
``innodb_rollback_on_timeout=OFF``), so they are retried in place.  A configured
``lock_timeout`` sets ``innodb_lock_wait_timeout`` (whole seconds) on connections that
draw numbers.  Deadlocks (1213) roll back the whole transaction.  The drivers keep
the error number in different places (:func:`driver_error_code`).
"""

from __future__ import annotations

import enum
import math
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from ..faults import driver_error_code
from ..rules.counters import CounterKey
from ..rules.counters import CounterState
from ..store.types import UTCDateTime
from .base import Advance
from .base import CounterStrategy

__all__ = ["MariaDBCounterStrategy", "MySQLCounterStrategy", "ReadBack", "driver_error_code"]

#: ER_DATA_OUT_OF_RANGE: "BIGINT value is out of range in ..."
_OUT_OF_RANGE = 1690


class ReadBack(enum.Enum):
    """How the counter statement's new value is read back (see the module's notes)."""

    LASTROWID = "lastrowid"
    """The cursor's ``lastrowid``: the OK packet's insert id, no extra round trip."""
    RETURNING = "returning"
    """``... RETURNING value`` on the counter statement (MariaDB 10.5+)."""
    SELECT = "select"
    """A ``SELECT LAST_INSERT_ID()`` after the counter statement."""


#: Drivers whose cursor keeps the OK packet's insert id in ``lastrowid`` once the
#: statement is done, an insert id of 0 included (tested in tests/test_mysql_drivers).
LASTROWID_DRIVERS = frozenset({"pymysql", "mysqldb", "asyncmy", "aiomysql"})


class MySQLCounterStrategy(CounterStrategy):
    __dialect__ = "mysql"
    locks_index_gaps = True

    @property
    def renders_for_update_of(self) -> bool:  # type: ignore[override]
        # MySQL 8; MariaDB has no FOR UPDATE OF and SQLAlchemy leaves it out
        return bool(getattr(self.dialect, "supports_for_update_of", False))

    @property
    def supports_skip_locked(self) -> bool:  # type: ignore[override]
        # MySQL 8.0.1+ and MariaDB 10.6+
        version = self.dialect.server_version_info or (0,)
        if getattr(self.dialect, "is_mariadb", False):
            return tuple(version[:2]) >= (10, 6)
        return tuple(version[:3]) >= (8, 0, 1)

    def __init__(self, tables: Any, dialect: Dialect, **kw: Any) -> None:
        super().__init__(tables, dialect, **kw)
        c = tables.counters
        now = bindparam("now", type_=UTCDateTime)
        increment = bindparam("increment", type_=BigInteger)
        source = self.guarded_source(
            func.last_insert_id(bindparam("first_last", type_=BigInteger))
        )
        self._advance_stmt = (
            mysql_insert(c)
            .from_select(self.INSERTED_COLUMNS, source)
            .on_duplicate_key_update(
                [
                    # Assigned before value (MySQL assigns left to right), so that an
                    # allocation undone at capacity leaves the row exactly as it was.
                    (
                        "updated_at",
                        func.if_(
                            c.c.value <= bindparam("headroom", type_=BigInteger),
                            now,
                            c.c.updated_at,
                        ),
                    ),
                    ("value", func.last_insert_id(c.c.value + increment)),
                ]
            )
        )
        self._last_insert_id = select(func.last_insert_id())
        self._undo_stmt = update(c).where(self._key_clause).values(value=c.c.value - increment)
        self._create_or_lock = (
            mysql_insert(c).values(self.new_counter_row).on_duplicate_key_update(value=c.c.value)
        )

    @property
    def read_back(self) -> ReadBack:
        """How this driver and server get the counter's new value back."""
        if self.dialect.driver in LASTROWID_DRIVERS:
            return ReadBack.LASTROWID
        # set by SQLAlchemy once connected: MariaDB 10.5 and later
        if getattr(self.dialect, "insert_returning", False):
            return ReadBack.RETURNING
        return ReadBack.SELECT

    def advance(self, conn: Connection, request: Advance) -> int | None:
        params = request.params()
        try:
            last = self._advance_and_read(conn, params)
        except DBAPIError as exc:
            if driver_error_code(exc.orig) == _OUT_OF_RANGE:
                # value + increment passed 2**63 - 1 (the assignment is computed even when
                # the guard refuses); InnoDB undid the statement alone, so the slow path
                # can run and report the exhausted counter.
                return None
            raise
        if last is not None and last > request.capacity:
            conn.execute(self._undo_stmt, params)
            return None
        return last

    def _advance_and_read(self, conn: Connection, params: dict[str, Any]) -> int | None:
        """Run the counter statement; the counter's new value, ``None`` on a guard miss."""
        read_back = self.read_back
        if read_back is ReadBack.RETURNING:
            row = self.run_prepared(
                conn,
                "advance_returning",
                lambda: self._advance_stmt.returning(self.tables.counters.c.value),
                params,
            ).first()
            return None if row is None else int(row[0])
        result = self.run_prepared(conn, "advance", lambda: self._advance_stmt, params)
        if result.rowcount == 0:
            return None
        if read_back is ReadBack.LASTROWID:
            return int(result.lastrowid)
        # same connection, nothing in between: the value the counter statement set
        selected = self.run_prepared(conn, "last_insert_id", lambda: self._last_insert_id, {})
        return int(selected.scalar_one())

    @property
    def renders_number_runs(self) -> bool:
        # MySQL stops a recursive CTE at 1000 rows (cte_max_recursion_depth); MariaDB
        # lets one statement raise its own limit (number_run_lead)
        return bool(getattr(self.dialect, "is_mariadb", False))

    def render_number_sql(self, value: Any) -> Any:
        return func.concat(
            bindparam("prefix", type_=String),
            func.lpad(
                value,
                func.greatest(bindparam("width", type_=Integer), func.char_length(value)),
                "0",
            ),
            bindparam("suffix", type_=String),
        )

    #: MariaDB stops a recursive CTE after max_recursive_iterations (1000 by default);
    #: ``SET STATEMENT ... FOR`` lifts it for the ledger's statement alone.
    number_run_lead = "SET STATEMENT max_recursive_iterations = 4294967295 FOR "

    def lock_counter(
        self, conn: Connection, key: CounterKey, *, empty: CounterState, now: datetime
    ) -> CounterState:
        # Insert-or-lock first: a SELECT ... FOR UPDATE of a missing row takes a gap lock,
        # and two first users holding it would deadlock on their INSERTs.
        params = self._params(key)
        conn.execute(
            self._create_or_lock,
            {**params, "new_value": empty.value, "new_cycle": empty.cycle, "now": now},
        )
        row = conn.execute(self._read_locked, params).one()
        return CounterState(row.value, row.cycle)

    def prepare_lock_wait(self, conn: Connection) -> None:
        if self.lock_timeout is None:
            return
        seconds = max(1, math.ceil(self.lock_timeout))
        if conn.info.get("sa_sequencing.innodb_lock_wait_timeout") != seconds:
            conn.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {seconds}")
            conn.info["sa_sequencing.innodb_lock_wait_timeout"] = seconds


class MariaDBCounterStrategy(MySQLCounterStrategy):
    __dialect__ = "mariadb"
