"""Alembic for real: the ``init`` template, the ``sa_sequencing`` branch, merges, autogenerate.

Every database test runs Alembic in-process (``alembic.command``) on SQLite, PostgreSQL
and MariaDB/MySQL, against script directories in ``tmp_path``. The shared test database
also holds the rest of the suite's tables, so everything here is named with
:data:`PREFIX`, Alembic keeps its versions in :data:`VERSION_TABLE`, autogenerate only
looks at :data:`PREFIX` tables, and every test drops what it created.

The last test builds the wheel, installs it into a fresh virtual environment and uses
the template and the branch from the installed package.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import logging
import os
import re
import subprocess
import sys
import textwrap
import venv
from collections.abc import Iterator
from datetime import datetime
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import Script
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.orm import Session

import sa_sequencing.alembic as sa_alembic
from sa_sequencing import Sequencing
from sa_sequencing.store.types import exact_collation

PREFIX = "alembic_t_"
"""Prefix of every table the Alembic tests create (the branch's and the host's)."""
CREATE_ALL_PREFIX = "alembic_c_"
"""Prefix of the tables made by ``create_all`` to compare with the branch's."""
VERSION_TABLE = "alembic_version_sa_seq_test"
HEAD = "sa_sequencing_0004"
"""The head of the shipped branch."""
HOST_TABLE = f"{PREFIX}invoices"
ROLES = (
    "sequences",
    "sequence_counters",
    "sequence_reservations",
    "sequence_gaps",
    "sequence_pattern_versions",
    "sequence_audits",
)
REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- helpers


def sequencing_tables(prefix: str = PREFIX) -> set[str]:
    return {f"{prefix}{role}" for role in ROLES}


def host_metadata(*, with_sequencing: bool = True) -> sa.MetaData:
    """The host application's metadata: its own table, plus Sequencing(...) on it."""
    metadata = sa.MetaData()
    sa.Table(
        HOST_TABLE,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(64), nullable=False, unique=True),
    )
    if with_sequencing:
        Sequencing(metadata, table_prefix=PREFIX)
    return metadata


def only_test_tables(name: str | None, type_: str, parent_names: Any) -> bool:
    """``include_name`` hook: autogenerate sees only this module's tables."""
    return type_ != "table" or (name is not None and name.startswith(PREFIX))


def drop_everything(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        Sequencing(sa.MetaData(), table_prefix=PREFIX).drop_all(engine)
        Sequencing(sa.MetaData(), table_prefix=CREATE_ALL_PREFIX).drop_all(engine)
        with engine.begin() as conn:
            for name in (f"{PREFIX}future", HOST_TABLE, VERSION_TABLE):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def set_ini_option(ini: Path, key: str, value: str) -> None:
    """Edit one ``[alembic]`` option the way a user does: in the file."""
    text = ini.read_text()
    pattern = re.compile(rf"^{re.escape(key)} =.*$", re.MULTILINE)
    assert pattern.search(text), f"{key} not in {ini}"
    ini.write_text(pattern.sub(lambda _: f"{key} = {value}", text, count=1))


def ini_value(url: str) -> str:
    return url.replace("%", "%%")


def package_branch_files() -> list[str]:
    return sorted(p.name for p in sa_alembic.branch_directory().iterdir() if p.suffix == ".py")


def function_body(source: str, name: str) -> list[str]:
    """The statements of a top-level function, as source, minus comments."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return [ast.unparse(stmt) for stmt in node.body]
    raise AssertionError(f"no function {name}() in revision file")


def assert_empty_revision(path: Path) -> None:
    source = path.read_text()
    assert function_body(source, "upgrade") == ["pass"], source
    assert function_body(source, "downgrade") == ["pass"], source


def compare(url: str, metadata: sa.MetaData, **opts: Any) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={"include_name": only_test_tables, "version_table": VERSION_TABLE, **opts},
            )
            diff: list[Any] = compare_metadata(context, metadata)
            return diff
    finally:
        engine.dispose()


def assert_no_diff(url: str, metadata: sa.MetaData) -> None:
    """``compare_metadata`` finds nothing: with Alembic's defaults (types compared), and
    with server defaults compared too."""
    assert compare(url, metadata) == []
    assert compare(url, metadata, compare_type=True) == []
    assert compare(url, metadata, compare_type=True, compare_server_default=True) == []


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _isolate_process_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Alembic prepends to sys.path and env.py reconfigures logging: undo both."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    disabled = {
        name: logger.disabled
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.disabled = disabled.get(name, False)


@pytest.fixture
def clean_db(url: str) -> Iterator[str]:
    drop_everything(url)
    yield url
    drop_everything(url)


@pytest.fixture
def branch_untouched() -> Iterator[None]:
    """No test may write a revision into the installed package's branch directory."""
    before = package_branch_files()
    yield
    assert package_branch_files() == before


def configure_env(env_py: Path) -> None:
    """The user's edits of the template's env.py: their metadata, extra options."""
    text = env_py.read_text()
    default_metadata = (
        "target_metadata: MetaData = "
        "Sequencing(MetaData(), table_prefix=table_prefix(config)).metadata"
    )
    default_options = "configure_options: dict[str, Any] = {}"
    assert default_metadata in text and default_options in text
    text = text.replace(
        default_metadata,
        "target_metadata: MetaData = config.attributes.get('target_metadata') or "
        "Sequencing(MetaData(), table_prefix=table_prefix(config)).metadata",
    )
    text = text.replace(
        default_options,
        "configure_options: dict[str, Any] = {\n"
        f"    'version_table': {VERSION_TABLE!r},\n"
        f"    'include_name': lambda name, type_, parent: type_ != 'table'"
        f" or name.startswith({PREFIX!r}),\n"
        "}",
    )
    env_py.write_text(text)


def template_project(root: Path, url: str) -> Path:
    """``init -t sa_sequencing migrations`` in ``root``, edited as the docs say."""
    ini = root / "alembic.ini"
    command.init(sa_alembic.Config(str(ini)), "migrations", template=sa_alembic.TEMPLATE_NAME)
    set_ini_option(ini, "sqlalchemy.url", ini_value(url))
    set_ini_option(ini, sa_alembic.TABLE_PREFIX_OPTION, PREFIX)
    configure_env(root / "migrations" / "env.py")
    return ini


def make_config(ini: Path, metadata: sa.MetaData | None = None, **kw: Any) -> Any:
    attributes = {"target_metadata": metadata} if metadata is not None else {}
    return sa_alembic.Config(str(ini), attributes=attributes, **kw)


def host_revisions(root: Path) -> list[Path]:
    return sorted((root / "migrations" / "versions").glob("*.py"))


# --------------------------------------------------------------------------- template


def test_template_directory_and_synopsis() -> None:
    directory = sa_alembic.template_directory()
    # From the checkout the template is the repository's top-level directory; from a
    # wheel it is sa_sequencing/alembic_templates (see test_wheel_installs_...).
    installed = Path(sa_alembic.__file__).resolve().parent / "alembic_templates"
    assert directory in (REPO / "alembic_templates", installed)
    # list_templates opens <entry>/README for every entry: nothing else may live here.
    assert sorted(p.name for p in directory.iterdir()) == [sa_alembic.TEMPLATE_NAME]
    template = directory / sa_alembic.TEMPLATE_NAME
    assert sorted(p.name for p in template.iterdir() if p.name != "__pycache__") == [
        "README",
        "alembic.ini.mako",
        "env.py",
        "script.py.mako",
    ]
    out = io.StringIO()
    command.list_templates(sa_alembic.Config(stdout=out))
    synopsis = (template / "README").read_text().splitlines()[0]
    assert f"{sa_alembic.TEMPLATE_NAME} - {synopsis}" in out.getvalue()


def test_command_line_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sa_alembic.main(["init", "-t", "sa_sequencing", "migrations"])
    ini = (tmp_path / "alembic.ini").read_text()
    assert "script_location = %(here)s/migrations" in ini
    assert "path_separator = newline" in ini
    assert (
        "version_locations =\n    %(here)s/migrations/versions\n"
        "    sa_sequencing:migrations/versions\n"
    ) in ini
    assert "sa_sequencing.table_prefix =" in ini
    assert {p.name for p in (tmp_path / "migrations").iterdir()} == {
        "README",
        "env.py",
        "script.py.mako",
        "versions",
    }
    locations = make_config(tmp_path / "alembic.ini").get_version_locations_list()
    assert locations == [f"{tmp_path}/migrations/versions", sa_alembic.VERSION_LOCATION]


def test_command_line_runs_as_module(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "sa_sequencing.alembic", "list_templates"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "sa_sequencing - " in result.stdout


def test_template_env_default_metadata_is_the_sequencing_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unedited env.py: offline SQL of the branch, with the prefix from alembic.ini."""
    monkeypatch.chdir(tmp_path)
    ini = tmp_path / "alembic.ini"
    command.init(sa_alembic.Config(str(ini)), "migrations", template="sa_sequencing")
    set_ini_option(ini, "sqlalchemy.url", "postgresql://u@h/db")
    set_ini_option(ini, "sa_sequencing.table_prefix", "acme_")
    out = io.StringIO()
    command.upgrade(make_config(ini, output_buffer=out), "sa_sequencing@head", sql=True)
    sql = out.getvalue()
    for table in sequencing_tables("acme_"):
        assert f"CREATE TABLE {table} (" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('sa_sequencing_0001')" in sql
    assert f"SET version_num='{HEAD}' WHERE" in sql


# --------------------------------------------------------------------------- version_locations


@pytest.mark.parametrize(
    ("separator", "locations"),
    [
        ("space", "%(here)s/versions sa_sequencing:migrations/versions"),
        ("newline", "\n    %(here)s/versions\n    sa_sequencing:migrations/versions"),
    ],
    ids=["space", "newline"],
)
def test_branch_reachable_through_version_locations(
    tmp_path: Path, separator: str, locations: str
) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text(
        "[alembic]\n"
        f"script_location = {tmp_path}\n"
        f"path_separator = {separator}\n"
        f"version_locations = {locations}\n"
    )
    script = ScriptDirectory.from_config(make_config(ini))
    head = script.get_revision("sa_sequencing@head")
    assert head is not None
    assert head.revision == HEAD
    # the branch, newest first: every shipped revision carries its label
    branch = list(script.walk_revisions("base", "sa_sequencing@head"))
    assert [r.revision for r in branch] == [
        HEAD,
        "sa_sequencing_0003",
        "sa_sequencing_0002",
        "sa_sequencing_0001",
    ]
    assert all(r.branch_labels == {"sa_sequencing"} for r in branch)
    assert Path(head.path).parent == sa_alembic.branch_directory()


@pytest.mark.skipif(os.pathsep != ":", reason="os.pathsep is ':' on POSIX only")
def test_path_separator_os_breaks_the_package_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented pitfall: with ``os``, the resource is cut at its colon."""
    monkeypatch.chdir(tmp_path)  # from the checkout, "sa_sequencing" would be a directory
    ini = template_project(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    text = ini.read_text()
    text = text.replace("path_separator = newline", "path_separator = os")
    text = text.replace(
        "version_locations =\n    %(here)s/migrations/versions\n"
        "    sa_sequencing:migrations/versions\n",
        "version_locations = %(here)s/migrations/versions:sa_sequencing:migrations/versions\n",
    )
    ini.write_text(text)
    config = make_config(ini)
    assert config.get_version_locations_list() == [
        f"{tmp_path}/migrations/versions",
        "sa_sequencing",
        "migrations/versions",
    ]
    # Alembic alone does not notice: the branch is simply not there.
    assert ScriptDirectory.from_config(config).get_heads() == []
    # The template's env.py does.
    with pytest.raises(CommandError, match="path_separator"):
        command.upgrade(make_config(ini), "heads")
    assert not sequencing_tables() & table_names(f"sqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.parametrize("where", ["ini", "toml"])
def test_check_version_locations_accepts_working_forms(tmp_path: Path, where: str) -> None:
    if where == "ini":
        ini = tmp_path / "alembic.ini"
        ini.write_text(
            f"[alembic]\nscript_location = {tmp_path}\npath_separator = space\n"
            "version_locations = %(here)s/v sa_sequencing:migrations/versions\n"
        )
        config = make_config(ini)
    else:
        toml = tmp_path / "pyproject.toml"
        toml.write_text(
            f'[tool.alembic]\nscript_location = "{tmp_path}"\n'
            'version_locations = ["%(here)s/v", "sa_sequencing:migrations/versions"]\n'
        )
        config = sa_alembic.Config(toml_file=str(toml))
    sa_alembic.check_version_locations(config)
    script = ScriptDirectory.from_config(config)
    head = script.get_revision("sa_sequencing@head")
    assert head is not None
    assert head.revision == HEAD


def test_table_prefix_option(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = x\nsa_sequencing.table_prefix = acme_\n")
    assert sa_alembic.table_prefix(make_config(ini)) == "acme_"
    ini.write_text("[alembic]\nscript_location = x\nsa_sequencing.table_prefix =\n")
    assert sa_alembic.table_prefix(make_config(ini)) == ""
    ini.write_text("[alembic]\nscript_location = x\n")
    assert sa_alembic.table_prefix(make_config(ini)) == ""
    assert sa_alembic.table_prefix(None) == ""
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[tool.alembic]\nscript_location = "x"\n"sa_sequencing.table_prefix" = "t_"\n')
    assert sa_alembic.table_prefix(sa_alembic.Config(toml_file=str(toml))) == "t_"


# --------------------------------------------------------------------------- databases


@pytest.mark.usefixtures("branch_untouched")
def test_new_project_from_template(
    clean_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """init -t sa_sequencing, upgrade the branch, host branch, merge, no diff, downgrade."""
    url = clean_db
    monkeypatch.chdir(tmp_path)
    ini = template_project(tmp_path, url)
    metadata = host_metadata()

    command.upgrade(make_config(ini, metadata), "sa_sequencing@head")
    assert sequencing_tables() <= table_names(url)
    assert HOST_TABLE not in table_names(url)

    # The host's first revision, on its own base and branch; env.py's hook puts it in the
    # project's directory although there are two version locations and no --version-path.
    first = command.revision(
        make_config(ini, metadata),
        message="create invoices",
        autogenerate=True,
        head="base",
        branch_label="app",
    )
    assert isinstance(first, Script)
    assert Path(first.path).parent == tmp_path / "migrations" / "versions"
    source = Path(first.path).read_text()
    assert f"op.create_table('{HOST_TABLE}'" in source
    # The branch already made the sequencing tables exactly as the models want them.
    assert "sequence" not in source
    command.upgrade(make_config(ini, metadata), "heads")
    assert HOST_TABLE in table_names(url)

    # Join the two histories; the merge goes to the project's directory.
    merge = command.merge(make_config(ini, metadata), "heads", message="join sa_sequencing")
    assert isinstance(merge, Script)
    assert Path(merge.path).parent == tmp_path / "migrations" / "versions"
    assert set(merge.down_revision) == {HEAD, first.revision}  # type: ignore[arg-type]
    assert ScriptDirectory.from_config(make_config(ini)).get_heads() == [merge.revision]
    command.upgrade(make_config(ini, metadata), "heads")

    # Autogenerate: nothing to do, neither in compare_metadata nor in a real revision.
    assert_no_diff(url, metadata)
    command.check(make_config(ini, metadata))  # raises AutogenerateDiffsDetected
    empty = command.revision(make_config(ini, metadata), message="no changes", autogenerate=True)
    assert isinstance(empty, Script)
    assert_empty_revision(Path(empty.path))
    command.upgrade(make_config(ini, metadata), "heads")

    command.downgrade(make_config(ini, metadata), "base")
    remaining = table_names(url)
    assert not sequencing_tables() & remaining
    assert HOST_TABLE not in remaining


FUTURE_REVISION = '''
"""A later release of sa_sequencing: one more column on the definitions table."""
import sqlalchemy as sa
from alembic import op

from sa_sequencing.alembic import table_prefix

revision = "sa_sequencing_9999"
down_revision = "sa_sequencing_0004"
branch_labels = None
depends_on = None


def upgrade():
    prefix = table_prefix(op.get_context().config)
    op.add_column(f"{prefix}sequences", sa.Column("future_note", sa.String(20)))


def downgrade():
    prefix = table_prefix(op.get_context().config)
    op.drop_column(f"{prefix}sequences", "future_note")
'''

EXISTING_ENV_PY = f'''
"""An existing project's env.py (hand-written): metadata comes from config.attributes."""
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
target_metadata = config.attributes.get("target_metadata")


def include_name(name, type_, parent_names):
    return type_ != "table" or name.startswith({PREFIX!r})


connectable = engine_from_config(
    config.get_section(config.config_ini_section, {{}}),
    prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table={VERSION_TABLE!r},
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
'''


@pytest.mark.usefixtures("branch_untouched")
def test_existing_project_adds_the_branch(
    clean_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing history, then: version_locations, upgrade sa_sequencing@head, merge."""
    url = clean_db
    monkeypatch.chdir(tmp_path)
    ini = tmp_path / "alembic.ini"
    command.init(AlembicConfig(str(ini)), "migrations", template="generic")
    (tmp_path / "migrations" / "env.py").write_text(EXISTING_ENV_PY)
    set_ini_option(ini, "sqlalchemy.url", ini_value(url))

    # Before sa_sequencing: the project has its own history.
    before = host_metadata(with_sequencing=False)
    command.revision(make_config(ini, before), message="create invoices", autogenerate=True)
    command.upgrade(make_config(ini, before), "head")
    (host_head,) = ScriptDirectory.from_config(make_config(ini)).get_heads()

    # The documented steps: version_locations (path_separator = space), the prefix,
    # upgrade the branch, merge the heads.
    set_ini_option(ini, "path_separator", "space")
    text = ini.read_text().replace(
        "[alembic]\n",
        "[alembic]\n"
        "version_locations = %(here)s/migrations/versions sa_sequencing:migrations/versions\n"
        f"sa_sequencing.table_prefix = {PREFIX}\n",
        1,
    )
    ini.write_text(text)
    metadata = host_metadata()
    command.upgrade(make_config(ini, metadata), "sa_sequencing@head")
    assert sequencing_tables() <= table_names(url)
    command.merge(make_config(ini, metadata), "heads", message="join sa_sequencing")
    command.upgrade(make_config(ini, metadata), "heads")
    script = ScriptDirectory.from_config(make_config(ini))
    (merge_head,) = script.get_heads()
    merge = script.get_revision(merge_head)
    assert merge is not None
    assert set(merge.down_revision) == {host_head, HEAD}  # type: ignore[arg-type]
    assert Path(merge.path).parent == tmp_path / "migrations" / "versions"
    assert_no_diff(url, metadata)
    command.check(make_config(ini, metadata))

    # A later release ships a new revision on the branch: it shows up as a second head,
    # "upgrade heads" applies it and a merge joins the histories again.
    future = tmp_path / "future_release"
    future.mkdir()
    (future / "sa_sequencing_9999_future.py").write_text(FUTURE_REVISION)
    text = ini.read_text().replace(
        "sa_sequencing:migrations/versions\n",
        "sa_sequencing:migrations/versions %(here)s/future_release\n",
        1,
    )
    ini.write_text(text)
    assert len(ScriptDirectory.from_config(make_config(ini)).get_heads()) == 2
    command.upgrade(make_config(ini, metadata), "heads")
    engine = sa.create_engine(url)
    try:
        columns = {c["name"] for c in sa.inspect(engine).get_columns(f"{PREFIX}sequences")}
    finally:
        engine.dispose()
    assert "future_note" in columns
    command.merge(make_config(ini, metadata), "heads", message="sa_sequencing 9999")
    command.upgrade(make_config(ini, metadata), "heads")
    assert len(ScriptDirectory.from_config(make_config(ini)).get_heads()) == 1

    command.downgrade(make_config(ini, metadata), "base")
    remaining = table_names(url)
    assert not sequencing_tables() & remaining
    assert HOST_TABLE not in remaining


def describe_schema(engine: sa.Engine, prefix: str) -> dict[str, Any]:
    """Everything reflection tells about the six tables, with the prefix taken out."""

    def strip(name: str | None) -> str | None:
        return None if name is None else name.replace(prefix, "<prefix>")

    inspector = sa.inspect(engine)
    described: dict[str, Any] = {}
    for role in ROLES:
        table = f"{prefix}{role}"
        described[role] = {
            "columns": [
                (
                    c["name"],
                    c["type"].compile(dialect=engine.dialect),
                    c["nullable"],
                    strip(None if c.get("default") is None else str(c["default"])),
                    c.get("autoincrement"),
                )
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (
                    tuple(fk["constrained_columns"]),
                    strip(fk["referred_table"]),
                    tuple(fk["referred_columns"]),
                    (fk.get("options") or {}).get("ondelete"),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique_constraints": sorted(
                (strip(uq["name"]) or "", tuple(uq["column_names"]))
                for uq in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (strip(ix["name"]) or "", tuple(ix["column_names"]), ix["unique"])
                for ix in inspector.get_indexes(table)
            ),
        }
    return described


def minimal_project(root: Path, url: str) -> Path:
    """A hand-written Alembic project that only lists the branch and its own directory."""
    ini = root / "alembic.ini"
    (root / "versions").mkdir()
    (root / "env.py").write_text(EXISTING_ENV_PY)
    (root / "script.py.mako").write_text("")
    ini.write_text(
        "[alembic]\n"
        f"script_location = {root}\n"
        "path_separator = newline\n"
        "version_locations =\n    %(here)s/versions\n    sa_sequencing:migrations/versions\n"
        f"sa_sequencing.table_prefix = {PREFIX}\n"
        f"sqlalchemy.url = {ini_value(url)}\n"
    )
    return ini


@pytest.mark.usefixtures("branch_untouched")
def test_branch_matches_create_all(clean_db: str, tmp_path: Path) -> None:
    """Column order, primary keys, foreign keys, uniques, indexes: as create_all makes them.

    Autogenerate does not see everything (the order of a primary key's columns, the
    fractional seconds of a MySQL DATETIME): reflection of both is compared instead.
    """
    url = clean_db
    ini = minimal_project(tmp_path, url)
    command.upgrade(make_config(ini), "sa_sequencing@head")
    engine = sa.create_engine(url)
    try:
        Sequencing(sa.MetaData(), table_prefix=CREATE_ALL_PREFIX).create_all(engine)
        assert describe_schema(engine, PREFIX) == describe_schema(engine, CREATE_ALL_PREFIX)
    finally:
        engine.dispose()
    command.downgrade(make_config(ini), "sa_sequencing@base")
    assert not sequencing_tables() & table_names(url)


KEY_COLUMNS_0002 = (
    ("sequences", "name"),
    ("sequences", "scope"),
    ("sequence_counters", "scope"),
    ("sequence_counters", "period"),
    ("sequence_reservations", "reservation_id"),
    ("sequence_reservations", "scope"),
    ("sequence_reservations", "period"),
    ("sequence_gaps", "scope"),
    ("sequence_gaps", "period"),
    ("sequence_audits", "sequence_name"),
    ("sequence_audits", "scope"),
    ("sequence_audits", "number"),
)
"""The (table role, column) pairs that revision 0002 gives the exact collation."""


def key_collations(engine: sa.Engine) -> dict[tuple[str, str], str]:
    """(table, column) -> collation of the MySQL/MariaDB key columns of the branch."""
    keys = {(f"{PREFIX}{role}", column) for role, column in KEY_COLUMNS_0002}
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT table_name, column_name, collation_name "
                "FROM information_schema.columns WHERE table_schema = DATABASE()"
            )
        ).all()
    return {(t, c): coll for t, c, coll in rows if (t, c) in keys}


def table_collations(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT table_name, table_collation FROM information_schema.tables "
                "WHERE table_schema = DATABASE()"
            )
        ).all()
    return dict(rows)  # type: ignore[arg-type]


def legacy_draw(url: str, scope: str) -> str:
    """One number of ``inv`` in ``scope`` as the library drew it on revision 0001's
    tables (the library of today reads columns later revisions add): the counter row
    found by the server's comparison of scopes, moved by one, and a ledger row."""
    engine = sa.create_engine(url)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    s, c, a = (f"{PREFIX}{role}" for role in ("sequences", "sequence_counters", "sequence_audits"))
    try:
        with engine.begin() as conn:
            sid = conn.execute(sa.text(f"SELECT id FROM {s} WHERE name = 'inv'")).scalar()
            if sid is None:
                conn.execute(
                    sa.text(
                        f"INSERT INTO {s} (name, scope, pattern, reset_period, step, start, "
                        "gap_policy, overflow, exhaustion_threshold, timezone, "
                        "fiscal_year_start, cache_size, audit_numbers, allow_repeats, "
                        "is_locked, revision, created_at, updated_at) VALUES ('inv', '', "
                        "'INV-{COUNTER}', 'never', 1, 1, 'allow_gaps', 'throw_exception', 90, "
                        "'UTC', 1, 0, :t, :f, :f, 1, :now, :now)"
                    ),
                    {"t": True, "f": False, "now": now},
                )
                sid = conn.execute(sa.text(f"SELECT id FROM {s} WHERE name = 'inv'")).scalar()
            key = {"sid": sid, "scope": scope, "now": now}
            where = "sequence_id = :sid AND scope = :scope AND period = ''"
            value = conn.execute(sa.text(f"SELECT value FROM {c} WHERE {where}"), key).scalar()
            if value is None:
                value = 1
                conn.execute(
                    sa.text(
                        f"INSERT INTO {c} (sequence_id, scope, period, value, cycle, updated_at) "
                        "VALUES (:sid, :scope, '', 1, 1, :now)"
                    ),
                    key,
                )
            else:
                value += 1
                conn.execute(
                    sa.text(f"UPDATE {c} SET value = :value WHERE {where}"),
                    {**key, "value": value},
                )
            conn.execute(
                sa.text(
                    f"INSERT INTO {a} (sequence_name, scope, event, number, counter_value, "
                    "created_at) VALUES ('inv', :scope, 'number_generated', :number, :value, "
                    ":now)"
                ),
                {**key, "number": f"INV-{value}", "value": value},
            )
        return f"INV-{value}"
    finally:
        engine.dispose()


def draw(url: str, scope: str) -> str:
    """One number of ``inv`` in ``scope``, by a Sequencing on the branch's tables."""
    engine = sa.create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            seqs = Sequencing(sa.MetaData(), table_prefix=PREFIX).manager(session)
            if seqs.find("inv") is None:
                seqs.define("inv", "INV-{COUNTER}")
            return seqs.generate("inv", scope=scope)
    finally:
        engine.dispose()


@pytest.mark.usefixtures("branch_untouched")
def test_0002_makes_keys_exact_on_an_existing_install(clean_db: str, tmp_path: Path) -> None:
    """A database at revision 0001 (numbers already drawn) upgraded to 0002: on
    MySQL/MariaDB the key columns get the exact collation, keeping rows, keys and
    indexes, and ``acme``/``ACME`` count apart from then on; elsewhere nothing changes.
    No autogenerate diff afterwards; the downgrade restores the table default."""
    url = clean_db
    ini = minimal_project(tmp_path, url)
    command.upgrade(make_config(ini), "sa_sequencing_0001")
    engine = sa.create_engine(url)
    mysql_family = engine.dialect.name in ("mysql", "mariadb")
    try:
        assert legacy_draw(url, "acme") == "INV-1"
        # the bug 0002 cures: under utf8mb4_general_ci, ACME drew from acme's counter
        assert legacy_draw(url, "ACME") == ("INV-2" if mysql_family else "INV-1")
        if mysql_family:
            before = key_collations(engine)
            defaults = table_collations(engine)
            assert all(coll == defaults[t] for (t, _), coll in before.items()), before
            # the query the upgrade notes give, to find the spellings that shared
            with engine.connect() as conn:
                shared = conn.execute(
                    sa.text(
                        "SELECT sequence_name, MIN(scope) AS scope, "
                        "COUNT(DISTINCT CAST(scope AS BINARY)) AS spellings "
                        f"FROM {PREFIX}sequence_audits GROUP BY sequence_name, scope "
                        "HAVING COUNT(DISTINCT CAST(scope AS BINARY)) > 1"
                    )
                ).all()
            assert [(row.sequence_name, row.spellings) for row in shared] == [("inv", 2)]

        command.upgrade(make_config(ini), "sa_sequencing@head")
        assert draw(url, "acme") == ("INV-3" if mysql_family else "INV-2")
        assert draw(url, "ACME") == ("INV-1" if mysql_family else "INV-2")
        assert draw(url, "Acme") == "INV-1"
        if mysql_family:
            exact = exact_collation(engine.dialect)
            after = key_collations(engine)
            assert len(after) == len(KEY_COLUMNS_0002)
            assert set(after.values()) == {exact}
        metadata = Sequencing(sa.MetaData(), table_prefix=PREFIX).metadata
        assert_no_diff(url, metadata)
        command.check(make_config(ini, metadata))
        # the same tables as create_all makes them, indexes and keys included
        Sequencing(sa.MetaData(), table_prefix=CREATE_ALL_PREFIX).create_all(engine)
        assert describe_schema(engine, PREFIX) == describe_schema(engine, CREATE_ALL_PREFIX)

        # Down again: keys that now differ only by case would collide under the
        # default collation (a duplicate key error), so they go first.
        with engine.begin() as conn:
            for table in reversed(Sequencing(sa.MetaData(), table_prefix=PREFIX).tables.all()):
                conn.execute(table.delete())
        command.downgrade(make_config(ini), "sa_sequencing_0001")
        if mysql_family:
            assert key_collations(engine) == before
    finally:
        engine.dispose()
    command.downgrade(make_config(ini), "sa_sequencing@base")
    assert not sequencing_tables() & table_names(url)


@pytest.mark.usefixtures("branch_untouched")
def test_0004_adds_per_series_counters_to_an_existing_install(
    clean_db: str, tmp_path: Path
) -> None:
    """A database at revision 0003 with numbers drawn, upgraded to 0004: the counters
    go on where they were, a ``counter_by`` sequence keys its counters by period keys
    longer than the old 16 characters, and the schema is create_all's. The downgrade
    (once no long key is left) drops ``counter_by`` again."""
    url = clean_db
    ini = minimal_project(tmp_path, url)
    command.upgrade(make_config(ini), "sa_sequencing_0003")
    engine = sa.create_engine(url)
    counters = f"{PREFIX}sequence_counters"
    try:
        assert [legacy_draw(url, "acme") for _ in range(2)] == ["INV-1", "INV-2"]
        command.upgrade(make_config(ini), "sa_sequencing@head")
        assert draw(url, "acme") == "INV-3"
        with Session(engine) as session, session.begin():
            seqs = Sequencing(sa.MetaData(), table_prefix=PREFIX).manager(session)
            assert seqs.get("inv").counter_by == ()
            seqs.define("dep", "D-{DEPARTMENT}-{COUNTER}", counter_by=("DEPARTMENT",))
            department = "PROCUREMENT_AND_LOGISTICS"
            assert seqs.generate("dep", context={"DEPARTMENT": department}) == f"D-{department}-1"
        with engine.connect() as conn:
            keys = set(conn.execute(sa.text(f"SELECT period FROM {counters}")).scalars())
        assert keys == {"", f"|DEPARTMENT={department}"}
        metadata = Sequencing(sa.MetaData(), table_prefix=PREFIX).metadata
        assert_no_diff(url, metadata)
        Sequencing(sa.MetaData(), table_prefix=CREATE_ALL_PREFIX).create_all(engine)
        assert describe_schema(engine, PREFIX) == describe_schema(engine, CREATE_ALL_PREFIX)

        with engine.begin() as conn:
            conn.execute(sa.text(f"DELETE FROM {counters} WHERE period <> ''"))
        command.downgrade(make_config(ini), "sa_sequencing_0003")
        columns = {c["name"] for c in sa.inspect(engine).get_columns(f"{PREFIX}sequences")}
        assert "counter_by" not in columns
        assert legacy_draw(url, "acme") == "INV-4"
    finally:
        engine.dispose()
    command.downgrade(make_config(ini), "sa_sequencing@base")
    assert not sequencing_tables() & table_names(url)


@pytest.mark.usefixtures("branch_untouched")
def test_tables_made_by_create_all_are_stamped(clean_db: str, tmp_path: Path) -> None:
    """The documented path for tables that create_all made before Alembic knew them."""
    url = clean_db
    ini = minimal_project(tmp_path, url)
    metadata = host_metadata()
    engine = sa.create_engine(url)
    try:
        Sequencing(sa.MetaData(), table_prefix=PREFIX).create_all(engine)
    finally:
        engine.dispose()
    command.stamp(make_config(ini, metadata), "sa_sequencing@head")
    out = io.StringIO()
    command.current(make_config(ini, metadata, stdout=out))
    assert f"{HEAD} (head)" in out.getvalue()
    assert compare(url, Sequencing(sa.MetaData(), table_prefix=PREFIX).metadata) == []
    command.downgrade(make_config(ini, metadata), "sa_sequencing@base")
    assert not sequencing_tables() & table_names(url)


@pytest.mark.usefixtures("branch_untouched")
def test_revision_descending_from_the_branch_stays_out_of_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alembic would write it next to its head, in site-packages; env.py redirects it."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    ini = template_project(tmp_path, url)
    command.upgrade(make_config(ini), "sa_sequencing@head")
    command.revision(
        make_config(ini), message="on top", autogenerate=True, head="sa_sequencing@head"
    )
    (written,) = host_revisions(tmp_path)
    assert f"down_revision: str | Sequence[str] | None = '{HEAD}'" in (written.read_text())
    assert_empty_revision(written)


# --------------------------------------------------------------------------- the wheel

WHEEL_SCRIPT = """
set -eu
python - <<'EOF'
import pathlib, sa_sequencing, sa_sequencing.alembic as a
site = pathlib.Path(sa_sequencing.__file__).resolve().parent
assert "site-packages" in str(site), site
assert a.template_directory() == site / "alembic_templates", a.template_directory()
assert (site / "migrations" / "versions" / "sa_sequencing_0001_create_tables.py").is_file()
print("installed at", site)
EOF
python -m sa_sequencing.alembic list_templates
python -m sa_sequencing.alembic init -t sa_sequencing migrations
sed -i 's#^sqlalchemy.url = .*#sqlalchemy.url = sqlite:///app.db#' alembic.ini
sed -i 's#^sa_sequencing.table_prefix =.*#sa_sequencing.table_prefix = w_#' alembic.ini
alembic upgrade sa_sequencing@head
alembic revision --autogenerate -m "nothing to do" --head=sa_sequencing@head
alembic upgrade heads
alembic current
python - <<'EOF'
import ast, pathlib, sqlite3
tables = {r[0] for r in sqlite3.connect("app.db").execute(
    "select name from sqlite_master where type = 'table'")}
assert {"w_sequences", "w_sequence_counters", "w_sequence_reservations", "w_sequence_gaps",
        "w_sequence_pattern_versions", "w_sequence_audits"} <= tables, tables
(rev,) = pathlib.Path("migrations/versions").glob("*.py")
for node in ast.parse(rev.read_text()).body:
    if isinstance(node, ast.FunctionDef):
        assert [ast.unparse(s) for s in node.body] == ["pass"], rev.read_text()
EOF
alembic downgrade base
python - <<'EOF'
import sqlite3
tables = {r[0] for r in sqlite3.connect("app.db").execute(
    "select name from sqlite_master where type = 'table'")}
assert tables == {"alembic_version"}, tables
print("WHEEL OK")
EOF
"""


def test_wheel_installs_template_and_branch(tmp_path: Path) -> None:
    """Build the wheel, install it in a clean venv, use template + branch from there."""
    dist = tmp_path / "dist"
    if importlib.util.find_spec("build") is not None:
        build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist)]
        if importlib.util.find_spec("hatchling") is not None:
            build.append("--no-isolation")  # the build backend is here: no download needed
    else:  # the [test] extra has no "build": pip builds the wheel the same way (PEP 517)
        build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist)]
    subprocess.run([*build, str(REPO)], check=True, capture_output=True, text=True)
    (wheel,) = dist.glob("sa_sequencing-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[alembic]"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )

    project = tmp_path / "project"
    project.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-c", textwrap.dedent(WHEEL_SCRIPT)],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WHEEL OK" in result.stdout
    assert "sa_sequencing - " in result.stdout
