"""The savepoint helper never lets its own cleanup hide the error that ended the block."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import PendingRollbackError

from sa_sequencing.store.savepoint import Savepoint

KILL = {
    "postgresql": ("SELECT pg_backend_pid()", "SELECT pg_terminate_backend({})"),
    "mysql": ("SELECT CONNECTION_ID()", "KILL {}"),
}


def test_a_connection_lost_inside_the_block_is_the_error_reported(engine: sa.Engine) -> None:
    """Once the connection is gone SQLAlchemy refuses every statement with
    PendingRollbackError, the savepoint's rollback included; the caller must see the
    connection loss (the reason), not that refusal (the load test saw hundreds of
    them, two of which hid a retryable SequenceBusyError)."""
    if engine.dialect.name not in KILL:
        pytest.skip("SQLite has no server connection to lose")
    whoami, kill = KILL[engine.dialect.name]
    with engine.connect() as conn, engine.connect() as other:
        conn.begin()
        session_id = conn.exec_driver_sql(whoami).scalar()
        with pytest.raises(DBAPIError) as raised, Savepoint(conn):
            other.exec_driver_sql(kill.format(int(session_id)))
            conn.exec_driver_sql("SELECT 1")
        assert not isinstance(raised.value, PendingRollbackError)
        assert raised.value.connection_invalidated
        conn.rollback()


def test_an_error_in_the_block_is_undone_and_reported(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.begin()
        conn.exec_driver_sql("CREATE TABLE sp_probe (id INTEGER PRIMARY KEY)")
        try:
            conn.exec_driver_sql("INSERT INTO sp_probe VALUES (1)")
            with pytest.raises(DBAPIError), Savepoint(conn):
                conn.exec_driver_sql("INSERT INTO sp_probe VALUES (2)")
                conn.exec_driver_sql("INSERT INTO sp_probe VALUES (1)")  # duplicate key
            # the block's insert is undone, the transaction's own work is kept
            assert conn.exec_driver_sql("SELECT id FROM sp_probe").scalars().all() == [1]
        finally:
            conn.rollback()
            if engine.dialect.name == "mysql":  # DDL commits on MySQL
                with engine.begin() as c:
                    c.exec_driver_sql("DROP TABLE IF EXISTS sp_probe")
