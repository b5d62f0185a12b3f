"""Typed settings: plugins describe their config table as a dataclass; this module validates it.

A plugin author writes::

    @dataclass(frozen=True)
    class GridSettings:
        symbol: str = option(help="market to trade, BASE/QUOTE")
        levels: int = option(10, ge=2, help="number of price levels")
        lower: Decimal = option(gt=0, help="lowest grid price")
        api_key: Secret | None = option(None, help="env:NAME or file:PATH")

Supported field types: ``int``, ``Decimal``, ``float`` (durations and ratios only, never money),
``str``, ``bool``, ``Literal[...]``, ``list[str]``, ``list[int]``, ``dict[str, str]``, ``dict[str, dict[str, str]]``,
``datetime.time`` ("HH:MM"), :class:`Secret`, ``X | None`` and ``X | dict[str, str]`` (one value or a table of
them, e.g. a money limit per quote asset); a plugin's class with a field of another type is
refused by name when it loads (:func:`settings_problem`). Every problem is reported with its key path and the
expected form, all at once, and so is a settings class's own ``__post_init__`` or ``validate()`` that raises.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import operator
import os
import re
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

MAX_TEXT = 4096
"""Longest string setting (``option(max_len=...)`` lowers or raises it)."""
MAX_ITEMS = 1000
"""Most items in a list or table setting (``option(max_items=...)``)."""
INT_LIMIT = 2**63 - 1
"""No integer setting goes beyond a signed 64-bit integer, whatever its declared bounds."""
DECIMAL_PLACES = 18
DECIMAL_MAX_DIGITS_BEFORE_POINT = 18
DECIMAL_RANGE = f"at most {DECIMAL_PLACES} decimal places and below 1e{DECIMAL_MAX_DIGITS_BEFORE_POINT}"
"""Every Decimal setting, whatever its declared bounds (token amounts have at most 18 decimals)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclasses.dataclass(frozen=True)
class UrlKind:
    """The schemes a URL setting takes: ``secure`` ones to any host, ``plain`` ones to any host or, with
    ``plain_local``, only to this machine (a local fake: nothing sent in the clear over a network)."""

    secure: tuple[str, ...]
    plain: tuple[str, ...]
    plain_local: bool

    def form(self) -> str:
        """``https:// (or http:// to 127.0.0.1 or localhost)``, as an error names it."""
        secure = " or ".join(f"{s}://" for s in self.secure)
        plain = " or ".join(f"{s}://" for s in self.plain)
        return f"{secure} (or {plain} to 127.0.0.1 or localhost)" if self.plain_local else f"{secure} or {plain}"


URL_KINDS: dict[str, UrlKind] = {
    "rest": UrlKind(("https",), ("http",), plain_local=True),
    "ws": UrlKind(("wss",), ("ws",), plain_local=True),
    "rest_or_ws": UrlKind(("https", "wss"), ("http", "ws"), plain_local=True),
    "node": UrlKind(("https",), ("http",), plain_local=False),  # an own node on the LAN speaks plain HTTP
    "node_ws": UrlKind(("wss",), ("ws",), plain_local=False),
}
"""What ``option(url=KIND)`` takes: a venue's REST or WebSocket endpoint (plain only to a local fake), a URL
rewritten either way, or a blockchain node's (plain to any host: one's own node)."""

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _check_url(text: str, kind: str) -> str:
    """``text`` if it is a URL of ``kind`` (:data:`URL_KINDS`), else _Invalid saying which scheme it has."""
    from urllib.parse import urlsplit

    rule = URL_KINDS[kind]
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:
        raise _Invalid("not a URL") from None
    scheme = parts.scheme.lower()
    if not host or not parts.netloc:
        raise _Invalid("no scheme and host" if not scheme else "no host")
    if scheme in rule.secure:
        return text
    if scheme in rule.plain:
        if not rule.plain_local or host.lower() in LOCAL_HOSTS:
            return text
        raise _Invalid(f"{scheme}:// only to 127.0.0.1 or localhost (a local fake): use "
                       f"{rule.secure[rule.plain.index(scheme)]}://")
    raise _Invalid(f"the scheme {scheme}:// is not one it takes")


def option(
    default: Any = MISSING,
    *,
    help: str,
    ge: Any = None,
    gt: Any = None,
    le: Any = None,
    lt: Any = None,
    min_items: int | None = None,
    max_items: int = MAX_ITEMS,
    max_len: int = MAX_TEXT,
    owned_file: bool = False,
    url: str | None = None,
) -> Any:
    """Declare one setting: its default (omit for a required key), bounds and one-line help.

    Bounds: ``ge``/``gt`` (lower) and ``le``/``lt`` (upper) on numbers, ``min_items``/``max_items`` on
    lists and tables, ``max_len`` on strings. Every number needs a lower and an upper bound
    (``tests/test_config_fuzz.py`` checks the first-party plugins); on top of them the host refuses
    non-finite floats, integers beyond 64 bits and decimals outside :data:`DECIMAL_RANGE`. A
    ``owned_file`` setting names a file this component owns alone: two components naming the same
    file (relative to ``[bot] data_dir``) are refused. ``url`` (a string, a list of them, or a table of them):
    each value is a URL of that kind, one of :data:`URL_KINDS` (``"rest"``, ``"ws"``, ...), checked for its scheme
    when the config is read.
    """
    if url is not None and url not in URL_KINDS:
        raise ValueError(f'option(url="{url}"): expected one of {", ".join(URL_KINDS)}')
    meta = {"help": help, "ge": ge, "gt": gt, "le": le, "lt": lt, "min_items": min_items,
            "max_items": max_items, "max_len": max_len, "owned_file": owned_file, "url": url}
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
            value = _read_secret_file(Path(target).expanduser())
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


SECRET_FILE_MAX_BYTES = 65536


def _read_secret_file(path: Path) -> str:
    """The stripped text of a secret file; ValueError (without the value) for anything but a small,
    private, regular UTF-8 file. A FIFO or device is refused before it is opened, and the file is
    opened non-blocking, so nothing here can hang."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
        raise ValueError(f"secret file {path} is {kind}; point file: at a file holding only the secret")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(
            f"secret file {path} is readable by group or others (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between stat and open
            raise ValueError(f"secret file {path} is not a regular file")
        data = os.read(fd, SECRET_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > SECRET_FILE_MAX_BYTES:
        raise ValueError(f"secret file {path} is larger than {SECRET_FILE_MAX_BYTES} bytes; it should hold "
                         "only the secret")
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"secret file {path} is not UTF-8 text") from None
    if not value:
        raise ValueError(f"secret file {path} is empty")
    return value


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
        from .redact import safe_url

        # a URL's password or key is not shown (an error is read on a terminal, in a CI log, in the journal)
        value = safe_url(value)
        return json.dumps(value if len(value) <= 80 else value[:60] + "...") + (
            f" ({len(value)} characters)" if len(value) > 80 else "")
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= 80 else f"{text[:40]}... ({len(text)} digits)"


def closest(key: str, known: typing.Iterable[str]) -> str | None:
    """The known name ``key`` is most likely a misspelling of, if any."""
    import difflib  # here: a mistake's message needs it, a sound config (every command's) does not

    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(key: str, known: typing.Iterable[str]) -> str:
    match = closest(key, known)
    return f'; did you mean "{match}"?' if match else ""


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
        return " or ".join(describe(a, meta) for a in inner)
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in typing.get_args(tp))
    url = URL_KINDS.get(meta.get("url") or "")
    if origin is list:
        (item,) = typing.get_args(tp)
        text = f"a list of {_plural(item)}" if url is None else f"a list of URLs {url.form()}"
        if meta.get("min_items"):
            text += f" with at least {meta['min_items']} item(s)"
        return text
    if origin is dict:
        value_type = typing.get_args(tp)[1] if typing.get_args(tp) else str
        if url is not None:
            return f"a table of URLs {url.form()}"
        return "a table of tables of strings" if typing.get_origin(value_type) is dict else "a table of strings"
    if url is not None and tp is str:
        return f"a URL {url.form()}"
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
    """A value that does not fit; ``reason`` (may be empty) says what is wrong beyond the expected form."""

    def __init__(self, reason: str = ""):
        super().__init__(reason)
        self.reason = reason


def _check_text(text: str, limit: int) -> str:
    if _CONTROL.search(text):
        raise _Invalid("it contains a control character (a newline, tab or similar)")
    if len(text) > limit:
        raise _Invalid(f"longer than {limit} characters")
    return text


def _check_number(tp: Any, out: int | Decimal | float) -> None:
    """The host-wide sanity range of every number, whatever its declared bounds."""
    if tp is int and abs(int(out)) > INT_LIMIT:
        raise _Invalid("beyond a 64-bit integer")
    if tp is float and not math.isfinite(out):
        raise _Invalid("not a finite number")
    if isinstance(out, Decimal):
        if not out.is_finite():
            raise _Invalid("not a finite number")
        if out and (out.normalize().as_tuple().exponent < -DECIMAL_PLACES  # type: ignore[operator]
                    or out.adjusted() >= DECIMAL_MAX_DIGITS_BEFORE_POINT):
            raise _Invalid(f"a decimal setting has {DECIMAL_RANGE}")


def _convert(tp: Any, value: Any, meta: Mapping[str, Any]) -> Any:
    """Convert one TOML value to ``tp`` or raise _Invalid."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        inner = [a for a in args if a is not type(None)]
        # ``Decimal | dict[str, str]``: one value, or a table of them (a money limit per quote asset)
        tables = [a for a in inner if typing.get_origin(a) is dict]
        if tables and (isinstance(value, dict) or len(tables) == len(inner)):
            return _convert(tables[0], value, meta)
        return _convert(next(a for a in inner if typing.get_origin(a) is not dict), value, meta)
    if origin is Literal:
        if value in typing.get_args(tp) and isinstance(value, str):
            return value
        raise _Invalid
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise _Invalid
        if len(value) > meta.get("max_items", MAX_ITEMS):
            raise _Invalid(f"more than {meta.get('max_items', MAX_ITEMS)} items")
        items = [_convert(item, v, {"max_len": meta.get("max_len", MAX_TEXT), "url": meta.get("url")})
                 for v in value]
        if meta.get("min_items") and len(items) < meta["min_items"]:
            raise _Invalid
        return items
    if origin is dict:
        value_type = typing.get_args(tp)[1] if typing.get_args(tp) else str
        if isinstance(value, dict) and typing.get_origin(value_type) is dict:  # dict[str, dict[str, str]]
            if len(value) > meta.get("max_items", MAX_ITEMS):
                raise _Invalid(f"more than {meta.get('max_items', MAX_ITEMS)} entries")
            return {_check_text(key, meta.get("max_len", MAX_TEXT)): _convert(value_type, inner, {})
                    for key, inner in value.items()}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _Invalid
        if len(value) > meta.get("max_items", MAX_ITEMS):
            raise _Invalid(f"more than {meta.get('max_items', MAX_ITEMS)} entries")
        limit = meta.get("max_len", MAX_TEXT)
        if meta.get("url"):
            return {_check_text(k, limit): _check_url(_check_text(v, limit), meta["url"]) for k, v in value.items()}
        return {_check_text(k, limit): _check_text(v, limit) for k, v in value.items()}
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
            if len(value) > 100:
                raise _Invalid("longer than 100 characters")
            try:
                out = Decimal(value.strip())
            except InvalidOperation:
                raise _Invalid from None
        else:
            raise _Invalid
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise _Invalid
        try:
            out = float(value)
        except OverflowError:  # an int beyond a float's range
            raise _Invalid("not a finite number") from None
    elif tp is str:
        if not isinstance(value, str):
            raise _Invalid
        text = _check_text(value, meta.get("max_len", MAX_TEXT))
        return _check_url(text, meta["url"]) if meta.get("url") else text
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
        return Path(_check_text(value, meta.get("max_len", MAX_TEXT))).expanduser()
    elif tp is Secret:
        if not isinstance(value, str) or not (value.startswith("env:") or value.startswith("file:")):
            raise _Invalid
        if len(value.split(":", 1)[1]) == 0:
            raise _Invalid
        return Secret(_check_text(value, MAX_TEXT))
    else:  # pragma: no cover - settings_problem refuses such a plugin's class when it loads
        raise TypeError(f"unsupported settings type {tp!r}")
    _check_number(tp, out)
    for name, ok in (("ge", operator.ge), ("gt", operator.gt), ("le", operator.le), ("lt", operator.lt)):
        bound = meta.get(name)
        if bound is not None and not ok(out, type(out)(bound) if tp is not Decimal else Decimal(str(bound))):
            raise _Invalid
    return out


_SCALARS = (bool, int, Decimal, float, str, dt.time, Path, Secret)


def _supported(tp: Any) -> bool:
    """Whether :func:`_convert` can read a value of type ``tp`` (it follows the same branches)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) == 2:  # a value or a table of them: one scalar type and one table type
            return sum(typing.get_origin(a) is dict for a in inner) == 1 and all(_supported(a) for a in inner)
        return len(inner) == 1 and _supported(inner[0])
    if origin is Literal:
        return True
    if origin is list:
        args = typing.get_args(tp)
        return len(args) == 1 and _supported(args[0])
    if origin is dict:
        value_type = typing.get_args(tp)[1] if typing.get_args(tp) else str
        return typing.get_origin(value_type) is not dict or _supported(value_type)
    return tp in _SCALARS


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp)


def settings_problem(cls: Any) -> str | None:
    """What makes ``cls`` unfit to describe a config table (not a dataclass, not frozen, annotations that cannot be
    read, a field of a type this module cannot read), or None. Checked when a plugin's class is loaded, so the plugin
    is refused by name instead of failing later inside :func:`parse_settings`.

    Settings are read-only once validated: the host and other plugins (a service's ``operator.plugin_settings``,
    the rebalancer reading strategies' settings) read the same validated object, so a component assigning to its
    own would change what they read, unchecked, behind their back."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        return "is not a dataclass"
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        return "is not frozen: declare it @dataclass(frozen=True) (settings are read-only once validated)"
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:
        return f"has annotations that cannot be read: {type(exc).__name__}: {exc}"
    bad = [f"{f.name} ({_type_name(hints[f.name])})" for f in dataclasses.fields(cls) if not _supported(hints[f.name])]
    return f"has fields of a type settings cannot hold: {', '.join(bad)}" if bad else None


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
                   ignore: Collection[str] = frozenset(), owner: str = "") -> T | None:
    """Build ``cls`` (a dataclass) from a TOML table; append every problem to ``issues``.

    Returns the instance, or None when there were problems. Keys in ``ignore`` are skipped
    (the host's own keys in a plugin's table, such as ``type``). A key the class names in its
    ``REMOVED_KEYS`` class attribute (key -> what to do instead) is refused with that fix, not as an
    unknown key. ``owner`` (``plugin "x"``) names
    whose code raised when the class's own ``__post_init__`` or ``validate()`` fails: a config issue
    at ``path``, not a traceback.
    """
    if not isinstance(table, dict):
        issues.append(ConfigIssue(path, f"expected a table, got {got(table)}"))
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    removed: Mapping[str, str] = getattr(cls, "REMOVED_KEYS", {})
    before = len(issues)
    values: dict[str, Any] = {}
    required = {name for name, f in fields.items() if f.default is MISSING and f.default_factory is MISSING}
    misspelt: set[str] = set()  # required keys a did-you-mean already points at: not reported missing as well
    for key, value in table.items():
        if key in ignore:
            continue
        if key not in fields:
            instead = removed.get(key)
            if instead is not None:
                issues.append(ConfigIssue(_join(path, key), f"removed: {instead}"))
                continue
            hint = did_you_mean(key, fields)
            meant = closest(key, fields)
            if meant in required and meant not in table:
                misspelt.add(meant)
                hint += " (a required key)"
            issues.append(ConfigIssue(_join(path, key), "unknown key" + hint))
            continue
        f = fields[key]
        tp = hints[f.name]
        try:
            values[key] = _convert(tp, value, f.metadata)
        except _Invalid as exc:
            shown = "a literal value (not shown: keep secrets out of config files)" if _is_secret(tp) else got(value)
            reason = f" ({exc.reason})" if exc.reason else ""
            issues.append(ConfigIssue(_join(path, key), f"expected {describe(tp, f.metadata)}, got {shown}{reason}"))
    for name, f in fields.items():
        if name not in table and name in required and name not in misspelt:
            issues.append(
                ConfigIssue(_join(path, name), f"missing required key ({describe(hints[name], f.metadata)}: "
                            f"{f.metadata.get('help', '')})")
            )
    if len(issues) > before:
        return None
    its = f"{owner}: its " if owner else ""
    try:
        instance = cls(**values)
    except Exception as exc:
        issues.append(ConfigIssue(path, f"{its}Settings class {cls.__name__} raised {type(exc).__name__}: {exc}"))
        return None
    check = getattr(instance, "validate", None)
    if check is not None:
        try:
            found = [(key, problem) for key, problem in check()]
        except Exception as exc:
            issues.append(ConfigIssue(path, f"{its}Settings.validate() raised {type(exc).__name__}: {exc}"))
            return None
        issues += [ConfigIssue(_join(path, key), problem) for key, problem in found]
        if len(issues) > before:
            return None
    return instance


def unbounded(cls: type) -> list[str]:
    """The ``int`` and ``float`` fields of a settings dataclass without both a lower and an upper bound,
    and the ``Decimal`` ones without a lower bound: what ``option(ge=..., le=...)`` should still declare."""
    missing = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        if tp not in (int, float, Decimal):
            continue
        lower = f.metadata.get("ge") is not None or f.metadata.get("gt") is not None
        upper = f.metadata.get("le") is not None or f.metadata.get("lt") is not None
        if not lower or (tp is not Decimal and not upper):
            missing.append(f.name)
    return missing


def _is_secret(tp: Any) -> bool:
    return tp is Secret or Secret in typing.get_args(tp)


def _join(path: str, key: str) -> str:
    """``path.key``; ``key`` empty: a problem of the table as a whole, at ``path``."""
    return f"{path}.{key}" if path and key else path or key


def secrets_in(obj: Any) -> list[tuple[str, Secret]]:
    """Every Secret held by a settings dataclass, with its field name."""
    found = []
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, Secret):
                found.append((f.name, value))
    return found
