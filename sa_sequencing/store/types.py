"""Column types that behave the same on every supported database.

Timestamps are stored in UTC: ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL,
microsecond ``DATETIME(6)`` on MySQL/MariaDB (the default ``DATETIME`` drops
fractions, which would make audit ordering by time meaningless) and text on SQLite.
They always come back as aware :class:`~datetime.datetime` objects in UTC.

Free-form data (definition metadata, audit details) is JSON kept in a ``TEXT``
column: MariaDB reports its ``JSON`` type as ``LONGTEXT`` when reflected, which
would make Alembic's autogenerate see a change that is not there.

Keys (sequence names, scopes, periods, reservation ids, the ledger's numbers) are
:class:`KeyString` columns, which compare exactly on every database: PostgreSQL and SQLite do so
already, and on MySQL/MariaDB the columns get a binary collation that does not pad
(see :func:`exact_collation`).
"""

from __future__ import annotations

import json
from datetime import datetime
from datetime import timezone
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlalchemy.types import TypeEngine

from ..errors import InvalidArgumentError

__all__ = ["JSONText", "KeyString", "UTCDateTime", "exact_collation", "utcnow"]


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
        if dialect.name in ("postgresql", "cockroachdb"):
            # TIMESTAMP WITH TIME ZONE: an aware value, or the server would read a
            # naive one in the session's time zone
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


#: MySQL 8.0.17 brought utf8mb4_0900_bin, the first binary utf8mb4 collation of MySQL
#: that does not pad.
_MYSQL_NOPAD_BIN = (8, 0, 17)


def exact_collation(dialect: Dialect) -> str:
    """The utf8mb4 collation under which two strings are equal only when they are the
    same characters, on the MySQL or MariaDB server behind ``dialect``.

    It has to be binary (no folding of case or accents, every emoji its own character)
    and must not pad: under a ``PAD SPACE`` collation, ``utf8mb4_bin`` included,
    ``'a'`` equals ``'a '``.  MariaDB calls it ``utf8mb4_nopad_bin``, MySQL 8.0.17 and
    later ``utf8mb4_0900_bin``; older MySQL only has ``utf8mb4_bin`` (names and scopes
    never end in blanks, and periods and reservation ids are made by the library, so
    padding cannot merge two keys there, but a looked-up id could still match with a
    trailing blank).  Without a server version (SQL compiled offline), the dialect's
    name decides: ``mariadb://`` URLs get MariaDB's, ``mysql://`` ones a current MySQL's.
    """
    if getattr(dialect, "is_mariadb", False) or dialect.name == "mariadb":
        return "utf8mb4_nopad_bin"
    version = dialect.server_version_info
    if version is not None and tuple(version[:3]) < _MYSQL_NOPAD_BIN:
        return "utf8mb4_bin"
    return "utf8mb4_0900_bin"


class KeyString(TypeDecorator[str]):
    """A ``VARCHAR`` key that compares exactly, as Python's ``==`` does.

    On MySQL/MariaDB the column is ``utf8mb4`` with :func:`exact_collation`, spelled
    out so that neither the table's nor the database's default character set or
    collation decides how keys compare; elsewhere it is a plain ``VARCHAR``.
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(
                mysql.VARCHAR(self.length, charset="utf8mb4", collation=exact_collation(dialect))
            )
        return dialect.type_descriptor(String(self.length))
