"""The README's Python code runs as written, top to bottom, and twice.

The ```python blocks of README.md are run in order in one namespace, with one change:
the engine URL string becomes the test database's. Then all of them run again in a new
namespace on the same database, as a second start of the application does: the tables
exist, the sequence is defined already, the numbers go on.

The README's tables have the library's default names, the names the rest of the suite
uses on the same servers; so the README runs in a namespace of its own on each server
(a PostgreSQL schema, a MySQL database, a SQLite file of its own), dropped afterwards.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from datetime import timezone
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from schemas import private_database

README = Path(__file__).resolve().parents[2] / "README.md"
README_URL = "postgresql+psycopg://app@localhost/app"
"""The engine URL string of the README, the one thing replaced."""
NAMESPACE = "sa_seq_readme"


def python_blocks() -> list[str]:
    blocks = re.findall(r"^```python\n(.*?)^```$", README.read_text(), re.MULTILINE | re.DOTALL)
    assert blocks, "no ```python block in README.md"
    return blocks


def readme_code(url: str) -> str:
    """The README's Python blocks, in order, the engine URL string replaced."""
    code = "\n".join(python_blocks())
    literal = f'"{README_URL}"'
    assert code.count(literal) == 1, f"README.md must create its engine from {literal}"
    return code.replace(literal, repr(url))


@pytest.fixture
def readme_url(backend: str, url: str, tmp_path: Path) -> Iterator[str]:
    """A database of the backend that holds nothing but what the README creates."""
    yield from private_database(backend, url, str(tmp_path / "readme.db"), NAMESPACE)


def run_readme(url: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Run the README's code as the body of a module of its own, as a script runs.

    The module is in ``sys.modules`` while it runs: the ORM resolves the annotations of
    a mapped class in the module that declares it.
    """
    module = ModuleType(f"readme_{uuid.uuid4().hex}")
    module.__file__ = str(README)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        exec(compile(readme_code(url), str(README), "exec"), module.__dict__)
    finally:
        engine = module.__dict__.get("engine")
        if isinstance(engine, sa.Engine):
            engine.dispose()
    return module


def invoice_numbers(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT number FROM invoices ORDER BY id")).scalars())
    finally:
        engine.dispose()


def test_readme_runs_top_to_bottom_twice(readme_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    year = datetime.now(timezone.utc).year  # the definition's time zone is UTC

    first = run_readme(readme_url, monkeypatch)
    assert hasattr(first, "Invoice")
    # The ORM block's invoice draws after the first block's number of tenant t1.
    assert invoice_numbers(readme_url) == [f"INV-{year}-SALES-00002"]

    run_readme(readme_url, monkeypatch)  # the application starts again on the same database
    assert invoice_numbers(readme_url) == [
        f"INV-{year}-SALES-00002",
        f"INV-{year}-SALES-00004",
    ]
