"""The ``sa-sequencing`` commands that look at what happened: ``metrics``, ``audit``
(the ledger, or the story of one number) and ``report`` (the auditor's report of
:mod:`sa_sequencing.report`).

``audit NAME --number NUMBER`` tells the whole story of one number, oldest first: the
ledger rows that name it (issued, voided, a gap it left filled again), the reservation
events that held it (reserved, finalized, released, expired), the overrides that passed
over its counter value, and where it stands now (:func:`number_story`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import type_coerce
from sqlalchemy.types import Text

from .. import ALL_SCOPES
from .. import PatternError
from .. import SequenceManager
from ..report import FORMATS
from ..report import write_report
from .common import Command
from .common import Result
from .common import UserError
from .common import open_manager
from .common import parse_context
from .common import parse_date
from .common import scope_label
from .common import scope_means_every
from .common import table

__all__ = ["NumberStory", "add_ledger_commands", "number_story"]

_HELD = (
    "numbers_reserved",
    "reservation_finalized",
    "reservation_released",
    "reservation_expired",
)


@dataclass(frozen=True)
class NumberStory:
    """What became of one number: its ledger events and where it stands now."""

    number: str
    status: str
    """``issued``, ``void``, ``reserved``, ``finalized``, ``released``, ``expired``,
    ``skipped`` (passed over by an override) or ``unknown`` (no record of it)."""
    events: list[dict[str, Any]]


def number_story(seqs: SequenceManager, name: str, number: str, scope: str | None) -> NumberStory:
    """The ledger rows about ``number`` of ``name`` in ``scope``, and its status.

    Reads the ledger, gap and reservation tables with SQLAlchemy Core: the manager has
    no query by number.
    """
    definition = seqs.get(name, scope=scope)
    key = scope or ""
    tables = seqs.sequencing.tables
    conn = seqs.session.connection(bind_arguments={"mapper": tables.sequence_class})
    a, g, r = tables.audits, tables.gaps, tables.reservations
    quoted = json.dumps(number, ensure_ascii=False)  # as the ledger's JSON holds it
    rows = conn.execute(
        select(a)
        .where(a.c.sequence_name == definition.name, a.c.scope == key)
        .where(
            or_(
                a.c.number == number,
                a.c.event == "counter_overridden",
                type_coerce(a.c.data, Text).contains(quoted, autoescape=True),
            )
        )
        .order_by(a.c.id)
    ).all()
    gap = conn.execute(
        select(g).where(g.c.sequence_id == definition.id, g.c.scope == key, g.c.number == number)
    ).first()
    held = conn.execute(
        select(r)
        .where(r.c.sequence_id == definition.id, r.c.scope == key, r.c.number == number)
        .order_by(r.c.id.desc())
    ).first()
    value, period = _place(seqs, name, number, scope, rows, gap, held)
    events: list[dict[str, Any]] = []
    for row in rows:
        data = row.data or {}
        if row.event == "counter_overridden":
            if value is None or not data.get("old_value", 0) < value <= data.get("new_value", 0):
                continue
            if period is not None and data.get("period", "") != period:
                continue
        elif row.number != number and number not in (
            data.get("numbers", []) if row.event in _HELD else [data.get("gap_number")]
        ):
            continue
        events.append(
            {
                "event": row.event,
                "number": row.number,
                "counter_value": row.counter_value,
                "data": data,
                "performed_by": row.performed_by,
                "created_at": row.created_at,
            }
        )
    return NumberStory(number, _status(number, events, gap, held), events)


def _place(
    seqs: SequenceManager,
    name: str,
    number: str,
    scope: str | None,
    rows: Sequence[Any],
    gap: Any,
    held: Any,
) -> tuple[int | None, str | None]:
    """The counter value and period of ``number``, where a record tells them."""
    for source in (gap, held):
        if source is not None:
            return source.value, source.period
    for row in rows:
        if row.number == number and row.counter_value is not None:
            return row.counter_value, (row.data or {}).get("period")
    try:
        counter = seqs.parse(name, number, scope=scope).get("COUNTER")
    except PatternError:
        return None, None
    return (counter if isinstance(counter, int) else None), None


def _status(number: str, events: list[dict[str, Any]], gap: Any, held: Any) -> str:
    if gap is not None and gap.status == "filled" and gap.filled_number == number:
        return "issued"  # given back, then served again (fill_gaps) as the same number
    if held is not None:
        return str(held.status)
    if gap is not None:
        return "skipped" if gap.status == "skipped" else "void"
    names = {e["event"] for e in events if e["number"] == number}
    if "number_voided" in names:
        return "void"
    if "number_generated" in names or "gap_reclaimed" in names:
        return "issued"
    if any(e["event"] == "counter_overridden" for e in events):
        return "skipped"
    return "unknown"


def cmd_metrics(args: argparse.Namespace) -> Result:
    with open_manager(args) as seqs:
        figures = seqs.metrics(
            args.name,
            scope=args.scope,
            date=parse_date(args.date),
            context=parse_context(args.context),
        )
    data = figures.to_dict()
    return Result({"metrics": data}, table([(k, v) for k, v in data.items()]))


def cmd_audit(args: argparse.Namespace) -> Result:
    if args.number is not None:
        return _story(args)
    if args.limit < 0:
        raise UserError(f"invalid --limit {args.limit}: give a number >= 0 (0 for all)")
    scope = ALL_SCOPES if args.scope is None else args.scope
    with open_manager(args) as seqs:
        entries = seqs.audit_log(args.name, scope=scope, limit=args.limit or None)
    data = {"entries": [_entry(vars(e)) for e in entries]}
    if not entries:
        return Result(data, ["no audit entries"])
    rows: list[Sequence[object]] = [
        ("TIME (UTC)", "EVENT", "SEQUENCE", "SCOPE", "NUMBER", "ACTOR")
    ]
    rows += [
        (e.created_at, e.event, e.sequence_name, scope_label(e.scope), e.number, e.performed_by)
        for e in entries
    ]
    return Result(data, table(rows))


def _entry(values: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "sequence_name", "scope", "event", "number", "counter_value", "data")
    return {k: values.get(k) for k in (*keys, "performed_by", "created_at")}


def _story(args: argparse.Namespace) -> Result:
    if args.name is None:
        raise UserError("audit --number needs the sequence: audit NAME --number NUMBER")
    with open_manager(args) as seqs:
        story = number_story(seqs, args.name, args.number, args.scope)
    data = {"number": story.number, "status": story.status, "events": story.events}
    lines = [f"{story.number}: {story.status}"]
    if story.events:
        rows: list[Sequence[object]] = [("TIME (UTC)", "EVENT", "ACTOR", "DETAIL")]
        rows += [
            (e["created_at"], e["event"], e["performed_by"], _detail(e)) for e in story.events
        ]
        lines += table(rows, indent="  ")
    else:
        lines.append("  no ledger entry names it")
    return Result(data, lines)


def _detail(event: dict[str, Any]) -> str:
    data = event["data"]
    if event["event"] == "counter_overridden":
        return f"counter {data.get('old_value')} -> {data.get('new_value')}"
    if "reservation_id" in data:
        return f"reservation {data['reservation_id']}"
    if event["event"] == "gap_reclaimed":
        return f"value reissued as {event['number']}"
    if "reason" in data:
        return str(data["reason"])
    return str(data.get("date", ""))


def cmd_report(args: argparse.Namespace) -> Result:
    if args.output in (None, "-") and args.json:
        raise UserError("report --json needs --output PATH (the JSON answer takes stdout)")
    scope = ALL_SCOPES if args.scope is None else args.scope
    with open_manager(args) as seqs:
        if args.output in (None, "-"):
            summary = write_report(
                seqs, sys.stdout, format=args.format, name=args.name, scope=scope
            )
        else:
            try:
                summary = write_report(
                    seqs, args.output, format=args.format, name=args.name, scope=scope
                )
            except OSError as exc:
                raise UserError(f"cannot write {args.output}: {exc.strerror}") from exc
    data = {"path": args.output, **summary.__dict__}
    if args.output in (None, "-"):
        return Result(data, [])
    return Result(
        data,
        [
            f"wrote {args.output} ({summary.format}): {summary.sequences} sequence(s), "
            f"{summary.counters} counter(s), {summary.issued} number(s) issued, "
            f"{summary.gaps} gap(s), {summary.open_reservations} open reservation(s)"
        ],
    )


def add_ledger_commands(command: Command) -> None:
    """Add the commands above through ``build_parser``'s ``command`` helper."""
    sub = command(
        "metrics", cmd_metrics, "a counter's figures (capacity, gaps, waits)", scope=True
    )
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("--date", help="document date picking the counter (default: today)")
    sub.add_argument(
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="a context variable picking the series of a counter_by sequence (repeatable)",
    )

    sub = command(
        "audit",
        cmd_audit,
        "show the audit ledger, or the story of one number (--number)",
        scope=True,
    )
    scope_means_every(sub)
    sub.add_argument("name", metavar="NAME", nargs="?", help="one sequence (default: all)")
    sub.add_argument("--limit", type=int, default=50, help="entries (default: 50; 0: all)")
    sub.add_argument(
        "--number",
        help="tell what became of this number of NAME in --scope (here default: the global "
        "scope): issued, voided, reserved, finalized, released, overridden",
    )

    sub = command("report", cmd_report, "write the auditor's report (HTML or CSV)", scope=True)
    scope_means_every(sub)
    sub.add_argument("name", metavar="NAME", nargs="?", help="one sequence (default: all)")
    sub.add_argument("--format", choices=FORMATS, default="html", help="(default: html)")
    sub.add_argument("--output", metavar="PATH", help="file to write (default: standard output)")
