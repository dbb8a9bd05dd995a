"""The package's loggers and the ``extra`` fields of their records.

Everything logs under ``logging.getLogger("sa_sequencing")``, through four children
that can be configured apart::

    sa_sequencing.allocation   DEBUG    one record per draw (generate, generate_many,
                                        generate_batch, the flush hook, reserve)
                               WARNING  a counter crossed its exhaustion threshold
    sa_sequencing.locks        WARNING  a counter lock wait timed out and is tried again;
                                        a SequenceBusyError is raised
    sa_sequencing.retry        WARNING  run_in_transaction runs a transaction again
    sa_sequencing.lifecycle    INFO     define, update, delete, lock, unlock, void,
                                        override, define_version, reserve, finalize,
                                        release, release_expired

The package adds only a :class:`logging.NullHandler` (the library convention): where
the application configured nothing, nothing is printed.  Nothing is built for a record
whose level is disabled: the draw checks ``isEnabledFor(DEBUG)`` once, and measures
its lock wait only when the record will be made.

Every record carries ``event`` and the fields below as attributes (``extra=``), so a
structured handler (JSON, OpenTelemetry, ...) reads them without parsing the message.
Their names are stable; :data:`FIELDS` lists them.
"""

from __future__ import annotations

import logging

__all__ = [
    "ALLOCATION",
    "FIELDS",
    "LIFECYCLE",
    "LOCKS",
    "ROOT",
    "TRANSACTIONS",
    "allocation",
    "ledger_event",
    "lifecycle",
    "locks",
    "transactions",
]

ROOT = "sa_sequencing"
ALLOCATION = "sa_sequencing.allocation"
LOCKS = "sa_sequencing.locks"
TRANSACTIONS = "sa_sequencing.retry"
LIFECYCLE = "sa_sequencing.lifecycle"

#: The ``extra`` fields of the package's records, by name: what each one holds.
FIELDS: dict[str, str] = {
    "event": "what happened: draw, exhaustion_threshold, lock_retry, busy, "
    "transaction_retry, or the ledger event of a lifecycle record "
    "(pattern_created, number_voided, reservation_finalized, ...)",
    "sequence": "the sequence's name (None where a transaction retry names none)",
    "scope": "the scope key ('' for the global scope)",
    "period": "the counter's period key ('' for a counter that never resets)",
    "numbers": "the numbers drawn, in order (draw)",
    "reclaimed": "those of them that were free gaps served again (draw, fill_gaps)",
    "path": "fast (one counter statement), slow (locked read, plan, write) or gaps "
    "(all from the gap registry) (draw)",
    "lock_wait": "seconds spent in counter statements waiting for the lock (draw; "
    "lock_retry: the wait that timed out)",
    "actor": "performed_by, or None",
    "attempt": "the attempt that failed, 1 for the first (lock_retry, "
    "transaction_retry); attempts made in all (busy)",
    "attempts": "attempts allowed in all (lock_retry, transaction_retry)",
    "delay": "seconds slept before the next attempt (lock_retry, transaction_retry)",
    "fault": "the failure's kind: lock_wait, serialization, not_ready, connection_lost "
    "(lock_retry, busy, transaction_retry)",
    "retryable": "whether run_in_transaction would run the transaction again (busy)",
    "value": "the counter value concerned (exhaustion_threshold, override, void)",
    "number": "the number concerned (exhaustion_threshold, void)",
    "capacity": "the highest value the pattern holds (exhaustion_threshold)",
    "data": "the ledger row's data, as written to sequence_audits (lifecycle)",
}

logging.getLogger(ROOT).addHandler(logging.NullHandler())

allocation = logging.getLogger(ALLOCATION)
locks = logging.getLogger(LOCKS)
transactions = logging.getLogger(TRANSACTIONS)
lifecycle = logging.getLogger(LIFECYCLE)


def ledger_event(
    event: str,
    sequence: str,
    scope: str,
    *,
    performed_by: str | None,
    data: dict[str, object] | None = None,
    number: str | None = None,
    value: int | None = None,
) -> None:
    """Log a lifecycle event at INFO, with the fields of its ledger row (called next
    to the ``sequence_audits`` row it mirrors, in the same transaction: a transaction
    rolled back afterwards has logged it all the same)."""
    if not lifecycle.isEnabledFor(logging.INFO):
        return
    lifecycle.info(
        "%s %r scope %r%s by %s",
        event,
        sequence,
        scope,
        "" if number is None else f" number {number!r}",
        performed_by,
        extra={
            "event": event,
            "sequence": sequence,
            "scope": scope,
            "actor": performed_by,
            "number": number,
            "value": value,
            "data": data,
        },
    )
