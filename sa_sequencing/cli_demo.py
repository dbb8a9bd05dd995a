"""``sa-sequencing demo``: the whole story on a SQLite file, in a few screens.

:class:`Demo` runs a list of steps on one SQLite file (default
``sa_sequencing_demo.db`` in the current directory, deleted and created afresh), each
printing its own few lines: three sequences defined, invoices numbered for two tenants
from four threads with a rolled-back transaction each and checked for duplicates and
holes, purchase orders, the lifecycle step of :mod:`sa_sequencing.cli_lifecycle`,
quotations with ``preview`` beside ``generate``, and the audit trail.  A step that
finds something wrong makes the command exit with status 1.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .cli_common import PROG
from .cli_common import SEQUENCING
from .cli_common import Command
from .cli_common import print_lines
from .cli_common import scope_label
from .cli_common import table
from .cli_lifecycle import lifecycle_story
from .enums import GapPolicy
from .enums import ResetPeriod
from .manager import SequenceManager
from .repositories import AuditEntry

__all__ = ["DEFAULT_DEMO_FILE", "Demo", "add_demo_command"]

DEFAULT_DEMO_FILE = "sa_sequencing_demo.db"
TENANTS = ("acme", "globex")
CLERKS = 4
TRANSACTIONS_PER_CLERK = 5
ROLLED_BACK_TRANSACTION = 1  # each clerk rolls back their second transaction
# name, pattern, reset period, gap policy: the global definitions of the story
SEQUENCES = (
    ("invoice_number", "INV-{YEAR}-{COUNTER:5}", ResetPeriod.YEARLY, GapPolicy.REPORT_GAPS_ONLY),
    ("purchase_order", "PO-{YEAR}{MONTH}-{COUNTER:4}", ResetPeriod.MONTHLY, GapPolicy.FILL_GAPS),
    ("quotation", "QT-{YEAR}-{COUNTER:5}", ResetPeriod.YEARLY, GapPolicy.ALLOW_GAPS),
)


@dataclass(frozen=True)
class _Draw:
    actor: str
    tenant: str
    number: str
    committed: bool


class Demo:
    """The demo story: a list of steps on one SQLite file.

    Each step is a method that prints its own few lines; add a step by writing a
    method and listing it in :meth:`steps`.  A step that finds something wrong
    appends to :attr:`failures` (exit status 1).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = sa.create_engine(sa.URL.create("sqlite", database=str(path)))
        self.sequencing = SEQUENCING
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
            for name, pattern, reset_period, gap_policy in SEQUENCES:
                seqs.define(
                    name,
                    pattern,
                    reset_period=reset_period,
                    gap_policy=gap_policy,
                    performed_by="admin",
                )
            definitions = seqs.list()
        print("Sequences (global definitions: each tenant counts on its own)")
        rows = [(d.name, d.pattern, d.reset_period, d.gap_policy) for d in definitions]
        print_lines(table(rows, indent="  "))

    def number_invoices(self) -> None:
        draws: list[_Draw] = []
        guard = threading.Lock()
        barrier = threading.Barrier(CLERKS)

        def clerk(index: int) -> None:
            actor = f"clerk-{index + 1}"
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

        # One worker per clerk, so that all of them meet at the barrier.  result()
        # re-raises a clerk's error, which leaves the block once the others are done.
        with ThreadPoolExecutor(max_workers=CLERKS) as pool:
            for clerk_done in [pool.submit(clerk, i) for i in range(CLERKS)]:
                clerk_done.result()

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
        print_lines(table(rows, indent="  "))


def _audit_row(entry: AuditEntry) -> tuple[object, ...]:
    return (
        entry.created_at.strftime("%H:%M:%S.%f")[:-3],
        entry.event,
        entry.sequence_name,
        scope_label(entry.scope),
        entry.number,
        entry.performed_by,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    path = Path(args.file)
    for stale in (path, *(Path(f"{path}{suffix}") for suffix in ("-journal", "-wal", "-shm"))):
        if stale.exists():
            stale.unlink()
    return Demo(path).run()


def add_demo_command(command: Command) -> None:
    """Add ``demo`` through ``build_parser``'s ``command`` helper."""
    sub = command("demo", cmd_demo, "run the demo story on a SQLite file", url=False)
    sub.add_argument(
        "--file",
        default=DEFAULT_DEMO_FILE,
        help=f"SQLite file, deleted and re-created (default: {DEFAULT_DEMO_FILE})",
    )
