"""CockroachDB: PostgreSQL's one-statement counter, on a database that is always
``SERIALIZABLE`` and retries by restarting whole transactions.

CockroachDB speaks PostgreSQL's wire protocol and SQL, and the dialects of
``sqlalchemy-cockroachdb`` (``cockroachdb+psycopg://``, ``cockroachdb+asyncpg://``,
``cockroachdb+psycopg2://``) are SQLAlchemy's PostgreSQL dialects under the name
``cockroachdb``.  This strategy sends what :class:`PostgreSQLCounterStrategy` sends,
and relies on these features of CockroachDB (the documentation of each is cited in
``docs/dialects.rst``):

* ``INSERT ... SELECT ... ON CONFLICT (...) DO UPDATE SET ... WHERE ... RETURNING``:
  the guarded upsert that checks the definition's revision, creates the counter on
  first use, increments it and reads it back in one round trip.  CockroachDB locks
  the row it updates during the statement's initial scan (implicit
  ``SELECT FOR UPDATE``, on by default), so writers of one counter queue for it
  rather than all restarting.
* Data-modifying common table expressions (``WITH advanced AS (INSERT ...
  RETURNING ...), audited AS (INSERT INTO sequence_audits SELECT ... FROM
  advanced) SELECT ...``), ``generate_series``, ``lpad``, ``greatest``, ``length``
  and ``clock_timestamp()``: the ledger rows are written by the counter statement,
  as on PostgreSQL (:attr:`fuses_number_audit`).  The two CTEs write two different
  tables, so CockroachDB's limit on modifying one table twice in a statement does
  not apply.
* ``SET LOCAL lock_timeout``, whose expiry CockroachDB reports as SQLSTATE ``55P03``
  ("canceling statement due to lock timeout on row"), and nested savepoints (20.1+),
  so a timed-out counter statement is retried under a savepoint, as on PostgreSQL.
  It is sent only when ``Sequencing(lock_timeout=...)`` is set.
* ``SELECT ... FOR UPDATE`` and, from v22.2, ``SKIP LOCKED``
  (:attr:`supports_skip_locked`, read from the server version the dialect learnt
  on connecting; before that, and when SQL is compiled without a connection, gap
  claims use the ``UPDATE`` that re-checks the claim's guard instead).

What it does not use: advisory locks and ``LOCK TABLE`` (CockroachDB has neither;
the library uses neither on any database).

What differs from PostgreSQL is the failure model.  CockroachDB runs every
transaction at ``SERIALIZABLE`` and may abort one with SQLSTATE ``40001`` ("restart
transaction") at any statement, ``COMMIT`` included, under contention or after a
clock-uncertainty restart.  Those are classified by
:func:`sa_sequencing.faults.classify` as serialization failures, raised by the
library as a retryable :class:`~sa_sequencing.SequenceBusyError` (``40001`` as its
``__cause__``), and run again by :func:`sa_sequencing.run_in_transaction` (or its
async twin), which is therefore not optional on CockroachDB.  The library does not
use the ``SAVEPOINT cockroach_restart`` protocol: a failed attempt is rolled back
and the whole transaction runs again in a new session, which CockroachDB's
client-side retry guidance allows and which leaves no state of the failed attempt
behind.  (``sqlalchemy_cockroachdb.run_transaction`` retries only SQLAlchemy
``DatabaseError`` wrappers of ``SerializationFailure``, so it does not retry a
``SequenceBusyError``: use :func:`~sa_sequencing.run_in_transaction`.)
"""

from __future__ import annotations

from typing import ClassVar

from .postgresql import PostgreSQLCounterStrategy

__all__ = ["CockroachDBCounterStrategy"]


class CockroachDBCounterStrategy(PostgreSQLCounterStrategy):
    __dialect__ = "cockroachdb"
    fuses_number_audit: ClassVar[bool] = True

    @property
    def supports_skip_locked(self) -> bool:  # type: ignore[override]
        # SKIP LOCKED came with v22.2 (cockroachdb/cockroach#85720).  The dialect of
        # sqlalchemy-cockroachdb reports PostgreSQL 9.5 as server_version_info and
        # keeps the real version as flags set on first connect; without them (SQL
        # compiled offline, another dialect of that name) claims do without.
        return bool(getattr(self.dialect, "_is_v222plus", False))
