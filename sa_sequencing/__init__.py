"""Gapless, auditable numbering of business documents for SQLAlchemy 2.x.

See the documentation of :class:`Sequencing` and :class:`SequenceManager`.
"""

from __future__ import annotations

from .asyncio import AsyncSequenceManager
from .batch import NumberRequest
from .compose import compose_child
from .definitions import SequenceDefinition
from .dialects import CounterStrategy
from .dialects import register_dialect_strategy
from .enums import GapPolicy
from .enums import OverflowBehavior
from .enums import ResetPeriod
from .errors import ArgumentTypeError
from .errors import ConfigurationError
from .errors import DuplicateSequenceError
from .errors import InvalidArgumentError
from .errors import InvalidCounterValueError
from .errors import PatternError
from .errors import ReservationError
from .errors import SequenceBusyError
from .errors import SequenceExhaustedError
from .errors import SequenceLockedError
from .errors import SequenceNotFoundError
from .errors import SequencingError
from .errors import UnsupportedDialectError
from .gaps import Gap
from .gaps import GapRepository
from .manager import SequenceManager
from .metrics import SequenceMetrics
from .models import AuditMixin
from .models import CounterMixin
from .models import GapMixin
from .models import PatternVersionMixin
from .models import ReservationMixin
from .models import SequenceMixin
from .orm import SequenceColumn
from .orm import install_flush_hook
from .orm import uninstall_flush_hook
from .overflow import SequenceExhaustionWarning
from .overflow import SequencingWarning
from .patterns import Pattern
from .repositories import ALL_SCOPES
from .repositories import AuditEntry
from .repositories import AuditRepository
from .repositories import CounterRepository
from .repositories import SequenceRepository
from .reservations import Reservation
from .reservations import ReservationRepository
from .retry import CommitOutcomeUnknownError
from .retry import async_run_in_transaction
from .retry import run_in_transaction
from .sequencing import Sequencing
from .versions import PatternVersion
from .versions import PatternVersionRepository

__version__ = "0.1.0"

__all__ = [
    "ALL_SCOPES",
    "ArgumentTypeError",
    "AsyncSequenceManager",
    "AuditEntry",
    "AuditMixin",
    "AuditRepository",
    "CommitOutcomeUnknownError",
    "ConfigurationError",
    "CounterMixin",
    "CounterRepository",
    "CounterStrategy",
    "DuplicateSequenceError",
    "Gap",
    "GapMixin",
    "GapPolicy",
    "GapRepository",
    "InvalidArgumentError",
    "InvalidCounterValueError",
    "NumberRequest",
    "OverflowBehavior",
    "Pattern",
    "PatternError",
    "PatternVersion",
    "PatternVersionMixin",
    "PatternVersionRepository",
    "Reservation",
    "ReservationError",
    "ReservationMixin",
    "ReservationRepository",
    "ResetPeriod",
    "SequenceBusyError",
    "SequenceColumn",
    "SequenceDefinition",
    "SequenceExhaustedError",
    "SequenceExhaustionWarning",
    "SequenceLockedError",
    "SequenceManager",
    "SequenceMetrics",
    "SequenceMixin",
    "SequenceNotFoundError",
    "SequenceRepository",
    "Sequencing",
    "SequencingError",
    "SequencingWarning",
    "UnsupportedDialectError",
    "__version__",
    "async_run_in_transaction",
    "compose_child",
    "install_flush_hook",
    "register_dialect_strategy",
    "run_in_transaction",
    "uninstall_flush_hook",
]
