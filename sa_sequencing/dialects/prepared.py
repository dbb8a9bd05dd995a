"""Counter statements compiled once per dialect and run as driver SQL.

Running a SQL expression construct costs SQLAlchemy, on every execution, a cache
lookup, a new execution context, parameter construction through the compiled
statement and result metadata set-up: for a statement with a dozen parameters that
is about as much Python time as one round trip to a local PostgreSQL.  The counter
statement runs while the counter row is locked, and on the hot path of every
document, so it is compiled once (still from SQLAlchemy constructs, for the
dialect at hand) and run with :meth:`~sqlalchemy.engine.Connection.exec_driver_sql`,
with the bound values converted by the same type processors SQLAlchemy would use.
Connection events, logging and error wrapping are unchanged: it is still the
connection that executes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.engine import CursorResult
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

__all__ = ["PreparedStatement"]


class PreparedStatement:
    """A statement construct compiled for one dialect, executed as driver SQL."""

    __slots__ = ("_defaults", "_positional", "_processors", "sql")

    _processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    """(name, processor) of the values given per execution that need converting."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, *, lead: str = "") -> None:
        compiled: Any = statement.compile(dialect=dialect)
        self.sql: str = lead + compiled.string
        processors: dict[str, Callable[[Any], Any]] = {}
        defaults: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if not bind.required:
                # a literal in the construct (``literal(1)``), bound like any value
                value = bind.effective_value
                defaults[name] = process(value) if process is not None else value
            elif process is not None:
                processors[name] = process
        self._processors = tuple(processors.items())
        self._defaults = defaults
        # Positional paramstyles (SQLite's qmark) list names in order, repeats included.
        self._positional: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None = None
        if compiled.positional:
            names = tuple(compiled.positiontup)
            if len(names) > 1:
                self._positional = operator.itemgetter(*names)
            else:  # itemgetter of one name returns the value itself, of none fails
                self._positional = lambda params: tuple(params[n] for n in names)

    def parameters(self, values: Mapping[str, Any]) -> Any:
        """The driver's parameters for ``values`` (processed as SQLAlchemy would)."""
        params = {**self._defaults, **values}
        for name, process in self._processors:
            value = params.get(name)
            if value is not None:
                params[name] = process(value)
        if self._positional is None:
            return params
        return self._positional(params)

    def execute(
        self, conn: Connection, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> CursorResult[Any]:
        """Run with ``values``; a list runs the statement once per item (executemany)."""
        if isinstance(values, Mapping):
            return conn.exec_driver_sql(self.sql, self.parameters(values))
        return conn.exec_driver_sql(self.sql, [self.parameters(v) for v in values])
