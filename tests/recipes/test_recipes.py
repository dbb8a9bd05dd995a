"""The recipes of ``docs/recipes/`` run as the docs show them, through each framework's
test client: many clients at once, on every database, and every committed document
carries one of the numbers 1..N of its scope, each once, exactly as the responses said.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from datetime import timezone
from typing import Any

import pytest
import sqlalchemy as sa
from recipe_support import RECIPES
from recipe_support import async_url
from recipe_support import load_recipe
from threads import run_together

THREADS = 8
ROUNDS = 5
SCOPES = ("acme", "globex")


def post_together(post: Callable[[int, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """``post(thread, round)`` from THREADS threads released at once, ROUNDS each."""
    per_thread = run_together(THREADS, lambda t: [post(t, r) for r in range(ROUNDS)])
    return [result for results in per_thread for result in results]


def assert_numbered(
    results: list[dict[str, Any]],
    stored: list[tuple[Any, ...]],
    *,
    scope: str,
    prefix: str,
    width: int,
) -> None:
    """Each scope's numbers are ``prefix`` + 1..N (zero-padded to ``width``), each
    once, and the committed rows hold exactly the numbers the responses gave."""
    assert len(results) == THREADS * ROUNDS
    per_scope = Counter(result[scope] for result in results)
    assert set(per_scope) == set(SCOPES)
    for name, count in per_scope.items():
        numbers = sorted(r["number"] for r in results if r[scope] == name)
        assert numbers == [f"{prefix}{n:0{width}d}" for n in range(1, count + 1)], name
    assert sorted(stored) == sorted((r["id"], r[scope], r["number"]) for r in results)


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def today() -> datetime:
    return datetime.now(timezone.utc)  # the recipes' sequences count in UTC


def test_fastapi_recipe(recipe_url: str) -> None:
    from fastapi.testclient import TestClient

    app = load_recipe("fastapi_app").create_app(recipe_url)
    with TestClient(app) as client:

        def post(thread: int, round: int) -> dict[str, Any]:
            body = {"tenant": SCOPES[(thread + round) % 2], "customer": f"c{thread}-{round}"}
            response = client.post("/invoices", json=body)
            assert response.status_code == 201, response.text
            return dict(response.json())

        results = post_together(post)
        assert client.get(f"/invoices/{results[0]['id']}").json() == results[0]
        assert client.get("/invoices/0").status_code == 404
    stored = rows(recipe_url, "SELECT id, tenant, number FROM invoices")
    assert_numbered(results, stored, scope="tenant", prefix=f"INV-{today():%Y}-", width=5)


def test_sqlmodel_recipe(recipe_url: str) -> None:
    from fastapi.testclient import TestClient

    app = load_recipe("sqlmodel_app").create_app(recipe_url)
    with TestClient(app) as client:

        def post(thread: int, round: int) -> dict[str, Any]:
            body = {"tenant": SCOPES[(thread + round) % 2], "title": f"q{thread}-{round}"}
            response = client.post("/quotes", json=body)
            assert response.status_code == 201, response.text
            return dict(response.json())

        results = post_together(post)
        assert client.get(f"/quotes/{results[-1]['id']}").json() == results[-1]
    stored = rows(recipe_url, "SELECT id, tenant, number FROM quotes")
    assert_numbered(results, stored, scope="tenant", prefix=f"Q-{today():%Y}-", width=6)


def test_flask_sqlalchemy_recipe(recipe_url: str) -> None:
    recipe = load_recipe("flask_app")
    app = recipe.create_app(recipe_url)
    try:

        def post(thread: int, round: int) -> dict[str, Any]:
            body = {"tenant": SCOPES[(thread + round) % 2], "supplier": f"s{thread}-{round}"}
            response = app.test_client().post("/orders", json=body)
            assert response.status_code == 201, response.text
            return dict(response.get_json())

        results = post_together(post)
        assert app.test_client().get(f"/orders/{results[0]['id']}").get_json() == results[0]
    finally:
        with app.app_context():
            recipe.db.engine.dispose()
    stored = rows(recipe_url, "SELECT id, tenant, number FROM purchase_orders")
    assert_numbered(results, stored, scope="tenant", prefix=f"PO-{today():%Y%m}-", width=4)


def test_litestar_recipe(recipe_url: str) -> None:
    from litestar.testing import TestClient

    app = load_recipe("litestar_app").create_app(async_url(recipe_url))
    with TestClient(app) as client:

        def post(thread: int, round: int) -> dict[str, Any]:
            body = {"store": SCOPES[(thread + round) % 2], "amount_cents": 100 * thread + round}
            response = client.post("/receipts", json=body)
            assert response.status_code == 201, response.text
            return dict(response.json())

        results = post_together(post)
        assert client.get(f"/receipts/{results[0]['id']}").json() == results[0]
        assert client.get("/receipts/0").status_code == 404
    stored = rows(recipe_url, "SELECT id, store, number FROM receipts")
    assert_numbered(results, stored, scope="store", prefix=f"R-{today():%Y%m%d}-", width=4)


@pytest.mark.parametrize("name", ["fastapi_app", "flask_app", "sqlmodel_app", "litestar_app"])
def test_recipes_are_in_the_docs(name: str) -> None:
    """Each recipe is shown in the docs whole (a literalinclude with no line range)."""
    assert (RECIPES / f"{name}.py").is_file()
    page = (RECIPES.parent / "recipes.rst").read_text()
    assert re.search(
        rf"^\.\. literalinclude:: recipes/{name}\.py\n   :language: python$", page, re.M
    )
