"""Dialect strategies: how a counter is advanced on each database.

Strategies are looked up by the SQLAlchemy dialect's name (``postgresql``, ``mysql``,
``mariadb``, ``sqlite``), with the generic ``SELECT ... FOR UPDATE`` strategy as the
fallback for any other database.  A third party registers its own with
:func:`register_dialect_strategy`.
"""

from __future__ import annotations

from ..rules.counters import CounterKey
from ..rules.counters import CounterState
from .base import Advance
from .base import AuditSpec
from .base import CounterStrategy
from .base import ErrorKind
from .base import register as _register
from .base import registered_strategy
from .cockroachdb import CockroachDBCounterStrategy
from .mysql import MariaDBCounterStrategy
from .mysql import MySQLCounterStrategy
from .postgresql import PostgreSQLCounterStrategy
from .sqlite import SQLiteCounterStrategy

__all__ = [
    "Advance",
    "AuditSpec",
    "CockroachDBCounterStrategy",
    "CounterKey",
    "CounterState",
    "CounterStrategy",
    "ErrorKind",
    "MariaDBCounterStrategy",
    "MySQLCounterStrategy",
    "PostgreSQLCounterStrategy",
    "SQLiteCounterStrategy",
    "register_dialect_strategy",
    "registered_strategy",
]


def register_dialect_strategy(name: str, cls: type[CounterStrategy]) -> None:
    """Use ``cls`` for databases whose SQLAlchemy dialect is called ``name``."""
    _register(name, cls)
