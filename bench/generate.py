"""Throughput of ``generate()`` against the fastest hand-written counter statement.

For every database and thread count it measures committed numbers per second, each
number drawn in its own short transaction, for:

* ``sa_sequencing``: ``with Session(engine) as s, s.begin(): manager(s).generate("bench")``
  with the default definition (``B-{COUNTER}``: allow_gaps, never reset, per-number
  audit on);
* ``sa_sequencing`` with ``audit_numbers=False`` (informative);
* the SQLAlchemy floor: the same ``Session`` per transaction running the single
  fastest statement that advances one hot counter row and returns its value;
* the raw DB-API driver running that statement (one connection per thread), the
  absolute limit.

Every thread has its own connection; all threads start together (a barrier) after a
short warm-up and stop at a deadline.  Every run is verified afterwards: the numbers
drawn are exactly ``1..N`` and the counter's final value is ``N`` (and, with audit on,
there is one ``number_generated`` audit row per number).

Usage::

    python bench/generate.py [--backends sqlite,postgresql,mysql] [--seconds 3]
                             [--threads 1,4,16] [--warmup 0.5]

Server URLs come from ``SA_SEQUENCING_TEST_POSTGRESQL_URL`` and
``SA_SEQUENCING_TEST_MYSQL_URL``; SQLite uses a temporary file.  The benchmark's
tables are prefixed ``bench_`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Session

import sa_sequencing
from sa_sequencing import Sequencing

DEFAULT_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
}
URL_ENV = {
    "postgresql": "SA_SEQUENCING_TEST_POSTGRESQL_URL",
    "mysql": "SA_SEQUENCING_TEST_MYSQL_URL",
}
BACKENDS = ("sqlite", "postgresql", "mysql")

SEQUENCE = "bench"
PATTERN = "B-{COUNTER}"
PREFIX = "B-"

FLOOR_TABLE = "bench_floor_counter"
FLOOR_SQL = {
    "postgresql": f"UPDATE {FLOOR_TABLE} SET value = value + 1 WHERE id = 1 RETURNING value",
    "sqlite": f"UPDATE {FLOOR_TABLE} SET value = value + 1 WHERE id = 1 RETURNING value",
    "mysql": (
        f"INSERT INTO {FLOOR_TABLE} (id, value) VALUES (1, 1) "
        "ON DUPLICATE KEY UPDATE value = LAST_INSERT_ID(value + 1)"
    ),
}

METHODS = ("sa_audit", "sa_noaudit", "floor", "raw")
LABELS = {
    "sa_audit": "sa_sequencing (audit on)",
    "sa_noaudit": "sa_sequencing (audit off)",
    "floor": "SQLAlchemy floor",
    "raw": "raw DB-API driver",
}

MAX_ERRORS = 50
#: sa_sequencing should reach this share of the SQLAlchemy floor at 1 and 4 threads.
TARGET = 0.9


class Base(DeclarativeBase):
    pass


SEQUENCING = Sequencing(Base, table_prefix="bench_")
FLOOR = sa.Table(
    FLOOR_TABLE,
    Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.BigInteger, nullable=False),
)
BENCH_TABLES = [*SEQUENCING.tables.all(), FLOOR]


# -- measuring ---------------------------------------------------------------------------


@dataclass
class Measurement:
    threads: int
    seconds: float = 0.0
    count: int = 0
    values: list[Any] = field(default_factory=list)
    """Every value drawn, warm-up included (for the 1..N check)."""
    errors: Counter[str] = field(default_factory=Counter)
    check: str = ""
    ok: bool = True

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Cell:
    """One (method, thread count): its interleaved slices taken together."""

    slices: list[Measurement] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """The median slice's rate: one slice hit by a burst of load from elsewhere on
        the machine does not decide the cell."""
        return statistics.median(m.rate for m in self.slices) if self.slices else 0.0

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.slices)

    @property
    def check(self) -> str:
        failed = [m.check for m in self.slices if not m.ok]
        if failed:
            return "; ".join(failed)
        audit = ", one audit row each" if "audit rows" in self.slices[0].check else ""
        sizes = "/".join(str(len(m.values)) for m in self.slices)
        return f"OK: each slice drew exactly 1..N, counter = N (N = {sizes}{audit})"


Draw = Callable[[], Any]


def run_threads(
    threads: int, seconds: float, warmup: float, make_draw: Callable[[], tuple[Draw, Any]]
) -> Measurement:
    """Run ``threads`` workers: connect, warm up together, then measure together.

    ``make_draw`` runs in each worker and returns (draw, cleanup); ``draw()`` commits
    one number and returns it.
    """
    result = Measurement(threads)
    lock = threading.Lock()
    clock: dict[str, float] = {}

    def start_warmup() -> None:
        clock["warm_until"] = time.perf_counter() + warmup

    def start_measuring() -> None:
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + seconds

    ready = threading.Barrier(threads, action=start_warmup)
    go = threading.Barrier(threads, action=start_measuring)

    def worker() -> None:
        values: list[Any] = []
        errors: Counter[str] = Counter()
        count = 0
        cleanup = None
        try:
            draw, cleanup = make_draw()
            ready.wait()
            until = clock["warm_until"]
            while time.perf_counter() < until:
                values.append(draw())
            go.wait()
            deadline = clock["deadline"]
            while time.perf_counter() < deadline:
                try:
                    values.append(draw())
                except Exception as exc:  # counted, reported, and not a number
                    errors[f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"] += 1
                    if sum(errors.values()) >= MAX_ERRORS:
                        break
                    continue
                count += 1
        except threading.BrokenBarrierError:
            pass
        except Exception as exc:
            errors[f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"] += 1
            ready.abort()
            go.abort()
        finally:
            end = time.perf_counter()
            if cleanup is not None:
                with contextlib.suppress(Exception):
                    cleanup()
            with lock:
                result.values.extend(values)
                result.errors.update(errors)
                result.count += count
                clock["end"] = max(clock.get("end", 0.0), end)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    if "start" in clock:
        result.seconds = clock["end"] - clock["start"]
    return result


# -- backends ------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    url: str
    title: str = ""
    version: str = ""
    sqlite_path: str | None = None
    sqlite_synchronous: str = "full"

    def engine(self, **kw: Any) -> sa.Engine:
        if self.name != "sqlite":
            return sa.create_engine(self.url, pool_size=20, max_overflow=20, **kw)
        engine = sa.create_engine(
            self.url, pool_size=20, max_overflow=20, connect_args={"timeout": 30}, **kw
        )
        synchronous = self.sqlite_synchronous

        @event.listens_for(engine, "connect")
        def _synchronous(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.execute(f"PRAGMA synchronous = {synchronous}")

        return engine

    def raw_connect(self) -> Any:
        """A DB-API connection with the parameters SQLAlchemy itself would use."""
        if self.name == "sqlite":
            conn = sqlite3.connect(self.sqlite_path, timeout=30)
            conn.execute(f"PRAGMA synchronous = {self.sqlite_synchronous}")
            return conn
        url = sa.make_url(self.url)
        cargs, cparams = url.get_dialect()().create_connect_args(url)
        return url.get_dialect().import_dbapi().connect(*cargs, **cparams)


def server_version(engine: sa.Engine, backend: str) -> str:
    with engine.connect() as conn:
        if backend == "sqlite":
            return "SQLite " + conn.exec_driver_sql("select sqlite_version()").scalar_one()
        if backend == "postgresql":
            return "PostgreSQL " + conn.exec_driver_sql("show server_version").scalar_one()
        version = conn.exec_driver_sql("select version()").scalar_one()
        kind = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        return f"{kind} {version}"


def reset(engine: sa.Engine, method: str) -> None:
    """Empty the bench tables and set up what ``method`` draws from.

    The previous run's leftovers are cleaned up here, not during the next run: a
    PostgreSQL ``TRUNCATE`` (no dead rows to prune), a SQLite WAL checkpoint (no
    checkpoint of the previous run's pages inside the next run's commits).
    """
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(
                engine.dialect.identifier_preparer.format_table(t) for t in BENCH_TABLES
            )
            conn.exec_driver_sql(f"TRUNCATE {names}")
        else:
            for table in reversed(BENCH_TABLES):
                conn.execute(table.delete())
        if method in ("floor", "raw"):
            conn.execute(FLOOR.insert().values(id=1, value=0))
    if method.startswith("sa_"):
        with Session(engine) as s, s.begin():
            SEQUENCING.manager(s).define(SEQUENCE, PATTERN, audit_numbers=method == "sa_audit")
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def maker(
    backend: Backend, method: str, engine: sa.Engine | None
) -> Callable[[], tuple[Draw, Any]]:
    sql = FLOOR_SQL[backend.name]
    if method.startswith("sa_"):
        assert engine is not None

        def make_sa() -> tuple[Draw, Any]:
            def draw() -> str:
                with Session(engine) as s, s.begin():
                    return SEQUENCING.manager(s).generate(SEQUENCE)

            return draw, None

        return make_sa
    if method == "floor":
        assert engine is not None
        stmt = text(sql)
        if backend.name == "mysql":

            def make_floor() -> tuple[Draw, Any]:
                def draw() -> int:
                    with Session(engine) as s, s.begin():
                        return s.execute(stmt).lastrowid  # type: ignore[attr-defined,no-any-return]

                return draw, None

        else:

            def make_floor() -> tuple[Draw, Any]:
                def draw() -> int:
                    with Session(engine) as s, s.begin():
                        return s.execute(stmt).scalar()  # type: ignore[return-value]

                return draw, None

        return make_floor

    def make_raw() -> tuple[Draw, Any]:
        conn = backend.raw_connect()
        cur = conn.cursor()
        if backend.name == "mysql":

            def draw() -> int:
                cur.execute(sql)
                value = cur.lastrowid
                conn.commit()
                return value  # type: ignore[no-any-return]

        else:

            def draw() -> int:
                cur.execute(sql)
                value = cur.fetchone()[0]
                conn.commit()
                return value  # type: ignore[no-any-return]

        return draw, conn.close

    return make_raw


def verify(engine: sa.Engine, method: str, m: Measurement) -> None:
    """Numbers drawn are exactly 1..N and the counter ends at N (no duplicate, no hole)."""
    if method.startswith("sa_"):
        values = [int(v.removeprefix(PREFIX)) for v in m.values]
        c = SEQUENCING.tables.counters
        a = SEQUENCING.tables.audits
        with engine.connect() as conn:
            final = conn.execute(sa.select(sa.func.max(c.c.value))).scalar()
            rows = conn.execute(sa.select(sa.func.count()).select_from(c)).scalar()
            audited, distinct = conn.execute(
                sa.select(sa.func.count(), sa.func.count(sa.distinct(a.c.number))).where(
                    a.c.event == "number_generated"
                )
            ).one()
    else:
        values = [int(v) for v in m.values]
        with engine.connect() as conn:
            final = conn.execute(sa.select(FLOOR.c.value).where(FLOOR.c.id == 1)).scalar()
        rows, audited, distinct = 1, None, None
    n = len(values)
    problems = []
    if sorted(values) != list(range(1, n + 1)):
        dupes = n - len(set(values))
        problems.append(f"numbers are not exactly 1..{n} ({dupes} duplicates)")
    if final != n or rows != 1:
        problems.append(f"counter ends at {final} over {rows} row(s), expected {n}")
    if method == "sa_audit" and (audited != n or distinct != n):
        problems.append(f"{audited} audit rows ({distinct} distinct numbers), expected {n}")
    if method == "sa_noaudit" and audited != 0:
        problems.append(f"{audited} number audit rows with audit off")
    if m.errors:
        problems.append(f"{sum(m.errors.values())} errors: {dict(m.errors)}")
    m.ok = not problems
    extra = f", {audited} audit rows" if method == "sa_audit" else ""
    m.check = (
        f"OK: 1..{n} drawn, counter = {final}{extra}" if m.ok else "FAILED: " + "; ".join(problems)
    )


# -- statement counts ----------------------------------------------------------------------


def statement_counts(backend: Backend, method: str, numbers: int = 50) -> str:
    """What SQLAlchemy sends per number (cursor executes, commits, pool resets)."""
    engine = backend.engine()
    try:
        reset(engine, method)
        draw, _ = maker(backend, method, engine)()
        for _ in range(5):
            draw()
        seen: Counter[str] = Counter()

        def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            words = statement.split()
            kind = words[0].upper()
            if kind == "WITH":
                kind = "WITH..INSERT"
            seen[kind] += 1

        def on_commit(conn: Any) -> None:
            seen["COMMIT"] += 1

        def on_rollback(conn: Any) -> None:
            seen["ROLLBACK"] += 1

        def on_reset(dbapi_conn: Any, record: Any, state: Any) -> None:
            if not state.transaction_was_reset:
                seen["pool reset ROLLBACK"] += 1

        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "commit", on_commit)
        event.listen(engine, "rollback", on_rollback)
        event.listen(engine.pool, "reset", on_reset)
        for _ in range(numbers):
            draw()
        return ", ".join(f"{k} {v / numbers:g}" for k, v in sorted(seen.items()))
    finally:
        engine.dispose()


# -- the run ---------------------------------------------------------------------------------


def fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.0f}"


def bench_backend(backend: Backend, args: argparse.Namespace) -> dict[str, dict[int, Cell]]:
    admin = backend.engine()
    results: dict[str, dict[int, Cell]] = {m: {} for m in METHODS}
    try:
        backend.version = server_version(admin, backend.name)
        if backend.name != "sqlite":
            backend.title = backend.version.split()[0]
        Base.metadata.drop_all(admin)
        Base.metadata.create_all(admin)
        print(f"\n== {backend.title}: {backend.version} ==", flush=True)
        if args.statements:
            print("SQLAlchemy statements per number (1 thread):")
            for method in METHODS[:3]:
                print(f"  {LABELS[method]:<28} {statement_counts(backend, method)}")
        for threads in args.threads:
            cells = {method: Cell() for method in METHODS}
            for round_ in range(args.rounds):
                # Rotate the order so that no method always runs first (or last).
                shift = round_ % len(METHODS)
                for method in METHODS[shift:] + METHODS[:shift]:
                    reset(admin, method)
                    engine = backend.engine() if method != "raw" else None
                    try:
                        m = run_threads(
                            threads,
                            args.seconds / args.rounds,
                            args.warmup,
                            maker(backend, method, engine),
                        )
                    finally:
                        if engine is not None:
                            engine.dispose()
                    verify(admin, method, m)
                    cells[method].slices.append(m)
            for method in METHODS:
                cell = results[method][threads] = cells[method]
                slices = " ".join(f"{m.rate:,.0f}" for m in cell.slices)
                print(
                    f"  {LABELS[method]:<26} {threads:>2} thr {cell.rate:>8,.0f}/s "
                    f"(slices {slices})  {cell.check}",
                    flush=True,
                )
        print_table(backend, results, args.threads)
    finally:
        with contextlib.suppress(Exception):
            Base.metadata.drop_all(admin)
        admin.dispose()
    return results


def print_table(backend: Backend, results: dict[str, dict[int, Cell]], threads: list[int]) -> None:
    def rate(method: str, n: int) -> float | None:
        m = results[method].get(n)
        return m.rate if m is not None and m.ok else None

    width = 34
    print(f"\n{backend.title} ({backend.version}): committed numbers per second")
    print(f"{'':<{width}}" + "".join(f"{f'{n} thr':>12}" for n in threads))
    for method in METHODS:
        print(
            f"{LABELS[method]:<{width}}"
            + "".join(f"{fmt_rate(rate(method, n)):>12}" for n in threads)
        )

    def paired(a: str, b: str, n: int) -> float | None:
        """The median over the rounds of a's rate / b's rate in the same round: slices
        of one round ran back to back, so drift on the machine cancels out."""
        ca, cb = results[a].get(n), results[b].get(n)
        if ca is None or cb is None or not (ca.ok and cb.ok):
            return None
        pairs = [x.rate / y.rate for x, y in zip(ca.slices, cb.slices, strict=True) if y.rate]
        return statistics.median(pairs) if pairs else None

    ratios = [
        ("sa_sequencing / SQLAlchemy floor", "sa_audit", "floor"),
        ("  (audit off) / SQLAlchemy floor", "sa_noaudit", "floor"),
        ("SQLAlchemy floor / raw driver", "floor", "raw"),
        ("sa_sequencing / raw driver", "sa_audit", "raw"),
    ]
    for label, a, b in ratios:
        cells = []
        for n in threads:
            r = paired(a, b, n)
            cells.append(f"{'n/a' if r is None else f'{r:.2f}':>12}")
        print(f"{label:<{width}}" + "".join(cells))
    one = rate("sa_audit", 1)
    floor = rate("floor", 1)
    if one and floor:
        print(
            f"{'per number at 1 thread':<{width}}sa_sequencing {1e6 / one:,.0f} us, "
            f"floor {1e6 / floor:,.0f} us, difference {1e6 / one - 1e6 / floor:+,.0f} us"
        )
    for method in ("sa_audit", "sa_noaudit"):
        verdicts = []
        for n in (t for t in threads if t <= 4):
            ratio = paired(method, "floor", n)
            if ratio is None:
                verdicts.append(f"{n} thr n/a")
            else:
                mark = "met" if ratio >= TARGET else "MISSED"
                verdicts.append(f"{n} thr {mark} ({ratio:.3f})")
        if verdicts:
            label = "target >= 0.9 x floor" + (" (audit off)" if method == "sa_noaudit" else "")
            print(f"{label:<{width}}" + ", ".join(verdicts))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma separated")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--threads", default="1,4,16", help="comma separated thread counts")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="split --seconds into this many slices, interleaved across the methods so "
        "that load from elsewhere on the machine hits all methods alike (default 3)",
    )
    parser.add_argument(
        "--warmup", type=float, default=0.3, help="seconds of warm-up before every slice"
    )
    parser.add_argument(
        "--sqlite-journal",
        default="wal",
        help="SQLite journal_mode of the temporary database (default: wal)",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        default="full",
        choices=["off", "normal", "full", "extra"],
        help="SQLite PRAGMA synchronous on every connection (default: full, SQLite's own)",
    )
    parser.add_argument(
        "--no-statements",
        dest="statements",
        action="store_false",
        help="skip counting the statements SQLAlchemy sends per number",
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    args.threads = [int(t) for t in args.threads.split(",")]
    if any(t < 1 for t in args.threads):
        parser.error("thread counts must be >= 1")
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be >= 1 and --seconds > 0")
    return args


@contextlib.contextmanager
def sqlite_database(journal: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="sa_sequencing_bench_") as tmp:
        path = os.path.join(tmp, "bench.db")
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute(f"PRAGMA journal_mode={journal}")
        yield path


def driver_versions() -> str:
    parts = [f"SQLAlchemy {sa.__version__}", f"sqlite3 lib {sqlite3.sqlite_version}"]
    for module in ("psycopg", "pymysql"):
        with contextlib.suppress(ImportError):
            parts.append(f"{module} {__import__(module).__version__}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    print(
        f"sa_sequencing {sa_sequencing.__version__}; Python {platform.python_version()} "
        f"({platform.python_implementation()}); {driver_versions()}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} logical cores "
        f"({usable} usable by this process); {platform.platform()}"
    )
    print(
        f"{args.seconds:g}s per measurement, as {args.rounds} slices interleaved across the "
        f"methods, each after {args.warmup:g}s warm-up; a cell is its median slice; threads "
        f"{','.join(map(str, args.threads))}; one transaction per number; pool_size=20"
    )
    failed = False
    with sqlite_database(args.sqlite_journal) as path:
        for name in args.backends:
            if name == "sqlite":
                backend = Backend(
                    name,
                    f"sqlite:///{path}",
                    f"SQLite (file, journal_mode={args.sqlite_journal}, "
                    f"synchronous={args.sqlite_synchronous})",
                    sqlite_path=path,
                    sqlite_synchronous=args.sqlite_synchronous,
                )
            else:
                url = os.environ.get(URL_ENV[name]) or DEFAULT_URLS[name]
                backend = Backend(name, url)
            try:
                results = bench_backend(backend, args)
            except Exception as exc:
                print(f"\n== {name}: skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
                failed = True
                continue
            failed |= not all(m.ok for per in results.values() for m in per.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
