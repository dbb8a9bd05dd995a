"""One worker process: random numbering transactions until told to stop.

Each transaction runs inside :func:`sa_sequencing.run_in_transaction` with its
defaults and does one of: ``generate`` (one document), ``generate_many`` (2-4
documents), a flush numbered by ``SequenceColumn`` (1-4 documents), ``reserve``
(2-3 numbers, a TTL of 1-30 s), closing an earlier reservation of this process
(``finalize`` some numbers into documents, ``release`` the rest), ``void`` of one of
this worker's live documents, or ``release_expired``.  About one in seven ends by
raising, so the transaction rolls back and its numbers must come back.

The log (``--log``, JSON lines, fsync'd) says what the worker believes: one line per
transaction, written only *after* ``run_in_transaction`` returned (``committed``),
or after :class:`~sa_sequencing.CommitOutcomeUnknownError` (``unknown``); a
deliberate rollback (``rolled_back``) and every error that reached the worker
(``error``, with its class and first line) are logged too.  SIGTERM asks the worker
to finish its transaction and exit; SIGKILL (the harness's fault) may cut it
anywhere, even between ``COMMIT`` and the log line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sa_sequencing import CommitOutcomeUnknownError
from sa_sequencing import SequencingError
from sa_sequencing import run_in_transaction
from sa_sequencing.faults import Fault
from sa_sequencing.faults import classify
from sa_sequencing.sqlite import begin_immediate

from .schema import DATES
from .schema import SEQUENCES
from .schema import SEQUENCING
from .schema import TENANTS
from .schema import Doc
from .schema import column


class Cancelled(Exception):
    """Raised by a transaction on purpose: it must roll back."""


def allowed(exc: BaseException) -> bool:
    """Whether an error may reach a caller: a ``SequencingError`` or a lost connection
    (a refused one included: the server was down for longer than the retries)."""
    if isinstance(exc, SequencingError):
        return True
    return classify(exc) in (Fault.CONNECTION_LOST, Fault.NOT_READY)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""


class Log:
    """Append-only JSON lines, each fsync'd before the next transaction starts."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(self.fd)


class Worker:
    def __init__(self, url: str, worker_id: int, seed: int, log: Log) -> None:
        self.engine = sa.create_engine(url, **_engine_options(url, worker_id))
        if url.startswith("sqlite"):
            # a void reads before it writes: the documented SQLite setting for that
            begin_immediate(self.engine)
        self.id = worker_id
        self.rng = random.Random(seed)
        self.log = log
        self.open_reservations: list[dict[str, Any]] = []
        self.stopping = False

    # -- transactions: each returns its log record; ``tally`` counts every attempt

    def _docs(self, session: Session, seq: str, tenant: str, day: Any, numbers: list[str]) -> None:
        for number in numbers:
            session.add(
                Doc(seq=seq, tenant=tenant, doc_date=day, worker=self.id, **{column(seq): number})
            )

    def op_generate(self, session: Session, tally: dict[str, int]) -> dict[str, Any]:
        seq, tenant, day = self._pick()
        number = SEQUENCING.manager(session).generate(seq, scope=tenant, date=day)
        tally["drawn"] += 1
        self._docs(session, seq, tenant, day, [number])
        return {"op": "generate", "seq": seq, "scope": tenant, "numbers": [number]}

    def op_many(self, session: Session, tally: dict[str, int]) -> dict[str, Any]:
        seq, tenant, day = self._pick()
        numbers = SEQUENCING.manager(session).generate_many(
            seq, self.rng.randint(2, 4), scope=tenant, date=day
        )
        tally["drawn"] += len(numbers)
        self._docs(session, seq, tenant, day, numbers)
        return {"op": "generate_many", "seq": seq, "scope": tenant, "numbers": numbers}

    def op_flush(self, session: Session, tally: dict[str, int]) -> dict[str, Any]:
        seq, tenant, day = self._pick()
        docs = [
            Doc(seq=seq, tenant=tenant, doc_date=day, worker=self.id)
            for _ in range(self.rng.randint(1, 4))
        ]
        session.add_all(docs)
        session.flush()
        numbers = [str(doc.number) for doc in docs]
        tally["drawn"] += len(numbers)
        return {"op": "flush", "seq": seq, "scope": tenant, "numbers": numbers}

    def op_reserve(self, session: Session, tally: dict[str, int]) -> dict[str, Any]:
        seq, tenant, day = self._pick()
        ttl = timedelta(seconds=self.rng.choice((1, 2, 30, 30, 30)))
        held = SEQUENCING.manager(session).reserve(
            seq, self.rng.randint(2, 3), scope=tenant, date=day, ttl=ttl
        )
        tally["drawn"] += len(held.numbers)
        return {
            "op": "reserve", "seq": seq, "scope": tenant, "day": day.isoformat(),
            "id": held.id, "numbers": list(held.numbers),
        }  # fmt: skip

    def op_close(self, session: Session, tally: dict[str, int]) -> dict[str, Any]:
        held = self.open_reservations[0]
        numbers = held["numbers"]
        keep = self.rng.randint(0, len(numbers))
        seqs = SEQUENCING.manager(session)
        finalized = seqs.finalize(held["id"], numbers[:keep]) if keep else []
        released = seqs.release(held["id"], numbers[keep:]) if keep < len(numbers) else []
        day = DATES[0] if held["day"] == DATES[0].isoformat() else DATES[1]
        self._docs(session, held["seq"], held["scope"], day, finalized)
        return {
            "op": "close", "seq": held["seq"], "scope": held["scope"], "id": held["id"],
            "finalized": finalized, "released": released,
        }  # fmt: skip

    def op_void(self, session: Session, tally: dict[str, int]) -> dict[str, Any]:
        ids = session.scalars(
            sa.select(Doc.id).where(Doc.worker == self.id, Doc.status == "live").limit(200)
        ).all()
        if not ids:
            return {"op": "void", "doc": None}
        doc = session.get(Doc, self.rng.choice(ids))
        assert doc is not None and doc.number is not None
        SEQUENCING.manager(session).void(doc.seq, doc.number, scope=doc.tenant, reason="torture")
        doc.status = "void"
        return {
            "op": "void",
            "seq": doc.seq,
            "scope": doc.tenant,
            "doc": doc.id,
            "number": doc.number,
        }

    def op_expire(self, session: Session, tally: dict[str, int]) -> dict[str, Any]:
        return {"op": "expire", "count": SEQUENCING.manager(session).release_expired()}

    def _pick(self) -> tuple[str, str, Any]:
        return (
            self.rng.choice(list(SEQUENCES)),
            self.rng.choice(TENANTS),
            self.rng.choice(DATES),
        )

    # -- the loop

    def once(self) -> None:
        ops = [self.op_generate, self.op_many, self.op_flush, self.op_reserve, self.op_void]
        weights = [5, 3, 4, 2, 2]
        if self.open_reservations:
            ops.append(self.op_close)
            weights.append(4)
        ops.append(self.op_expire)
        weights.append(0.3)
        op = self.rng.choices(ops, weights)[0]
        cancel = self.rng.random() < 0.15
        tally = {"drawn": 0, "attempts": 0}
        last: dict[str, Any] = {}

        def work(session: Session) -> dict[str, Any]:
            nonlocal last
            tally["attempts"] += 1
            last = {}
            last = op(session, tally)
            if cancel:
                raise Cancelled
            return last

        record: dict[str, Any]
        try:
            record = run_in_transaction(lambda: Session(self.engine), work)
            record["status"] = "committed"
            if op == self.op_reserve:
                self.open_reservations.append(record)
            elif op == self.op_close:
                self.open_reservations.pop(0)
        except Cancelled:
            record = {**last, "status": "rolled_back"}
        except CommitOutcomeUnknownError as exc:
            record = {**last, "status": "unknown", "error": first_line(exc)}
            if op == self.op_close:
                self.open_reservations.pop(0)  # it may be closed: leave it to expire
        except Exception as exc:
            record = {
                **last, "status": "error", "class": type(exc).__name__,
                "line": first_line(exc), "allowed": allowed(exc),
            }  # fmt: skip
            if op == self.op_close and isinstance(exc, SequencingError):
                self.open_reservations.pop(0)  # expired meanwhile: it will not close
        record.update(
            worker=self.id, drawn=tally["drawn"], attempts=tally["attempts"], t=time.time()
        )
        record.setdefault("op", op.__name__.removeprefix("op_"))
        self.log.write(record)

    def run(self, deadline: float) -> None:
        while not self.stopping and time.time() < deadline:
            self.once()


def _engine_options(url: str, worker_id: int) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {
            "connect_args": {"application_name": f"torture-w{worker_id}", "connect_timeout": 5}
        }
    if url.startswith("mysql"):
        return {"connect_args": {"connect_timeout": 5}}
    return {"connect_args": {"timeout": 30}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one torture worker (started by bench.torture)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--id", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--deadline", type=float, required=True)
    args = parser.parse_args(argv)
    worker = Worker(args.url, args.id, args.seed, Log(args.log))

    def stop(signum: int, frame: object) -> None:
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    worker.run(args.deadline)
    worker.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
