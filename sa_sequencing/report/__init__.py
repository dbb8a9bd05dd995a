"""The auditor's report: every sequence's numbers, gaps, reservations, overrides and locks.

::

    from sa_sequencing.report import write_report

    with Session(engine) as session, session.begin():
        summary = write_report(sequencing.manager(session), "numbers.html")
        write_report(sequencing.manager(session), "numbers.csv", format="csv",
                     name="invoice_number", scope="acme")

or from a shell: ``sa-sequencing report --output numbers.html``.

For each sequence (and each scope and period it counts in) the report shows

* the **issued range**: the first and last counter value and how many numbers that is
  (from the counter), and the first and last number as the ledger recorded them;
* **every gap** of the registry with its reason, status, actor and time (voided,
  released, expired, and the values an override skipped);
* the **open reservations** (numbers reserved and neither finalized nor released; an
  ``overdue`` one waits for ``release_expired``);
* the **overrides** and the **lock** and **unlock** events of the ledger;
* a **chart of numbers issued per day** (UTC days, from the ledger's
  ``number_generated`` rows: a sequence defined with ``audit_numbers=False`` has
  none).

``format="html"`` writes one self-contained page: inline CSS, an inline SVG chart
drawn here, no script and nothing fetched; every value from the database (names,
scopes, numbers, actors, metadata) is HTML-escaped.  The table rows carry ``data-``
attributes (``data-number``, ``data-reason``, ...) so that a program can read the page
back.  ``format="csv"`` writes one table whose first column, ``record``, says what a row
is: ``sequence``, ``counter``, ``day``, ``gap``, ``reservation``, ``override`` or
``lock``; the columns are :data:`CSV_COLUMNS`.

The report reads in the manager's transaction, so it is one consistent picture where
the database gives snapshots (PostgreSQL, InnoDB).  Gaps, reservations and the ledger
are streamed from the database straight into the output: memory grows with the number
of counters and of days, not with the number of numbers.
"""

import os
from typing import IO
from typing import Any

from .. import ALL_SCOPES
from .. import InvalidArgumentError
from .. import SequenceDefinition
from .. import SequenceManager
from .csv_table import CSV_COLUMNS
from .csv_table import CsvTable
from .html_page import HtmlPage
from .reader import Reader
from .reader import ReportSummary

__all__ = ["CSV_COLUMNS", "FORMATS", "ReportSummary", "write_report"]

FORMATS = ("html", "csv")


def write_report(
    manager: SequenceManager,
    output: str | os.PathLike[str] | IO[str],
    *,
    format: str = "html",
    name: str | None = None,
    scope: Any = ALL_SCOPES,
    title: str | None = None,
) -> ReportSummary:
    """Write the auditor's report of ``manager``'s database to ``output`` (a path, or a
    text stream) and return what it covered.

    ``format`` is ``"html"`` or ``"csv"``.  ``name`` limits the report to one sequence;
    ``scope`` to one scope (``None``: the global scope), with the global definitions
    that serve it; by default every sequence and every scope.  An unknown ``name`` is a
    :class:`~sa_sequencing.SequenceNotFoundError`.
    """
    if format not in FORMATS:
        raise InvalidArgumentError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    definitions = _definitions(manager, name, scope)
    summary = ReportSummary(format)
    if isinstance(output, (str, os.PathLike)):
        with open(output, "w", encoding="utf-8", newline="") as stream:
            _write(manager, stream, definitions, scope, format, title, summary)
    else:
        _write(manager, output, definitions, scope, format, title, summary)
    return summary


def _definitions(manager: SequenceManager, name: str | None, scope: Any) -> list[Any]:
    if scope is ALL_SCOPES:
        found = manager.list()
    else:
        own = manager.list(scope=scope)
        names = {d.name for d in own}
        found = own + [d for d in manager.list(scope=None) if d.name not in names]
    if name is not None:
        found = [d for d in found if d.name == name]
        if not found:
            manager.get(name, scope=None if scope is ALL_SCOPES else scope)  # raises
    return sorted(found, key=lambda d: (d.name, d.scope or ""))


def _write(
    manager: SequenceManager,
    stream: IO[str],
    definitions: list[SequenceDefinition],
    scope: Any,
    format: str,
    title: str | None,
    summary: ReportSummary,
) -> None:
    tables = manager.sequencing.tables
    conn = manager.session.connection(bind_arguments={"mapper": tables.sequence_class})
    reader = Reader(manager, conn, definitions, scope)
    writer: HtmlPage | CsvTable = HtmlPage(stream) if format == "html" else CsvTable(stream)
    writer.start(title or "Numbering report", scope)
    for definition in definitions:
        sequence = reader.sequence(definition)
        summary.sequences += 1
        summary.counters += len(sequence.counters)
        summary.drawn += sum(c.count for c in sequence.counters.values())
        summary.issued += sum(sequence.days.values())
        summary.overrides += len(sequence.overrides)
        summary.lock_events += len(sequence.locks)
        writer.sequence(sequence)
        writer.section(
            "gaps",
            ("scope", "period", "number", "value", "reason", "status", "actor", "at", "filled as"),
        )
        for gap in reader.gaps(definition):
            summary.gaps += 1
            writer.gap(definition, gap)
        writer.end_section()
        writer.section(
            "open reservations",
            ("scope", "period", "number", "reservation", "actor", "reserved at", "expires at"),
        )
        for held in reader.reservations(definition):
            summary.open_reservations += 1
            writer.reservation(definition, held)
        writer.end_section()
        writer.events(sequence)
    writer.finish(summary)
