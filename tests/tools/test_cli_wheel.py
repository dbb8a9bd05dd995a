"""``sa-sequencing`` and ``python -m sa_sequencing`` as a user runs them: from the wheel.

The wheel is built once per test session and installed, with its ``postgresql`` and
``mysql`` extras, into a virtual environment of its own; every command below is a
process of that environment, run outside the checkout (so the checkout's package
cannot be imported by mistake).  Each backend runs the same story: a sequence
defined, numbers drawn, a reservation made by one process and finalized and released
by others, the auditor's report written, each answer read back with ``--json`` and
checked against what the library reads from the same tables.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest
from built_wheel import build_wheel
from built_wheel import cannot


@dataclass(frozen=True)
class Installed:
    bin_dir: Path
    home: Path  # a directory outside the checkout to run in

    def run(self, *argv: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "SA_SEQUENCING_URL"}
        }
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        if url is not None:
            env["SA_SEQUENCING_URL"] = url
        return subprocess.run(
            list(argv),
            cwd=self.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def cli(self, *args: str, url: str) -> dict:
        """``sa-sequencing ARGS --json`` (the URL from the environment), which must
        succeed: its JSON answer."""
        result = self.run(str(self.bin_dir / "sa-sequencing"), *args, "--json", url=url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stderr == ""
        return json.loads(result.stdout)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("cli_wheel")
    wheel = build_wheel(root / "dist")
    env_dir = root / "venv"
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    install = ["install", "--quiet", "--disable-pip-version-check", f"{wheel}[postgresql,mysql]"]
    venv.EnvBuilder(with_pip=False, clear=True).create(env_dir)
    pip = [sys.executable, "-m", "pip", "--python", str(bin_dir / "python")]
    result = subprocess.run([*pip, *install], capture_output=True, text=True, check=False)
    if result.returncode != 0 and "--python" in result.stderr:  # an older pip
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        pip = [str(bin_dir / "python"), "-m", "pip"]
        result = subprocess.run([*pip, *install], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        cannot("installing the wheel", result)
    home = root / "home"
    home.mkdir()
    installed = Installed(bin_dir, home)
    located = installed.run(
        str(bin_dir / "python"), "-c", "import sa_sequencing; print(sa_sequencing.__file__)"
    )
    assert "site-packages" in located.stdout, located.stdout + located.stderr
    return installed


def test_the_entry_point_and_python_m_are_the_same_command(installed):
    by_script = installed.run(str(installed.bin_dir / "sa-sequencing"), "--help")
    by_module = installed.run(str(installed.bin_dir / "python"), "-m", "sa_sequencing", "--help")
    assert by_script.returncode == by_module.returncode == 0
    assert by_script.stdout == by_module.stdout
    for command in ("finalize", "release", "update", "delete", "metrics", "audit", "report"):
        assert command in by_script.stdout
    version = installed.run(str(installed.bin_dir / "python"), "-m", "sa_sequencing", "--version")
    assert version.stdout.startswith("sa-sequencing ")


def test_the_story_from_the_wheel(installed, backend, url, sequencing, tx, tmp_path):
    database = url  # the suite's database: the library of this run reads it back
    python = str(installed.bin_dir / "python")
    assert "sequences" in installed.cli("init", url=database)["tables"]
    installed.cli(
        "define",
        "po",
        "PO-{COUNTER:4}",
        "--gap-policy",
        "report_gaps_only",
        "--actor",
        "admin",
        url=database,
    )
    drawn = installed.cli("generate", "po", "--scope", "acme", "--count", "3", url=database)
    assert drawn["numbers"] == ["PO-0001", "PO-0002", "PO-0003"]

    # The reservation id printed by one process is accepted by the next ones.
    held = installed.run(
        str(installed.bin_dir / "sa-sequencing"),
        "reserve",
        "po",
        "3",
        "--scope",
        "acme",
        url=database,
    )
    assert held.returncode == 0, held.stderr
    head, *numbers = held.stdout.splitlines()
    reservation_id = head.split()[1]
    assert numbers == ["PO-0004", "PO-0005", "PO-0006"]
    used = installed.cli("finalize", reservation_id, "PO-0005", "--actor", "buyer", url=database)
    assert used["finalized"] == ["PO-0005"]
    given = installed.run(
        python, "-m", "sa_sequencing", "release", reservation_id, "--json", url=database
    )
    assert given.returncode == 0, given.stderr
    assert json.loads(given.stdout)["released"] == ["PO-0004", "PO-0006"]
    installed.cli("void", "po", "PO-0002", "--scope", "acme", "--reason", "typo", url=database)

    story = installed.cli("audit", "po", "--scope", "acme", "--number", "PO-0005", url=database)
    assert story["status"] == "finalized"
    report = tmp_path / "report.csv"
    summary = installed.cli("report", "--format", "csv", "--output", str(report), url=database)
    assert (summary["gaps"], summary["open_reservations"]) == (3, 0)
    with report.open(newline="", encoding="utf-8") as stream:
        gaps = [(r["number"], r["reason"]) for r in csv.DictReader(stream) if r["record"] == "gap"]
    assert gaps == [("PO-0002", "typo"), ("PO-0004", "released"), ("PO-0006", "released")]

    with tx() as seqs:
        assert [(g.number, g.reason) for g in seqs.gaps("po", scope="acme")] == gaps
        assert seqs.metrics("po", scope="acme").current_value == 6

    refused = installed.run(python, "-m", "sa_sequencing", "generate", "nope", url=database)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert refused.stderr.splitlines()[-1].startswith("hint: define it with: sa-sequencing define")
    assert "--url" in refused.stderr.splitlines()[-1]
