"""The ``sa-sequencing`` command: define sequences and draw numbers from a shell.

.. code-block:: console

    $ sa-sequencing init
    $ sa-sequencing define invoice_number 'INV-{YEAR}-{COUNTER:5}' --reset-period yearly
    $ sa-sequencing generate invoice_number --scope acme --actor clerk-1
    INV-2026-00001
    $ sa-sequencing demo

Also runnable as ``python -m sa_sequencing.cli``.  Every command works in one
transaction, committed when the command succeeds.

Options
-------

These are accepted before the command or after it:

``--url URL``
    The database, as an SQLAlchemy URL.  Default: the ``SA_SEQUENCING_URL``
    environment variable, else the SQLite file ``sa_sequencing.db`` in the current
    directory.  Commands other than ``init`` refuse a SQLite file that does not exist.
``--scope SCOPE``
    The scope (tenant) a command acts in.  Default: the global scope; for ``list`` and
    ``audit``, every scope.
``--actor NAME``
    Recorded as ``performed_by`` in the audit ledger (``define``, ``generate``, ``lock``,
    ``unlock``).

Commands
--------

``init``
    Create the six sequencing tables (those missing).
``define NAME PATTERN``
    Create a definition.  Options: ``--reset-period {never,daily,monthly,yearly,
    fiscal_yearly}``, ``--gap-policy {allow_gaps,fill_gaps,report_gaps_only}``,
    ``--overflow {throw_exception,extend_padding,switch_pattern}``, ``--start N``,
    ``--step N``, ``--timezone ZONE``, ``--fiscal-year-start MONTH``, ``--reset-limit N``,
    ``--exhaustion-threshold PERCENT``, ``--allow-repeats``, ``--no-audit-numbers``.
``list``
    The definitions (of ``--scope`` if given).
``show NAME``
    A definition's fields and its counters (the counters of ``--scope`` if given).
``preview NAME [--context KEY=VALUE ...] [--date YYYY-MM-DD]``
    The number ``generate`` would return now; changes nothing.
``generate NAME [--count N] [--context KEY=VALUE ...] [--date YYYY-MM-DD]``
    Draw the next number (or ``N`` consecutive numbers), one per line.  ``--date`` is
    the document date, which picks the reset period and fills the date tokens.
``lock NAME``, ``unlock NAME``
    Freeze a sequence (it issues nothing), or lift the freeze.
``void``, ``gaps``, ``reserve``, ``release-expired``, ``override``
    The number lifecycle: see :mod:`sa_sequencing.cli.lifecycle`.
``audit [NAME] [--limit N]``
    The latest ``N`` ledger entries (default 50; ``0`` for all), oldest first.
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

Exit status
-----------

``0`` on success; ``2`` for a usage error or a refused request (unknown or locked
sequence, bad pattern, bad option value), with the message on standard error prefixed
``error:``; ``1`` for a database failure or a failed demo check.
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
from .demo import add_demo_command
from .ledger import add_ledger_commands
from .lifecycle import add_lifecycle_commands
from .sequences import add_sequence_commands

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises :class:`UserError` on a bad command line, so that
    ``--json`` can answer it with a JSON error object too."""

    def error(self, message: str) -> NoReturn:
        raise UserError(message, hint=f"see: {self.prog} --help")


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
            parser.print_usage(sys.stderr)
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
