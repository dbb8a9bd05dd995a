"""The lifecycle commands of ``sa-sequencing``.

``void NAME NUMBER [--reason CODE]``
    Record an issued number as cancelled (a gap where the gap policy keeps them).
``gaps NAME [--all]``
    The gap registry of the sequence in ``--scope``: free gaps, or all with ``--all``.
``reserve NAME COUNT [--ttl MINUTES] [--context KEY=VALUE ...] [--date YYYY-MM-DD]``
    Draw ``COUNT`` numbers and hold them (default 30 minutes); prints the reservation
    id, its expiry and the numbers.
``release-expired``
    Turn every reservation past its expiry into gaps (for a scheduled job; several
    may run at once).
``override NAME VALUE [--date YYYY-MM-DD]``
    Move the counter forward: the next number is ``VALUE + step``.  Refused unless
    ``VALUE`` is above every number issued from that counter.

:func:`add_lifecycle_commands` registers the commands.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import timedelta

from .common import Command
from .common import add_number_options
from .common import open_manager
from .common import parse_context
from .common import parse_date
from .common import print_lines
from .common import table

__all__ = ["add_lifecycle_commands"]


def cmd_void(args: argparse.Namespace) -> int:
    with open_manager(args) as seqs:
        seqs.void(
            args.name, args.number, scope=args.scope, reason=args.reason, performed_by=args.actor
        )
        tracked = seqs.get(args.name, scope=args.scope).gap_policy.tracks_gaps
    where = "recorded as a gap" if tracked else "recorded in the audit ledger (allow_gaps)"
    print(f"voided {args.number}: {where}")
    return 0


def cmd_gaps(args: argparse.Namespace) -> int:
    with open_manager(args) as seqs:
        gaps = seqs.gaps(args.name, scope=args.scope, include_filled=args.all)
    if not gaps:
        print("no gaps")
        return 0
    rows: list[Sequence[object]] = [("NUMBER", "REASON", "STATUS", "ACTOR", "SINCE", "FILLED AS")]
    rows += [
        (g.number, g.reason, g.status, g.performed_by, g.created_at, g.filled_number) for g in gaps
    ]
    print_lines(table(rows))
    return 0


def cmd_reserve(args: argparse.Namespace) -> int:
    if args.ttl <= 0:
        raise ValueError(f"invalid --ttl {args.ttl}: give the minutes to hold the numbers, > 0")
    context, day = parse_context(args.context), parse_date(args.date)
    with open_manager(args) as seqs:
        held = seqs.reserve(
            args.name,
            args.count,
            scope=args.scope,
            ttl=timedelta(minutes=args.ttl),
            context=context,
            date=day,
            performed_by=args.actor,
        )
    print(f"reservation {held.id} until {held.expires_at:%Y-%m-%d %H:%M:%S} UTC")
    for number in held.numbers:
        print(number)
    return 0


def cmd_release_expired(args: argparse.Namespace) -> int:
    with open_manager(args) as seqs:
        count = seqs.release_expired(performed_by=args.actor)
    print(f"released {count} expired number{'s' if count != 1 else ''}")
    return 0


def cmd_override(args: argparse.Namespace) -> int:
    with open_manager(args) as seqs:
        day = parse_date(args.date)
        seqs.override(args.name, args.value, scope=args.scope, date=day, performed_by=args.actor)
        following = seqs.preview(args.name, scope=args.scope, date=day)
    print(f"counter set to {args.value}; next number: {following}")
    return 0


def add_lifecycle_commands(command: Command) -> None:
    """Add the commands above through ``build_parser``'s ``command`` helper."""
    sub = command("void", cmd_void, "cancel an issued number", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("number", metavar="NUMBER")
    sub.add_argument("--reason", help="a short code, e.g. customer_cancelled (default: voided)")

    sub = command("gaps", cmd_gaps, "show the gap registry", scope=True)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("--all", action="store_true", help="include gaps filled again")

    sub = command("reserve", cmd_reserve, "hold numbers for a while", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("count", metavar="COUNT", type=int)
    sub.add_argument("--ttl", type=int, default=30, metavar="MINUTES", help="(default: 30)")
    add_number_options(sub)

    command(
        "release-expired",
        cmd_release_expired,
        "turn expired reservations into gaps",
        actor=True,
    )

    sub = command("override", cmd_override, "move a counter forward", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("value", metavar="VALUE", type=int)
    sub.add_argument("--date", help="document date picking the counter, YYYY-MM-DD")
