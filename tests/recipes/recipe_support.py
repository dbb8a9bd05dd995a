"""Loading the recipes of ``docs/recipes/`` and pointing them at a test database."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "recipes"


@functools.cache
def load_recipe(name: str) -> ModuleType:
    """``docs/recipes/<name>.py`` as a module (in ``sys.modules``, where the ORM and
    the frameworks resolve its annotations); loaded once per test session, as an
    application imports its module once."""
    path = RECIPES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sa_sequencing_recipe_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def async_url(url: str) -> str:
    """The asyncio driver's URL for a test database URL (psycopg 3 serves both)."""
    parsed = sa.make_url(url)
    drivers = {"sqlite": "sqlite+aiosqlite", "mysql": "mysql+asyncmy"}
    backend = parsed.get_backend_name()
    if backend in drivers:
        parsed = parsed.set(drivername=drivers[backend])
    return parsed.render_as_string(hide_password=False)
