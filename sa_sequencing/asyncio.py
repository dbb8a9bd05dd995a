"""asyncio: :class:`AsyncSequenceManager`, the manager's methods as coroutines.

::

    async with async_session.begin():
        seqs = sequencing.manager(async_session)       # an AsyncSequenceManager
        await seqs.define("invoice_number", "INV-{YEAR}-{COUNTER:5}")
        number = await seqs.generate("invoice_number")
        async_session.add(Invoice(...))                # numbered by the flush hook

``sequencing.manager()`` also takes an ``async_scoped_session``, and then works in
the ``AsyncSession`` its registry holds when ``manager()`` is called.

Every public method of :class:`~sa_sequencing.SequenceManager` is here, with the
same signature, as a coroutine that runs the synchronous method in the session's
greenlet (:meth:`AsyncSession.run_sync
<sqlalchemy.ext.asyncio.AsyncSession.run_sync>`), inside the session's transaction.
The flush hook needs nothing extra: an ``AsyncSession`` flushes through its
synchronous ``Session``.  Drivers: ``postgresql+psycopg_async``, ``sqlite+aiosqlite``,
``mysql+asyncmy`` (or ``mysql+aiomysql``); SQLAlchemy's asyncio needs ``greenlet``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy.orm import Session

from .manager import SequenceManager

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_scoped_session

    from .sequencing import Sequencing

__all__ = ["AsyncSequenceManager", "current_async_session", "is_async_session"]


class AsyncSequenceManager:
    """:class:`~sa_sequencing.SequenceManager` over an ``AsyncSession``: the same
    methods, as coroutines.  Get one from ``sequencing.manager(async_session)``."""

    def __init__(
        self, sequencing: Sequencing, session: AsyncSession | async_scoped_session[Any]
    ) -> None:
        self.sequencing = sequencing
        self.session = session

    def sync_manager(self, session: Session) -> SequenceManager:
        """The synchronous manager over the session's synchronous ``Session``."""
        return SequenceManager(self.sequencing, session)

    if TYPE_CHECKING:
        # The coroutines are made from SequenceManager's methods below.
        def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]: ...


def _coroutine(name: str, method: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(self: AsyncSequenceManager, *args: Any, **kwargs: Any) -> Any:
        def run(session: Session) -> Any:
            return getattr(self.sync_manager(session), name)(*args, **kwargs)

        # An async_scoped_session is resolved at each call (it has no run_sync).
        session = current_async_session(self.session)
        assert session is not None
        return await session.run_sync(run)

    call.__qualname__ = f"{AsyncSequenceManager.__name__}.{name}"
    return call


def public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    """The public methods of ``cls`` by name."""
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


for _name, _method in public_methods(SequenceManager).items():
    setattr(AsyncSequenceManager, _name, _coroutine(_name, _method))


def is_async_session(session: object) -> bool:
    """Whether ``session`` is a :class:`sqlalchemy.ext.asyncio.AsyncSession`."""
    return current_async_session(session) is session


def current_async_session(session: object) -> AsyncSession | None:
    """The ``AsyncSession`` that ``session`` is or, for an
    :class:`~sqlalchemy.ext.asyncio.async_scoped_session`, that its registry holds
    now; ``None`` for anything else."""
    try:
        from sqlalchemy.ext.asyncio import AsyncSession
        from sqlalchemy.ext.asyncio import async_scoped_session
    except ImportError:  # pragma: no cover - SQLAlchemy without its asyncio extension
        return None
    if isinstance(session, async_scoped_session):
        session = session()
    return session if isinstance(session, AsyncSession) else None
