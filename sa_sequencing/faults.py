"""What a database error means for the transaction that met it: one classifier.

:func:`classify` reads an exception (a SQLAlchemy :class:`~sqlalchemy.exc.DBAPIError`
wrapper, or the raw exception of psycopg, PyMySQL, mysqlclient, MariaDB
Connector/Python, asyncmy, aiomysql or sqlite3/aiosqlite) and returns a
:class:`Fault`:

* ``SERIALIZATION``: SQLSTATE ``40001`` or ``40P01``; MySQL ``1213`` (a deadlock, and
  Galera's certification failure "WSREP detected deadlock/conflict"); ``1180`` with a
  deadlock or WSREP text; SQLite's ``SQLITE_BUSY_SNAPSHOT``.  The database rolled the
  transaction back (or doomed it): run the whole transaction again.
* ``LOCK_WAIT``: ``55P03`` (``lock_timeout``); MySQL ``1205`` and ``3572``
  (``NOWAIT``); SQLite ``database is locked``.  Only the statement failed: wait and
  run it again.
* ``NOT_READY``: MySQL ``1047`` "WSREP has not yet prepared node for application
  use"; ``2002``/``2003`` and PostgreSQL's refused connections; ``57P03``.  Nothing
  was done: run again later, or on another node.
* ``CONNECTION_LOST``: ``exc.connection_invalidated``; PostgreSQL's class ``08``,
  ``57P01``/``57P02`` (``pg_terminate_backend``), "server closed the connection";
  MySQL ``2006``/``2013``/``2055``/``1927``/``4031``/``1053``, a closed connection.
  The server rolled the transaction back, unless the break came during ``COMMIT``:
  then its outcome is unknown.
* ``OTHER``: anything else.

A :class:`~sa_sequencing.SequenceBusyError` classifies as ``SERIALIZATION`` when
``retryable`` and as ``LOCK_WAIT`` otherwise.  ``tests/test_faults.py`` provokes
40001, 40P01, 55P03, 57P01, a refused connection, 1213, 1205, 1927/2013 (with each
MySQL driver), ``database is locked`` and ``SQLITE_BUSY_SNAPSHOT`` on real servers, and
``tests/cluster`` Galera's 1213 and 1047; the other codes are from the servers'
manuals.
"""

from __future__ import annotations

import enum

from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.exc import StatementError

from .errors import SequenceBusyError
from .errors import describe

__all__ = ["Fault", "busy_error", "classify", "driver_error_code", "sqlstate"]


class Fault(enum.Enum):
    """The kinds of database failure, by their cure."""

    SERIALIZATION = "serialization"
    """The database rolled the transaction back (or doomed it): run it again."""
    LOCK_WAIT = "lock_wait"
    """A lock wait ran out; only the statement failed (PostgreSQL: under a savepoint)."""
    NOT_READY = "not_ready"
    """The server cannot take work now (a Galera node outside the primary component, a
    server starting): nothing was done; try again later or elsewhere."""
    CONNECTION_LOST = "connection_lost"
    """The connection broke: the transaction is rolled back by the server, unless the
    break came during ``COMMIT``, when nobody knows."""
    OTHER = "other"
    """Not a concurrency or availability fault."""

    @property
    def retryable(self) -> bool:
        """Whether running the whole transaction again may succeed (a connection lost
        during ``COMMIT`` excepted: see
        :class:`~sa_sequencing.retry.CommitOutcomeUnknownError`)."""
        return self in (Fault.SERIALIZATION, Fault.NOT_READY, Fault.CONNECTION_LOST)


# -- PostgreSQL ------------------------------------------------------------------------

_PG_SERIALIZATION = {"40001", "40P01"}
_PG_LOCK_WAIT = {"55P03"}
_PG_NOT_READY = {"57P03"}  # cannot_connect_now: the server is starting or recovering
_PG_LOST = {"57P01", "57P02"}  # admin_shutdown (pg_terminate_backend), crash_shutdown
_PG_LOST_TEXTS = (
    "server closed the connection",
    "the connection is closed",
    "connection already closed",
    "terminating connection",
    "consuming input failed",
    "could not receive data from server",
    "could not send data to server",
    "ssl connection has been closed",
    "connection has been lost",
    "socket is not open",
)
_CANNOT_CONNECT_TEXTS = ("connection refused", "could not connect", "connection failed")

# -- MySQL / MariaDB ---------------------------------------------------------------------

ER_LOCK_DEADLOCK = 1213  # also Galera: "WSREP detected deadlock/conflict"
ER_ERROR_DURING_COMMIT = 1180
ER_LOCK_WAIT_TIMEOUT = 1205
ER_LOCK_NOWAIT = 3572  # MySQL 8: NOWAIT / FOR UPDATE NOWAIT
ER_UNKNOWN_COM_ERROR = 1047  # Galera: "WSREP has not yet prepared node for application use"
_MY_NOT_READY = {2002, 2003}  # cannot connect (socket, TCP): nothing was sent
_MY_LOST = {
    1053,  # ER_SERVER_SHUTDOWN: the server is going down under the statement
    1158,  # ER_NET_READ_ERROR
    1159,  # ER_NET_READ_INTERRUPTED
    1160,  # ER_NET_ERROR_ON_WRITE
    1161,  # ER_NET_WRITE_INTERRUPTED
    1927,  # ER_CONNECTION_KILLED (MariaDB: KILL during the statement)
    2006,  # CR_SERVER_GONE_ERROR
    2013,  # CR_SERVER_LOST
    2055,  # CR_SERVER_LOST_EXTENDED
    4031,  # ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8.0.24+)
}
_MY_LOST_TEXTS = ("lost connection", "server has gone away", "not connected", "already closed")

# -- SQLite ----------------------------------------------------------------------------

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_BUSY_SNAPSHOT = 5 | (2 << 8)  # a WAL reader's snapshot went stale: restart
_SQLITE_BUSY_TEXTS = (
    "database is locked",
    "database table is locked",
    "database schema is locked",
)


def driver_error_code(orig: BaseException | None) -> int | None:
    """The server's error number carried by a MySQL driver's exception.

    MariaDB Connector/Python (and MySQL Connector/Python) keep it in ``errno``, with
    the message as the first argument; PyMySQL, mysqlclient, asyncmy and aiomysql
    raise ``Error(code, message)``.
    """
    code = getattr(orig, "errno", None)
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and not isinstance(args[0], bool):
        return args[0]
    return None


def sqlstate(orig: BaseException | None) -> str | None:
    """The SQLSTATE of a PostgreSQL driver's exception (psycopg 3 ``sqlstate``,
    psycopg2 ``pgcode``, asyncpg ``sqlstate``)."""
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code if isinstance(code, str) else None


def _driver_error(exc: BaseException) -> BaseException:
    """The DB-API exception under SQLAlchemy's wrapper (and under asyncio adapters)."""
    orig = exc.orig if isinstance(exc, StatementError) else exc
    return orig if isinstance(orig, BaseException) else exc


_SQLITE_MODULES = {"sqlite3", "aiosqlite", "pysqlite2"}
_MYSQL_MODULES = {"pymysql", "MySQLdb", "mariadb", "asyncmy", "aiomysql", "mysql"}
_PG_MODULES = {"psycopg", "psycopg2", "asyncpg", "pg8000"}


def _module(orig: BaseException) -> str:
    return type(orig).__module__.split(".", 1)[0]


def classify(exc: BaseException) -> Fault:
    """The :class:`Fault` of a database error (``OTHER`` for anything else)."""
    if isinstance(exc, SequenceBusyError):
        return Fault.SERIALIZATION if exc.retryable else Fault.LOCK_WAIT
    if getattr(exc, "connection_invalidated", False):
        return Fault.CONNECTION_LOST
    if isinstance(exc, PendingRollbackError):
        # "Can't reconnect until invalid transaction is rolled back": the connection
        # under this transaction was invalidated earlier
        text = str(exc).lower()
        return Fault.CONNECTION_LOST if "invalid transaction" in text else Fault.OTHER
    orig = _driver_error(exc)
    module = _module(orig)
    if module in _SQLITE_MODULES:
        return _classify_sqlite(orig)
    if module not in _MYSQL_MODULES:
        state = sqlstate(orig)
        if state is not None or module in _PG_MODULES:
            return _classify_postgresql(orig, state)
    # MariaDB Connector/Python has a sqlstate too, but the error number says more
    code = driver_error_code(orig)
    if code is not None:
        return _classify_mysql(orig, code)
    return Fault.OTHER


def _classify_postgresql(orig: BaseException, state: str | None) -> Fault:
    if state in _PG_SERIALIZATION:
        return Fault.SERIALIZATION
    if state in _PG_LOCK_WAIT:
        return Fault.LOCK_WAIT
    if state in _PG_NOT_READY:
        return Fault.NOT_READY
    if state in _PG_LOST or (state is not None and state.startswith("08")):
        return Fault.CONNECTION_LOST
    if state is None and type(orig).__name__ in ("OperationalError", "InterfaceError"):
        # psycopg raises these without a SQLSTATE when the socket breaks or was closed
        text = str(orig).lower()
        if any(t in text for t in _PG_LOST_TEXTS):
            return Fault.CONNECTION_LOST
        if any(t in text for t in _CANNOT_CONNECT_TEXTS):
            return Fault.NOT_READY
    return Fault.OTHER


def _classify_mysql(orig: BaseException, code: int) -> Fault:
    if code == ER_LOCK_DEADLOCK:
        return Fault.SERIALIZATION
    if code == ER_ERROR_DURING_COMMIT:
        text = str(orig).lower()
        # InnoDB's HA_ERR_LOCK_DEADLOCK (149) or a Galera conflict reported at COMMIT
        if "deadlock" in text or "wsrep" in text or "error 149" in text:
            return Fault.SERIALIZATION
        return Fault.OTHER
    if code in (ER_LOCK_WAIT_TIMEOUT, ER_LOCK_NOWAIT):
        return Fault.LOCK_WAIT
    if code == ER_UNKNOWN_COM_ERROR:
        return Fault.NOT_READY if "wsrep" in str(orig).lower() else Fault.OTHER
    if code in _MY_NOT_READY:
        return Fault.NOT_READY
    if code in _MY_LOST:
        return Fault.CONNECTION_LOST
    if code == 0 or code >= 2000:
        # PyMySQL/mysqlclient: InterfaceError(0, '') on a closed connection; client
        # error numbers (2xxx) we do not list are about the link, not the data
        text = str(orig).lower()
        if code == 0 or any(t in text for t in _MY_LOST_TEXTS):
            return Fault.CONNECTION_LOST
    return Fault.OTHER


def _classify_sqlite(orig: BaseException) -> Fault:
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        if code == _SQLITE_BUSY_SNAPSHOT:
            return Fault.SERIALIZATION
        if code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return Fault.LOCK_WAIT
        return Fault.OTHER
    text = str(orig).lower()
    return Fault.LOCK_WAIT if any(t in text for t in _SQLITE_BUSY_TEXTS) else Fault.OTHER


def busy_error(exc: BaseException, *, sequence: str | None, scope: str | None) -> Exception | None:
    """The :class:`~sa_sequencing.SequenceBusyError` that ``exc`` (a database error met
    while working on ``sequence``) means to a caller, or ``None`` when it means none
    (a connection lost, or not a concurrency fault: those are raised as they are).

    The library's entry points (every public manager method, the flush hook) raise
    this ``from`` the driver's error, so that ``__cause__`` is always the database's
    own account.
    """
    fault = classify(exc)
    where = describe(sequence, scope)
    if fault is Fault.SERIALIZATION:
        return SequenceBusyError(
            f"{where}: the database rolled the transaction back (a serialization failure, "
            "a deadlock or, on Galera, a certification conflict); run the whole "
            "transaction again (sa_sequencing.run_in_transaction does that for you)",
            sequence=sequence,
            scope=scope,
            retryable=True,
        )
    if fault is Fault.NOT_READY:
        return SequenceBusyError(
            f"{where}: the database cannot take work now (a server starting, a Galera "
            "node outside the primary component); run the transaction again, later or "
            "on another node (sa_sequencing.run_in_transaction waits and retries)",
            sequence=sequence,
            scope=scope,
            retryable=True,
        )
    if fault is Fault.LOCK_WAIT:
        return SequenceBusyError(
            f"{where}: a row this call needed stayed locked by another transaction past "
            "the lock wait; keep transactions that number documents short, raise "
            "lock_timeout, or try again later",
            sequence=sequence,
            scope=scope,
        )
    return None
