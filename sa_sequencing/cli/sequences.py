"""The ``sa-sequencing`` commands on definitions and their numbers.

``init``, ``define``, ``list``, ``show``, ``preview``, ``generate``, ``lock``,
``unlock`` and ``audit``, as documented in :mod:`sa_sequencing.cli`, and
:func:`add_sequence_commands`, which registers them.  Each command runs in one
transaction (:func:`~sa_sequencing.cli.common.open_manager`) and prints its result
after the commit.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError

from .. import ALL_SCOPES
from .. import GapPolicy
from .. import OverflowBehavior
from .. import ResetPeriod
from .common import SEQUENCING
from .common import Command
from .common import add_number_options
from .common import database_failure
from .common import open_engine
from .common import open_manager
from .common import parse_context
from .common import parse_date
from .common import print_lines
from .common import scope_label
from .common import shown_url
from .common import table

__all__ = ["add_sequence_commands"]


def _listed_scope(args: argparse.Namespace) -> Any:
    """``--scope``, or every scope when it is not given (``list`` and ``audit``)."""
    return ALL_SCOPES if args.scope is None else args.scope


def cmd_init(args: argparse.Namespace) -> int:
    engine = open_engine(args, create=True)
    try:
        SEQUENCING.create_all(engine)
    except DBAPIError as exc:
        raise database_failure(exc) from exc
    finally:
        engine.dispose()
    names = ", ".join(t.name for t in SEQUENCING.tables.all())
    print(f"sequencing tables ready in {shown_url(engine)}: {names}")
    return 0


def cmd_define(args: argparse.Namespace) -> int:
    with open_manager(args) as seqs:
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
    with open_manager(args) as seqs:
        definitions = seqs.list(scope=_listed_scope(args))
    if not definitions:
        print("no sequences defined")
        return 0
    rows: list[Sequence[object]] = [("NAME", "SCOPE", "PATTERN", "RESET", "GAPS", "LOCKED")]
    rows += [
        (d.name, scope_label(d.scope), d.pattern, d.reset_period, d.gap_policy, d.is_locked)
        for d in definitions
    ]
    print_lines(table(rows))
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
    with open_manager(args) as seqs:
        definition = seqs.get(args.name, scope=args.scope)
        counters = seqs.repositories.counters.for_sequence(definition, scope=args.scope)
    title = definition.describe()
    if args.scope is not None and definition.scope is None:
        title += f", serving scope {args.scope!r}"
    print(title)
    print_lines(table([(f, getattr(definition, f)) for f in _SHOWN_FIELDS], indent="  "))
    if not counters:
        print("counters: none yet")
        return 0
    print("counters:")
    rows: list[Sequence[object]] = [("SCOPE", "PERIOD", "VALUE", "CYCLE", "UPDATED")]
    rows += [
        (scope_label(c.scope), c.period or "-", c.value, c.cycle, c.updated_at) for c in counters
    ]
    print_lines(table(rows, indent="  "))
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    context, day = parse_context(args.context), parse_date(args.date)
    with open_manager(args) as seqs:
        number = seqs.preview(args.name, scope=args.scope, context=context, date=day)
    print(number)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    context, day = parse_context(args.context), parse_date(args.date)
    count = args.count
    if count < 1:
        # generate_many(name, 0) is [] for code that numbers an empty batch; asked for
        # on the command line it is a slip.
        raise ValueError(f"invalid --count {count}: give how many numbers to draw, >= 1")
    with open_manager(args) as seqs:
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
    print_lines(numbers)
    return 0


def _set_locked(args: argparse.Namespace, *, locked: bool) -> int:
    """``lock`` and ``unlock``: one transaction changes the flag and reads it back."""
    with open_manager(args) as seqs:
        change = seqs.lock if locked else seqs.unlock
        change(args.name, scope=args.scope, performed_by=args.actor)
        definition = seqs.get(args.name, scope=args.scope)
    if locked:
        print(f"locked {definition.describe()}: it issues no numbers until unlocked")
    else:
        print(f"unlocked {definition.describe()}")
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    return _set_locked(args, locked=True)


def cmd_unlock(args: argparse.Namespace) -> int:
    return _set_locked(args, locked=False)


def cmd_audit(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise ValueError(f"invalid --limit {args.limit}: give a number >= 0 (0 for all)")
    with open_manager(args) as seqs:
        entries = seqs.audit_log(args.name, scope=_listed_scope(args), limit=args.limit or None)
    if not entries:
        print("no audit entries")
        return 0
    rows: list[Sequence[object]] = [
        ("TIME (UTC)", "EVENT", "SEQUENCE", "SCOPE", "NUMBER", "ACTOR")
    ]
    rows += [
        (e.created_at, e.event, e.sequence_name, scope_label(e.scope), e.number, e.performed_by)
        for e in entries
    ]
    print_lines(table(rows))
    return 0


def _choices(enum: type[ResetPeriod] | type[GapPolicy] | type[OverflowBehavior]) -> str:
    return ", ".join(m.value for m in enum)


def _add_define_options(sub: argparse.ArgumentParser) -> None:
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


def add_sequence_commands(command: Command) -> None:
    """Add the commands above through ``build_parser``'s ``command`` helper."""
    command("init", cmd_init, "create the sequencing tables")

    _add_define_options(command("define", cmd_define, "define a sequence", scope=True, actor=True))

    command("list", cmd_list, "list the definitions", scope=True)

    sub = command("show", cmd_show, "show a definition and its counters", scope=True)
    sub.add_argument("name", metavar="NAME")

    sub = command("preview", cmd_preview, "the number generate would return now", scope=True)
    sub.add_argument("name", metavar="NAME")
    add_number_options(sub)

    sub = command("generate", cmd_generate, "draw the next number(s)", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("--count", type=int, default=1, help="how many numbers (default: 1)")
    add_number_options(sub)

    sub = command("lock", cmd_lock, "freeze a sequence", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")
    sub = command("unlock", cmd_unlock, "lift a lock", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")

    sub = command("audit", cmd_audit, "show the audit ledger", scope=True)
    sub.add_argument("name", metavar="NAME", nargs="?")
    sub.add_argument("--limit", type=int, default=50, help="entries (default: 50; 0: all)")
