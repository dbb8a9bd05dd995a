"""The exception hierarchy of :mod:`sa_sequencing`.

Every error the library raises on purpose derives from :class:`SequencingError`, so
a caller can catch them all in one place.  Errors about a particular sequence carry
its ``sequence`` name and ``scope`` as attributes, and their message names both and
says what to do about it.  Where Python convention asks for a :class:`TypeError` or
a :class:`ValueError` (a wrong argument type, an impossible count), the error is
both: :class:`ArgumentTypeError` is a ``SequencingError`` and a ``TypeError``,
:class:`InvalidArgumentError` (like :class:`ConfigurationError`,
:class:`PatternError` and :class:`InvalidCounterValueError`) a ``SequencingError``
and a ``ValueError``.  Either is raised before anything is written.
"""

from __future__ import annotations

__all__ = [
    "ArgumentTypeError",
    "ConfigurationError",
    "DuplicateSequenceError",
    "InvalidArgumentError",
    "InvalidCounterValueError",
    "PatternError",
    "ReservationError",
    "SequenceBusyError",
    "SequenceExhaustedError",
    "SequenceExhaustionWarning",
    "SequenceLockedError",
    "SequenceNotFoundError",
    "SequencingError",
    "SequencingWarning",
    "UnsupportedDialectError",
]


def describe(sequence: str | None, scope: str | None) -> str:
    """Render ``'name'`` or ``'name' (scope 'x')`` for messages."""
    if sequence is None:
        return "the sequence"
    if scope:
        return f"sequence {sequence!r} (scope {scope!r})"
    return f"sequence {sequence!r} (global scope)"


class SequencingError(Exception):
    """Base class of every error raised by :mod:`sa_sequencing`."""

    sequence: str | None
    scope: str | None

    def __init__(self, message: str, *, sequence: str | None = None, scope: str | None = None):
        super().__init__(message)
        self.sequence = sequence
        self.scope = scope or None


class ArgumentTypeError(SequencingError, TypeError):
    """An argument has a type the call cannot take (``scope=1.5``, ``count="3"``)."""


class InvalidArgumentError(SequencingError, ValueError):
    """An argument has the right type but a value the call cannot take (a negative
    count, a NUL byte in a scope, a date past year 9999 after a reset)."""


class ConfigurationError(SequencingError, ValueError):
    """A definition, a column or an option is set up in a way that cannot work."""


class SequenceNotFoundError(SequencingError):
    """No definition exists for the sequence name, neither in the scope nor globally."""


class DuplicateSequenceError(SequencingError):
    """A definition with this name already exists in this scope.

    From ``define(..., exist_ok=True)``, :attr:`differences` maps each option that
    differs to ``(stored, given)``; otherwise it is empty.
    """

    differences: dict[str, tuple[object, object]]

    def __init__(self, message: str, *, sequence: str | None = None, scope: str | None = None):
        super().__init__(message, sequence=sequence, scope=scope)
        self.differences = {}


class SequenceLockedError(SequencingError):
    """The sequence is administratively locked and issues nothing until unlocked."""


class SequenceExhaustedError(SequencingError):
    """The counter reached the capacity of its pattern and may not overflow."""


class PatternError(SequencingError, ValueError):
    """A pattern is malformed, or a context variable it needs is missing or unusable."""


class InvalidCounterValueError(SequencingError, ValueError):
    """A counter value was refused (an override that would let numbers repeat)."""


class ReservationError(SequencingError):
    """A reservation is unknown, expired or already used."""


class SequenceBusyError(SequencingError):
    """The counter stayed locked by other transactions past the bounded retries.

    :attr:`retryable` is true when running the whole transaction again is the cure
    (a serialization failure or a deadlock, after which the database has already
    rolled the transaction back).
    """

    retryable: bool

    def __init__(
        self,
        message: str,
        *,
        sequence: str | None = None,
        scope: str | None = None,
        retryable: bool = False,
    ):
        super().__init__(message, sequence=sequence, scope=scope)
        self.retryable = retryable


class UnsupportedDialectError(SequencingError):
    """The database cannot give the guarantees a sequence asks for."""


class SequencingWarning(UserWarning):
    """Base class of the warnings of :mod:`sa_sequencing`."""


class SequenceExhaustionWarning(SequencingWarning):
    """A counter crossed its definition's ``exhaustion_threshold`` (see
    :mod:`sa_sequencing.rules.series`)."""
