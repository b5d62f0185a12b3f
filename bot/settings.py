"""Typed settings: plugins describe their config table as a dataclass; this module validates it.

A plugin author writes::

    @dataclass(frozen=True)
    class GridSettings:
        symbol: str = option(help="market to trade, BASE/QUOTE")
        levels: int = option(10, ge=2, help="number of price levels")
        lower: Decimal = option(gt=0, help="lowest grid price")
        api_key: Secret | None = option(None, help="env:NAME or file:PATH")

Supported field types: ``int``, ``Decimal``, ``float`` (durations and ratios only, never money),
``str``, ``bool``, ``Literal[...]``, ``list[str]``, ``list[int]``, ``dict[str, str]``,
``datetime.time`` ("HH:MM"), :class:`Secret`, and ``X | None``.
Every problem is reported with its key path and the expected form, all at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import operator
import os
import stat
import types
import typing
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

MISSING = dataclasses.MISSING
T = TypeVar("T", bound="DataclassInstance")


def option(
    default: Any = MISSING,
    *,
    help: str,
    ge: Any = None,
    gt: Any = None,
    le: Any = None,
    lt: Any = None,
    min_items: int | None = None,
) -> Any:
    """Declare one setting: its default (omit for a required key), bounds and one-line help."""
    meta = {"help": help, "ge": ge, "gt": gt, "le": le, "lt": lt, "min_items": min_items}
    if isinstance(default, (list, dict)):
        frozen = type(default)(default)
        return dataclasses.field(default_factory=lambda: type(frozen)(frozen), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class NoSettings:
    """For plugins that take no settings."""


class Secret:
    """A reference to a secret (``env:NAME`` or ``file:PATH``); the value is resolved at start.

    ``repr`` and ``str`` show only the reference, so a Secret can be logged safely.
    Call :meth:`reveal` at the last moment, where the value is used.
    """

    __slots__ = ("reference", "_value")

    def __init__(self, reference: str):
        self.reference = reference
        self._value: str | None = None

    def resolve(self) -> None:
        """Read the value now. Raises ValueError with a message that contains no secret."""
        kind, _, target = self.reference.partition(":")
        if kind == "env":
            value = os.environ.get(target)
            if value is None or value == "":
                raise ValueError(f"environment variable {target} is not set (referenced as {self.reference})")
        else:
            path = Path(target).expanduser()
            try:
                mode = path.stat().st_mode
            except OSError as exc:
                raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ValueError(
                    f"secret file {path} is readable by group or others (mode {stat.S_IMODE(mode):o}); "
                    f"run: chmod 600 {path}"
                )
            value = path.read_text().strip()
            if not value:
                raise ValueError(f"secret file {path} is empty")
        self._value = value
        from .redact import REDACTOR

        REDACTOR.add(value)

    def reload(self) -> bool:
        """Read the value again (a rotated file or variable); True when it changed.

        Raises ValueError like :meth:`resolve` when the reference no longer resolves; the value read
        before stays in force then.
        """
        before = self._value
        self.resolve()
        return self._value != before

    def reveal(self) -> str:
        if self._value is None:
            raise RuntimeError(f"secret {self.reference} was not resolved")
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.reference!r})"

    __str__ = __repr__


class ConfigIssue(typing.NamedTuple):
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


class ConfigError(Exception):
    """One or more config problems, each with its key path. ``str()`` is the user-facing text."""

    def __init__(self, issues: list[ConfigIssue], source: str = "config"):
        self.issues = list(issues)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.issues)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''}"
        return head + "\n" + "\n".join(f"  - {issue}" for issue in self.issues)


def got(value: Any) -> str:
    """How a received value is shown in an error."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    return str(value)


def did_you_mean(key: str, known: typing.Iterable[str]) -> str:
    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f'; did you mean "{match[0]}"?' if match else ""


def _bounds(meta: Mapping[str, Any]) -> str:
    parts = []
    for name, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if meta.get(name) is not None:
            parts.append(f"{sym} {meta[name]}")
    return " and ".join(parts)


def describe(tp: Any, meta: Mapping[str, Any]) -> str:
    """The expected form of a value, as shown in an error."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return describe(inner[0], meta)
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in typing.get_args(tp))
    if origin is list:
        (item,) = typing.get_args(tp)
        text = f"a list of {_plural(item)}"
        if meta.get("min_items"):
            text += f" with at least {meta['min_items']} item(s)"
        return text
    if origin is dict:
        return "a table of strings"
    bounds = _bounds(meta)
    base = {
        int: "an integer",
        Decimal: 'a decimal number (write "0.1" or 0.1)',
        float: "a number",
        str: "a string",
        bool: "true or false",
        dt.time: 'a time of day "HH:MM"',
        Secret: 'a secret reference "env:NAME" or "file:PATH"',
        Path: "a file path (relative: to [bot] data_dir)",
    }.get(tp, getattr(tp, "__name__", str(tp)))
    if bounds:
        base = base.replace(" (write", f" {bounds} (write") if tp is Decimal else f"{base} {bounds}"
    return base


def _plural(tp: Any) -> str:
    return {str: "strings", int: "integers", Decimal: "decimal numbers"}.get(tp, getattr(tp, "__name__", "values"))


class _Invalid(Exception):
    pass


def _convert(tp: Any, value: Any, meta: Mapping[str, Any]) -> Any:
    """Convert one TOML value to ``tp`` or raise _Invalid."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, meta)
    if origin is Literal:
        if value in typing.get_args(tp) and isinstance(value, str):
            return value
        raise _Invalid
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise _Invalid
        items = [_convert(item, v, {}) for v in value]
        if meta.get("min_items") and len(items) < meta["min_items"]:
            raise _Invalid
        return items
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _Invalid
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise _Invalid
        return value
    out: int | Decimal | float | str
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid
        out = value
    elif tp is Decimal:
        if isinstance(value, bool):
            raise _Invalid
        if isinstance(value, (int, Decimal)):
            out = Decimal(value)
        elif isinstance(value, str):
            try:
                out = Decimal(value.strip())
            except InvalidOperation:
                raise _Invalid from None
        else:
            raise _Invalid
        if not out.is_finite():
            raise _Invalid
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise _Invalid
        out = float(value)
    elif tp is str:
        if not isinstance(value, str):
            raise _Invalid
        out = value
    elif tp is dt.time:
        if isinstance(value, dt.time):
            return value
        if not isinstance(value, str):
            raise _Invalid
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            raise _Invalid from None
    elif tp is Path:
        if not isinstance(value, str) or not value:
            raise _Invalid
        return Path(value).expanduser()
    elif tp is Secret:
        if not isinstance(value, str) or not (value.startswith("env:") or value.startswith("file:")):
            raise _Invalid
        if len(value.split(":", 1)[1]) == 0:
            raise _Invalid
        return Secret(value)
    else:  # pragma: no cover - a plugin declared a type we do not support
        raise TypeError(f"unsupported settings type {tp!r}")
    for name, ok in (("ge", operator.ge), ("gt", operator.gt), ("le", operator.le), ("lt", operator.lt)):
        bound = meta.get(name)
        if bound is not None and not ok(out, type(out)(bound) if tp is not Decimal else Decimal(str(bound))):
            raise _Invalid
    return out


def resolve_paths(settings: Any, base: Path) -> Any:
    """``settings`` with each relative :class:`~pathlib.Path` field made absolute against ``base``.

    The host calls it with ``[bot] data_dir`` before it builds a component or a service: a plugin
    declares a file setting as ``Path`` and gets it resolved, the same way for every plugin.
    """
    if not dataclasses.is_dataclass(settings) or isinstance(settings, type):
        return settings
    changes = {f.name: base / value for f in dataclasses.fields(settings)
               if isinstance(value := getattr(settings, f.name), Path) and not value.is_absolute()}
    return dataclasses.replace(settings, **changes) if changes else settings


def parse_settings(cls: type[T], table: Any, path: str, issues: list[ConfigIssue], *,
                   ignore: Collection[str] = frozenset()) -> T | None:
    """Build ``cls`` (a dataclass) from a TOML table; append every problem to ``issues``.

    Returns the instance, or None when there were problems. Keys in ``ignore`` are skipped
    (the host's own keys in a plugin's table, such as ``type``).
    """
    if not isinstance(table, dict):
        issues.append(ConfigIssue(path, f"expected a table, got {got(table)}"))
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    before = len(issues)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in ignore:
            continue
        if key not in fields:
            issues.append(ConfigIssue(_join(path, key), "unknown key" + did_you_mean(key, fields)))
            continue
        f = fields[key]
        tp = hints[f.name]
        try:
            values[key] = _convert(tp, value, f.metadata)
        except _Invalid:
            shown = "a literal value (not shown: keep secrets out of config files)" if _is_secret(tp) else got(value)
            issues.append(ConfigIssue(_join(path, key), f"expected {describe(tp, f.metadata)}, got {shown}"))
    for name, f in fields.items():
        if name not in table and f.default is MISSING and f.default_factory is MISSING:
            issues.append(
                ConfigIssue(_join(path, name), f"missing required key ({describe(hints[name], f.metadata)}: "
                            f"{f.metadata.get('help', '')})")
            )
    if len(issues) > before:
        return None
    instance = cls(**values)
    check = getattr(instance, "validate", None)
    if check is not None:
        for key, problem in check():
            issues.append(ConfigIssue(_join(path, key), problem))
        if len(issues) > before:
            return None
    return instance


def _is_secret(tp: Any) -> bool:
    return tp is Secret or Secret in typing.get_args(tp)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def secrets_in(obj: Any) -> list[tuple[str, Secret]]:
    """Every Secret held by a settings dataclass, with its field name."""
    found = []
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, Secret):
                found.append((f.name, value))
    return found
