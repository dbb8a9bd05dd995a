"""The reservation expiry job: reserved numbers past their ``ttl`` become gaps.

Run it every few minutes, from cron, a systemd timer or Celery beat (see the
operations page); several copies may run at once, each expired number is claimed by
one of them::

    DATABASE_URL=postgresql+psycopg://app@localhost/app python expiry_job.py
    released 3 expired reserved numbers

It works on the tables with the library's default names (set
``SEQUENCING_TABLE_PREFIX`` for a ``table_prefix``); an application with tables of its
own classes imports its own ``Sequencing`` and calls
:func:`release_expired_reservations` with it.
"""

from __future__ import annotations

import logging
import os
import sys

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from sa_sequencing import Sequencing
from sa_sequencing import run_in_transaction

log = logging.getLogger("expiry_job")


def release_expired_reservations(
    sessions: sessionmaker[Session], sequencing: Sequencing, *, actor: str = "expiry-job"
) -> int:
    """Expire every reservation past its time, in one committed transaction (run
    again after a deadlock); the number of reserved numbers it turned into gaps."""
    count = run_in_transaction(
        sessions, lambda session: sequencing.manager(session).release_expired(performed_by=actor)
    )
    log.info("released %d expired reserved numbers", count)
    return count


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # A Sequencing on an empty MetaData describes the tables the application made,
    # as long as the names agree.
    sequencing = Sequencing(
        sa.MetaData(), table_prefix=os.environ.get("SEQUENCING_TABLE_PREFIX", "")
    )
    engine = sa.create_engine(os.environ["DATABASE_URL"])
    try:
        release_expired_reservations(sessionmaker(engine), sequencing)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
