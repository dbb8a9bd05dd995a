"""Fixtures of the recipe tests: each recipe of ``docs/recipes/`` runs against a
database of its own on every backend.

The recipes' tables have the library's default names, the names the rest of the suite
uses on the same servers; so each test gets a namespace of its own (a PostgreSQL
schema, a MySQL database, a SQLite file), dropped afterwards, as ``test_readme`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from schemas import private_database

NAMESPACE = "sa_seq_recipes"


@pytest.fixture
def recipe_url(backend: str, url: str, tmp_path: Path) -> Iterator[str]:
    """A database of the backend that holds nothing but what the recipe creates."""
    yield from private_database(backend, url, str(tmp_path / "recipe.db"), NAMESPACE)
