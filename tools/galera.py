"""A private 3-node MariaDB Galera cluster on loopback, for the cluster tests.

::

    python tools/galera.py start     # bootstrap node 1, join nodes 2 and 3 (rsync SST)
    python tools/galera.py status    # each node: pid, wsrep state, cluster size
    python tools/galera.py urls      # one SQLAlchemy URL per node
    python tools/galera.py stop      # stop the three nodes (data kept)
    python tools/galera.py stop --wipe

Everything lives under ``--dir`` (default ``/tmp/sa-seq-galera``, or
``SA_SEQUENCING_GALERA_DIR``): one datadir, socket, pid file, log and option file per
node.  Each ``mariadbd`` reads only its own option file (``--defaults-file``), so the
machine's server on 3306, its ``/etc/mysql`` options, datadir, socket and pid file are
never read or touched.  Ports (``--port-base``, default 23306):

========  =====  =====  =====
node      1      2      3
========  =====  =====  =====
SQL       23306  23307  23308
gcomm     24567  24577  24587
IST       24568  24578  24588
SST       24569  24579  24589
========  =====  =====  =====

The state transfer is ``rsync`` (``mariabackup`` is not installed here).  Every
node has ``root`` without a password on 127.0.0.1 and a database ``sa_seq``.

The tests use the functions: :func:`start_cluster`, :func:`stop_cluster`,
:func:`kill_node`, :func:`start_node`, :func:`node_status`, :func:`urls`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = os.environ.get("SA_SEQUENCING_GALERA_DIR", "/tmp/sa-seq-galera")
DEFAULT_PORT = 23306
NODES = 3
DATABASE = "sa_seq"
MARIADBD = "/usr/sbin/mariadbd"
CLUSTER_NAME = "sa-seq-galera"
#: The machine's own server: refused as a port or a directory, whatever the options.
FORBIDDEN_PORTS = {3306}
#: The servers this process started (the others are found by their pid files).
_SERVERS: dict[str, subprocess.Popen[bytes]] = {}
FORBIDDEN_DIRS = {Path("/var/lib/mysql"), Path("/run/mysqld"), Path("/var/run/mysqld")}


def find_provider() -> str:
    """``libgalera_smm.so`` from the ``galera-4`` package (``dpkg -L galera-4``)."""
    candidates = ["/usr/lib/galera/libgalera_smm.so", "/usr/lib/libgalera_smm.so"]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        listed = subprocess.run(
            ["dpkg", "-L", "galera-4"], capture_output=True, text=True, check=True
        ).stdout
        candidates = [line for line in listed.splitlines() if line.endswith("libgalera_smm.so")]
    for path in candidates:
        if Path(path).exists():
            return path
    raise SystemExit("libgalera_smm.so not found: install galera-4")


@dataclass(frozen=True)
class Node:
    """One node's files and ports."""

    index: int  # 1, 2, 3
    base: Path
    port_base: int

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def home(self) -> Path:
        return self.base / self.name

    @property
    def datadir(self) -> Path:
        return self.home / "data"

    @property
    def socket(self) -> Path:
        return self.home / "mariadbd.sock"

    @property
    def pidfile(self) -> Path:
        return self.home / "mariadbd.pid"

    @property
    def log(self) -> Path:
        return self.home / "error.log"

    @property
    def cnf(self) -> Path:
        return self.home / "my.cnf"

    @property
    def port(self) -> int:
        return self.port_base + self.index - 1

    @property
    def gcomm_port(self) -> int:
        return self.port_base + 1261 + 10 * (self.index - 1)

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{DATABASE}"


def nodes(base: str | Path = DEFAULT_DIR, port_base: int = DEFAULT_PORT) -> list[Node]:
    root = Path(base).resolve()
    for forbidden in FORBIDDEN_DIRS:
        if root == forbidden or forbidden in root.parents or root in forbidden.parents:
            raise SystemExit(f"refusing {root}: the machine's own MariaDB lives there")
    result = [Node(i, root, port_base) for i in range(1, NODES + 1)]
    for node in result:
        ports = {node.port, node.gcomm_port, node.gcomm_port + 1, node.gcomm_port + 2}
        if ports & FORBIDDEN_PORTS:
            raise SystemExit(f"refusing port base {port_base}: it would use port 3306")
    return result


def urls(base: str | Path = DEFAULT_DIR, port_base: int = DEFAULT_PORT) -> list[str]:
    """One ``mysql+pymysql://`` URL per node, node 1 first."""
    return [node.url for node in nodes(base, port_base)]


def _write_cnf(node: Node, all_nodes: list[Node], provider: str, user: str) -> None:
    cluster = ",".join(f"127.0.0.1:{n.gcomm_port}" for n in all_nodes)
    g = node.gcomm_port
    options = ";".join(
        [
            "base_host=127.0.0.1",
            f"base_port={g}",
            f"gmcast.listen_addr=tcp://127.0.0.1:{g}",
            f"ist.recv_addr=127.0.0.1:{g + 1}",
            "gcache.size=64M",
        ]
    )
    node.cnf.write_text(
        f"""[mariadbd]
user = {user}
datadir = {node.datadir}
socket = {node.socket}
pid-file = {node.pidfile}
log-error = {node.log}
port = {node.port}
bind-address = 127.0.0.1
skip-name-resolve
skip-log-bin
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
innodb_buffer_pool_size = 64M
innodb_log_file_size = 16M
innodb_flush_log_at_trx_commit = 2
max_connections = 200
character-set-server = utf8mb4
wsrep_on = ON
wsrep_provider = {provider}
wsrep_cluster_name = {CLUSTER_NAME}
wsrep_cluster_address = gcomm://{cluster}
wsrep_node_name = {node.name}
wsrep_node_address = 127.0.0.1:{g}
wsrep_node_incoming_address = 127.0.0.1:{node.port}
wsrep_provider_options = "{options}"
wsrep_sst_receive_address = 127.0.0.1:{g + 2}
wsrep_sst_method = rsync
wsrep_slave_threads = 1

[client]
socket = {node.socket}
port = {node.port}
"""
    )


def _server_user() -> str:
    """Who the servers run as: ourselves, or ``mysql`` when we are root (rsync's SST
    daemon, started by root, would drop to ``nobody`` and fail to write the datadir)."""
    import pwd

    if os.geteuid() == 0:
        return "mysql"
    return pwd.getpwuid(os.geteuid()).pw_name


def _own(path: Path, user: str) -> None:
    if os.geteuid() != 0:
        return
    import pwd

    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _pid(node: Node) -> int | None:
    try:
        pid = int(node.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    # a recycled pid is not our server: it must run with this node's option file
    if cmdline.exists() and str(node.cnf) not in cmdline.read_bytes().decode(errors="replace"):
        return None
    return pid


def _alive(node: Node, *, grace: bool = False) -> bool:
    """Whether the node's server runs: the process we started (whose pid file comes
    only after its state transfer), else the pid file's (``grace``: none yet is fine)."""
    proc = _SERVERS.get(node.name)
    if proc is not None:
        return proc.poll() is None
    return grace or _pid(node) is not None


def _client(node: Node, sql: str, *, timeout: float = 10) -> str | None:
    """Run ``sql`` over the node's own socket; its tab-separated output, or None."""
    try:
        done = subprocess.run(
            ["mariadb", f"--defaults-file={node.cnf}", "-uroot", "-N", "-B", "-e", sql],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def node_status(node: Node) -> dict[str, str]:
    """``pid``, ``state`` (``wsrep_local_state_comment``), ``size``, ``ready``."""
    pid = _pid(node)
    status = {"pid": str(pid or "-"), "state": "down", "size": "-", "ready": "OFF"}
    if pid is None:
        return status
    out = _client(
        node,
        "SHOW GLOBAL STATUS WHERE Variable_name IN "
        "('wsrep_local_state_comment','wsrep_cluster_size','wsrep_ready')",
        timeout=3,
    )
    if out is None:
        status["state"] = "starting"
        return status
    values = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    status["state"] = values.get("wsrep_local_state_comment", "?")
    status["size"] = values.get("wsrep_cluster_size", "?")
    status["ready"] = values.get("wsrep_ready", "?")
    return status


def _wait_synced(node: Node, *, size: int | None, timeout: float) -> None:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if not _alive(node, grace=time.monotonic() - began < 10):
            break  # the server died: report below
        status = node_status(node)
        synced = status["state"] == "Synced" and status["ready"] == "ON"
        if synced and (size is None or status["size"] == str(size)):
            return
        time.sleep(0.3)
    tail = node.log.read_text(errors="replace")[-3000:] if node.log.exists() else ""
    raise RuntimeError(f"{node.name} did not reach Synced in {timeout:.0f}s; log tail:\n{tail}")


def _bootstrapped(node: Node) -> bool:
    return (node.datadir / "mysql").is_dir()


def _install(node: Node) -> None:
    node.datadir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "mariadb-install-db",
            f"--defaults-file={node.cnf}",
            f"--user={_server_user()}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--wsrep_on=OFF",
        ],
        check=True,
        capture_output=True,
    )


def start_node(
    node: Node, *, bootstrap: bool = False, wait: bool = True, timeout: float = 120
) -> None:
    """Start one node (``bootstrap``: as a new cluster's first node); wait until it is
    Synced unless ``wait`` is false.  A node that runs already is left alone."""
    if _alive(node):
        return
    node.datadir.mkdir(parents=True, exist_ok=True)
    _own(node.home, _server_user())
    args = [MARIADBD, f"--defaults-file={node.cnf}"]
    if bootstrap:
        args.append("--wsrep-new-cluster")
        _force_safe_to_bootstrap(node)
    with open(node.home / "stdout.log", "ab") as out:
        # kept: a Popen object collected while its server runs warns (ResourceWarning)
        _SERVERS[node.name] = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this script; stopped by its pid file
        )
    if wait:
        _wait_synced(node, size=None, timeout=timeout)


def _force_safe_to_bootstrap(node: Node) -> None:
    grastate = node.datadir / "grastate.dat"
    if grastate.exists():
        text = grastate.read_text()
        grastate.write_text(re.sub(r"safe_to_bootstrap:\s*0", "safe_to_bootstrap: 1", text))


def _bootstrap_candidate(all_nodes: list[Node]) -> Node:
    """The node that stopped last (``safe_to_bootstrap: 1``), else the highest seqno."""
    best, best_seqno = all_nodes[0], -2
    for node in all_nodes:
        grastate = node.datadir / "grastate.dat"
        if not grastate.exists():
            continue
        text = grastate.read_text()
        if re.search(r"safe_to_bootstrap:\s*1", text):
            return node
        match = re.search(r"seqno:\s*(-?\d+)", text)
        seqno = int(match.group(1)) if match else -1
        if seqno > best_seqno:
            best, best_seqno = node, seqno
    return best


def start_cluster(
    base: str | Path = DEFAULT_DIR, port_base: int = DEFAULT_PORT, *, timeout: float = 180
) -> list[str]:
    """Start the three nodes (creating them on first use); return their URLs once all
    three are Synced in a cluster of three."""
    all_nodes = nodes(base, port_base)
    provider = find_provider()
    user = _server_user()
    for node in all_nodes:
        node.home.mkdir(parents=True, exist_ok=True)
        _write_cnf(node, all_nodes, provider, user)
        _own(node.home, user)
    first = all_nodes[0]
    if not _bootstrapped(first):
        for node in all_nodes:  # joiners get their data from node 1 by SST
            if node.datadir.exists():
                shutil.rmtree(node.datadir)
        _install(first)
    elif not any(_pid(n) for n in all_nodes):
        first = _bootstrap_candidate(all_nodes)
    if not any(_pid(n) for n in all_nodes):
        start_node(first, bootstrap=True, timeout=timeout)
    else:
        first = next(n for n in all_nodes if _pid(n))
    if _client(first, f"CREATE DATABASE IF NOT EXISTS {DATABASE}") is None:
        raise RuntimeError(f"could not create database {DATABASE} on {first.name}")
    for node in all_nodes:
        # one joiner at a time: rsync SST blocks its donor
        start_node(node, timeout=timeout)
    for node in all_nodes:
        _wait_synced(node, size=NODES, timeout=timeout)
    return [node.url for node in all_nodes]


def _signal(node: Node, sig: signal.Signals) -> int | None:
    pid = _pid(node)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pid


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie child of this process: reap it
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    return False


def kill_node(node: Node) -> None:
    """SIGKILL one node, as a crash: its grastate says it may not bootstrap."""
    pid = _signal(node, signal.SIGKILL)
    proc = _SERVERS.pop(node.name, None)
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()  # killed before it wrote its pid file
        proc.wait(30)
    elif pid is not None:
        _wait_gone(pid, 30)
    # rsync SST helpers of that node would hold its port: they die with it
    for helper in _helpers(node):
        with contextlib.suppress(ProcessLookupError):
            os.kill(helper, signal.SIGKILL)


def _helpers(node: Node) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
            if str(node.home) in cmd and "rsync" in cmd:
                found.append(int(proc.name))
    return found


def stop_node(node: Node, *, timeout: float = 60) -> None:
    """Stop one node cleanly (SIGTERM), killing it after ``timeout`` seconds."""
    pid = _signal(node, signal.SIGTERM)
    proc = _SERVERS.get(node.name)
    if pid is None and proc is not None and proc.poll() is None:
        proc.terminate()  # still in its state transfer: no pid file yet
        pid = proc.pid
    if pid is not None and not _wait_gone(pid, timeout):
        kill_node(node)
    proc = _SERVERS.pop(node.name, None)
    if proc is not None:
        proc.wait(timeout)


def stop_cluster(
    base: str | Path = DEFAULT_DIR, port_base: int = DEFAULT_PORT, *, wipe: bool = False
) -> None:
    """Stop the nodes (the last one stopped may bootstrap the next start); ``wipe``
    removes the directory too."""
    all_nodes = nodes(base, port_base)
    for node in reversed(all_nodes):
        stop_node(node)
    if wipe and Path(base).exists():
        shutil.rmtree(base)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status", "urls"])
    parser.add_argument("--dir", default=DEFAULT_DIR, help="where the nodes live")
    parser.add_argument("--port-base", type=int, default=DEFAULT_PORT, help="node 1's SQL port")
    parser.add_argument("--wipe", action="store_true", help="stop: remove the directory too")
    args = parser.parse_args(argv)
    if args.command == "start":
        for url in start_cluster(args.dir, args.port_base):
            print(url)
    elif args.command == "stop":
        stop_cluster(args.dir, args.port_base, wipe=args.wipe)
    elif args.command == "urls":
        for url in urls(args.dir, args.port_base):
            print(url)
    else:
        for node in nodes(args.dir, args.port_base):
            s = node_status(node)
            print(
                f"{node.name} port {node.port} pid {s['pid']} state {s['state']} "
                f"cluster_size {s['size']} ready {s['ready']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
