"""``sa-sequencing demo``: the whole story on a SQLite file, in a few screens.

:class:`Demo` runs a list of steps on one SQLite file (default
``sa_sequencing_demo.db`` in the current directory, created afresh), each printing its
own few lines: three sequences defined, invoices numbered for two tenants from four
threads with a rolled-back transaction each and checked for duplicates and holes,
purchase orders, the lifecycle step of :mod:`sa_sequencing.cli.lifecycle`, quotations
with ``preview`` beside ``generate``, and the audit trail.  A step that finds something
wrong makes the command exit with status 1.

The demo never deletes or overwrites a file it did not create (:func:`claim_demo_file`):
it marks its database with :data:`DEMO_APPLICATION_ID` and replaces only a file that
carries that mark; any other file at the path, a directory, or a path it cannot
create is refused with one line on standard error.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import AuditEntry
from .. import GapPolicy
from .. import ResetPeriod
from .. import SequenceManager
from .common import PROG
from .common import SEQUENCING
from .common import Command
from .common import Result
from .common import UserError
from .common import scope_label
from .common import table

__all__ = [
    "DEFAULT_DEMO_FILE",
    "DEMO_APPLICATION_ID",
    "Demo",
    "add_demo_command",
    "claim_demo_file",
    "is_demo_database",
]

DEFAULT_DEMO_FILE = "sa_sequencing_demo.db"
DEMO_APPLICATION_ID = 0x53515344  # "SQSD"
"""``PRAGMA application_id`` of a database the demo created: the mark that lets a later
run replace it.  SQLite keeps it in the file header, where it survives any content."""
_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100
_APPLICATION_ID_AT = 68  # big-endian 32-bit integer in the header
_COMPANIONS = ("-journal", "-wal", "-shm")
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
        for line in table(rows, indent="  "):
            print(line)

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
        for line in table(rows, indent="  "):
            print(line)


def _audit_row(entry: AuditEntry) -> tuple[object, ...]:
    return (
        entry.created_at.strftime("%H:%M:%S.%f")[:-3],
        entry.event,
        entry.sequence_name,
        scope_label(entry.scope),
        entry.number,
        entry.performed_by,
    )


def is_demo_database(path: Path) -> bool:
    """Whether ``path`` is a SQLite database that the demo created (see
    :data:`DEMO_APPLICATION_ID`).

    The header is read as bytes: opening someone else's database with SQLite could
    already change it (a hot journal is rolled back on open).
    """
    try:
        with path.open("rb") as file:
            header = file.read(_HEADER_SIZE)
    except OSError:
        return False
    if len(header) < _HEADER_SIZE or not header.startswith(_SQLITE_MAGIC):
        return False
    mark = header[_APPLICATION_ID_AT : _APPLICATION_ID_AT + 4]
    return int.from_bytes(mark, "big") == DEMO_APPLICATION_ID


def claim_demo_file(path: Path) -> None:
    """Create ``path`` as an empty demo database, replacing only an earlier demo's.

    Raises :class:`~sa_sequencing.cli.common.UserError` (one line, naming the file and
    what to do) and leaves the file system as it was when ``path`` is a directory, an
    existing file that is not a demo database, a journal left without its database, or
    a path that cannot be created.
    """
    refuse = "it was left untouched: pass --file with a new path, or delete it yourself"
    companions = [Path(f"{path}{suffix}") for suffix in _COMPANIONS]
    if path.is_dir():
        raise UserError(f"{path} is a directory: pass --file with the path of a new file")
    if path.exists() or path.is_symlink():
        if not is_demo_database(path):
            raise UserError(f"{path} exists and is not a database made by {PROG} demo; {refuse}")
        for own in (path, *companions):  # an earlier demo's database and its journals
            own.unlink(missing_ok=True)
    for companion in companions:
        # SQLite would take a stray journal for the new database's own and replay it.
        if companion.exists():
            raise UserError(f"{companion} exists without its database {path}; {refuse}")
    try:
        # O_EXCL: a file that appeared since the checks above is refused, not replaced.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        raise UserError(
            f"{path} exists and is not a database made by {PROG} demo; {refuse}"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot create the demo database {path}: {exc.strerror}") from None
    # Marked before anything else is written, so that an interrupted demo's file is
    # still recognised as the demo's next time.
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
        connection.commit()


def cmd_demo(args: argparse.Namespace) -> Result:
    path = Path(args.file)
    claim_demo_file(path)
    demo = Demo(path)
    if not args.json:
        return Result({}, [], demo.run())  # the story is printed as it goes
    story = io.StringIO()
    with contextlib.redirect_stdout(story):
        status = demo.run()
    lines = story.getvalue().splitlines()
    data = {"file": str(path), "ok": status == 0, "failures": demo.failures, "story": lines}
    return Result(data, lines, status)


def add_demo_command(command: Command) -> None:
    """Add ``demo`` through ``build_parser``'s ``command`` helper."""
    sub = command("demo", cmd_demo, "run the demo story on a SQLite file", url=False)
    sub.add_argument(
        "--file",
        default=DEFAULT_DEMO_FILE,
        help=(
            f"SQLite file, created afresh (default: {DEFAULT_DEMO_FILE}); an existing file "
            "is replaced only if an earlier demo made it"
        ),
    )


def lifecycle_story(demo: Demo) -> None:
    """The demo step: a voided invoice, purchase-order numbers reserved and partly
    released (fill_gaps reuses them), and the gap reports."""
    with demo.tx() as seqs:
        issued = [
            e.number
            for e in seqs.audit_log("invoice_number", scope="acme", limit=None)
            if e.event == "number_generated" and e.number
        ]
        voided = issued[len(issued) // 2]
        seqs.void(
            "invoice_number",
            voided,
            scope="acme",
            reason="customer_cancelled",
            performed_by="auditor",
        )
    with demo.tx() as seqs:
        held = seqs.reserve(
            "purchase_order", 3, scope="acme", date=demo.today, performed_by="buyer-3"
        )
        used = seqs.finalize(held.id, [held.numbers[1]], performed_by="buyer-3")
        given = seqs.release(held.id, performed_by="buyer-3")
    with demo.tx() as seqs:
        refill = seqs.generate("purchase_order", scope="acme", date=demo.today)
        invoice_gaps = seqs.gap_report("invoice_number", scope="acme")
        po_gaps = seqs.gaps("purchase_order", scope="acme", include_filled=True)
    print("Voids, reservations and the gap registry (acme)")
    print(f"  void {voided} (customer_cancelled, by auditor)")
    print(f"  reserve 3 purchase orders: {', '.join(held.numbers)}")
    print(f"  finalize {', '.join(used)}; release {', '.join(given)}")
    print(f"  next purchase order (fill_gaps reuses the lowest gap): {refill}")
    print(f"  gap report invoice_number:  {', '.join(invoice_gaps) or '-'}")
    free = [g.number for g in po_gaps if g.status == "unfilled"]
    print(f"  gap report purchase_order: {', '.join(free) or '-'}")
    if invoice_gaps != [voided]:
        demo.failures.append(f"invoice gap report {invoice_gaps}, expected [{voided!r}]")
    if refill != min(given):
        demo.failures.append(f"fill_gaps served {refill}, expected {min(given)}")
