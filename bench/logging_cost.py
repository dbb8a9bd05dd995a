"""What logging costs ``generate()`` when it is off, and when it is on.

Two measurements:

1. **Throughput**, in one process, single thread, each number in its own transaction
   (``with Session(engine) as s, s.begin(): manager(s).generate("bench")``), on SQLite
   in memory and on PostgreSQL, in three modes whose slices are interleaved (the
   order rotates each round, so load from elsewhere on the machine hits every mode
   alike):

   * ``shipped``: logging as an application that configured nothing has it (root
     level WARNING, no handler): the records are off, and the draw pays one
     ``isEnabledFor(DEBUG)`` check;
   * ``disabled``: the same after ``logging.disable(logging.CRITICAL)``;
   * ``debug``: ``sa_sequencing.allocation`` at DEBUG with a handler that drops
     the records (what a record costs to make, lock wait timing included).

   The ratios are medians over the rounds of the paired ratios of the same round, by
   wall clock (throughput) and by the process's CPU time (``time.process_time``: the
   client's own work, much less disturbed by other load on the machine).

2. **Bytecodes** (``--opcodes``, deterministic): the Python bytecodes executed per
   generate (``sys.settrace`` opcode events; runs of N1 and N2 generates, so
   ``(B(N2) - B(N1)) / (N2 - N1)`` cancels start-up), for this tree and, with
   ``--baseline DIR``, for a checkout of the package without the logging calls
   (``git archive <commit> sa_sequencing | tar -x -C DIR``).  The difference is
   exactly the code the logging calls add to a draw when logging is off.

3. **Instructions** (``--callgrind``): ``valgrind --tool=callgrind`` counts the machine
   instructions of the same runs (SQLite in memory: the database's work included;
   PostgreSQL: the client side).  One tree gives the same count run after run, but
   the same code loaded from another directory may differ by about 1 % (memory
   layout: allocation patterns, hash collisions); so with ``--baseline`` a
   *control*, the baseline's code copied elsewhere, is counted too, and a
   difference is code only where it stands out of the control's.

Usage::

    python bench/logging_cost.py [--backends sqlite,postgresql] [--seconds 6]
                                 [--rounds 6] [--opcodes] [--callgrind]
                                 [--baseline DIR] [--skip-throughput]

The PostgreSQL URL comes from ``SA_SEQUENCING_TEST_POSTGRESQL_URL``; the benchmark's
tables are prefixed ``benchlog_`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_URLS = {
    "sqlite": "sqlite://",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
}
URL_ENV = {"postgresql": "SA_SEQUENCING_TEST_POSTGRESQL_URL"}
MODES = ("shipped", "disabled", "debug")
ROOT = Path(__file__).resolve().parent.parent


def url_for(backend: str) -> str:
    return os.environ.get(URL_ENV.get(backend, ""), DEFAULT_URLS[backend])


def setup(backend: str) -> tuple[Any, Callable[[], str], Callable[[], None], Callable[[], int]]:
    """(engine, generate, drop, counter value): the bench tables created, one sequence
    defined.  Imports sa_sequencing from ``sys.path`` (so --baseline can swap it)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import StaticPool

    from sa_sequencing import Sequencing

    class Base(DeclarativeBase):
        pass

    sequencing = Sequencing(Base, table_prefix="benchlog_")
    url = url_for(backend)
    if backend == "sqlite":
        engine = sa.create_engine(url, poolclass=StaticPool)
    else:
        engine = sa.create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as s, s.begin():
        sequencing.manager(s).define("bench", "B-{COUNTER}")

    def generate() -> str:
        with Session(engine) as s, s.begin():
            return sequencing.manager(s).generate("bench")

    def drop() -> None:
        Base.metadata.drop_all(engine)
        engine.dispose()

    def counter() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.max(sequencing.tables.counters.c.value))).scalar()
                or 0
            )

    return engine, generate, drop, counter


class Dropping(logging.Handler):
    """A handler that takes every record and keeps none."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


def set_mode(mode: str, handler: logging.Handler) -> None:
    allocation = logging.getLogger("sa_sequencing.allocation")
    logging.disable(logging.NOTSET)
    allocation.setLevel(logging.NOTSET)
    allocation.removeHandler(handler)
    if mode == "disabled":
        logging.disable(logging.CRITICAL)
    elif mode == "debug":
        allocation.setLevel(logging.DEBUG)
        allocation.addHandler(handler)


def throughput(backend: str, seconds: float, rounds: int) -> bool:
    _, generate, drop, counter = setup(backend)
    handler = Dropping()
    slice_seconds = seconds / rounds
    rates: dict[str, list[float]] = {m: [] for m in MODES}
    cpu_rates: dict[str, list[float]] = {m: [] for m in MODES}
    drawn = 0
    try:
        for _ in range(50):  # warm-up: caches, prepared statements
            generate()
            drawn += 1
        for r in range(rounds):
            order = MODES[r % 3 :] + MODES[: r % 3]
            for mode in order:
                set_mode(mode, handler)
                count = 0
                cpu_began = time.process_time()
                began = time.perf_counter()
                deadline = began + slice_seconds
                while time.perf_counter() < deadline:
                    generate()
                    count += 1
                rates[mode].append(count / (time.perf_counter() - began))
                cpu_rates[mode].append(count / (time.process_time() - cpu_began))
                drawn += count
            set_mode("shipped", handler)
            line = "  ".join(f"{m} {rates[m][-1]:8.0f}/s" for m in MODES)
            print(f"  {backend} round {r + 1}: {line}", flush=True)
        ok = counter() == drawn
    finally:
        set_mode("shipped", handler)
        drop()
    print(f"{backend}: generates per second (median slice of {rounds}, single thread)")
    print(f"  {'mode':9s} {'wall clock':>11s} {'CPU time':>11s}")
    for mode in MODES:
        wall, cpu = statistics.median(rates[mode]), statistics.median(cpu_rates[mode])
        print(f"  {mode:9s} {wall:11.0f} {cpu:11.0f}")
    for a, b, meaning in (
        ("shipped", "disabled", "1.000: logging off costs nothing"),
        ("debug", "shipped", "the cost of one DEBUG record per draw"),
    ):
        wall = statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))
        cpu = statistics.median(x / y for x, y in zip(cpu_rates[a], cpu_rates[b], strict=True))
        print(f"  {a} / {b}: {wall:.3f} wall clock, {cpu:.3f} CPU time   ({meaning})")
    print(f"  check: counter = numbers drawn ({drawn}): {'OK' if ok else 'FAILED'}")
    return ok


# -- instruction counts ------------------------------------------------------------------


def inner(backend: str, count: int, tree: str) -> None:
    """Run under callgrind: ``count`` generates after a warm-up, nothing else."""
    import gc

    sys.path.insert(0, tree)
    _, generate, drop, _ = setup(backend)
    import sa_sequencing

    assert Path(sa_sequencing.__file__).is_relative_to(tree), sa_sequencing.__file__
    for _ in range(50):
        generate()
    gc.collect()
    gc.disable()  # a collection at a different moment would move the count
    for _ in range(count):
        generate()
    gc.enable()
    drop()


def inner_opcodes(backend: str, count: int, tree: str) -> None:
    """Print the Python bytecodes executed by ``count`` generates (``sys.settrace``
    with opcode events): deterministic, and blind to memory layout."""
    sys.path.insert(0, tree)
    _, generate, drop, _ = setup(backend)
    import sa_sequencing

    assert Path(sa_sequencing.__file__).is_relative_to(tree), sa_sequencing.__file__
    for _ in range(50):
        generate()
    executed = 0

    def trace(frame: Any, event: str, arg: Any) -> Any:
        nonlocal executed
        if event == "call":
            frame.f_trace_opcodes = True
        elif event == "opcode":
            executed += 1
        return trace

    sys.settrace(trace)
    for _ in range(count):
        generate()
    sys.settrace(None)
    drop()
    print(executed)


def opcodes(backend: str, count: int, tree: str) -> int:
    done = subprocess.run(
        [sys.executable, __file__, "--inner-opcodes", f"{backend}:{count}:{tree}"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return int(done.stdout.split()[-1])


def instructions(backend: str, count: int, tree: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--inner",
                f"{backend}:{count}:{tree}",
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        text = Path(out).read_text()
    match = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    assert match, "no totals in the callgrind output"
    return int(match.group(1))


def per_generate(
    backend: str, trees: dict[str, str], n1: int, n2: int, unit: str, count: Any
) -> None:
    """``count(backend, n, tree)`` for n1 and n2 generates: the cost of one generate,
    for each tree, and this tree's difference from the baseline."""
    per: dict[str, float] = {}
    for label, tree in trees.items():
        low = count(backend, n1, tree)
        high = count(backend, n2, tree)
        per[label] = (high - low) / (n2 - n1)
        print(f"  {backend} {label:9s}: {per[label]:12.1f} {unit} per generate", flush=True)
    if "baseline" in per:
        for label in ("this tree", "control"):
            if label in per:
                diff = per[label] - per["baseline"]
                print(
                    f"  {backend}: {label} - baseline = {diff:+.1f} {unit} per generate "
                    f"({diff / per['baseline']:+.3%})"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=6.0, help="per mode, all rounds")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--baseline", help="a checkout of sa_sequencing without the logging calls")
    parser.add_argument("--n1", type=int, default=200)
    parser.add_argument("--n2", type=int, default=1200)
    parser.add_argument("--opcodes", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    parser.add_argument("--inner-opcodes", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        backend, count, tree = args.inner.split(":", 2)
        inner(backend, int(count), tree)
        return 0
    if args.inner_opcodes:
        backend, count, tree = args.inner_opcodes.split(":", 2)
        inner_opcodes(backend, int(count), tree)
        return 0
    backends = args.backends.split(",")
    print(f"Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M')}")
    ok = args.skip_throughput or all([throughput(b, args.seconds, args.rounds) for b in backends])
    trees = {"this tree": str(ROOT)}
    if args.baseline:
        trees["baseline"] = str(Path(args.baseline).resolve())
    if args.opcodes:
        print(f"Python bytecodes executed (sys.settrace; N1={args.n1}, N2={args.n2})")
        for backend in backends:
            per_generate(backend, trees, args.n1, args.n2, "bytecodes", opcodes)
    if args.callgrind:
        print(f"callgrind (PYTHONHASHSEED=0, gc off while counting; N1={args.n1}, N2={args.n2})")
        with tempfile.TemporaryDirectory() as tmp:
            if args.baseline:
                # The control: the baseline's own code from another directory.  Its
                # difference from the baseline is memory-layout noise, not code.
                control = Path(tmp) / "control"
                shutil.copytree(
                    Path(trees["baseline"]) / "sa_sequencing",
                    control / "sa_sequencing",
                    ignore=shutil.ignore_patterns("__pycache__"),
                )
                trees["control"] = str(control)
            for backend in backends:
                per_generate(backend, trees, args.n1, args.n2, "instructions", instructions)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
