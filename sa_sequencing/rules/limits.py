"""Every size limit of the library, in one place.

The column sizes of :mod:`sa_sequencing.store.models` and the checks every public call
makes (:mod:`sa_sequencing.rules.checks`) read them from here, so a value the checks
accept is one every supported database stores as it is.
"""

from __future__ import annotations

__all__ = [
    "ACTOR_LENGTH",
    "COUNTER_BY_LENGTH",
    "DATA_BYTES",
    "MAX_COUNT",
    "MAX_COUNTER",
    "MAX_NESTING",
    "NAME_LENGTH",
    "NUMBER_LENGTH",
    "PATTERN_LENGTH",
    "PERIOD_LENGTH",
    "REASON_LENGTH",
    "RESERVATION_ID_LENGTH",
    "SCOPE_LENGTH",
    "TIMEZONE_LENGTH",
]

NAME_LENGTH = 100
#: 191 characters keep a utf8mb4 key within InnoDB's 767-byte index prefix limit.
SCOPE_LENGTH = 191
#: A counter's period key: the reset period's (``2026``, ``2026-03-01``, ``FY2026``, at
#: most 10 characters) followed, for a definition with ``counter_by``, by its series
#: values (``2026|DEPARTMENT=SALES``, see :mod:`sa_sequencing.rules.placement`).  191
#: characters, as a scope, keep the key within InnoDB's 767-byte column prefix limit.
PERIOD_LENGTH = 191
NUMBER_LENGTH = 255
PATTERN_LENGTH = 255
ACTOR_LENGTH = 255
REASON_LENGTH = 32
RESERVATION_ID_LENGTH = 36
TIMEZONE_LENGTH = 64
#: A definition's ``counter_by`` names, stored comma-separated.
COUNTER_BY_LENGTH = 255

#: The largest counter value: the counters are signed 64-bit (``BIGINT``) columns.
MAX_COUNTER = 2**63 - 1
#: The most numbers one call draws (``generate_many``, ``reserve``): they are built,
#: returned and written to the ledger in memory.
MAX_COUNT = 1_000_000
#: The JSON of a definition's metadata or a ledger row's data, in UTF-8 bytes: a
#: MySQL ``TEXT`` column holds 65,535 bytes.
DATA_BYTES = 65_535
#: How deeply metadata may nest (JSON libraries of other languages have limits too).
MAX_NESTING = 32
