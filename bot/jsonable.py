"""Events as JSON: the one encoder of domain values for every wire (the stream, the fleet bus).

Amounts stay exact: a :class:`~decimal.Decimal` becomes its string (``"30001.50"``), never a float;
enums become their values, dataclasses dicts, tuples lists; times stay integer ns. Public through
:mod:`bot.api.kit` (:func:`to_data`, :func:`jsonable`, :func:`fill_data`).
"""

from __future__ import annotations

import dataclasses
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .domain import FillApplied


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of any value: Decimal -> str, enum -> value, dataclass -> dict, tuple/list -> list,
    set -> sorted list, dict keys -> str; other values as they are."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [jsonable(v) for v in sorted(value)]
    return value


_FIELDS: dict[type, tuple[str, ...]] = {}


def to_data(event: Any) -> dict[str, Any]:
    """A domain event (a dataclass instance) as a JSON-ready dict, as :func:`jsonable` makes it.

    Faster than :func:`jsonable` for the flat events of the bus path: each event type's field names
    are looked up once, and plain fields are copied as they are.
    """
    cls = type(event)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(event))
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(event, name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, (dict, list, tuple, set, frozenset)) or dataclasses.is_dataclass(value):
            value = jsonable(value)
        out[name] = value
    return out


def fill_data(applied: FillApplied) -> dict[str, Any]:
    """An applied fill as every wire sends it: the strategy whose order filled, then the fill's fields.

    The stream's ``fills`` channel, the fleet bus's ``fill`` events and the web console's ``fills`` events all
    send this, so a client splits fills and fees per strategy the same way on each."""
    return {"strategy": applied.strategy, **to_data(applied.fill)}
