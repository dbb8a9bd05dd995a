"""Column types that behave the same on every supported database.

Timestamps are stored in UTC: ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL,
microsecond ``DATETIME(6)`` on MySQL/MariaDB (the default ``DATETIME`` drops
fractions, which would make audit ordering by time meaningless) and text on SQLite.
They always come back as aware :class:`~datetime.datetime` objects in UTC.

Free-form data (definition metadata, audit details) is JSON kept in a ``TEXT``
column: MariaDB reports its ``JSON`` type as ``LONGTEXT`` when reflected, which
would make Alembic's autogenerate see a change that is not there.
"""

from __future__ import annotations

import json
from datetime import datetime
from datetime import timezone
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy import Text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlalchemy.types import TypeEngine

from .errors import InvalidArgumentError

__all__ = ["JSONText", "UTCDateTime", "utcnow"]


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored with microseconds on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise InvalidArgumentError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(timezone.utc)
        if dialect.name == "postgresql":
            return value
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class JSONText(TypeDecorator[Any]):
    """JSON-serialisable data kept as ``TEXT``."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)
