"""Alembic from an installed wheel: a user's revisions land in the user's project.

A project made from the ``sa_sequencing`` template lists two version locations, its own
``versions`` directory and the branch inside the installed package. Alembic writes a new
revision next to the head it descends from, so ``alembic revision`` on top of the
branch's head used to write into ``site-packages/sa_sequencing/migrations/versions``;
the next deploy, with a fresh package, then failed with ``Can't locate revision``.

These tests build the wheel once, install it into one fresh virtual environment for the
whole test session, and drive the plain ``alembic`` command line in a project made by
``python -m sa_sequencing.alembic init -t sa_sequencing``. Every command runs with
``PYTHONDONTWRITEBYTECODE=1``, so that the installed package must come out byte for
byte as installed. Server databases are shared with the rest of the suite: the tables
are named with :data:`PREFIX`, Alembic keeps its versions in :data:`VERSION_TABLE`, and
both are dropped before and after.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from built_wheel import build_wheel
from built_wheel import cannot

from sa_sequencing import Sequencing

PREFIX = "alembic_w_"
VERSION_TABLE = "alembic_version_sa_seq_wheel"
BRANCH_HEAD = "sa_sequencing_0004"
# A build or an install that cannot run here skips the module, but never in CI.
_SELECTED = os.environ.get("SA_SEQUENCING_TEST_BACKENDS")
# The deploy story on SQLite and on a server: where the files go does not depend on
# the database, and every command here is a process of its own (about a second each).
DEPLOY_BACKENDS = [
    b for b in ("sqlite", "postgresql") if not _SELECTED or b in _SELECTED.split(",")
]


@dataclass(frozen=True)
class Installed:
    """The wheel, installed into a virtual environment of its own."""

    bin_dir: Path
    package: Path  # site-packages/sa_sequencing
    shipped_revisions: frozenset[str]  # the file names of the branch, read from the wheel

    def run(self, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            cwd=cwd,
            env=_venv_env(self.bin_dir),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def alembic(self, cwd: Path, *args: str) -> str:
        """``alembic ARGS`` in ``cwd``, which must succeed; its standard output."""
        result = self.run(cwd, str(self.bin_dir / "alembic"), *args)
        assert result.returncode == 0, f"alembic {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result.stdout

    def snapshot(self) -> dict[str, str]:
        """Every file of the installed package with a hash of its bytes."""
        return {
            str(path.relative_to(self.package)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(self.package.rglob("*"))
            if path.is_file()
        }

    def branch_files(self) -> set[str]:
        versions = self.package / "migrations" / "versions"
        return {p.name for p in versions.iterdir() if p.name != "__pycache__"}


def _venv_env(bin_dir: Path) -> dict[str, str]:
    """The environment of a shell in the virtual environment, without this test run's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# Session scope: the suite orders tests by database, which can split this module's
# tests apart, and a module-scoped fixture would then be built again for each part.
@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(root / "dist")
    with zipfile.ZipFile(wheel) as archive:
        shipped = frozenset(
            Path(name).name
            for name in archive.namelist()
            if name.startswith("sa_sequencing/migrations/versions/") and name.endswith(".py")
        )
    assert {
        "sa_sequencing_0001_create_tables.py",
        "sa_sequencing_0002_exact_keys.py",
        "sa_sequencing_0003_ledger_event_index.py",
        f"{BRANCH_HEAD}_counter_by.py",
    } <= shipped

    env_dir = root / "venv"
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    requirement = f"{wheel}[alembic,{','.join(b for b in DEPLOY_BACKENDS if b != 'sqlite')}]"
    install = ["install", "--quiet", "--disable-pip-version-check", requirement]
    # This interpreter's pip installs into an environment without pip of its own (pip
    # 22.3+ has --python): seconds faster than bootstrapping pip there.
    venv.EnvBuilder(with_pip=False, clear=True).create(env_dir)
    pip = [sys.executable, "-m", "pip", "--python", str(bin_dir / "python")]
    result = subprocess.run([*pip, *install], capture_output=True, text=True, check=False)
    if result.returncode != 0 and "--python" in result.stderr:  # an older pip
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        pip = [str(bin_dir / "python"), "-m", "pip"]
        result = subprocess.run([*pip, *install], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        cannot("installing the wheel", result)
    located = subprocess.run(
        [str(bin_dir / "python"), "-c", "import sa_sequencing; print(sa_sequencing.__file__)"],
        cwd=root,  # not the checkout, whose sa_sequencing/ would be found first
        env=_venv_env(bin_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    package = Path(located.stdout.strip()).parent
    assert "site-packages" in package.parts, package
    installed = Installed(bin_dir, package, shipped)
    assert installed.branch_files() == shipped
    return installed


@pytest.fixture
def database(backend: str, url: str, tmp_path: Path) -> Iterator[str]:
    """The backend's test database (SQLite: a file of this test), without our tables."""
    db_url = f"sqlite:///{tmp_path / 'app.sqlite'}" if backend == "sqlite" else url
    _drop_our_tables(db_url)
    yield db_url
    _drop_our_tables(db_url)


def _drop_our_tables(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        Sequencing(sa.MetaData(), table_prefix=PREFIX).drop_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    finally:
        engine.dispose()


def _table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _versions_in(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
            )
    finally:
        engine.dispose()


def _set_option(ini: Path, key: str, value: str) -> None:
    text = ini.read_text()
    pattern = re.compile(rf"^{re.escape(key)} =.*$", re.MULTILINE)
    assert pattern.search(text), f"{key} not in {ini}"
    ini.write_text(pattern.sub(lambda _: f"{key} = {value}", text, count=1))


def _new_project(installed: Installed, root: Path, url: str) -> Path:
    """``init -t sa_sequencing migrations``, configured as the docs say."""
    root.mkdir()
    result = installed.run(
        root,
        str(installed.bin_dir / "python"),
        "-m",
        "sa_sequencing.alembic",
        "init",
        "-t",
        "sa_sequencing",
        "migrations",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ini = root / "alembic.ini"
    _set_option(ini, "sqlalchemy.url", url.replace("%", "%%"))
    _set_option(ini, "sa_sequencing.table_prefix", PREFIX)
    env_py = root / "migrations" / "env.py"
    default_options = "configure_options: dict[str, Any] = {}"
    assert default_options in env_py.read_text()
    env_py.write_text(
        env_py.read_text().replace(
            default_options,
            f"configure_options: dict[str, Any] = {{'version_table': {VERSION_TABLE!r}}}",
        )
    )
    return root


def _project_revisions(project: Path) -> dict[str, str]:
    """The project's revision files: name -> source."""
    versions = project / "migrations" / "versions"
    return {p.name: p.read_text() for p in sorted(versions.glob("*.py"))}


def _one_new(before: dict[str, str], after: dict[str, str]) -> str:
    """The id of the one revision file that appeared in the project."""
    new = set(after) - set(before)
    assert len(new) == 1, f"new revision files in the project: {sorted(new)}"
    (name,) = new
    match = re.search(r"^revision: str = '(\w+)'$", after[name], re.MULTILINE)
    assert match, after[name]
    return match[1]


def _down_revisions(project: Path, revision: str) -> set[str]:
    (source,) = [s for s in _project_revisions(project).values() if f"= {revision!r}" in s]
    match = re.search(r"^down_revision: .* = (.+)$", source, re.MULTILINE)
    assert match, source
    down = ast.literal_eval(match[1])
    return {down} if isinstance(down, str) else set(down)


@pytest.mark.parametrize("backend", DEPLOY_BACKENDS, indirect=True)
def test_revisions_and_merges_land_in_the_project(
    installed: Installed, database: str, tmp_path: Path
) -> None:
    """init, upgrade, revision, merge; then the next deploy from a clean checkout."""
    pristine = installed.snapshot()
    project = _new_project(installed, tmp_path / "project", database)

    installed.alembic(project, "upgrade", "heads")
    assert {f"{PREFIX}sequences", VERSION_TABLE} <= _table_names(database)

    # On top of the branch's head, the only head: Alembic alone writes it into the package.
    before = _project_revisions(project)
    installed.alembic(project, "revision", "-m", "x")
    first = _one_new(before, _project_revisions(project))
    assert _down_revisions(project, first) == {BRANCH_HEAD}

    # A new base (--head=base): Alembic alone refuses it without --version-path.
    before = _project_revisions(project)
    installed.alembic(project, "revision", "-m", "app", "--head=base", "--branch-label=app")
    app = _one_new(before, _project_revisions(project))

    before = _project_revisions(project)
    installed.alembic(project, "merge", "-m", "join", "heads")
    merge = _one_new(before, _project_revisions(project))
    assert _down_revisions(project, merge) == {first, app}
    installed.alembic(project, "upgrade", "heads")

    assert installed.snapshot() == pristine  # nothing written into site-packages
    assert installed.branch_files() == installed.shipped_revisions

    # The next deploy: a clean checkout of the project folder, the pristine package, and
    # the database as the last deploy left it.
    deploy = tmp_path / "deploy"
    shutil.copytree(project, deploy)
    installed.alembic(deploy, "upgrade", "heads")
    assert _versions_in(database) == [merge]
    assert installed.snapshot() == pristine


def test_merge_naming_the_branch_first_and_version_path_into_the_package(
    installed: Installed, tmp_path: Path
) -> None:
    pristine = installed.snapshot()
    project = _new_project(installed, tmp_path / "project", f"sqlite:///{tmp_path / 'db'}")
    before = _project_revisions(project)
    installed.alembic(project, "revision", "-m", "app", "--head=base", "--branch-label=app")
    app = _one_new(before, _project_revisions(project))

    # Alembic alone writes a merge next to the first head named: here the branch's.
    before = _project_revisions(project)
    installed.alembic(project, "merge", "-m", "join", "sa_sequencing@head", "app@head")
    merge = _one_new(before, _project_revisions(project))
    assert _down_revisions(project, merge) == {BRANCH_HEAD, app}

    versions = installed.package / "migrations" / "versions"
    refused = installed.run(
        project,
        str(installed.bin_dir / "alembic"),
        "revision",
        "-m",
        "into the package",
        f"--version-path={versions}",
    )
    assert refused.returncode != 0
    assert "is the installed sa_sequencing package" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert installed.snapshot() == pristine
