"""Building the project's wheel once for the tests that install it (the Alembic branch
and the CLI, each into a virtualenv of its own)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
#: In CI (or when every server is required) a wheel that cannot be built or installed
#: fails the run; elsewhere (no build backend, no network) the tests are skipped.
MUST_BUILD = bool(os.environ.get("CI")) or os.environ.get("SA_SEQUENCING_REQUIRE_SERVERS") == "1"


def cannot(what: str, result: subprocess.CompletedProcess[str]) -> NoReturn:
    """Fail (in CI) or skip, with the tail of the command's output."""
    message = f"{what} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    if MUST_BUILD:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def build_wheel(dist: Path) -> Path:
    """The project's wheel, built into ``dist`` with ``build`` (without isolation where
    the backend is installed: nothing to download), else ``pip wheel``."""
    commands = []
    if importlib.util.find_spec("build") is not None:
        build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist)]
        if importlib.util.find_spec("hatchling") is not None:
            build.append("--no-isolation")
        commands.append([*build, str(REPO)])
    # pip builds the same wheel through the same backend (PEP 517)
    commands.append(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(REPO)]
    )
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(dist.glob("sa_sequencing-*.whl"))
        if result.returncode == 0 and len(wheels) == 1:
            return wheels[0]
    cannot("building the wheel", result)
