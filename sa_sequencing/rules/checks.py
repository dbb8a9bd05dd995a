"""The checks every public call makes on its arguments, before anything is written.

Each check raises :class:`~sa_sequencing.ArgumentTypeError` (also a ``TypeError``)
for a value of the wrong type and :class:`~sa_sequencing.InvalidArgumentError` (also
a ``ValueError``) for a value no database would store as given: text with a NUL
character (PostgreSQL refuses it in text columns) or a lone surrogate (not Unicode
text; every driver fails to encode it), text longer than its column, integers
beyond the signed 64-bit counters, JSON that other tools could not read back.  A
check that passes means the value is stored exactly as given on every database.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from typing import Any

from ..errors import ArgumentTypeError
from ..errors import InvalidArgumentError
from .limits import ACTOR_LENGTH
from .limits import DATA_BYTES
from .limits import MAX_COUNT
from .limits import MAX_COUNTER
from .limits import MAX_NESTING

__all__ = [
    "check_actor",
    "check_context",
    "check_count",
    "check_flag",
    "check_metadata",
    "check_text",
    "check_ttl",
    "shown_int",
    "text_problem",
    "unstorable",
]

#: Ints of up to this many bits have fewer than 4,300 digits, the most ``str()`` prints.
_PRINTABLE_BITS = 14_000


def _unprintable(value: int) -> bool:
    """Whether ``str(value)`` fails (more than 4,300 digits)."""
    if value.bit_length() <= _PRINTABLE_BITS:
        return False
    try:
        str(value)
    except ValueError:
        return True
    return False


def shown_int(value: int) -> str:
    """``value`` in decimal for a message; a description where ``str()`` would fail."""
    return "an int of more than 4,300 digits" if _unprintable(value) else str(value)


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is, or ``None``."""
    if "\x00" in text:
        return (
            f"contains a NUL character (\\x00) at position {text.index(chr(0))}, which "
            "PostgreSQL cannot store in text"
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"contains a lone surrogate ({text[exc.start]!r} at position {exc.start}), "
                "which is not valid Unicode text"
            )
    return None


def unstorable(text: str, what: str) -> InvalidArgumentError | None:
    """The error for ``text`` that cannot be stored as it is, or ``None``."""
    problem = text_problem(text)
    return None if problem is None else InvalidArgumentError(f"{what} {problem}")


def check_text(value: object, what: str, *, limit: int, optional: bool = False) -> str | None:
    """``value`` if it is a ``str`` every database stores as it is, at most ``limit``
    characters long (``None`` too, when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        allowed = "a str or None" if optional else "a str"
        raise ArgumentTypeError(f"{what} must be {allowed}, not {type(value).__name__}")
    error = unstorable(value, what)
    if error is not None:
        raise error
    if len(value) > limit:
        raise InvalidArgumentError(
            f"{what} {value[:20]!r}... is {len(value)} characters long: the limit is {limit}"
        )
    return value


def check_actor(performed_by: object) -> None:
    """``performed_by`` of every call that takes it: who acted, for the ledger."""
    check_text(performed_by, "performed_by", limit=ACTOR_LENGTH, optional=True)


def check_flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        shown = shown_int(value) if isinstance(value, int) else repr(value)
        raise ArgumentTypeError(f"{what} must be True or False, not {shown}")
    return value


def check_count(count: object, *, minimum: int = 1, what: str = "count") -> int:
    """How many numbers one call draws: ``minimum`` to :data:`MAX_COUNT`."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise ArgumentTypeError(f"{what} must be an int, not {type(count).__name__}")
    if count < minimum:
        raise InvalidArgumentError(f"{what} must be at least {minimum}, not {shown_int(count)}")
    if count > MAX_COUNT:
        raise InvalidArgumentError(
            f"{what} {shown_int(count)} is over {MAX_COUNT:,}, the most one call handles: "
            "split the work into several calls"
        )
    return count


def check_context(context: object) -> None:
    """A pattern's context: a mapping with str keys whose text can be stored (it goes
    into the number and into the ledger row's data)."""
    if context is None:
        return
    if not isinstance(context, Mapping):
        raise ArgumentTypeError(f"context must be a mapping or None, not {type(context).__name__}")
    size = 0
    for key, value in context.items():
        if not isinstance(key, str):
            raise ArgumentTypeError(
                f"context keys must be str (they name the pattern's variables), not {key!r}"
            )
        size += len(key)
        error = unstorable(key, f"context key {key[:20]!r}")
        if isinstance(value, str):
            size += len(value)
            error = error or unstorable(value, f"context[{key[:20]!r}]")
        elif isinstance(value, int) and _unprintable(value):
            error = InvalidArgumentError(
                f"context[{key[:20]!r}] is an int of more than 4,300 digits"
            )
        elif not isinstance(value, int):
            # kept in the ledger row as the JSON the data column writes (lists, dicts,
            # anything else as its str()): it must serialize, and be storable text
            try:
                text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
            except (TypeError, ValueError, RecursionError) as exc:
                raise InvalidArgumentError(
                    f"context[{key[:20]!r}] cannot be kept in the ledger as JSON ({exc}); "
                    "pass str, int or JSON values"
                ) from None
            size += len(text)
            error = error or unstorable(text, f"context[{key[:20]!r}] as JSON")
        if error is not None:
            raise error
    if size > DATA_BYTES // 4:
        raise InvalidArgumentError(
            f"context holds {size:,} characters: the ledger row keeps it, and holds "
            f"{DATA_BYTES // 4:,}; pass only the variables the pattern needs"
        )


def check_ttl(ttl: object, now: datetime) -> datetime:
    """The expiry of a reservation held for ``ttl`` from ``now``."""
    if not isinstance(ttl, timedelta):
        raise ArgumentTypeError(f"ttl must be a datetime.timedelta, not {type(ttl).__name__}")
    if ttl <= timedelta(0):
        raise InvalidArgumentError(f"ttl must be positive, not {ttl}")
    try:
        expires = now + ttl
    except OverflowError:
        expires = datetime.max
    if expires.year > 9998:
        raise InvalidArgumentError(
            f"ttl {ttl.days} days is too long: the reservation would expire after the year "
            "9998; hold numbers for a realistic time (release or finalize them early)"
        )
    return expires


def check_metadata(metadata: object, what: str = "metadata") -> dict[str, Any] | None:
    """A copy of ``metadata`` when it is JSON that reads back exactly as given.

    Keys must be strings (JSON would turn ``1`` into ``"1"``, and ``{1: .., "1": ..}``
    into one key), numbers finite and within the signed 64-bit range for integers
    (MySQL reads larger ones back as floats), nesting at most :data:`MAX_NESTING`
    deep, and the JSON at most :data:`DATA_BYTES` bytes.
    """
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise ArgumentTypeError(f"{what} must be a mapping or None, not {type(metadata).__name__}")
    copy = _json_value(metadata, what, 0)
    size = len(json.dumps(copy, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    if size > DATA_BYTES:
        raise InvalidArgumentError(
            f"{what} is {size:,} bytes of JSON: the limit is {DATA_BYTES:,}; keep large "
            "documents elsewhere and store a reference"
        )
    assert isinstance(copy, dict)
    return copy


def _json_value(value: object, path: str, depth: int) -> Any:
    if depth > MAX_NESTING:
        raise InvalidArgumentError(f"{path} nests deeper than {MAX_NESTING} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        error = unstorable(value, path)
        if error is not None:
            raise error
        return value
    if isinstance(value, int):
        if not -MAX_COUNTER - 1 <= value <= MAX_COUNTER:
            shown = "an int of more than 4,300 digits" if _unprintable(value) else str(value)
            raise InvalidArgumentError(
                f"{path} is {shown}, outside the signed 64-bit range JSON readers keep "
                "exactly; store it as a string"
            )
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgumentError(f"{path} is {value}, which JSON cannot hold")
        return float(value)
    if isinstance(value, Mapping):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ArgumentTypeError(
                    f"{path} has the key {key!r} ({type(key).__name__}): JSON keys are "
                    "strings, so it would come back as a different key; use str keys"
                )
            error = unstorable(key, f"{path} key {key[:20]!r}")
            if error is not None:
                raise error
            copy[key] = _json_value(item, f"{path}[{key[:20]!r}]", depth + 1)
        return copy
    if isinstance(value, (list, tuple)):
        return [_json_value(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise InvalidArgumentError(
        f"{path} is a {type(value).__name__}, which JSON cannot hold: use str, int, float, "
        "bool, None, lists and str-keyed mappings"
    )
