"""``python -m bench.torture``: start a private server, torture it, check, report.

::

    python -m bench.torture --backend postgresql --minutes 10 --workers 8
    python -m bench.torture --backend mysql --seconds 25 --workers 4 --report r.json

Exit status 0 when the checker passes (no violation, no error other than a
``SequencingError`` or a lost connection), 1 otherwise.  The private server and its
files live in a temporary directory that is removed at the end (``--keep`` keeps it,
with the worker logs, for a post-mortem).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .checker import check
from .checker import render
from .faults import Holder
from .faults import Schedule
from .schema import setup
from .servers import make_server
from .servers import remove

ROOT = Path(__file__).resolve().parents[2]


def _spawn(
    url: str, worker_id: int, gen: int, seed: int, logs: Path, deadline: float
) -> subprocess.Popen[bytes]:
    log = logs / f"worker-{worker_id:02d}-{gen:04d}.jsonl"
    # the child keeps its own copy of the stderr file: ours is closed at once
    with open(logs / f"worker-{worker_id:02d}-{gen:04d}.stderr", "wb") as stderr:
        return subprocess.Popen(
            [
                sys.executable, "-m", "bench.torture.worker", "--url", url,
                "--id", str(worker_id), "--seed", str(seed), "--log", str(log),
                "--deadline", str(deadline),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    base = Path(tempfile.mkdtemp(prefix="sa-seq-torture-"))
    os.chmod(base, 0o755)  # the servers run as postgres / mysql
    logs = base / "logs"
    logs.mkdir()
    server = make_server(args.backend, base, args.port)
    faults: Counter[str] = Counter()
    seconds = args.seconds if args.seconds else args.minutes * 60
    workers: dict[int, subprocess.Popen[bytes]] = {}
    holder = None
    try:
        print(f"[torture] {args.backend}: starting a private server under {base}", flush=True)
        server.start()
        engine = sa.create_engine(server.url, poolclass=sa.pool.NullPool)
        if args.backend == "sqlite":
            with engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        setup(engine)
        began = time.time()
        deadline = began + seconds
        gens = Counter[int]()
        for i in range(args.workers):
            workers[i] = _spawn(server.url, i, 0, rng.randrange(2**31), logs, deadline + 3600)
        every = max(seconds / 3, 1.0) if seconds < 180 else 60.0
        rates = {
            "worker_kill": args.kill_every,
            "connection_kill": args.conn_kill_every if server.can_kill_connections else 0,
            "server": (args.restart_every or every) if server.can_restart else 0,
        }
        if args.no_faults:
            rates = {}
        schedule = Schedule(rng, rates, fixed=frozenset({"server"}))
        if not args.no_faults:
            holder = Holder(server, random.Random(rng.random()), args.hold_every)
            holder.start()
        crash_next = False
        died: list[str] = []
        last_print = time.time()
        while time.time() < deadline:
            for name in schedule.ready():
                if name == "worker_kill":
                    victim = rng.choice(list(workers))
                    workers[victim].kill()
                    faults["workers killed"] += 1
                elif name == "connection_kill":
                    try:
                        if server.kill_connection(rng):
                            faults["connections killed"] += 1
                        else:
                            schedule.soon(name)  # no worker connected yet: try again
                    except sa.exc.DBAPIError:
                        schedule.soon(name)  # the server is restarting
                elif name == "server":
                    (server.crash if crash_next else server.restart)()
                    faults["server crashes (kill -9)" if crash_next else "server restarts"] += 1
                    crash_next = not crash_next
            for i, proc in list(workers.items()):
                if proc.poll() is not None:
                    if proc.returncode != -signal.SIGKILL:
                        # not our SIGKILL: the worker died on its own (see its .stderr)
                        died.append(f"worker {i} generation {gens[i]} exited rc={proc.returncode}")
                    gens[i] += 1
                    workers[i] = _spawn(
                        server.url, i, gens[i], rng.randrange(2**31), logs, deadline + 3600
                    )
            if time.time() - last_print > 30:
                last_print = time.time()
                print(f"[torture] {time.time() - began:5.0f}s {dict(faults)}", flush=True)
            time.sleep(0.05)
        if "server" in schedule.rates:
            # every run has both: on a slow machine a short run's schedule may not fit
            if not faults["server restarts"]:
                server.restart()
                faults["server restarts"] += 1
            if not faults["server crashes (kill -9)"]:
                server.crash()
                faults["server crashes (kill -9)"] += 1
            time.sleep(1.0)  # the workers meet the server again before they stop
        # the end: workers finish their transaction (SIGTERM), then are killed
        for proc in workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        if holder is not None:
            holder.stop.set()
            holder.join(10)
        stop_by = time.monotonic() + 60
        for proc in workers.values():
            try:
                proc.wait(max(0.1, stop_by - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                faults["workers killed at the end (did not stop in 60 s)"] += 1
        server.wait_ready()
        stats: dict[str, Any] = {
            "backend": args.backend,
            "minutes": round(seconds / 60, 2),
            "workers": args.workers,
            "faults": {**faults, "outside holds": holder.held if holder else 0},
        }
        if holder is not None and holder.failed:
            stats["faults"]["outside holds that failed"] = sum(holder.failed.values())
            stats["outside hold failures"] = dict(holder.failed)
        check_engine = sa.create_engine(server.url, poolclass=sa.pool.NullPool)
        report = check(check_engine, logs, stats)
        if died:  # a worker process must only end by our SIGKILL or at the end
            report["violations"] += died
            report["violation_count"] += len(died)
            report["passed"] = False
        check_engine.dispose()
        engine.dispose()
        return report
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.kill()
        if holder is not None:
            holder.stop.set()
        if args.keep:
            print(f"[torture] kept {base} (server stopped)", flush=True)
            server.stop()
        else:
            destroy = getattr(server, "destroy", server.stop)
            destroy()
            remove(base)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.torture", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "mysql"], required=True)
    parser.add_argument("--minutes", type=float, default=10.0, help="time budget (default 10)")
    parser.add_argument(
        "--seconds", type=float, default=0.0, help="time budget in seconds (wins over --minutes)"
    )
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--port", type=int, default=None, help="the private server's port (25432 / 23406)"
    )
    parser.add_argument(
        "--kill-every", type=float, default=1.2, help="seconds between worker SIGKILLs (mean)"
    )
    parser.add_argument(
        "--conn-kill-every", type=float, default=1.5, help="seconds between connection kills"
    )
    parser.add_argument(
        "--restart-every",
        type=float,
        default=0.0,
        help="seconds between server restarts/crashes (default: 60, a third of a short run)",
    )
    parser.add_argument(
        "--hold-every", type=float, default=3.0, help="seconds between outside holds of a counter"
    )
    parser.add_argument("--no-faults", action="store_true", help="no fault at all (a baseline)")
    parser.add_argument("--report", help="write the report as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    report = run(args)
    print(render(report), flush=True)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2, sort_keys=True))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
