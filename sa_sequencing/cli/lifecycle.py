"""The lifecycle commands of ``sa-sequencing``.

``void NAME NUMBER [--reason CODE]``
    Record an issued number as cancelled (a gap where the gap policy keeps them).
``gaps NAME [--all]``
    The gap registry of the sequence in ``--scope``: free gaps, or all with ``--all``.
``reserve NAME COUNT [--ttl MINUTES] [--context KEY=VALUE ...] [--date YYYY-MM-DD]``
    Draw ``COUNT`` numbers and hold them (default 30 minutes); prints the reservation
    id, its expiry and the numbers.
``finalize RESERVATION_ID [NUMBER ...]``, ``release RESERVATION_ID [NUMBER ...]``
    Use the reserved numbers (all that the reservation still holds, or those named),
    or give them back: released numbers become gaps with reason ``released``.
``release-expired``
    Turn every reservation past its expiry into gaps (for a scheduled job; several
    may run at once).
``override NAME VALUE [--date YYYY-MM-DD] [--context KEY=VALUE ...]``
    Move the counter forward: the next number is ``VALUE + step``.  Refused unless
    ``VALUE`` is above every number issued from that counter.

:func:`add_lifecycle_commands` registers the commands.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import timedelta

from .common import Command
from .common import Result
from .common import UserError
from .common import add_number_options
from .common import open_manager
from .common import parse_context
from .common import parse_date
from .common import table

__all__ = ["add_lifecycle_commands"]


def cmd_void(args: argparse.Namespace) -> Result:
    with open_manager(args) as seqs:
        seqs.void(
            args.name, args.number, scope=args.scope, reason=args.reason, performed_by=args.actor
        )
        tracked = seqs.get(args.name, scope=args.scope).gap_policy.tracks_gaps
    where = "recorded as a gap" if tracked else "recorded in the audit ledger (allow_gaps)"
    return Result(
        {"voided": args.number, "reason": args.reason or "voided", "gap_recorded": tracked},
        [f"voided {args.number}: {where}"],
    )


def cmd_gaps(args: argparse.Namespace) -> Result:
    with open_manager(args) as seqs:
        gaps = seqs.gaps(args.name, scope=args.scope, include_filled=args.all)
    data = {
        "gaps": [
            {
                "number": g.number,
                "scope": g.scope,
                "period": g.period,
                "cycle": g.cycle,
                "value": g.value,
                "reason": g.reason,
                "status": g.status,
                "performed_by": g.performed_by,
                "created_at": g.created_at,
                "filled_at": g.filled_at,
                "filled_number": g.filled_number,
            }
            for g in gaps
        ]
    }
    if not gaps:
        return Result(data, ["no gaps"])
    rows: list[Sequence[object]] = [("NUMBER", "REASON", "STATUS", "ACTOR", "SINCE", "FILLED AS")]
    rows += [
        (g.number, g.reason, g.status, g.performed_by, g.created_at, g.filled_number) for g in gaps
    ]
    return Result(data, table(rows))


def cmd_reserve(args: argparse.Namespace) -> Result:
    if args.ttl <= 0:
        raise UserError(f"invalid --ttl {args.ttl}: give the minutes to hold the numbers, > 0")
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
    data = {
        "reservation": {
            "id": held.id,
            "sequence": held.sequence_name,
            "scope": held.scope,
            "numbers": list(held.numbers),
            "expires_at": held.expires_at,
        }
    }
    lines = [f"reservation {held.id} until {held.expires_at:%Y-%m-%d %H:%M:%S} UTC"]
    lines += held.numbers
    return Result(data, lines)


def _close(args: argparse.Namespace, *, finalize: bool) -> Result:
    with open_manager(args) as seqs:
        close = seqs.finalize if finalize else seqs.release
        numbers = close(args.reservation_id, args.numbers or None, performed_by=args.actor)
    verb = "finalized" if finalize else "released"
    what = "" if finalize else " (now gaps with reason 'released' where the policy keeps gaps)"
    return Result(
        {"reservation_id": args.reservation_id, verb: numbers},
        [f"{verb} {len(numbers)} number(s) of reservation {args.reservation_id}{what}:", *numbers],
    )


def cmd_finalize(args: argparse.Namespace) -> Result:
    return _close(args, finalize=True)


def cmd_release(args: argparse.Namespace) -> Result:
    return _close(args, finalize=False)


def cmd_release_expired(args: argparse.Namespace) -> Result:
    with open_manager(args) as seqs:
        count = seqs.release_expired(performed_by=args.actor)
    return Result(
        {"released": count}, [f"released {count} expired number{'s' if count != 1 else ''}"]
    )


def cmd_override(args: argparse.Namespace) -> Result:
    with open_manager(args) as seqs:
        day, context = parse_date(args.date), parse_context(args.context)
        seqs.override(
            args.name,
            args.value,
            scope=args.scope,
            date=day,
            context=context,
            performed_by=args.actor,
        )
        following = seqs.preview(args.name, scope=args.scope, date=day, context=context)
    return Result(
        {"value": args.value, "next_number": following},
        [f"counter set to {args.value}; next number: {following}"],
    )


def add_lifecycle_commands(command: Command) -> None:
    """Add the commands above through ``build_parser``'s ``command`` helper."""
    sub = command("void", cmd_void, "cancel an issued number", scope=True, actor=True)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("number", metavar="NUMBER")
    sub.add_argument("--reason", help="a short code, e.g. customer_cancelled (default: voided)")

    sub = command("gaps", cmd_gaps, "show the gap registry", scope=True)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("--all", action="store_true", help="include gaps filled again")

    sub = command(
        "reserve",
        cmd_reserve,
        "hold numbers for a while; prints the reservation id for finalize and release",
        scope=True,
        actor=True,
    )
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("count", metavar="COUNT", type=int)
    sub.add_argument("--ttl", type=int, default=30, metavar="MINUTES", help="(default: 30)")
    add_number_options(sub)

    for name, func, text in (
        ("finalize", cmd_finalize, "use reserved numbers (all, or those named)"),
        ("release", cmd_release, "give reserved numbers back: they become gaps"),
    ):
        sub = command(name, func, text, actor=True)
        sub.add_argument("reservation_id", metavar="RESERVATION_ID", help="as reserve printed it")
        sub.add_argument(
            "numbers", metavar="NUMBER", nargs="*", help="default: all the reservation holds"
        )

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
    sub.add_argument(
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="a context variable of the pattern; picks the series of a counter_by "
        "sequence (repeatable)",
    )
