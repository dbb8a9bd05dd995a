"""The plumbing every ``sa-sequencing`` command shares.

The command line itself is documented in :mod:`sa_sequencing.cli`.  The commands are
spread by job over ``sequences`` (definitions and numbers), ``lifecycle`` (voids, gaps,
reservations, overrides), ``ledger`` (metrics, the story of one number, the report)
and ``demo`` (the demo story); each of those modules registers its commands through
:data:`Command`, the ``command`` helper of :func:`sa_sequencing.cli.build_parser`.
What they have in common lives here:

* the database: :func:`open_engine` (from ``--url``, ``$SA_SEQUENCING_URL`` or the
  default SQLite file) and :func:`open_manager`, a manager in one transaction committed
  when the command succeeds;
* what a command returns: a :class:`Result`, its JSON object (``--json``) and its
  lines of text; :func:`jsonable` turns dates, enums and definitions into JSON values;
* the two ways a command fails: :class:`UserError` (a refused request, exit status 2,
  with an optional hint) and :class:`Failure` (not the user's fault, exit status 1);
  :func:`suggest` writes a hint's command line with the database the user gave;
* reading ``--context KEY=VALUE`` and ``--date`` (:func:`parse_context`,
  :func:`parse_date`) and writing tables (:func:`table`, :func:`scope_label`);
* the options several commands take (:func:`add_common`, :func:`add_number_options`).
"""

from __future__ import annotations

import argparse
import enum
import os
import shlex
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session

from .. import SequenceDefinition
from .. import SequenceManager
from .. import Sequencing

__all__ = [
    "DEFAULT_URL",
    "PROG",
    "SEQUENCING",
    "URL_ENV",
    "Command",
    "Failure",
    "Result",
    "UserError",
    "add_common",
    "add_number_options",
    "database_failure",
    "definition_data",
    "jsonable",
    "open_engine",
    "open_manager",
    "parse_context",
    "parse_date",
    "scope_label",
    "scope_means_every",
    "shown_url",
    "suggest",
    "table",
]

PROG = "sa-sequencing"
URL_ENV = "SA_SEQUENCING_URL"
DEFAULT_URL = "sqlite:///sa_sequencing.db"

Command = Callable[..., argparse.ArgumentParser]
"""``command(name, func, help, url=..., scope=..., actor=...)``: add a subcommand."""


class _Base(DeclarativeBase):
    pass


SEQUENCING = Sequencing(_Base)
"""The sequencing tables the commands work on, on a declarative base of their own."""


@dataclass
class Result:
    """What a command answers: ``data`` is its JSON object (printed with ``--json``),
    ``lines`` its text; ``status`` the exit status (0 unless a check failed)."""

    data: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    status: int = 0


class UserError(Exception):
    """A refused request: exit status 2."""

    def __init__(self, message: str, hint: str | None = None, kind: str = "UsageError") -> None:
        super().__init__(message)
        self.hint = hint
        self.kind = kind
        self.usage: str | None = None  # a bad command line: the usage to show


class Failure(Exception):
    """A failure that is not the user's: exit status 1."""

    def __init__(self, message: str, kind: str = "Failure") -> None:
        super().__init__(message)
        self.kind = kind


def database_failure(exc: DBAPIError) -> Failure:
    return Failure(f"database error: {exc.orig}", kind="DatabaseError")


# -- JSON ---------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``value`` as JSON: datetimes and dates in ISO 8601, enums by value, tuples as
    lists, definitions as :func:`definition_data`."""
    if isinstance(value, SequenceDefinition):
        return definition_data(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


DEFINITION_FIELDS = (
    "name",
    "scope",
    "pattern",
    "reset_period",
    "reset_limit",
    "step",
    "start",
    "gap_policy",
    "overflow",
    "exhaustion_threshold",
    "timezone",
    "fiscal_year_start",
    "cache_size",
    "audit_numbers",
    "allow_repeats",
    "is_locked",
    "metadata",
    "created_at",
    "updated_at",
    "counter_by",
)
"""The keys of a definition in JSON (:func:`definition_data`), in this order."""


def definition_data(definition: SequenceDefinition) -> dict[str, Any]:
    data = {f: jsonable(getattr(definition, f)) for f in DEFINITION_FIELDS}
    data["versions"] = [
        {
            "pattern": v.pattern,
            "effective_from": v.effective_from.isoformat(),
            "effective_until": None
            if v.effective_until is None
            else v.effective_until.isoformat(),
        }
        for v in definition.versions
    ]
    return data


# -- the database -----------------------------------------------------------------------------


def _url(args: argparse.Namespace) -> str:
    url = getattr(args, "url", None) or os.environ.get(URL_ENV) or DEFAULT_URL
    return str(url)


def _masked(text: str) -> str:
    """The URL as the user gave it, with a password replaced by ``***``."""
    try:
        url = sa.make_url(text)
    except ArgumentError:
        return text
    return text if url.password is None else url.render_as_string(hide_password=True)


def suggest(args: argparse.Namespace, *words: str | None) -> str:
    """``sa-sequencing WORDS --url URL``: a command line to run next, naming the database
    the user gave (``--url`` or ``$SA_SEQUENCING_URL``; a password shows as ``***``).

    Without ``--url`` the default database would be the SQLite file in the current
    directory, which is not the one that answered when the user gave another.
    """
    line = [PROG, *(w for w in words if w is not None)]
    given = getattr(args, "url", None) or os.environ.get(URL_ENV)
    if given:
        line += ["--url", _masked(str(given))]
    return shlex.join(line)


def _sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite URL, or None (not SQLite, in memory, or a ``file:`` URI)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or url.query.get("uri"):
        return None
    return Path(database)


def open_engine(args: argparse.Namespace, *, create: bool = False) -> sa.Engine:
    """The engine of ``--url``; refuse a SQLite file that is missing unless ``create``."""
    text = _url(args)
    try:
        url = sa.make_url(text)
        path = _sqlite_file(url)
        if path is not None and not create and not path.exists():
            hint = f"create it with: {suggest(args, 'init')}"
            if not (getattr(args, "url", None) or os.environ.get(URL_ENV)):
                hint += f" (the default database, {DEFAULT_URL}; or give --url)"
            raise UserError(f"no database at {path}", hint=hint)
        return sa.create_engine(url)
    except ArgumentError as exc:
        raise UserError(f"invalid --url {_masked(text)!r}: {exc}") from exc
    except ImportError as exc:
        raise UserError(
            f"the database driver for {_masked(text)!r} is not installed: {exc}"
        ) from exc


def shown_url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _database_error(args: argparse.Namespace, engine: sa.Engine, exc: DBAPIError) -> Exception:
    table = SEQUENCING.tables.sequences.name
    try:
        present = sa.inspect(engine).has_table(table)
    except Exception:
        present = True
    if not present:
        return UserError(
            f"no sequencing tables in {shown_url(engine)}",
            hint=f"create them with: {suggest(args, 'init')}",
            kind="NoTablesError",
        )
    return database_failure(exc)


@contextmanager
def open_manager(args: argparse.Namespace) -> Iterator[SequenceManager]:
    """A manager in one transaction, committed when the block succeeds."""
    engine = open_engine(args)
    try:
        with Session(engine) as session, session.begin():
            yield SEQUENCING.manager(session)
    except DBAPIError as exc:
        raise _database_error(args, engine, exc) from exc
    finally:
        engine.dispose()


# -- reading options --------------------------------------------------------------------------


def parse_context(items: Sequence[str] | None) -> dict[str, str] | None:
    """``--context KEY=VALUE ...`` as a dict (None when not given)."""
    if not items:
        return None
    context: dict[str, str] = {}
    seen: set[str] = set()
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"invalid --context {item!r}: expected KEY=VALUE")
        if key.upper() in seen:
            raise UserError(f"--context {key!r} is given twice")
        seen.add(key.upper())
        context[key] = value
    return context


def parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"invalid --date {text!r}: expected YYYY-MM-DD") from None


# -- writing tables ---------------------------------------------------------------------------


def table(rows: Sequence[Sequence[object]], indent: str = "") -> list[str]:
    """Rows as left-aligned columns (the first row is usually a header)."""
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        return []
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def scope_label(scope: str | None) -> str:
    return scope if scope else "(global)"


# -- options several commands take ------------------------------------------------------------


def add_common(
    parser: argparse.ArgumentParser,
    *,
    url: bool = True,
    scope: bool = False,
    actor: bool = False,
    top: bool = False,
) -> None:
    # On subcommands the defaults are suppressed, so that an option given before the
    # command is not reset by the subcommand's own default.
    default = None if top else argparse.SUPPRESS
    if url:
        parser.add_argument(
            "--url",
            default=default,
            help=f"SQLAlchemy database URL (default: ${URL_ENV}, else {DEFAULT_URL})",
        )
    if scope:
        parser.add_argument(
            "--scope", default=default, help="scope (tenant); default: the global scope"
        )
    if actor:
        parser.add_argument(
            "--actor", default=default, help="recorded as performed_by in the audit ledger"
        )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="answer with one JSON object on standard output (errors too)",
    )


def scope_means_every(parser: argparse.ArgumentParser) -> None:
    """Say in ``--help`` that without ``--scope`` the command covers every scope."""
    for action in parser._actions:
        if "--scope" in action.option_strings:
            action.help = "scope (tenant); default: every scope"


def add_number_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="a context variable of the pattern (repeatable)",
    )
    parser.add_argument("--date", help="document date, YYYY-MM-DD (default: today)")
