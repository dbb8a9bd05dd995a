"""What a :func:`~sa_sequencing.SequenceColumn` asks for, kept in ``Column.info``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..allocation.runtime import Runtime
from ..rules.declarations import COLUMN_INFO_KEY
from ..rules.declarations import SequenceDeclaration

__all__ = ["INFO_KEY", "Getter", "SequenceSpec"]

#: The ``Column.info`` key that marks a sequence column.
INFO_KEY = COLUMN_INFO_KEY

Getter = str | Callable[[Any], Any] | None


@dataclass(frozen=True)
class SequenceSpec:
    """What a :func:`SequenceColumn` asks for, as stored in ``Column.info``."""

    sequence: str
    scope: Getter = None
    context: Getter = None
    date: Getter = None
    when: Callable[[Any], bool] | None = None
    sequencing: Runtime | None = None
    declaration: SequenceDeclaration | None = None
    """The definition ``SequenceColumn(..., pattern=...)`` declared, if it declared one."""
