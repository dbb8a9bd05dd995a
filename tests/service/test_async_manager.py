"""AsyncSequenceManager is written out as code: current, complete, and typed."""

from __future__ import annotations

import importlib.util
import inspect
import textwrap
from pathlib import Path

import pytest

from sa_sequencing import AsyncSequenceManager

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "generate_async_manager", ROOT / "tools" / "generate_async_manager.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_coroutines_are_current():
    generator = _generator()
    assert generator.generated_source() == generator.TARGET.read_text(), (
        "sa_sequencing/service/asyncio.py is out of date: "
        "run python tools/generate_async_manager.py"
    )


def test_every_manager_method_has_a_coroutine_of_the_same_signature():
    methods = dict(_generator().public_methods())
    assert {"generate", "generate_batch", "define", "audit_log", "reserve"} <= set(methods)
    for name, method in methods.items():
        twin = inspect.getattr_static(AsyncSequenceManager, name)
        assert inspect.iscoroutinefunction(twin), name
        assert inspect.signature(twin) == inspect.signature(method), name
    assert not hasattr(AsyncSequenceManager, "__getattr__")


def test_mypy_sees_the_real_signatures(tmp_path):
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "uses_async_manager.py"
    snippet.write_text(
        textwrap.dedent(
            """
            from typing_extensions import assert_type

            from sa_sequencing import AsyncSequenceManager, Reservation


            async def check(seqs: AsyncSequenceManager) -> None:
                assert_type(await seqs.generate("inv"), str)
                assert_type(await seqs.generate_many("inv", 2), list[str])
                assert_type(await seqs.reserve("inv", 2), Reservation)
                await seqs.genrate("inv")
                await seqs.generate("inv", scpoe="t1")
            """
        )
    )
    out, err, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(snippet),
        ]
    )
    assert status == 1, out + err
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 2, out
    assert '"genrate"' in errors[0] and '"scpoe"' in errors[1], out
