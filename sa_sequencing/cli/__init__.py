"""The ``sa-sequencing`` command: define sequences and draw numbers from a shell.

.. code-block:: console

    $ sa-sequencing init
    $ sa-sequencing define invoice_number 'INV-{YEAR}-{COUNTER:5}' --reset-period yearly
    $ sa-sequencing generate invoice_number --scope acme --actor clerk-1
    INV-2026-00001
    $ sa-sequencing generate invoice_number --scope acme --json
    {
      "numbers": [
        "INV-2026-00002"
      ]
    }
    $ sa-sequencing report --output numbers.html
    $ sa-sequencing demo

Also runnable as ``python -m sa_sequencing`` (and ``python -m sa_sequencing.cli``).
Every command works in one transaction, committed when the command succeeds.

Options
-------

These are accepted before the command or after it:

``--url URL``
    The database, as an SQLAlchemy URL.  Default: the ``SA_SEQUENCING_URL``
    environment variable, else the SQLite file ``sa_sequencing.db`` in the current
    directory.  Commands other than ``init`` refuse a SQLite file that does not exist.
``--scope SCOPE``
    The scope (tenant) a command acts in.  Default: the global scope; for ``list``,
    ``audit`` and ``report``, every scope.
``--actor NAME``
    Recorded as ``performed_by`` in the audit ledger by the commands that change
    something.
``--json``
    Answer with one JSON object on standard output instead of text (keys below).

Commands
--------

``init``
    Create the six sequencing tables (those missing).
``define NAME PATTERN``
    Create a definition.  Options: ``--reset-period {never,daily,monthly,yearly,
    fiscal_yearly}``, ``--gap-policy {allow_gaps,fill_gaps,report_gaps_only}``,
    ``--overflow {throw_exception,extend_padding,switch_pattern}``, ``--start N``,
    ``--step N``, ``--timezone ZONE``, ``--fiscal-year-start MONTH``, ``--reset-limit N``,
    ``--exhaustion-threshold PERCENT``, ``--allow-repeats``, ``--no-audit-numbers``,
    ``--counter-by VARIABLE`` (repeatable: each value of the context variable gets its
    own counter).
``update NAME``
    Change the definition made for ``--scope``: ``--pattern PATTERN`` and the options of
    ``define`` (only those given change; ``--[no-]allow-repeats``,
    ``--[no-]audit-numbers``).  Audited as ``pattern_modified``.
``delete NAME --yes``
    Delete the definition made for ``--scope`` with its counters, gaps and
    reservations (the ledger keeps its rows).  Refused without ``--yes``.
``list``
    The definitions; with ``--scope S``, those serving ``S``: its own and the global
    ones it has none of its own for (shown as ``(global), serving S``).
``show NAME``
    A definition's fields and its counters (the counters of ``--scope`` if given); for a
    ``counter_by`` sequence one counter per series, with a ``SERIES`` column.
``preview NAME [--context KEY=VALUE ...] [--date YYYY-MM-DD]``
    The number ``generate`` would return now; changes nothing.
``generate NAME [--count N] [--context KEY=VALUE ...] [--date YYYY-MM-DD]``
    Draw the next number (or ``N`` consecutive numbers), one per line.  ``--date`` is
    the document date, which picks the reset period and fills the date tokens.
``lock NAME``, ``unlock NAME``
    Freeze a sequence (it issues nothing), or lift the freeze.
``void``, ``gaps``, ``reserve``, ``finalize``, ``release``, ``release-expired``, ``override``
    The number lifecycle: see :mod:`sa_sequencing.cli.lifecycle`.  ``reserve`` prints
    the reservation id first; ``finalize ID [NUMBER ...]`` and ``release ID [NUMBER
    ...]`` take it.
``metrics NAME [--date YYYY-MM-DD] [--context KEY=VALUE ...]``
    The figures of :meth:`~sa_sequencing.SequenceManager.metrics`.
``audit [NAME] [--limit N]``
    The latest ``N`` ledger entries (default 50; ``0`` for all), oldest first.
``audit NAME --number NUMBER``
    The story of one number: issued, voided, reserved, finalized, released, expired,
    passed over by an override (:mod:`sa_sequencing.cli.ledger`).
``report [NAME] [--format html|csv] [--output PATH]``
    The auditor's report of :mod:`sa_sequencing.report` (every sequence, or ``NAME``;
    every scope, or ``--scope``) to ``PATH`` or standard output.
``sync --app MODULE:NAME [--apply | --report]``
    Create the sequences the application's :class:`~sa_sequencing.Sequencing`
    declares in code, and check the stored ones (:mod:`sa_sequencing.cli.declarations`);
    drift is an error (exit status 2) unless ``--apply`` or ``--report``.
``demo [--file PATH]``
    The whole story on a SQLite file (default ``sa_sequencing_demo.db`` in the current
    directory, created afresh): three sequences, invoices numbered for two tenants from
    four threads with a rolled-back transaction each, a check that the committed numbers
    have no duplicate and no hole, purchase orders, quotations with ``preview`` beside
    ``generate``, a voided invoice, purchase orders reserved and partly released (then
    reused by ``fill_gaps``), the gap reports, and the audit trail.  The demo marks its
    database (``PRAGMA application_id``) and replaces a file at ``PATH`` only if it
    carries that mark, that is, only an earlier demo's database; any other file, a
    directory or a path that cannot be created is refused (exit status 2) and left as
    it was.

JSON answers
------------

With ``--json`` a command prints one JSON object (and nothing else) on standard
output.  Its keys are stable: new keys may be added, none is renamed or removed.  Times
are ISO 8601 with their UTC offset, dates ``YYYY-MM-DD``, the global scope is ``null``.

``init``
    ``url`` (password hidden), ``tables``
``define``, ``update``, ``lock``, ``unlock``
    ``definition``: a *definition* object
``delete``
    ``deleted`` (the *definition* deleted), ``counters`` (how many went)
``list``
    ``scope``, ``definitions``: *definition* objects, each with ``inherited`` (true
    for a global definition serving ``--scope``)
``show``
    ``definition``, ``serving_scope``, ``counters``: objects with ``scope``,
    ``period``, ``value``, ``cycle``, ``updated_at``
``preview``
    ``number``
``generate``
    ``numbers``
``void``
    ``voided``, ``reason``, ``gap_recorded``
``gaps``
    ``gaps``: objects with ``number``, ``scope``, ``period``, ``cycle``, ``value``,
    ``reason``, ``status``, ``performed_by``, ``created_at``, ``filled_at``,
    ``filled_number``
``reserve``
    ``reservation``: ``id``, ``sequence``, ``scope``, ``numbers``, ``expires_at``
``finalize``
    ``reservation_id``, ``finalized`` (the numbers)
``release``
    ``reservation_id``, ``released`` (the numbers)
``release-expired``
    ``released`` (how many numbers)
``override``
    ``value``, ``next_number``
``metrics``
    ``metrics``: the fields of :class:`~sa_sequencing.SequenceMetrics`
``audit``
    ``entries``: objects with ``id``, ``sequence_name``, ``scope``, ``event``,
    ``number``, ``counter_value``, ``data``, ``performed_by``, ``created_at``
``audit --number``
    ``number``, ``status`` (``issued``, ``void``, ``reserved``, ``finalized``,
    ``released``, ``expired``, ``skipped`` or ``unknown``), ``events``: objects with
    ``event``, ``number``, ``counter_value``, ``data``, ``performed_by``,
    ``created_at``
``report``
    ``path``, ``format``, ``sequences``, ``counters``, ``drawn``, ``issued``,
    ``gaps``, ``open_reservations``, ``overrides``, ``lock_events`` (needs
    ``--output``)
``sync``
    ``created``, ``unchanged``: objects with ``name``, ``scope``; ``updated``,
    ``drifted``: objects with ``name``, ``scope``, ``differences`` (option to
    ``{"stored", "declared"}``); ``in_sync``
``demo``
    ``file``, ``ok``, ``failures``, ``story`` (the lines of the story)

A *definition* object has ``name``, ``scope``, ``pattern``, ``reset_period``,
``reset_limit``, ``step``, ``start``, ``gap_policy``, ``overflow``,
``exhaustion_threshold``, ``timezone``, ``fiscal_year_start``, ``cache_size``,
``audit_numbers``, ``allow_repeats``, ``is_locked``, ``metadata``, ``created_at``,
``updated_at`` and ``versions`` (objects with ``pattern``, ``effective_from``,
``effective_until``).

A command that fails prints, with ``--json``, ``{"error": {"type": ..., "message":
..., "hint": ..., "exit_status": ...}}`` on standard output (nothing on standard
error) and exits with that status.  ``type`` is the class name of the error: one of
:mod:`sa_sequencing.errors` (``SequenceNotFoundError``, ``SequenceLockedError``,
``InvalidCounterValueError``, ``ReservationError``, ...), or ``UsageError`` (a bad
command line), ``NoTablesError`` (the database has no sequencing tables),
``DatabaseError`` (the database failed).  ``hint`` is a command line to try, or
``null``.

Hints
-----

A hint that suggests a command names the database the command used: ``sa-sequencing
init --url postgresql+psycopg://app@db/app``, never a bare ``sa-sequencing init`` (which
would create the default SQLite file instead).  A password in the URL shows as ``***``.

Exit status
-----------

``0`` on success; ``2`` for a usage error or a refused request (unknown or locked
sequence, bad pattern, bad option value), with the message on standard error prefixed
``error:`` and maybe a ``hint:`` line; ``1`` for a database failure or a failed demo
check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import NoReturn

from sqlalchemy.exc import DBAPIError

from .. import SequenceLockedError
from .. import SequenceNotFoundError
from .. import SequencingError
from .. import __version__
from .common import PROG
from .common import Failure
from .common import Result
from .common import UserError
from .common import add_common
from .common import database_failure
from .common import jsonable
from .common import open_manager
from .common import suggest
from .declarations import add_sync_command
from .demo import add_demo_command
from .ledger import add_ledger_commands
from .lifecycle import add_lifecycle_commands
from .sequences import add_sequence_commands

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises :class:`UserError` on a bad command line, so that
    ``--json`` can answer it with a JSON error object too."""

    def error(self, message: str) -> NoReturn:
        error = UserError(message, hint=f"see: {self.prog} --help")
        error.usage = self.format_usage()  # this (sub)command's usage
        raise error


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sa-sequencing``."""
    parser = _Parser(
        prog=PROG,
        description="Gapless, auditable business-document numbering (sa_sequencing).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_common(parser, scope=True, actor=True, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str,
        func: Callable[[argparse.Namespace], Result],
        help: str,
        **common: bool,
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
        add_common(sub, **common)
        return sub

    # The order here is the order of the commands in --help.
    add_sequence_commands(command)
    add_lifecycle_commands(command)
    add_ledger_commands(command)
    add_sync_command(command)
    add_demo_command(command)
    return parser


def _hint(exc: Exception, args: argparse.Namespace) -> str | None:
    if isinstance(exc, UserError):
        return exc.hint
    if not isinstance(exc, SequencingError):
        return None
    scope = exc.scope or None
    if isinstance(exc, SequenceLockedError) and exc.sequence:
        # The lock may sit on the global definition serving the scope.
        owner = _definition_scope(args, exc.sequence, exc.scope)
        return f"unlock it with: {suggest(args, 'unlock', exc.sequence, *_scope(owner))}"
    command = getattr(args, "command", None)
    if isinstance(exc, SequenceNotFoundError) and exc.sequence and command != "define":
        line = suggest(args, "define", exc.sequence, "PATTERN", *_scope(scope))
        return f"define it with: {line}"
    return None


def _scope(scope: str | None) -> list[str]:
    return ["--scope", scope] if scope else []


def _definition_scope(args: argparse.Namespace, name: str, scope: str | None) -> str | None:
    """The scope of the definition serving ``scope`` (None: global or not found)."""
    try:
        with open_manager(args) as seqs:
            definition = seqs.find(name, scope=scope)
    except Exception:
        return None
    return None if definition is None else definition.scope


def _kind(exc: Exception) -> str:
    return exc.kind if isinstance(exc, (UserError, Failure)) else type(exc).__name__


def _report(exc: Exception, args: argparse.Namespace | None, status: int, as_json: bool) -> int:
    hint = None if args is None else _hint(exc, args)
    if isinstance(exc, UserError) and args is None:
        hint = exc.hint
    if as_json:
        error = {"type": _kind(exc), "message": str(exc), "hint": hint, "exit_status": status}
        print(json.dumps({"error": error}, ensure_ascii=False))
        return status
    print(f"error: {exc}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return status


def _emit(result: Result, as_json: bool) -> int:
    if as_json:
        print(json.dumps(jsonable(result.data), ensure_ascii=False, indent=2))
    else:
        for line in result.lines:
            print(line)
    return result.status


def main(argv: list[str] | None = None) -> int:
    """Run ``sa-sequencing`` with ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # Known before parsing, so that a bad command line is answered in JSON too.
    as_json = "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UserError as exc:
        if not as_json:
            print(exc.usage or parser.format_usage(), end="", file=sys.stderr)
        return _report(exc, None, 2, as_json)
    except SystemExit as exc:  # argparse: --help, --version
        return exc.code if isinstance(exc.code, int) else 2
    as_json = bool(args.json)
    func: Callable[[argparse.Namespace], Result] = args.func
    try:
        return _emit(func(args), as_json)
    except (UserError, SequencingError, ValueError, TypeError) as exc:
        return _report(exc, args, 2, as_json)
    except Failure as exc:
        return _report(exc, args, 1, as_json)
    except DBAPIError as exc:
        return _report(database_failure(exc), args, 1, as_json)
    except KeyboardInterrupt:
        return 130
