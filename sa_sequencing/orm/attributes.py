"""The numbered attributes of a mapper, and what each reads off an object."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy.orm import Mapper

from ..allocation.runtime import Runtime
from ..allocation.runtime import instances
from ..errors import ArgumentTypeError
from ..errors import ConfigurationError
from .defaults import DefaultsPlan
from .defaults import plan_for
from .spec import INFO_KEY
from .spec import Getter
from .spec import SequenceSpec

if TYPE_CHECKING:
    from sqlalchemy.orm.state import InstanceState


__all__ = ["NumberedAttribute", "numbered_attributes"]


@dataclass(frozen=True)
class NumberedAttribute:
    """One numbered attribute of one mapper, resolved at the first flush."""

    key: str
    spec: SequenceSpec
    sequencing: Runtime
    label: str
    """``Model.attribute``, for messages."""
    defaults: DefaultsPlan | None = None
    """How its inputs see a new object's column defaults (:mod:`.defaults`);
    ``None`` when they read no column with one."""

    def inputs(
        self, obj: Any, state: InstanceState[Any]
    ) -> tuple[str | None, Mapping[str, object] | None, date | datetime | None]:
        """The scope, context and document date of ``obj``'s number.

        Attributes named by the column are read from ``state.dict`` when present,
        which is much cheaper than through the instrumented attribute (this runs once
        per object of every flush).  A new object's inputs see its column defaults
        (:mod:`.defaults`).
        """
        spec = self.spec
        loaded = state.dict
        plan = self.defaults if state.key is None else None
        if plan is None:
            scope = _read(obj, loaded, spec.scope)
            context = _read(obj, loaded, spec.context)
            day = _read(obj, loaded, spec.date)
        else:
            scope = None if spec.scope is None else plan.read(obj, loaded, spec.scope, "scope=")
            context = (
                None if spec.context is None else plan.read(obj, loaded, spec.context, "context=")
            )
            day = None if spec.date is None else plan.read(obj, loaded, spec.date, "date=")
        if isinstance(spec.scope, str) and (scope is None or scope == ""):
            raise ConfigurationError(
                f"{self.label} (sequence {spec.sequence!r}): the scope attribute "
                f"{spec.scope!r} of {obj!r} is empty; set it before the flush (or give "
                "the column a scope callable that returns None for the global scope)",
                sequence=spec.sequence,
            )
        if context is not None and not isinstance(context, Mapping):
            raise ArgumentTypeError(
                f"{self.label} (sequence {spec.sequence!r}): context must give a "
                f"mapping or None, not {type(context).__name__}"
            )
        return scope, context, day


def _read(obj: Any, loaded: Mapping[str, Any], getter: Getter) -> Any:
    if getter is None:
        return None
    if isinstance(getter, str):
        return loaded[getter] if getter in loaded else getattr(obj, getter)
    return getter(obj)


_by_mapper: weakref.WeakKeyDictionary[Mapper[Any], tuple[NumberedAttribute, ...]] = (
    weakref.WeakKeyDictionary()
)


def numbered_attributes(mapper: Mapper[Any]) -> tuple[NumberedAttribute, ...]:
    """The sequence columns of ``mapper`` (inherited ones included)."""
    found = _by_mapper.get(mapper)
    if found is None:
        specs = {
            prop.key: (spec, prop.columns[0])
            for prop in mapper.column_attrs
            if isinstance(spec := prop.columns[0].info.get(INFO_KEY), SequenceSpec)
        }
        found = tuple(
            NumberedAttribute(
                key,
                spec,
                _resolve(spec, column, mapper, key),
                label := f"{mapper.class_.__name__}.{key}",
                plan_for(
                    mapper,
                    label,
                    spec.sequence,
                    (spec.scope, spec.context, spec.date, spec.when),
                    numbered=specs.keys(),
                ),
            )
            for key, (spec, column) in specs.items()
        )
        _by_mapper[mapper] = found
    return found


def _resolve(spec: SequenceSpec, column: Any, mapper: Mapper[Any], key: str) -> Runtime:
    if spec.sequencing is not None:
        return spec.sequencing

    every = instances()
    table = getattr(column, "table", None)
    metadata = getattr(table, "metadata", None)
    mine = [s for s in every if s.metadata is metadata]
    if len(mine) == 1:
        return mine[0]
    if not mine and len(every) == 1:
        return every[0]
    found = f"{len(mine)} on its metadata" if mine else f"{len(every)} in this process"
    raise ConfigurationError(
        f"{mapper.class_.__name__}.{key} (sequence {spec.sequence!r}): cannot tell which "
        f"Sequencing numbers it ({found}); pass SequenceColumn(..., sequencing=...)",
        sequence=spec.sequence,
    )
