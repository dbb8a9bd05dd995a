"""``sequencing.manager()`` takes a ``scoped_session`` (Flask-SQLAlchemy's
``db.session``) and works, at each call, in the session its registry holds then; the
types say so to ``mypy --strict`` (the ``async_scoped_session`` side runs in
``test_orm_async``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from orm_models import ORM_SEQUENCING
from orm_models import Note
from orm_models import managed
from orm_models import numbers_of
from sqlalchemy.orm import scoped_session

from sa_sequencing import SequenceManager
from sa_sequencing import SequenceNotFoundError

ROOT = Path(__file__).resolve().parents[2]


def test_manager_works_in_the_scoped_sessions_current_session(orm):
    current = ["request-1"]
    registry = scoped_session(orm, scopefunc=lambda: current[0])
    try:
        seqs = ORM_SEQUENCING.manager(registry)
        assert isinstance(seqs, SequenceManager)
        seqs.define("note", "N-{COUNTER}")
        assert seqs.generate("note") == "N-1"
        registry.add(Note())
        registry.flush()  # the flush hook draws in the same transaction
        registry.rollback()  # ... so the registry's rollback takes everything back
        with pytest.raises(SequenceNotFoundError):
            seqs.generate("note")
        registry.rollback()
        seqs.define("note", "N-{COUNTER}")
        assert seqs.generate("note") == "N-1"
        registry.add(Note())
        registry.commit()
        # another scope (the next request): the same manager, made once, follows the
        # registry to that request's session
        current[0] = "request-2"
        assert seqs.generate("note") == "N-3"
        assert registry().in_transaction()
        current[0] = "request-1"
        assert not registry().in_transaction()  # nothing was drawn in request 1's session
        current[0] = "request-2"
        registry.commit()
    finally:
        registry.remove()
        current[0] = "request-1"
        registry.remove()
    with managed(orm) as seqs:
        assert numbers_of(seqs.session, Note) == ["N-2"]
        assert seqs.get("note") is not None


def test_manager_return_types_under_mypy_strict(tmp_path):
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "uses_manager.py"
    snippet.write_text(
        textwrap.dedent(
            """
            from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session
            from sqlalchemy.orm import Session, scoped_session
            from typing_extensions import assert_type

            from sa_sequencing import AsyncSequenceManager, SequenceManager, Sequencing


            def check(
                sequencing: Sequencing,
                session: Session,
                scoped: scoped_session[Session],
                async_session: AsyncSession,
                async_scoped: async_scoped_session[AsyncSession],
            ) -> None:
                assert_type(sequencing.manager(session), SequenceManager)
                assert_type(sequencing.manager(scoped), SequenceManager)
                assert_type(sequencing.manager(async_session), AsyncSequenceManager)
                assert_type(sequencing.manager(async_scoped), AsyncSequenceManager)
                sequencing.manager(scoped).generate("invoice")
            """
        )
    )
    # the project's own settings (strict) and cache: warm after the project's own mypy
    # run (CI runs it first), a snippet takes under a second instead of ~15 s cold
    cache = ROOT / ".mypy_cache"
    out, err, status = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(cache), str(snippet)]
    )
    assert status == 0, out + err
