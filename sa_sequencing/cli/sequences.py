"""The ``sa-sequencing`` commands on definitions and their numbers.

``init``, ``define``, ``update``, ``delete``, ``list``, ``show``, ``preview``,
``generate``, ``lock`` and ``unlock``, as documented in :mod:`sa_sequencing.cli`, and
:func:`add_sequence_commands`, which registers them.  Each command runs in one
transaction (:func:`~sa_sequencing.cli.common.open_manager`) and answers a
:class:`~sa_sequencing.cli.common.Result` after the commit.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError

from .. import GapPolicy
from .. import OverflowBehavior
from .. import ResetPeriod
from .. import SequenceDefinition
from .. import split_counter_key
from .common import DEFINITION_FIELDS
from .common import SEQUENCING
from .common import Command
from .common import Result
from .common import UserError
from .common import add_number_options
from .common import database_failure
from .common import definition_data
from .common import open_engine
from .common import open_manager
from .common import parse_context
from .common import parse_date
from .common import scope_label
from .common import scope_means_every
from .common import shown_url
from .common import suggest
from .common import table

__all__ = ["add_sequence_commands"]


def cmd_init(args: argparse.Namespace) -> Result:
    engine = open_engine(args, create=True)
    try:
        SEQUENCING.create_all(engine)
    except DBAPIError as exc:
        raise database_failure(exc) from exc
    finally:
        engine.dispose()
    names = [t.name for t in SEQUENCING.tables.all()]
    url = shown_url(engine)
    return Result(
        {"url": url, "tables": names},
        [f"sequencing tables ready in {url}: {', '.join(names)}"],
    )


def _summary(verb: str, definition: SequenceDefinition) -> Result:
    return Result(
        {"definition": definition_data(definition)},
        [
            f"{verb} {definition.describe()}: {definition.pattern} "
            f"(reset {definition.reset_period}, {definition.gap_policy})"
        ],
    )


def cmd_define(args: argparse.Namespace) -> Result:
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
            counter_by=tuple(args.counter_by),
            performed_by=args.actor,
        )
    return _summary("defined", definition)


_UPDATABLE = (
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
    "audit_numbers",
    "allow_repeats",
)


def cmd_update(args: argparse.Namespace) -> Result:
    changes = {k: getattr(args, k) for k in _UPDATABLE if getattr(args, k) is not None}
    if not changes:
        raise UserError(
            f"update {args.name}: nothing to change",
            hint=f"give the options to change, e.g.: {suggest(args, 'update', args.name)} "
            "--pattern 'INV-{YEAR}-{COUNTER:6}' (see --help)",
        )
    with open_manager(args) as seqs:
        definition = seqs.update(args.name, scope=args.scope, performed_by=args.actor, **changes)
    return _summary("updated", definition)


def cmd_delete(args: argparse.Namespace) -> Result:
    with open_manager(args) as seqs:
        # Read first, so that the refusal below names what --yes would delete.
        found = seqs.find(args.name, scope=args.scope)
        own = found if found is not None and found.scope == (args.scope or None) else None
        if own is not None and not args.yes:
            count = len(seqs.repositories.counters.for_sequence(own))
            raise UserError(
                f"delete {own.describe()}: refused without --yes (it deletes the definition, "
                f"its {count} counter(s), its gaps and reservations; the audit ledger keeps "
                "its rows)",
                hint=f"confirm with: {suggest(args, 'delete', args.name, *_scoped(args))} --yes",
            )
        counters = [] if own is None else seqs.repositories.counters.for_sequence(own)
        seqs.delete(args.name, scope=args.scope, performed_by=args.actor)  # not found: raises
    assert own is not None
    return Result(
        {"deleted": definition_data(own), "counters": len(counters)},
        [f"deleted {own.describe()} and its {len(counters)} counter(s)"],
    )


def _scoped(args: argparse.Namespace) -> list[str]:
    return ["--scope", args.scope] if args.scope else []


def cmd_list(args: argparse.Namespace) -> Result:
    with open_manager(args) as seqs:
        if args.scope is None:
            own = seqs.list()
            inherited: list[SequenceDefinition] = []
        else:
            # The scope's own definitions, and the global ones that serve it (those
            # without a definition of the scope's own under the same name).
            own = seqs.list(scope=args.scope)
            names = {d.name for d in own}
            inherited = [d for d in seqs.list(scope=None) if d.name not in names]
    listed = sorted([*own, *inherited], key=lambda d: d.name)
    serves = {id(d) for d in inherited}
    data = [{**definition_data(d), "inherited": id(d) in serves} for d in listed]
    if not listed:
        where = f" for scope {args.scope!r}" if args.scope is not None else ""
        return Result({"scope": args.scope, "definitions": []}, [f"no sequences defined{where}"])
    rows: list[Sequence[object]] = [("NAME", "SCOPE", "PATTERN", "RESET", "GAPS", "LOCKED")]
    for d in listed:
        label = scope_label(d.scope)
        if id(d) in serves:
            label += f", serving {args.scope}"
        rows.append((d.name, label, d.pattern, d.reset_period, d.gap_policy, d.is_locked))
    return Result({"scope": args.scope, "definitions": data}, table(rows))


# what ``show`` lists below the title (which names the sequence and scope)
_SHOWN_FIELDS = DEFINITION_FIELDS[2:]


def cmd_show(args: argparse.Namespace) -> Result:
    with open_manager(args) as seqs:
        definition = seqs.get(args.name, scope=args.scope)
        counters = seqs.repositories.counters.for_sequence(definition, scope=args.scope)
    title = definition.describe()
    if args.scope is not None and definition.scope is None:
        title += f", serving scope {args.scope!r}"
    data: dict[str, Any] = {
        "definition": definition_data(definition),
        "serving_scope": args.scope,
        "counters": [
            {
                "scope": c.scope,
                "period": c.period,
                "series": split_counter_key(c.period)[1],
                "value": c.value,
                "cycle": c.cycle,
                "updated_at": c.updated_at,
            }
            for c in counters
        ],
    }
    lines = [title, *table([(f, getattr(definition, f)) for f in _SHOWN_FIELDS], indent="  ")]
    if not counters:
        return Result(data, [*lines, "counters: none yet"])
    # A counter_by definition has a counter per series: its values get a column.
    series = bool(definition.counter_by)
    header = ("SCOPE", "PERIOD", *(["SERIES"] if series else []), "VALUE", "CYCLE", "UPDATED")
    rows: list[Sequence[object]] = [header]
    for c in counters:
        period, values = split_counter_key(c.period)
        shown = [", ".join(f"{k}={v}" for k, v in values.items()) or "-"] if series else []
        rows.append((scope_label(c.scope), period or "-", *shown, c.value, c.cycle, c.updated_at))
    return Result(data, [*lines, "counters:", *table(rows, indent="  ")])


def cmd_preview(args: argparse.Namespace) -> Result:
    context, day = parse_context(args.context), parse_date(args.date)
    with open_manager(args) as seqs:
        number = seqs.preview(args.name, scope=args.scope, context=context, date=day)
    return Result({"number": number}, [number])


def cmd_generate(args: argparse.Namespace) -> Result:
    context, day = parse_context(args.context), parse_date(args.date)
    count = args.count
    if count < 1:
        # generate_many(name, 0) is [] for code that numbers an empty batch; asked for
        # on the command line it is a slip.
        raise UserError(f"invalid --count {count}: give how many numbers to draw, >= 1")
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
    return Result({"numbers": numbers}, list(numbers))


def _set_locked(args: argparse.Namespace, *, locked: bool) -> Result:
    """``lock`` and ``unlock``: one transaction changes the flag and reads it back."""
    with open_manager(args) as seqs:
        change = seqs.lock if locked else seqs.unlock
        change(args.name, scope=args.scope, performed_by=args.actor)
        definition = seqs.get(args.name, scope=args.scope)
    if locked:
        line = f"locked {definition.describe()}: it issues no numbers until unlocked"
    else:
        line = f"unlocked {definition.describe()}"
    return Result({"definition": definition_data(definition)}, [line])


def cmd_lock(args: argparse.Namespace) -> Result:
    return _set_locked(args, locked=True)


def cmd_unlock(args: argparse.Namespace) -> Result:
    return _set_locked(args, locked=False)


def _choices(enum: type[ResetPeriod] | type[GapPolicy] | type[OverflowBehavior]) -> str:
    return ", ".join(m.value for m in enum)


def _add_options(sub: argparse.ArgumentParser, *, update: bool) -> None:
    """The options of a definition: ``define``'s defaults, or none for ``update`` (only
    the options given change)."""

    def default(value: object, text: str) -> dict[str, Any]:
        if update:
            return {"default": None, "help": text}
        return {"default": value, "help": f"{text} (default: {value})"}

    sub.add_argument("name", metavar="NAME")
    if update:
        sub.add_argument("--pattern", help="a new pattern, e.g. 'INV-{YEAR}-{COUNTER:6}'")
    else:
        sub.add_argument("pattern", metavar="PATTERN", help="e.g. 'INV-{YEAR}-{COUNTER:5}'")
    sub.add_argument("--reset-period", **default("never", _choices(ResetPeriod)))
    sub.add_argument("--gap-policy", **default("allow_gaps", _choices(GapPolicy)))
    sub.add_argument("--overflow", **default("throw_exception", _choices(OverflowBehavior)))
    sub.add_argument("--start", type=int, **default(1, "first counter value"))
    sub.add_argument("--step", type=int, **default(1, "counter increment"))
    sub.add_argument("--timezone", **default("UTC", "IANA time zone of the dates"))
    sub.add_argument(
        "--fiscal-year-start", type=int, metavar="MONTH", **default(1, "first month, 1-12")
    )
    sub.add_argument(
        "--reset-limit", type=int, default=None, help="restart the counter after N numbers"
    )
    sub.add_argument(
        "--exhaustion-threshold",
        type=int,
        metavar="PERCENT",
        **default(90, "warn at this utilization"),
    )
    if update:
        flags = argparse.BooleanOptionalAction
        sub.add_argument(
            "--allow-repeats", action=flags, help="accept resets that would repeat numbers"
        )
        sub.add_argument(
            "--audit-numbers", action=flags, help="write an audit entry per issued number"
        )
        return
    sub.add_argument(
        "--allow-repeats",
        action="store_true",
        help="accept a definition whose resets would repeat numbers",
    )
    sub.add_argument(
        "--counter-by",
        action="append",
        default=[],
        metavar="VARIABLE",
        help="give each value of this context variable its own counter (repeatable), "
        "e.g. --counter-by DEPARTMENT",
    )
    sub.add_argument(
        "--no-audit-numbers",
        dest="audit_numbers",
        action="store_false",
        help="do not write an audit entry per issued number",
    )


def add_sequence_commands(command: Command) -> None:
    """Add the commands above through ``build_parser``'s ``command`` helper."""
    command("init", cmd_init, "create the sequencing tables (those missing)")

    sub = command("define", cmd_define, "define a sequence", scope=True, actor=True)
    _add_options(sub, update=False)

    sub = command(
        "update",
        cmd_update,
        "change a definition's pattern or options (audited)",
        scope=True,
        actor=True,
    )
    _add_options(sub, update=True)

    sub = command(
        "delete",
        cmd_delete,
        "delete a definition with its counters, gaps and reservations (needs --yes)",
        scope=True,
        actor=True,
    )
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("--yes", action="store_true", help="confirm the deletion")

    sub = command(
        "list",
        cmd_list,
        "list the definitions (with --scope: those serving the scope, global ones included)",
        scope=True,
    )
    scope_means_every(sub)

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
