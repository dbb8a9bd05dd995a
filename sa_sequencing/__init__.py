"""Gapless, auditable numbering of business documents for SQLAlchemy 2.x.

See the documentation of :class:`Sequencing` and :class:`SequenceManager`.
"""

from __future__ import annotations

from .allocation.batch import NumberRequest
from .dialects import CounterStrategy
from .dialects import register_dialect_strategy
from .errors import ArgumentTypeError
from .errors import ConfigurationError
from .errors import DuplicateSequenceError
from .errors import InvalidArgumentError
from .errors import InvalidCounterValueError
from .errors import PatternError
from .errors import ReservationError
from .errors import SequenceBusyError
from .errors import SequenceExhaustedError
from .errors import SequenceExhaustionWarning
from .errors import SequenceLockedError
from .errors import SequenceNotFoundError
from .errors import SequencingError
from .errors import SequencingWarning
from .errors import UnsupportedDialectError
from .orm import SequenceColumn
from .orm import install_flush_hook
from .orm import uninstall_flush_hook
from .retry import CommitOutcomeUnknownError
from .retry import async_run_in_transaction
from .retry import run_in_transaction
from .rules.compose import compose_child
from .rules.declarations import DeclarationDriftError
from .rules.declarations import SequenceDeclaration
from .rules.declarations import SyncReport
from .rules.definitions import SequenceDefinition
from .rules.enums import GapPolicy
from .rules.enums import OverflowBehavior
from .rules.enums import ResetPeriod
from .rules.patterns import Pattern
from .rules.placement import split_counter_key
from .rules.versions import PatternVersion
from .service.asyncio import AsyncSequenceManager
from .service.manager import SequenceManager
from .service.metrics import SequenceMetrics
from .service.sequencing import Sequencing
from .store.gaps import Gap
from .store.gaps import GapRepository
from .store.models import AuditMixin
from .store.models import CounterMixin
from .store.models import GapMixin
from .store.models import PatternVersionMixin
from .store.models import ReservationMixin
from .store.models import SequenceMixin
from .store.repositories import ALL_SCOPES
from .store.repositories import AuditEntry
from .store.repositories import AuditRepository
from .store.repositories import CounterRepository
from .store.repositories import SequenceRepository
from .store.reservations import Reservation
from .store.reservations import ReservationRepository
from .store.versions import PatternVersionRepository

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
    "DeclarationDriftError",
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
    "SequenceDeclaration",
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
    "SyncReport",
    "UnsupportedDialectError",
    "__version__",
    "async_run_in_transaction",
    "compose_child",
    "install_flush_hook",
    "register_dialect_strategy",
    "run_in_transaction",
    "split_counter_key",
    "uninstall_flush_hook",
]
