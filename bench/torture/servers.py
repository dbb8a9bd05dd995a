"""Private database servers the harness starts, restarts, crashes and stops itself.

Never the machine's own: the PostgreSQL cluster is a new ``initdb`` under the run's
temporary directory on its own port (25432 by default), and mariadbd a new
``mariadb-install-db`` datadir with its own port (23406), socket and pid file, in the
manner of ``tools/galera.py``.  Ports 5432 and 3306 are refused outright.  As root,
the servers run as ``postgres`` / ``mysql`` (PostgreSQL refuses to run as root).

Every server offers the same faults: :meth:`restart` (a clean stop, then start),
:meth:`crash` (SIGKILL of the server and its processes, then start: crash recovery)
and :meth:`kill_connection` (one client connection terminated from the server side).
SQLite has no server: its "server" is a file, with no restart and no connection kill.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import sqlalchemy as sa

PG_BIN = Path("/usr/lib/postgresql/15/bin")
FORBIDDEN_PORTS = {5432, 3306}
DATABASE = "torture"


def _check_port(port: int) -> None:
    if port in FORBIDDEN_PORTS:
        raise SystemExit(f"refusing port {port}: the machine's shared server listens there")


def _as(user: str) -> list[str]:
    """The command prefix that runs a program as ``user`` (nothing unless root)."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


def _own(path: Path, user: str) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(proc.name))
    return found


class Server:
    """The interface of a private server (SQLite's does nothing)."""

    name = "server"
    url = ""
    can_restart = False
    can_kill_connections = False

    def start(self) -> None:
        """Start the server (creating it on first use) and wait until it answers."""

    def stop(self) -> None:
        """Stop the server cleanly."""

    def restart(self) -> None:
        self.stop()
        self.start()

    def crash(self) -> None:
        """SIGKILL the server, then start it again (crash recovery)."""

    def kill_connection(self, rng: random.Random) -> bool:
        """Terminate one client connection of the workers; whether one was found."""
        return False

    def admin_engine(self) -> sa.Engine:
        return sa.create_engine(self.url, poolclass=sa.pool.NullPool)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            engine = self.admin_engine()
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                return
            except sa.exc.DBAPIError as exc:
                last = exc
                time.sleep(0.2)
            finally:
                engine.dispose()
        raise RuntimeError(f"{self.name} did not answer in {timeout:.0f}s: {last}")


class SQLiteFile(Server):
    name = "sqlite"

    def __init__(self, base: Path) -> None:
        self.url = f"sqlite:///{base / 'torture.db'}"


class PrivatePostgres(Server):
    """A second PostgreSQL 15 cluster: ``initdb`` under ``base/pg``, trust auth."""

    name = "postgresql"
    can_restart = True
    can_kill_connections = True

    def __init__(self, base: Path, port: int = 25432) -> None:
        _check_port(port)
        self.home = base / "pg"
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self.port = port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DATABASE}"
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_as(self.user), *args], capture_output=True, text=True, check=check, timeout=180
        )

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args, check=check)

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self.home.mkdir(parents=True, exist_ok=True)
            _own(self.home, self.user)
            self._run(
                str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                "--no-sync", "-E", "UTF8",
            )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c shared_buffers=32MB"
        )
        done = self._pg_ctl(
            "-l", str(self.log), "-o", options, "-w", "-t", "120", "start", check=False
        )
        if done.returncode != 0 and self._postmaster() is None:
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}")
        self._create_database()

    def _create_database(self) -> None:
        engine = sa.create_engine(
            self.url.rsplit("/", 1)[0] + "/postgres",
            poolclass=sa.pool.NullPool,
            isolation_level="AUTOCOMMIT",
        )
        deadline = time.monotonic() + 120
        try:
            while True:
                try:
                    with engine.connect() as conn:
                        if not conn.scalar(
                            sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                            {"d": DATABASE},
                        ):
                            conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
                    return
                except sa.exc.DBAPIError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            engine.dispose()

    def _postmaster(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, 0)
            return pid
        return None

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "-t", "60", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def crash(self) -> None:
        pid = self._postmaster()
        if pid is not None:
            # the postmaster and every backend at once: as if the machine lost power
            # (backends left behind would hold the shared memory and block the start)
            for victim in [pid, *_children(pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
            _gone(pid, 30)
        self.start()

    def kill_connection(self, rng: random.Random) -> bool:
        engine = self.admin_engine()
        try:
            with engine.connect() as conn:
                pids = conn.scalars(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = :d "
                        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                    ),
                    {"d": DATABASE},
                ).all()
                if not pids:
                    return False
                return bool(
                    conn.scalar(
                        sa.text("SELECT pg_terminate_backend(:p)"), {"p": rng.choice(pids)}
                    )
                )
        finally:
            engine.dispose()

    def destroy(self) -> None:
        if self._postmaster() is not None:
            self._pg_ctl("-m", "immediate", "-w", "stop", check=False)


class PrivateMariaDB(Server):
    """A second mariadbd: its own datadir (``mariadb-install-db``), port, socket, pid."""

    name = "mysql"
    can_restart = True
    can_kill_connections = True

    def __init__(self, base: Path, port: int = 23406) -> None:
        _check_port(port)
        self.home = base / "mariadb"
        self.data = self.home / "data"
        self.cnf = self.home / "my.cnf"
        self.pidfile = self.home / "mariadbd.pid"
        self.port = port
        self.url = f"mysql+pymysql://root@127.0.0.1:{port}/{DATABASE}"
        self.user = "mysql" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._proc: subprocess.Popen[bytes] | None = None

    def _write_cnf(self) -> None:
        self.cnf.write_text(
            f"""[mariadbd]
user = {self.user}
datadir = {self.data}
socket = {self.home / "mariadbd.sock"}
pid-file = {self.pidfile}
log-error = {self.home / "error.log"}
port = {self.port}
bind-address = 127.0.0.1
skip-name-resolve
skip-log-bin
innodb_buffer_pool_size = 64M
innodb_log_file_size = 16M
max_connections = 200
character-set-server = utf8mb4

[client]
socket = {self.home / "mariadbd.sock"}
port = {self.port}
"""
        )

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_cnf()
        if not (self.data / "mysql").is_dir():
            self.data.mkdir(parents=True, exist_ok=True)
            _own(self.home, self.user)
            subprocess.run(
                [
                    "mariadb-install-db", f"--defaults-file={self.cnf}", f"--user={self.user}",
                    "--auth-root-authentication-method=normal", "--skip-test-db",
                ],
                check=True, capture_output=True, timeout=300,
            )  # fmt: skip
        _own(self.home, self.user)
        if self._pid() is None:
            with open(self.home / "stdout.log", "ab") as out:
                self._proc = subprocess.Popen(
                    ["mariadbd", f"--defaults-file={self.cnf}"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        root = sa.create_engine(self.url.rsplit("/", 1)[0] + "/", poolclass=sa.pool.NullPool)
        deadline = time.monotonic() + 180
        try:
            while True:
                try:
                    with root.begin() as conn:
                        conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS {DATABASE}"))
                    return
                except sa.exc.DBAPIError:
                    if time.monotonic() > deadline or (
                        self._proc and self._proc.poll() is not None
                    ):
                        tail = (self.home / "error.log").read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"mariadbd did not start:\n{tail}") from None
                    time.sleep(0.2)
        finally:
            root.dispose()

    def _pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 0)
            # a recycled pid is not our server: it must run with our option file
            if str(self.cnf) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return pid
        return None

    def _signal(self, sig: signal.Signals, timeout: float) -> None:
        pid = self._pid() or (self._proc.pid if self._proc and self._proc.poll() is None else None)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if not _gone(pid, timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _gone(pid, 30)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
            self._proc = None

    def stop(self) -> None:
        self._signal(signal.SIGTERM, 60)

    def crash(self) -> None:
        self._signal(signal.SIGKILL, 30)
        self.start()

    def kill_connection(self, rng: random.Random) -> bool:
        engine = self.admin_engine()
        try:
            with engine.connect() as conn:
                ids = conn.scalars(
                    sa.text(
                        "SELECT id FROM information_schema.processlist WHERE db = :d "
                        "AND id <> CONNECTION_ID() AND command <> 'Daemon'"
                    ),
                    {"d": DATABASE},
                ).all()
                if not ids:
                    return False
                try:
                    conn.execute(sa.text(f"KILL {int(rng.choice(ids))}"))
                except sa.exc.DBAPIError:
                    return False  # it ended meanwhile (1094 unknown thread id)
                return True
        finally:
            engine.dispose()

    def destroy(self) -> None:
        self._signal(signal.SIGKILL, 30)


def make_server(backend: str, base: Path, port: int | None = None) -> Server:
    if backend == "sqlite":
        return SQLiteFile(base)
    if backend == "postgresql":
        return PrivatePostgres(base, port or 25432)
    if backend == "mysql":
        return PrivateMariaDB(base, port or 23406)
    raise SystemExit(f"unknown backend {backend!r}: sqlite, postgresql or mysql")


def remove(base: Path) -> None:
    shutil.rmtree(base, ignore_errors=True)
