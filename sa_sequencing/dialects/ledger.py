"""The ledger's ``number_generated`` rows, as each database writes them fastest.

Every issued number is a row in the audit table, written in the transaction that
draws it, while the counter row is locked.  How many round trips that costs is the
database's business:

* one ``INSERT`` per batch of rows (any database: :meth:`LedgerWriter.insert_audit_rows`);
* one statement per *run* of numbers, the numbers counted by a recursive CTE and
  rendered in SQL (:meth:`LedgerWriter.insert_number_run`, where
  :attr:`~LedgerWriter.renders_number_runs`);
* no statement of its own: the counter statement writes the rows too
  (:attr:`LedgerWriter.fuses_number_audit`; PostgreSQL's data-modifying CTE).

All three write the same row, built by :meth:`LedgerWriter.number_rows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from sqlalchemy import BigInteger
from sqlalchemy import Numeric
from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy import cast
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..store.tables import SequencingTables
from ..store.types import UTCDateTime

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import CursorResult


__all__ = ["AuditSpec", "LedgerWriter"]


@dataclass(frozen=True)
class AuditSpec:
    """What a per-number audit row says, for strategies that write it in the counter
    statement itself."""

    sequence_name: str
    scope: str
    prefix: str
    width: int
    suffix: str
    data: Any
    performed_by: str | None

    def params(self) -> dict[str, Any]:
        """The bound values of :meth:`LedgerWriter.number_rows`."""
        return {
            "sequence_name": self.sequence_name,
            "k_scope": self.scope,
            "prefix": self.prefix,
            "width": self.width,
            "suffix": self.suffix,
            "data": self.data,
            "performed_by": self.performed_by,
        }


class LedgerWriter:
    """The ledger half of a :class:`~sa_sequencing.dialects.base.CounterStrategy`."""

    tables: SequencingTables

    run_prepared: Callable[..., CursorResult[Any]]

    #: The ledger columns :meth:`insert_audit_rows` writes.
    AUDIT_COLUMNS: ClassVar[tuple[str, ...]] = (
        "sequence_name",
        "scope",
        "event",
        "number",
        "counter_value",
        "data",
        "performed_by",
        "created_at",
    )

    #: whether :meth:`advance` writes the per-number audit rows itself, given an
    #: :class:`AuditSpec`
    fuses_number_audit: ClassVar[bool] = False

    def insert_audit_rows(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Write ledger rows (every column of :attr:`AUDIT_COLUMNS` given)."""
        self.run_prepared(conn, "insert_audit", self._audit_insert, rows)

    def insert_number_run(
        self,
        conn: Connection,
        audit: AuditSpec,
        *,
        first: int,
        last: int,
        step: int,
        now: datetime,
    ) -> bool:
        """Write the ``number_generated`` rows of ``first, first + step, ... last`` with one
        statement that renders the numbers in SQL (``prefix``, zero-padded value,
        ``suffix``), instead of sending one row of parameters per number.

        Returns ``False``, having written nothing, where the database cannot: the
        caller then writes the rows itself.
        """
        if not self.renders_number_runs or conn.get_execution_options().get(
            "schema_translate_map"
        ):
            return False
        values = {
            **audit.params(),
            "first": first,
            "last_but_step": last - step,
            "step": step,
            "now": now,
        }
        self.run_prepared(
            conn,
            "insert_number_run",
            self._number_run,
            values,
            lead=self.number_run_lead,
        )
        return True

    #: SQL placed before the compiled :meth:`insert_number_run` statement (a
    #: statement-level option that no construct renders).
    number_run_lead: ClassVar[str] = ""

    @property
    def renders_number_runs(self) -> bool:
        """Whether :meth:`insert_number_run` can count with a recursive CTE and render
        numbers with :meth:`render_number_sql`."""
        return False

    def render_number_sql(self, value: Any) -> Any:
        """``prefix || value zero-padded to width || suffix`` in the database's SQL."""
        raise NotImplementedError

    def number_rows(self, value: Any, created_at: Any) -> Any:
        """``INSERT ... SELECT`` of the ``number_generated`` rows of counter ``value``
        (a column of the select's source, or an expression), stamped ``created_at``."""
        a = self.tables.audits
        return select(
            bindparam("sequence_name", type_=String),
            bindparam("k_scope", type_=String),
            literal("number_generated", String),
            self.render_number_sql(value),
            value,
            bindparam("data", type_=a.c.data.type),
            bindparam("performed_by", type_=String),
            created_at,
        )

    def _number_run(self) -> Any:
        step = bindparam("step", type_=BigInteger)
        # The anchor's type is the column's: a bound value sent through a binary
        # protocol (MariaDB Connector/Python) would make it as small as the value
        # (TINYINT for 1), and the run would overflow at 128.  MariaDB sizes even
        # CAST(1 AS SIGNED) by its digits (INT), so a run from 1 with a step of
        # 2**31 - 1 overflowed: DECIMAL(19, 0) holds every BIGINT whatever the value.
        first = cast(bindparam("first", type_=BigInteger), Numeric(19, 0))
        run = select(first.label("v")).cte("run", recursive=True)
        run = run.union_all(
            # v <= last - step, not v + step <= last: near 2**63 - 1 the sum overflows.
            select((run.c.v + step).label("v")).where(
                run.c.v <= bindparam("last_but_step", type_=BigInteger)
            )
        )
        rows = self.number_rows(run.c.v, bindparam("now", type_=UTCDateTime)).order_by(run.c.v)
        return insert(self.tables.audits).from_select(list(self.AUDIT_COLUMNS), rows)

    def _audit_insert(self) -> Any:
        a = self.tables.audits
        return insert(a).values(
            {name: bindparam(name, type_=a.c[name].type) for name in self.AUDIT_COLUMNS}
        )
