"""The verdict on a run: the database and the workers' logs after every worker stopped.

What it checks, per counter (sequence, scope, period):

1. **No duplicate.**  No counter value is held by two live documents.  Under
   ``allow_gaps`` and ``report_gaps_only`` no value is ever issued twice, so two
   documents with one value (a void one included) are a violation too; under
   ``fill_gaps`` a voided value comes back once, through a filled gap.
2. **No unexplained hole.**  Every value in ``1..counter`` without a live document
   must be explained.  A rolled-back transaction gives its numbers back under every
   policy (``allow_gaps`` does not allow rollback holes: it only means that voids and
   releases are not *registered*), so the explanations are:

   * every policy: a reservation that still holds the value (``reserved``);
   * ``allow_gaps``: the ledger, since the registry records nothing: a void document
     with the ``number_voided`` ledger row of that number, or a reservation row
     ``released``/``expired`` with its ledger row;
   * ``report_gaps_only`` and ``fill_gaps``: an ``unfilled`` gap in the registry with
     reason ``voided`` (and a void document), ``released`` or ``expired`` (and the
     reservation row in that state).

   A registry gap ``unfilled`` for a value a live document holds and a document
   beyond its counter are violations as well; a ``filled`` gap is a hole only while a
   reservation that took it still holds it.
3. **Nothing acknowledged missing.**  Every number a log says was committed (drawn,
   finalized) is in a document, as often as the logs say; every logged void is a void
   document; every logged reservation exists, its finalized and released numbers in
   that state.  ``unknown`` outcomes may be either way (the report counts both).
4. **No stuck lock.**  A fresh ``generate`` on every counter (rolled back) must
   succeed within ``STUCK_SECONDS``.
5. **Errors.**  Every error that reached a worker is counted by class and first line;
   any that is neither a ``SequencingError`` nor a lost (or refused) connection fails
   the run.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sa_sequencing import GapPolicy

from .schema import SEQUENCES
from .schema import SEQUENCING
from .schema import Doc
from .schema import day_of
from .schema import place

STUCK_SECONDS = 10.0
Key = tuple[str, str, str]  # sequence, scope, period


def read_logs(directory: Path) -> list[dict[str, Any]]:
    """Every complete record; a line cut by SIGKILL (no newline, bad JSON) is skipped."""
    records = []
    for path in sorted(directory.glob("worker-*.jsonl")):
        for line in path.read_text().splitlines(keepends=True):
            if line.endswith("\n"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return records


def _rows(engine: sa.Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql)).all())


def check(
    engine: sa.Engine,
    log_dir: Path,
    stats: dict[str, Any],
    *,
    stuck_seconds: float = STUCK_SECONDS,
) -> dict[str, Any]:
    violations: list[str] = []
    records = read_logs(log_dir)

    # -- the database
    with Session(engine) as session:
        docs = session.scalars(sa.select(Doc)).all()
        live: dict[Key, Counter[int]] = defaultdict(Counter)
        every: dict[Key, Counter[int]] = defaultdict(Counter)
        voided: dict[Key, set[int]] = defaultdict(set)
        by_number: Counter[tuple[str, str, str]] = Counter()
        doc_status = {}
        for doc in docs:
            if doc.number is None:
                violations.append(f"document {doc.id} ({doc.seq}) has no number")
                continue
            period, value = place(doc.seq, doc.number)
            key = (doc.seq, doc.tenant, period)
            every[key][value] += 1
            if doc.status == "live":
                live[key][value] += 1
            else:
                voided[key].add(value)
            by_number[(doc.seq, doc.tenant, doc.number)] += 1
            doc_status[doc.id] = doc.status
    counters = {
        (name, scope, period): value
        for name, scope, period, value in _rows(
            engine,
            "SELECT s.name, c.scope, c.period, c.value FROM sequence_counters c "
            "JOIN sequences s ON s.id = c.sequence_id",
        )
    }
    gaps: dict[Key, dict[int, tuple[str, str, str | None]]] = defaultdict(dict)
    for name, scope, period, value, reason, status, filled in _rows(
        engine,
        "SELECT s.name, g.scope, g.period, g.value, g.reason, g.status, g.filled_number "
        "FROM sequence_gaps g JOIN sequences s ON s.id = g.sequence_id",
    ):
        if value in gaps[(name, scope, period)]:
            violations.append(f"{name}/{scope}/{period}: two registry rows for value {value}")
        gaps[(name, scope, period)][value] = (reason, status, filled)
    reservations: dict[Key, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    reservation_rows: dict[str, dict[str, str]] = defaultdict(dict)
    for name, scope, period, value, number, rid, status in _rows(
        engine,
        "SELECT s.name, r.scope, r.period, r.value, r.number, r.reservation_id, r.status "
        "FROM sequence_reservations r JOIN sequences s ON s.id = r.sequence_id",
    ):
        reservations[(name, scope, period)][value].add(status)
        reservation_rows[rid][number] = status
    ledger: set[tuple[str, str, str, str]] = set()
    for name, scope, event, number, data in _rows(
        engine, "SELECT sequence_name, scope, event, number, data FROM sequence_audits"
    ):
        if event == "number_voided" and number:
            ledger.add((name, scope, event, number))
        elif event in ("reservation_released", "reservation_expired"):
            payload = json.loads(data) if isinstance(data, str) else (data or {})
            for item in payload.get("numbers", []):
                ledger.add((name, scope, event, item))

    # -- 1 and 2: duplicates and holes, per counter
    holes_explained: Counter[str] = Counter()
    for key in sorted(set(counters) | set(every)):
        seq, scope, period = key
        policy = SEQUENCES[seq][2]
        top = counters.get(key, 0)
        label = "/".join(key)
        for value, count in live[key].items():
            if count > 1:
                violations.append(f"{label}: value {value} held by {count} live documents")
        if policy is not GapPolicy.FILL_GAPS:
            for value, count in every[key].items():
                if count > 1:
                    violations.append(f"{label}: value {value} issued {count} times")
        beyond = [v for v in every[key] if v > top]
        if beyond:
            violations.append(
                f"{label}: documents beyond the counter ({top}): {sorted(beyond)[:5]}"
            )
        registry = gaps.get(key, {})
        held = reservations.get(key, {})
        for value in range(1, top + 1):
            gap = registry.get(value)
            if live[key][value]:
                if gap is not None and gap[1] == "unfilled":
                    violations.append(f"{label}: value {value} is live and an unfilled gap")
                continue
            why = _explain(
                seq, scope, policy, value, gap, held.get(value, set()), voided[key], ledger
            )
            if why is None:
                violations.append(f"{label}: hole at {value} that nothing explains")
            else:
                holes_explained[why] += 1

    # -- 3: what the logs acknowledge
    acknowledged: Counter[tuple[str, str, str]] = Counter()
    outcome = Counter()
    unknown_found = Counter()
    for rec in records:
        status = rec.get("status")
        outcome[status] += 1
        numbers = rec.get("numbers", []) if rec.get("op") != "reserve" else []
        numbers = numbers + rec.get("finalized", [])
        if status == "unknown":
            found = bool(numbers) and all(
                by_number[(rec["seq"], rec["scope"], n)] for n in numbers
            )
            unknown_found["in the database" if found else "not found"] += 1
            continue
        if status != "committed":
            continue
        for number in numbers:
            acknowledged[(rec["seq"], rec["scope"], number)] += 1
        void = rec.get("op") == "void" and rec.get("doc") is not None
        if void and doc_status.get(rec["doc"]) != "void":
            violations.append(
                f"logged void of document {rec['doc']} ({rec['number']}) is not void"
            )
        if rec.get("op") == "reserve":
            rows = reservation_rows.get(rec["id"], {})
            if sorted(rows) != sorted(rec["numbers"]):
                violations.append(f"logged reservation {rec['id']} has rows {sorted(rows)}")
        if rec.get("op") == "close":
            rows = reservation_rows.get(rec["id"], {})
            for number in rec["finalized"]:
                if rows.get(number) != "finalized":
                    violations.append(
                        f"logged finalize of {number} ({rec['id']}): {rows.get(number)}"
                    )
            for number in rec["released"]:
                if rows.get(number) != "released":
                    violations.append(
                        f"logged release of {number} ({rec['id']}): {rows.get(number)}"
                    )
    for item, count in acknowledged.items():
        if by_number[item] < count:
            violations.append(
                f"acknowledged missing: {item[0]}/{item[1]} {item[2]} logged committed "
                f"{count}x, {by_number[item]} document(s)"
            )

    # -- 4: no stuck lock
    probes = _probe_counters(engine, sorted(counters), violations, stuck_seconds)

    # -- 5: the census
    errors = Counter()
    disallowed = 0
    for rec in records:
        if rec.get("status") == "error":
            errors[f"{rec['class']}: {_shape(rec['line'])}"] += 1
            disallowed += 0 if rec.get("allowed") else 1
        elif rec.get("status") == "unknown":  # a SequencingError that reached the caller
            errors[f"CommitOutcomeUnknownError: {_shape(rec.get('error', ''))}"] += 1
    drawn = sum(r.get("drawn", 0) for r in records)
    done = [r for r in records if r.get("status") == "committed"]
    drawing = ("generate", "generate_many", "flush")
    committed = sum(len(r.get("numbers", [])) for r in done if r.get("op") in drawing)
    reserved = sum(len(r.get("numbers", [])) for r in done if r.get("op") == "reserve")
    finalized = sum(len(r.get("finalized", [])) for r in done)
    released = sum(len(r.get("released", [])) for r in done)
    voids = sum(1 for r in done if r.get("op") == "void" and r.get("doc") is not None)
    rolled_back = sum(r.get("drawn", 0) for r in records if r.get("status") != "committed")
    live_total = sum(sum(c.values()) for c in live.values())
    report = {
        "passed": not violations and disallowed == 0,
        "violations": violations[:50],
        "violation_count": len(violations),
        "disallowed_errors": disallowed,
        "errors": dict(errors.most_common()),
        "transactions": dict(outcome),
        "retried attempts (run_in_transaction)": sum(
            max(0, r.get("attempts", 1) - 1) for r in records
        ),
        "unknown_outcomes": dict(unknown_found),
        "numbers": {
            "drawn (every attempt)": drawn,
            "committed (generate, generate_many, flush; logged)": committed,
            "reserved (logged)": reserved,
            "finalized (logged)": finalized,
            "released (logged)": released,
            "voided (logged)": voids,
            "drawn but not committed (rolled back, retried, killed)": drawn - committed - reserved,
            "drawn in transactions that ended rolled back or failed": rolled_back,
            "live documents": live_total,
            "void documents": sum(1 for status in doc_status.values() if status == "void"),
        },
        "holes_explained": dict(holes_explained),
        "counters": len(counters),
        "stuck_lock_probe_seconds_max": round(max(probes, default=0.0), 3),
        **stats,
    }
    return report


def _shape(line: str) -> str:
    """A first line with its particulars (quoted names, numbers, times) blanked, so
    that the census counts kinds of errors."""
    line = re.sub(r"'[^']*'", "'…'", line)
    return re.sub(r"\d+", "N", line)


def _explain(
    seq: str,
    scope: str,
    policy: GapPolicy,
    value: int,
    gap: tuple[str, str, str | None] | None,
    reservation: set[str],
    voided: set[int],
    ledger: set[tuple[str, str, str, str]],
) -> str | None:
    """Why ``value`` has no live document, or None."""
    if "reserved" in reservation:
        return "held by a reservation"
    if policy is GapPolicy.ALLOW_GAPS:
        number_voided = any(
            (seq, scope, "number_voided", n) in ledger for n in _numbers(seq, value)
        )
        if value in voided and number_voided:
            return "voided (ledger)"
        for status in ("released", "expired"):
            event = f"reservation_{status}"
            if status in reservation and any(
                (seq, scope, event, n) in ledger for n in _numbers(seq, value)
            ):
                return f"{status} (ledger)"
        return None
    if gap is None or gap[1] != "unfilled":
        return None
    reason = gap[0]
    if reason in ("released", "expired"):
        return f"{reason} (registry)" if reason in reservation else None
    # a void's gap carries the void's reason (the workers say "torture")
    return "voided (registry)" if reason != "override" and value in voided else None


_NUMBER_CACHE: dict[str, list[str]] = {}


def _numbers(seq: str, value: int) -> list[str]:
    """The numbers of ``seq`` with counter ``value`` in every harness period."""
    from .schema import DATES

    prefix = SEQUENCES[seq][0].split("-")[0]
    monthly = "{MONTH}" in SEQUENCES[seq][0]
    return [
        f"{prefix}-{d.year}{d.month:02d}-{value}" if monthly else f"{prefix}-{d.year}-{value}"
        for d in DATES
    ]


def _probe_counters(
    engine: sa.Engine, keys: list[Key], violations: list[str], stuck_seconds: float
) -> list[float]:
    """A fresh ``generate`` (rolled back) on every counter, each within ``stuck_seconds``."""
    took = []
    for seq, scope, period in keys:
        result: dict[str, Any] = {}

        def probe(
            seq: str = seq,
            scope: str = scope,
            period: str = period,
            result: dict[str, Any] = result,
        ) -> None:
            try:
                with Session(engine) as session, session.begin():
                    SEQUENCING.manager(session).generate(seq, scope=scope, date=day_of(period))
                    session.rollback()
                result["ok"] = True
            except Exception as exc:
                result["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]

        began = time.monotonic()
        thread = threading.Thread(target=probe, daemon=True)
        thread.start()
        thread.join(stuck_seconds)
        took.append(time.monotonic() - began)
        if thread.is_alive():
            violations.append(
                f"stuck lock: generate on {seq}/{scope}/{period} waited > {stuck_seconds}s"
            )
        elif "error" in result:
            violations.append(
                f"generate on {seq}/{scope}/{period} after the run: {result['error']}"
            )
    return took


def render(report: dict[str, Any]) -> str:
    """The report as text."""
    lines = [f"verdict: {'PASS' if report['passed'] else 'FAIL'}"]
    for key in (
        "backend", "minutes", "workers", "transactions",
        "retried attempts (run_in_transaction)", "numbers", "faults", "outside hold failures",
        "holes_explained", "unknown_outcomes", "counters", "stuck_lock_probe_seconds_max",
        "violation_count", "disallowed_errors",
    ):  # fmt: skip
        if key in report:
            lines.append(f"{key}: {json.dumps(report[key], sort_keys=True)}")
    lines.append("errors that reached a worker (class: first line):")
    for text, count in report["errors"].items():
        lines.append(f"  {count:6d}  {text}")
    for violation in report["violations"]:
        lines.append(f"VIOLATION {violation}")
    return "\n".join(lines)
