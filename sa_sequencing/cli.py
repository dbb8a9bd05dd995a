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
    The number lifecycle: see :mod:`sa_sequencing.cli_lifecycle`.
``audit [NAME] [--limit N]``
    The latest ``N`` ledger entries (default 50; ``0`` for all), oldest first.
``demo [--file PATH]``
    The whole story on a SQLite file (default ``sa_sequencing_demo.db`` in the current
    directory, deleted and created afresh): three sequences, invoices numbered for two
    tenants from four threads with a rolled-back transaction each, a check that the
    committed numbers have no duplicate and no hole, purchase orders, quotations with
    ``preview`` beside ``generate``, a voided invoice, purchase orders reserved and
    partly released (then reused by ``fill_gaps``), the gap reports, and the audit
    trail.

Exit status
-----------

``0`` on success; ``2`` for a usage error or a refused request (unknown or locked
sequence, bad pattern, bad option value), with the message on standard error prefixed
``error:``; ``1`` for a database failure or a failed demo check.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session

from . import __version__
from .cli_lifecycle import add_lifecycle_commands
from .cli_lifecycle import lifecycle_story
from .enums import GapPolicy
from .enums import OverflowBehavior
from .enums import ResetPeriod
from .errors import SequenceLockedError
from .errors import SequenceNotFoundError
from .errors import SequencingError
from .manager import SequenceManager
from .repositories import ALL_SCOPES
from .repositories import AuditEntry
from .sequencing import Sequencing

__all__ = ["main"]

PROG = "sa-sequencing"
URL_ENV = "SA_SEQUENCING_URL"
DEFAULT_URL = "sqlite:///sa_sequencing.db"
DEFAULT_DEMO_FILE = "sa_sequencing_demo.db"


class _Base(DeclarativeBase):
    pass


_SEQUENCING = Sequencing(_Base)


class _UserError(Exception):
    """A refused request: exit status 2."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class _Failure(Exception):
    """A failure that is not the user's: exit status 1."""


# -- plumbing -------------------------------------------------------------------------------


def _url(args: argparse.Namespace) -> str:
    url = args.url or os.environ.get(URL_ENV) or DEFAULT_URL
    return str(url)


def _sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite URL, or None (not SQLite, in memory, or a ``file:`` URI)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or url.query.get("uri"):
        return None
    return Path(database)


def _engine(args: argparse.Namespace, *, create: bool = False) -> sa.Engine:
    text = _url(args)
    try:
        url = sa.make_url(text)
        path = _sqlite_file(url)
        if path is not None and not create and not path.exists():
            raise _UserError(
                f"no database at {path}", hint=f"create it with: {PROG} init --url {text}"
            )
        return sa.create_engine(url)
    except ArgumentError as exc:
        raise _UserError(f"invalid --url {text!r}: {exc}") from exc
    except ImportError as exc:
        raise _UserError(f"the database driver for {text!r} is not installed: {exc}") from exc


def _shown(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _database_error(engine: sa.Engine, exc: DBAPIError) -> Exception:
    table = _SEQUENCING.tables.sequences.name
    try:
        present = sa.inspect(engine).has_table(table)
    except Exception:
        present = True
    if not present:
        return _UserError(
            f"no sequencing tables in {_shown(engine)}",
            hint=f"create them with: {PROG} init",
        )
    return _Failure(f"database error: {exc.orig}")


@contextmanager
def _manager(args: argparse.Namespace) -> Iterator[SequenceManager]:
    """A manager in one transaction, committed when the block succeeds."""
    engine = _engine(args)
    try:
        with Session(engine) as session, session.begin():
            yield _SEQUENCING.manager(session)
    except DBAPIError as exc:
        raise _database_error(engine, exc) from exc
    finally:
        engine.dispose()


def _context(items: Sequence[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    context: dict[str, str] = {}
    seen: set[str] = set()
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"invalid --context {item!r}: expected KEY=VALUE")
        if key.upper() in seen:
            raise ValueError(f"--context {key!r} is given twice")
        seen.add(key.upper())
        context[key] = value
    return context


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid --date {text!r}: expected YYYY-MM-DD") from None


def _table(rows: Sequence[Sequence[object]], indent: str = "") -> list[str]:
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


def _scope_label(scope: str | None) -> str:
    return scope if scope else "(global)"


def _print_lines(lines: Sequence[str]) -> None:
    for line in lines:
        print(line)


# -- commands ---------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    engine = _engine(args, create=True)
    try:
        _SEQUENCING.create_all(engine)
    except DBAPIError as exc:
        raise _Failure(f"database error: {exc.orig}") from exc
    finally:
        engine.dispose()
    names = ", ".join(t.name for t in _SEQUENCING.tables.all())
    print(f"sequencing tables ready in {_shown(engine)}: {names}")
    return 0


def cmd_define(args: argparse.Namespace) -> int:
    with _manager(args) as seqs:
        definition = seqs.define(
            args.name,
            args.pattern,
            scope=args.scope,
            reset_period=args.reset_period,
            reset_limit=args.reset_limit,
            step=args.step,
            start=args.start,
            gap_policy=args.gap_policy,
            overflow=args.overflow,
            exhaustion_threshold=args.exhaustion_threshold,
            timezone=args.timezone,
            fiscal_year_start=args.fiscal_year_start,
            audit_numbers=args.audit_numbers,
            allow_repeats=args.allow_repeats,
            performed_by=args.actor,
        )
    print(
        f"defined {definition.describe()}: {definition.pattern} "
        f"(reset {definition.reset_period}, {definition.gap_policy})"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with _manager(args) as seqs:
        definitions = seqs.list(scope=ALL_SCOPES if args.scope is None else args.scope)
    if not definitions:
        print("no sequences defined")
        return 0
    rows: list[Sequence[object]] = [("NAME", "SCOPE", "PATTERN", "RESET", "GAPS", "LOCKED")]
    rows += [
        (d.name, _scope_label(d.scope), d.pattern, d.reset_period, d.gap_policy, d.is_locked)
        for d in definitions
    ]
    _print_lines(_table(rows))
    return 0


_SHOWN_FIELDS = (
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
)


def cmd_show(args: argparse.Namespace) -> int:
    with _manager(args) as seqs:
        definition = seqs.get(args.name, scope=args.scope)
        counters = seqs.counters.for_sequence(definition, scope=args.scope)
    title = definition.describe()
    if args.scope is not None and definition.scope is None:
        title += f", serving scope {args.scope!r}"
    print(title)
    _print_lines(_table([(f, getattr(definition, f)) for f in _SHOWN_FIELDS], indent="  "))
    if not counters:
        print("counters: none yet")
        return 0
    print("counters:")
    rows: list[Sequence[object]] = [("SCOPE", "PERIOD", "VALUE", "CYCLE", "UPDATED")]
    rows += [
        (_scope_label(c.scope), c.period or "-", c.value, c.cycle, c.updated_at) for c in counters
    ]
    _print_lines(_table(rows, indent="  "))
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    context, day = _context(args.context), _date(args.date)
    with _manager(args) as seqs:
        number = seqs.preview(args.name, scope=args.scope, context=context, date=day)
    print(number)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    context, day = _context(args.context), _date(args.date)
    count = args.count
    with _manager(args) as seqs:
        if count == 1:
            numbers = [
                seqs.generate(
                    args.name,
                    scope=args.scope,
                    context=context,
                    date=day,
                    performed_by=args.actor,
                )
            ]
        else:
            numbers = seqs.generate_many(
                args.name,
                count,
                scope=args.scope,
                context=context,
                date=day,
                performed_by=args.actor,
            )
    _print_lines(numbers)
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    with _manager(args) as seqs:
        seqs.lock(args.name, scope=args.scope, performed_by=args.actor)
        definition = seqs.get(args.name, scope=args.scope)
    print(f"locked {definition.describe()}: it issues no numbers until unlocked")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    with _manager(args) as seqs:
        seqs.unlock(args.name, scope=args.scope, performed_by=args.actor)
        definition = seqs.get(args.name, scope=args.scope)
    print(f"unlocked {definition.describe()}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise ValueError(f"invalid --limit {args.limit}: give a number >= 0 (0 for all)")
    with _manager(args) as seqs:
        entries = seqs.audit_log(
            args.name,
            scope=ALL_SCOPES if args.scope is None else args.scope,
            limit=args.limit or None,
        )
    if not entries:
        print("no audit entries")
        return 0
    rows: list[Sequence[object]] = [
        ("TIME (UTC)", "EVENT", "SEQUENCE", "SCOPE", "NUMBER", "ACTOR")
    ]
    rows += [
        (e.created_at, e.event, e.sequence_name, _scope_label(e.scope), e.number, e.performed_by)
        for e in entries
    ]
    _print_lines(_table(rows))
    return 0


# -- demo ---------------------------------------------------------------------------------------

TENANTS = ("acme", "globex")
CLERKS = 4
TRANSACTIONS_PER_CLERK = 5
ROLLED_BACK_TRANSACTION = 1  # each clerk rolls back their second transaction


@dataclass(frozen=True)
class _Draw:
    actor: str
    tenant: str
    number: str
    committed: bool


class _Demo:
    """The demo story: a list of steps on one SQLite file.

    Each step is a method that prints its own few lines; add a step by writing a
    method and listing it in :meth:`steps`.  A step that finds something wrong
    appends to :attr:`failures` (exit status 1).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = sa.create_engine(sa.URL.create("sqlite", database=str(path)))
        self.sequencing = _SEQUENCING
        # One document date for the whole story, so that it never straddles a reset.
        self.today = datetime.now(timezone.utc).date()
        self.failures: list[str] = []

    def steps(self) -> list[Callable[[], None]]:
        return [
            self.define_sequences,
            self.number_invoices,
            self.purchase_orders,
            lambda: lifecycle_story(self),
            self.quotations,
            self.audit_trail,
        ]

    @contextmanager
    def tx(self) -> Iterator[SequenceManager]:
        """A manager in a transaction committed at the end of the block."""
        with Session(self.engine) as session, session.begin():
            yield self.sequencing.manager(session)

    def run(self) -> int:
        try:
            print(f"{PROG} demo on {self.path} (SQLite), document date {self.today}")
            self.sequencing.create_all(self.engine)
            for step in self.steps():
                print()
                step()
        finally:
            self.engine.dispose()
        for failure in self.failures:
            print(f"error: {failure}", file=sys.stderr)
        return 1 if self.failures else 0

    # -- steps --------------------------------------------------------------------------------

    def define_sequences(self) -> None:
        with self.tx() as seqs:
            seqs.define(
                "invoice_number",
                "INV-{YEAR}-{COUNTER:5}",
                reset_period=ResetPeriod.YEARLY,
                gap_policy=GapPolicy.REPORT_GAPS_ONLY,
                performed_by="admin",
            )
            seqs.define(
                "purchase_order",
                "PO-{YEAR}{MONTH}-{COUNTER:4}",
                reset_period=ResetPeriod.MONTHLY,
                gap_policy=GapPolicy.FILL_GAPS,
                performed_by="admin",
            )
            seqs.define(
                "quotation",
                "QT-{YEAR}-{COUNTER:5}",
                reset_period=ResetPeriod.YEARLY,
                performed_by="admin",
            )
            definitions = seqs.list()
        print("Sequences (global definitions: each tenant counts on its own)")
        rows = [(d.name, d.pattern, d.reset_period, d.gap_policy) for d in definitions]
        _print_lines(_table(rows, indent="  "))

    def number_invoices(self) -> None:
        draws: list[_Draw] = []
        errors: list[BaseException] = []
        guard = threading.Lock()
        barrier = threading.Barrier(CLERKS)

        def clerk(index: int) -> None:
            actor = f"clerk-{index + 1}"
            try:
                barrier.wait()
                for j in range(TRANSACTIONS_PER_CLERK):
                    tenant = TENANTS[(index + j) % len(TENANTS)]
                    with Session(self.engine) as session:
                        session.begin()
                        number = self.sequencing.manager(session).generate(
                            "invoice_number", scope=tenant, date=self.today, performed_by=actor
                        )
                        committed = j != ROLLED_BACK_TRANSACTION
                        if committed:
                            session.commit()
                        else:
                            session.rollback()
                    with guard:
                        draws.append(_Draw(actor, tenant, number, committed))
                    time.sleep(0.001)  # let the other clerks in
            except BaseException as exc:  # re-raised in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=clerk, args=(i,)) for i in range(CLERKS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

        print(
            f"Invoices: {CLERKS} clerks in threads, {TRANSACTIONS_PER_CLERK} transactions "
            "each, one rolled back on purpose"
        )
        committed = [d for d in draws if d.committed]
        owner = {(d.tenant, d.number): d.actor for d in committed}
        for d in sorted((d for d in draws if not d.committed), key=lambda d: d.actor):
            again = owner.get((d.tenant, d.number))
            fate = f"issued again to {again}" if again else "not issued again"
            print(f"  {d.actor} rolled back {d.tenant} {d.number}: {fate}")
        for tenant in TENANTS:
            numbers = sorted(d.number for d in committed if d.tenant == tenant)
            print(f"  {tenant} ({len(numbers)}):")
            for i in range(0, len(numbers), 4):
                print("    " + "  ".join(numbers[i : i + 4]))
        self.check_invoices(committed)

    def check_invoices(self, committed: list[_Draw]) -> None:
        problems: list[str] = []
        with self.tx() as seqs:
            for tenant in TENANTS:
                values = sorted(
                    int(seqs.parse("invoice_number", d.number, scope=tenant)["COUNTER"])
                    for d in committed
                    if d.tenant == tenant
                )
                if len(set(values)) != len(values):
                    problems.append(f"{tenant}: duplicate invoice numbers")
                if sorted(set(values)) != list(range(1, len(set(values)) + 1)):
                    problems.append(f"{tenant}: a hole in the invoice numbers")
            ledger = sorted(
                (e.scope or "", e.number or "")
                for e in seqs.audit_log("invoice_number", limit=None)
                if e.event == "number_generated"
            )
        if ledger != sorted((d.tenant, d.number) for d in committed):
            problems.append("the audit ledger does not list exactly the committed invoices")
        if problems:
            print("  check FAILED: " + "; ".join(problems))
            self.failures.extend(problems)
        else:
            print(
                f"  check: no duplicate, no hole in {len(committed)} committed numbers; "
                "the ledger lists exactly them"
            )

    def purchase_orders(self) -> None:
        with self.tx() as seqs:
            batch = seqs.generate_many(
                "purchase_order", 3, scope="acme", date=self.today, performed_by="buyer-1"
            )
        with self.tx() as seqs:
            single = seqs.generate(
                "purchase_order", scope="acme", date=self.today, performed_by="buyer-2"
            )
        print("Purchase orders (acme, monthly counter)")
        print(f"  generate_many(3) by buyer-1: {', '.join(batch)}")
        print(f"  generate by buyer-2:         {single}")

    def quotations(self) -> None:
        print("Quotations (globex): preview shows exactly what generate returns next")
        for actor in ("sales-1", "sales-2"):
            with self.tx() as seqs:
                preview = seqs.preview("quotation", scope="globex", date=self.today)
                number = seqs.generate(
                    "quotation", scope="globex", date=self.today, performed_by=actor
                )
            same = "same" if preview == number else "DIFFERENT"
            if preview != number:
                self.failures.append(f"preview {preview} but generate {number}")
            print(f"  preview {preview}  generate {number} by {actor}: {same}")

    def audit_trail(self, limit: int = 15) -> None:
        with self.tx() as seqs:
            entries = seqs.audit_log(limit=limit)
        print(f"Audit trail (last {len(entries)} entries)")
        rows: list[Sequence[object]] = [("TIME", "EVENT", "SEQUENCE", "SCOPE", "NUMBER", "ACTOR")]
        rows += [_audit_row(e) for e in entries]
        _print_lines(_table(rows, indent="  "))


def _audit_row(entry: AuditEntry) -> tuple[object, ...]:
    return (
        entry.created_at.strftime("%H:%M:%S.%f")[:-3],
        entry.event,
        entry.sequence_name,
        _scope_label(entry.scope),
        entry.number,
        entry.performed_by,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    path = Path(args.file)
    for stale in (path, *(Path(f"{path}{suffix}") for suffix in ("-journal", "-wal", "-shm"))):
        if stale.exists():
            stale.unlink()
    return _Demo(path).run()


# -- parser -----------------------------------------------------------------------------------


def _choices(enum: type[ResetPeriod] | type[GapPolicy] | type[OverflowBehavior]) -> str:
    return ", ".join(m.value for m in enum)


def _add_common(
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


def _add_number_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="a context variable of the pattern (repeatable)",
    )
    parser.add_argument("--date", help="document date, YYYY-MM-DD (default: today)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sa-sequencing``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Gapless, auditable business-document numbering (sa_sequencing).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common(parser, scope=True, actor=True, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str,
        func: Callable[[argparse.Namespace], int],
        help: str,
        **common: bool,
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
        _add_common(sub, **common)
        return sub

    command("init", cmd_init, "create the sequencing tables")

    sub = command("define", cmd_define, "define a sequence", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("pattern", metavar="PATTERN", help="e.g. 'INV-{YEAR}-{COUNTER:5}'")
    sub.add_argument(
        "--reset-period", default="never", help=f"{_choices(ResetPeriod)} (default: never)"
    )
    sub.add_argument(
        "--gap-policy", default="allow_gaps", help=f"{_choices(GapPolicy)} (default: allow_gaps)"
    )
    sub.add_argument(
        "--overflow",
        default="throw_exception",
        help=f"{_choices(OverflowBehavior)} (default: throw_exception)",
    )
    sub.add_argument("--start", type=int, default=1, help="first counter value (default: 1)")
    sub.add_argument("--step", type=int, default=1, help="counter increment (default: 1)")
    sub.add_argument("--timezone", default="UTC", help="IANA time zone of the dates")
    sub.add_argument(
        "--fiscal-year-start", type=int, default=1, metavar="MONTH", help="1-12 (default: 1)"
    )
    sub.add_argument(
        "--reset-limit", type=int, default=None, help="restart the counter after N numbers"
    )
    sub.add_argument(
        "--exhaustion-threshold",
        type=int,
        default=90,
        metavar="PERCENT",
        help="warn at this utilization (default: 90)",
    )
    sub.add_argument(
        "--allow-repeats",
        action="store_true",
        help="accept a definition whose resets would repeat numbers",
    )
    sub.add_argument(
        "--no-audit-numbers",
        dest="audit_numbers",
        action="store_false",
        help="do not write an audit entry per issued number",
    )

    command("list", cmd_list, "list the definitions", scope=True)

    sub = command("show", cmd_show, "show a definition and its counters", scope=True)
    sub.add_argument("name", metavar="NAME")

    sub = command("preview", cmd_preview, "the number generate would return now", scope=True)
    sub.add_argument("name", metavar="NAME")
    _add_number_options(sub)

    sub = command("generate", cmd_generate, "draw the next number(s)", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("--count", type=int, default=1, help="how many numbers (default: 1)")
    _add_number_options(sub)

    sub = command("lock", cmd_lock, "freeze a sequence", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")
    sub = command("unlock", cmd_unlock, "lift a lock", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")

    sub = command("audit", cmd_audit, "show the audit ledger", scope=True)
    sub.add_argument("name", metavar="NAME", nargs="?")
    sub.add_argument("--limit", type=int, default=50, help="entries (default: 50; 0: all)")

    add_lifecycle_commands(command)

    sub = command("demo", cmd_demo, "run the demo story on a SQLite file", url=False)
    sub.add_argument(
        "--file",
        default=DEFAULT_DEMO_FILE,
        help=f"SQLite file, deleted and re-created (default: {DEFAULT_DEMO_FILE})",
    )
    return parser


def _hint(exc: Exception, args: argparse.Namespace) -> str | None:
    if isinstance(exc, _UserError):
        return exc.hint
    scope = f" --scope {exc.scope}" if isinstance(exc, SequencingError) and exc.scope else ""
    if isinstance(exc, SequenceLockedError) and exc.sequence:
        # The lock may sit on the global definition serving the scope.
        owner = _definition_scope(args, exc.sequence, exc.scope)
        scope = f" --scope {owner}" if owner else ""
        return f"unlock it with: {PROG} unlock {exc.sequence}{scope}"
    if isinstance(exc, SequenceNotFoundError) and exc.sequence and args.command != "define":
        return f"define it with: {PROG} define {exc.sequence} PATTERN{scope}"
    return None


def _definition_scope(args: argparse.Namespace, name: str, scope: str | None) -> str | None:
    """The scope of the definition serving ``scope`` (None: global or not found)."""
    try:
        with _manager(args) as seqs:
            definition = seqs.find(name, scope=scope)
    except Exception:
        return None
    return None if definition is None else definition.scope


def _report(exc: Exception, args: argparse.Namespace) -> None:
    print(f"error: {exc}", file=sys.stderr)
    hint = _hint(exc, args)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``sa-sequencing`` with ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (_UserError, SequencingError, ValueError, TypeError) as exc:
        _report(exc, args)
        return 2
    except _Failure as exc:
        _report(exc, args)
        return 1
    except DBAPIError as exc:
        _report(_Failure(f"database error: {exc.orig}"), args)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
