"""The torture harness (``bench/torture``) on every database, briefly, with every fault.

Each run starts a private server on a free port (never the shared ones), runs 4
worker processes for ``SA_SEQUENCING_TORTURE_SECONDS`` (12 by default) while it
SIGKILLs workers, kills their connections, restarts and crashes the server and
holds counter rows from outside, and then its checker must pass: no duplicate, no
unexplained hole, nothing acknowledged missing, no stuck lock, no error other than a
``SequencingError`` or a lost connection.  The long run (10 minutes, 8 workers) is a
command in ``bench/README.md``; ``-m stress`` runs a 2-minute one per database here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

# read here, as tests/conftest.py does: ``from conftest import`` would find another
# directory's conftest module once the whole suite is collected
_selected = os.environ.get("SA_SEQUENCING_TEST_BACKENDS")
BACKENDS = (
    tuple(b.strip() for b in _selected.split(","))
    if _selected
    else ("sqlite", "postgresql", "mysql")
)
REQUIRE_SERVERS = os.environ.get("SA_SEQUENCING_REQUIRE_SERVERS") == "1"

ROOT = Path(__file__).resolve().parents[2]
# the default suite's budget: about a minute for the three databases together
SECONDS = float(os.environ.get("SA_SEQUENCING_TORTURE_SECONDS", "12"))


def _missing(backend: str) -> str | None:
    if backend == "postgresql" and not Path("/usr/lib/postgresql/15/bin/initdb").exists():
        return "PostgreSQL 15 binaries (/usr/lib/postgresql/15/bin) not installed"
    if backend == "mysql" and not (
        shutil.which("mariadbd") and shutil.which("mariadb-install-db")
    ):
        return "mariadbd / mariadb-install-db not installed"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _torture(backend: str, seconds: float, workers: int, tmp_path: Path) -> dict[str, object]:
    missing = _missing(backend)
    if missing:
        if REQUIRE_SERVERS:
            pytest.fail(f"torture on {backend}: {missing}")
        pytest.skip(missing)
    report = tmp_path / "report.json"
    args = [
        sys.executable, "-m", "bench.torture", "--backend", backend, "--seconds", str(seconds),
        "--workers", str(workers), "--seed", "7", "--report", str(report),
    ]  # fmt: skip
    if backend != "sqlite":
        args += ["--port", str(_free_port())]
    done = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 300, check=False
    )
    assert report.exists(), f"no report:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result: dict[str, object] = json.loads(report.read_text())
    print(done.stdout)
    assert done.returncode == 0, done.stdout[-5000:]
    return result


def _assert_tortured(result: dict[str, object], backend: str) -> None:
    assert result["passed"] is True
    assert result["violation_count"] == 0
    assert result["disallowed_errors"] == 0
    faults = result["faults"]
    assert isinstance(faults, dict)
    assert faults.get("workers killed", 0) >= 1
    if backend != "sqlite":  # SQLite has no server to restart or connections to kill
        assert faults.get("server restarts", 0) >= 1
        assert faults.get("server crashes (kill -9)", 0) >= 1
        assert faults.get("connections killed", 0) >= 1
    numbers = result["numbers"]
    assert isinstance(numbers, dict)
    assert numbers["live documents"] > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_torture_short(backend: str, tmp_path: Path) -> None:
    _assert_tortured(_torture(backend, SECONDS, 4, tmp_path), backend)


@pytest.mark.stress
@pytest.mark.parametrize("backend", BACKENDS)
def test_torture_two_minutes(backend: str, tmp_path: Path) -> None:
    _assert_tortured(_torture(backend, 120, 8, tmp_path), backend)
