"""The generic counter strategy, and what every dialect strategy provides.

A strategy knows how to advance one counter row on one kind of database with as few
round trips as the database allows.  The counter row stays locked from the counter
statement until the caller's transaction ends, so every round trip spent while it is
held divides throughput under contention; the dialect subclasses therefore do the
whole job (guard, create-on-first-use, increment, read back) in one statement.

:class:`CounterStrategy` itself is the fallback for any other database:
``SELECT ... FOR UPDATE``, an ``INSERT`` under a savepoint on first use, and an
``UPDATE``.  Subclasses register themselves by their ``__dialect__`` name.
"""

from __future__ import annotations

import enum
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import ClassVar
from typing import TypeVar

from sqlalchemy import BigInteger
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.engine import CursorResult
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError

from ..errors import ArgumentTypeError
from ..faults import Fault
from ..faults import classify
from ..logs import locks as _log
from ..rules.counters import CounterKey
from ..rules.counters import CounterState
from ..rules.limits import MAX_COUNTER
from ..store.savepoint import Savepoint
from ..store.tables import SequencingTables
from ..store.types import UTCDateTime
from .ledger import AuditSpec
from .ledger import LedgerWriter
from .prepared import PreparedStatement
from .stats import LockStats

__all__ = ["Advance", "AuditSpec", "CounterKey", "CounterState", "CounterStrategy", "ErrorKind"]

_T = TypeVar("_T")

#: Largest value a counter may take (BIGINT).
MAX_VALUE = MAX_COUNTER

_registry: dict[str, type[CounterStrategy]] = {}


class ErrorKind(enum.Enum):
    """How a database error bears on the counter statement."""

    LOCK_TIMEOUT = "lock_timeout"
    """The lock wait ran out; the statement (not the transaction) may be run again."""
    SERIALIZATION = "serialization"
    """A serialization failure or deadlock: the transaction must be run again."""


@dataclass(frozen=True)
class Advance:
    """One request to move a counter by ``count`` numbers (see
    :meth:`CounterStrategy.advance`)."""

    key: CounterKey
    revision: int
    """The definition's revision the caller planned with."""
    count: int
    start: int
    step: int
    capacity: int
    """The value the counter may not pass
    (:func:`~sa_sequencing.rules.counters.capacity_of`)."""
    now: datetime
    audit: AuditSpec | None = None
    """Per-number audit rows, for strategies that write them in the counter statement."""

    def params(self) -> dict[str, Any]:
        """The bound parameters shared by the one-statement strategies."""
        return {
            "k_sequence_id": self.key.sequence_id,
            "k_scope": self.key.scope,
            "k_period": self.key.period,
            "revision": self.revision,
            "first_last": self.start + (self.count - 1) * self.step,
            "increment": self.count * self.step,
            "capacity": self.capacity,
            # The guard is value <= capacity - increment: value + increment <= capacity
            # overflows a BIGINT (PostgreSQL, MySQL) or turns into a float (SQLite)
            # near 2**63 - 1.
            "headroom": self.capacity - self.count * self.step,
            "now": self.now,
        }


class CounterStrategy(LedgerWriter):
    """Generic strategy: ``SELECT ... FOR UPDATE`` then ``UPDATE``."""

    __dialect__: ClassVar[str] = "default"
    #: whether ``FOR UPDATE SKIP LOCKED`` can be used
    supports_skip_locked: ClassVar[bool] = False
    #: whether a locking read locks the gaps of the index ranges it scans (InnoDB)
    locks_index_gaps: ClassVar[bool] = False
    #: whether ``FOR UPDATE OF table`` locks that table alone (where the database has
    #: no ``OF``, a locking join locks the rows of every table it reads)
    renders_for_update_of: ClassVar[bool] = True

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "__dialect__" in cls.__dict__:
            _registry[cls.__dialect__] = cls

    def __init__(
        self,
        tables: SequencingTables,
        dialect: Dialect,
        *,
        lock_timeout: float | None = None,
        lock_retries: int = 3,
        stats: LockStats | None = None,
    ) -> None:
        self.tables = tables
        self.dialect = dialect
        self.lock_timeout = lock_timeout
        self.lock_retries = lock_retries
        self.stats = stats
        c = tables.counters
        self._key_clause = (
            (c.c.sequence_id == bindparam("k_sequence_id", type_=Integer))
            & (c.c.scope == bindparam("k_scope", type_=String))
            & (c.c.period == bindparam("k_period", type_=String))
        )
        self._read = select(c.c.value, c.c.cycle).where(self._key_clause)
        self._read_locked = self._read.with_for_update()
        self._write = (
            update(c)
            .where(self._key_clause)
            .values(
                value=bindparam("new_value", type_=BigInteger),
                cycle=bindparam("new_cycle", type_=Integer),
                updated_at=bindparam("now", type_=UTCDateTime),
            )
        )
        #: the values of a new counter row, for every strategy's create-or-lock statement
        self.new_counter_row = {
            "sequence_id": bindparam("k_sequence_id", type_=Integer),
            "scope": bindparam("k_scope", type_=String),
            "period": bindparam("k_period", type_=String),
            "value": bindparam("new_value", type_=BigInteger),
            "cycle": bindparam("new_cycle", type_=Integer),
            "updated_at": bindparam("now", type_=UTCDateTime),
        }
        self._insert_empty = insert(c).values(self.new_counter_row)
        s = tables.sequences
        self._revision = select(s.c.revision).where(
            s.c.id == bindparam("k_sequence_id", type_=Integer)
        )
        self._prepared: dict[str, PreparedStatement] = {}

    def run_prepared(
        self,
        conn: Connection,
        name: str,
        build: Callable[[], Any],
        values: dict[str, Any] | list[dict[str, Any]],
        *,
        lead: str = "",
    ) -> CursorResult[Any]:
        # ``lead``: SQL placed before the compiled statement (never used with a
        # schema_translate_map, which runs the construct itself)
        """Run the hot-path statement ``name`` (made by ``build`` on first use), compiled
        once for this dialect (see :mod:`.prepared`); a list of ``values`` runs it once
        per item (``executemany``)."""
        if conn.get_execution_options().get("schema_translate_map"):
            # the schema names are decided per execution: no SQL compiled ahead of time
            return conn.execute(build(), values)
        prepared = self._prepared.get(name)
        if prepared is None:
            prepared = PreparedStatement(build(), self.dialect, lead=lead)
            self._prepared[name] = prepared
        return prepared.execute(conn, values)

    # -- the hot path -----------------------------------------------------------------

    #: The counter columns a one-statement strategy inserts, in :meth:`guarded_source` order.
    INSERTED_COLUMNS: ClassVar[list[str]] = [
        "sequence_id",
        "scope",
        "period",
        "value",
        "cycle",
        "updated_at",
    ]

    def guarded_source(self, value: Any, *conditions: Any) -> Any:
        """The row a one-statement strategy inserts on first use (key, ``value``, cycle 1,
        time), selected only while the definition still has the planned revision, so
        a stale cached definition inserts and updates nothing."""
        s = self.tables.sequences
        return select(
            bindparam("k_sequence_id", type_=Integer),
            bindparam("k_scope", type_=String),
            bindparam("k_period", type_=String),
            value,
            literal(1, Integer),
            bindparam("now", type_=UTCDateTime),
        ).where(
            s.c.id == bindparam("k_sequence_id", type_=Integer),
            s.c.revision == bindparam("revision", type_=Integer),
            *conditions,
        )

    def advance(self, conn: Connection, request: Advance) -> int | None:
        """Advance the counter by ``count`` numbers and return the last one.

        Returns ``None``, having changed nothing, when the definition's revision is no
        longer ``revision`` (it was changed, locked or deleted) or when the numbers
        would pass ``capacity``: the caller then takes the slow path.
        """
        r = request
        revision = conn.execute(self._revision, {"k_sequence_id": r.key.sequence_id}).scalar()
        if revision != r.revision:
            return None
        state = self.lock_counter(conn, r.key, empty=CounterState(r.start - r.step, 1), now=r.now)
        last = state.value + r.count * r.step
        if last > r.capacity:
            return None
        self.write_counter(conn, r.key, CounterState(last, state.cycle), now=r.now)
        return last

    # -- the slow path and preview ----------------------------------------------------

    def read_counter(self, conn: Connection, key: CounterKey) -> CounterState | None:
        """The counter's state without locking it (for ``preview``)."""
        row = conn.execute(self._read, self._params(key)).first()
        return None if row is None else CounterState(row.value, row.cycle)

    def lock_counter(
        self, conn: Connection, key: CounterKey, *, empty: CounterState, now: datetime
    ) -> CounterState:
        """Lock the counter row until the transaction ends, creating it if missing."""
        params = self._params(key)
        row = conn.execute(self._read_locked, params).first()
        if row is None:
            # A concurrent first use inserts the same key: the loser's INSERT fails,
            # and the savepoint keeps its transaction usable.
            with self.savepoint(conn) as rollback:
                try:
                    conn.execute(
                        self._insert_empty,
                        {**params, "new_value": empty.value, "new_cycle": empty.cycle, "now": now},
                    )
                except IntegrityError:
                    rollback()
            row = conn.execute(self._read_locked, params).one()
        return CounterState(row.value, row.cycle)

    def write_counter(
        self, conn: Connection, key: CounterKey, state: CounterState, *, now: datetime
    ) -> None:
        conn.execute(
            self._write,
            {**self._params(key), "new_value": state.value, "new_cycle": state.cycle, "now": now},
        )

    # -- locks, timeouts, retries --------------------------------------------------

    def in_autocommit(self, conn: Connection) -> bool:
        """Whether each statement on ``conn`` commits by itself (no number may be
        drawn there).  Read from the connection's options, without a round trip."""
        options = conn.get_execution_options()
        if "isolation_level" in options:
            return bool(options["isolation_level"] == "AUTOCOMMIT")
        # create_engine(isolation_level="AUTOCOMMIT") is kept only here; asking the
        # driver (Connection.get_isolation_level()) would cost a query per draw.
        return getattr(conn.dialect, "_on_connect_isolation_level", None) == "AUTOCOMMIT"

    def classify(self, exc: DBAPIError) -> ErrorKind | None:
        """Tell a lock timeout or serialization failure from other errors, by
        :func:`sa_sequencing.faults.classify` (the one classifier of the package); a
        strategy for another database may refine it."""
        fault = classify(exc)
        if fault in (Fault.SERIALIZATION, Fault.NOT_READY):
            return ErrorKind.SERIALIZATION
        if fault is Fault.LOCK_WAIT:
            return ErrorKind.LOCK_TIMEOUT
        return None

    def prepare_lock_wait(self, conn: Connection) -> None:
        """Apply the configured lock timeout to the connection (dialect specific)."""

    @property
    def retry_needs_savepoint(self) -> bool:
        """Whether a timed-out statement aborts the transaction unless under a savepoint."""
        return False

    def run_locking(self, conn: Connection, sequence: str, action: Callable[[], _T]) -> _T:
        """Run a statement that waits for the counter lock, retrying lock timeouts.

        Lock timeouts are retried ``lock_retries`` times; serialization failures are
        not (the database has doomed the transaction).  Either way the caller gets the
        :class:`~sa_sequencing.errors.SequenceBusyError` built by ``busy_error``.
        """
        self.prepare_lock_wait(conn)
        attempt = 0
        while True:
            began = time.perf_counter()
            try:
                if self.retry_needs_savepoint:
                    # leaving the block with the error rolls back to the savepoint
                    with self.savepoint(conn):
                        result = action()
                else:
                    result = action()
            except DBAPIError as exc:
                kind = self.classify(exc)
                if self.stats is not None:
                    self.stats.record(sequence, time.perf_counter() - began, failed=True)
                if kind is ErrorKind.LOCK_TIMEOUT and attempt < self.lock_retries:
                    attempt += 1
                    delay = min(0.05 * attempt, 0.5)
                    waited = time.perf_counter() - began
                    _log.warning(
                        "sequence %r: counter lock wait timed out after %.3f s "
                        "(attempt %d of %d), trying again in %.2f s",
                        sequence,
                        waited,
                        attempt,
                        self.lock_retries + 1,
                        delay,
                        extra={
                            "event": "lock_retry",
                            "sequence": sequence,
                            "attempt": attempt,
                            "attempts": self.lock_retries + 1,
                            "lock_wait": waited,
                            "delay": delay,
                            "fault": "lock_wait",
                        },
                    )
                    time.sleep(delay)
                    continue
                if kind is None:
                    raise
                raise LockBusy(kind, attempt + 1) from exc
            if self.stats is not None:
                self.stats.record(sequence, time.perf_counter() - began)
            return result

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _params(key: CounterKey) -> dict[str, Any]:
        return {"k_sequence_id": key.sequence_id, "k_scope": key.scope, "k_period": key.period}

    def savepoint(self, conn: Connection) -> Savepoint:
        return Savepoint(conn)


class LockBusy(Exception):
    """Internal: a lock wait or serialization failure the allocator turns into
    :class:`~sa_sequencing.errors.SequenceBusyError` with the sequence's name."""

    def __init__(self, kind: ErrorKind, attempts: int) -> None:
        super().__init__(kind.value)
        self.kind = kind
        self.attempts = attempts


class StrategyCache:
    """The counter strategy of each database a :class:`~sa_sequencing.Sequencing` meets,
    made on first use with its tables and lock settings.

    The allocator and the manager are handed this, not the ``Sequencing``: drawing a
    number asks it for the connection's strategy and never goes back up a layer.
    """

    def __init__(
        self,
        tables: SequencingTables,
        *,
        lock_timeout: float | None,
        lock_retries: int,
        stats: LockStats | None,
    ) -> None:
        self.tables = tables
        self.lock_timeout = lock_timeout
        self.lock_retries = lock_retries
        self.stats = stats
        self._by_dialect: weakref.WeakKeyDictionary[Dialect, CounterStrategy] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, conn: Connection) -> CounterStrategy:
        """The counter strategy for the connection's database."""
        strategy = self._by_dialect.get(conn.dialect)
        if strategy is None:
            strategy = registered_strategy(conn.dialect)(
                self.tables,
                conn.dialect,
                lock_timeout=self.lock_timeout,
                lock_retries=self.lock_retries,
                stats=self.stats,
            )
            self._by_dialect[conn.dialect] = strategy
        return strategy

    def put(self, dialect: Dialect, strategy: CounterStrategy) -> None:
        """Use ``strategy`` for ``dialect`` from now on (the generic strategy on a
        database that has its own, say, as the tests do)."""
        self._by_dialect[dialect] = strategy


def registered_strategy(dialect: Dialect) -> type[CounterStrategy]:
    """The strategy class for ``dialect``: by name, else the generic fallback."""
    return _registry.get(dialect.name, CounterStrategy)


def register(name: str, cls: type[CounterStrategy]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, CounterStrategy)):
        raise ArgumentTypeError(f"{cls!r} is not a CounterStrategy subclass")
    _registry[name] = cls
