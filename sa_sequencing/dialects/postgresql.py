"""PostgreSQL: the guarded upsert, with the per-number audit rows written by the same
statement.

The counter statement becomes a data-modifying CTE and a second CTE inserts one audit
row per number issued, rendering the number in SQL (``prefix || lpad(value) ||
suffix``; the rest of the pattern is already known before the statement runs).  So a
generated number costs one round trip however many rows it writes, and the counter
row is held for no longer than the floor of one ``UPDATE ... RETURNING``.

Lock timeouts use ``SET LOCAL lock_timeout`` and a savepoint, so a timed-out attempt
can be retried without aborting the caller's transaction.
"""

from __future__ import annotations

import math
from typing import Any
from typing import ClassVar

from sqlalchemy import BigInteger
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import bindparam
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from .base import Advance
from .upsert import UpsertCounterStrategy

__all__ = ["PostgreSQLCounterStrategy"]


class PostgreSQLCounterStrategy(UpsertCounterStrategy):
    __dialect__ = "postgresql"
    fuses_number_audit: ClassVar[bool] = True
    supports_skip_locked: ClassVar[bool] = True

    def dialect_insert(self, table: Any) -> Any:
        return pg_insert(table)

    def _audited_statement(self, single: bool) -> Any:
        """The counter upsert plus one audit row per number, as one statement.

        A single number gets its own statement without the ``generate_series`` join:
        PostgreSQL cannot use a generic (cached) plan for the join and would plan the
        statement again on every execution.
        """
        c = self.tables.counters
        a = self.tables.audits
        advanced = self.upsert_advance().returning(c.c.value).cte("advanced")
        if single:
            value: Any = advanced.c.value
        else:
            offsets = (
                func.generate_series(0, bindparam("count", type_=Integer) - 1)
                .table_valued("n")
                .render_derived(name="offsets")
            )
            value = advanced.c.value - offsets.c.n * bindparam("step", type_=BigInteger)
        # the time the number was issued, after the lock wait, so the ledger's times
        # follow its order
        rows = self.number_rows(value, func.clock_timestamp()).select_from(advanced)
        if not single:
            rows = rows.join(offsets, true()).order_by(offsets.c.n.desc())
        audited = insert(a).from_select(
            list(self.AUDIT_COLUMNS),
            rows,
        )
        return select(advanced.c.value).add_cte(audited.cte("audited"))

    def render_number_sql(self, value: Any) -> Any:
        digits = cast(value, Text)
        width = bindparam("width", type_=Integer)
        return (
            bindparam("prefix", type_=String)
            + func.lpad(digits, func.greatest(width, func.length(digits)), "0")
            + bindparam("suffix", type_=String)
        )

    def advance(self, conn: Connection, request: Advance) -> int | None:
        audit = request.audit
        if audit is None:
            return super().advance(conn, request)
        params = {**request.params(), **audit.params()}
        params.update(count=request.count, step=request.step)
        single = request.count == 1
        result = self.run_prepared(
            conn,
            "advance_audited_one" if single else "advance_audited_many",
            lambda: self._audited_statement(single),
            params,
        )
        value: int | None = result.scalar()
        return value

    @property
    def retry_needs_savepoint(self) -> bool:
        return self.lock_timeout is not None

    def prepare_lock_wait(self, conn: Connection) -> None:
        if self.lock_timeout is None:
            return
        transaction = conn.get_transaction()
        if conn.info.get("sa_sequencing.lock_timeout_txn") is transaction:
            return
        millis = max(1, math.ceil(self.lock_timeout * 1000))
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{millis}ms'")
        conn.info["sa_sequencing.lock_timeout_txn"] = transaction
