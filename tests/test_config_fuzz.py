"""Config fuzz: absurd values, conflicting tables and hostile files are refused with their key path,
never a traceback or a hang; whatever passes starts without blocking.

The settings dataclasses are enumerated from the host and every installed first-party plugin, so a
setting added later is covered (and must declare its bounds: ``test_every_number_is_bounded``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import io
import json
import os
import subprocess
import sys
import threading
import time
import tomllib
import tracemalloc
import types
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import cli
from bot.api.testing import unbounded
from bot.app import Bot
from bot.config import HOST_SECTIONS, build_config, parse_toml
from bot.plugins import collect, load_plugins
from bot.settings import ConfigIssue, option, parse_settings
from tests.helpers.processes import arbot

ROOT = Path(__file__).resolve().parent.parent


def _not_installed_first_party() -> list[tuple[str, object]]:
    """First-party plugins pyproject.toml lists that this environment's metadata does not (yet): a venv
    installed before they were added still has every one of them checked."""
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["arbot"]
    installed = {ep.name for ep in importlib.metadata.entry_points(group="arbot")}
    found = []
    for name, target in listed.items():
        if name not in installed:
            module, _, attr = target.partition(":")
            obj = importlib.import_module(module)
            found.append((name, getattr(obj, attr) if attr else obj))
    return found


PLUGINS = load_plugins(extra=_not_installed_first_party(), report=lambda info, message: None)
REGISTRY = collect(PLUGINS)


def settings_classes() -> dict[str, type]:
    """Config path -> settings dataclass, for the host and every registered first-party plugin."""
    found: dict[str, type] = dict(HOST_SECTIONS)
    for kind, section in (("exchange", "exchanges"), ("strategy", "strategies"), ("risk", "risk"),
                          ("notifier", "notifiers")):
        for type_name, cls in REGISTRY.classes(kind).items():
            settings_cls = getattr(cls, "Settings", None)
            if dataclasses.is_dataclass(settings_cls) and cls.__module__.startswith("plugins."):
                found[f"{section}.{type_name}"] = settings_cls
    for name, reg in REGISTRY.plugin_settings.items():
        if reg.obj.__module__.startswith("plugins."):
            found[f"plugins.{name}"] = reg.obj
    return found


def _base(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


NUMERIC: list[tuple[str, type, dataclasses.Field[Any], type]] = [
    (path, cls, f, _base(typing.get_type_hints(cls)[f.name]))
    for path, cls in settings_classes().items() for f in dataclasses.fields(cls)
    if _base(typing.get_type_hints(cls)[f.name]) in (int, float, Decimal)
]


def test_the_enumeration_sees_host_and_plugins():
    paths = {path for path, *_ in NUMERIC}
    for expected in ("executor", "bot", "exchanges.paper", "exchanges.paper-dex", "strategies.grid",
                     "strategies.arb", "exchanges.kraken", "plugins.stream", "plugins.metrics"):
        assert expected in paths
    assert len(NUMERIC) > 100


SNOWFLAKES = {("notifiers.discord", "alert_channel_id")}
"""Ids that may be any 64-bit integer (the host keeps every int within 64 bits)."""


@pytest.mark.parametrize("path", sorted(settings_classes()))
def test_every_number_is_bounded(path):
    """Each int and float setting declares a lower and an upper bound; a Decimal at least a lower one
    (the host keeps every Decimal within DECIMAL_RANGE)."""
    missing = [name for name in unbounded(settings_classes()[path]) if (path, name) not in SNOWFLAKES]
    assert not missing, f"[{path}] {missing}: declare both bounds, e.g. option(..., ge=0, le=10_000)"


def test_unbounded_finds_what_is_missing():
    @dataclasses.dataclass(frozen=True)
    class Loose:
        count: int = option(1, ge=0, help="no upper bound")
        rate: float | None = option(None, help="no bound at all")
        money: Decimal = option(Decimal(1), gt=0, help="the host's range is its upper bound")
        port: int = option(1, ge=0, le=65535, help="bounded")

    assert unbounded(Loose) == ["count", "rate"]


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(text, text)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


ABSURD = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 10**9, 10**18, 2**63, 1e-300, 1e300, 1e20, 1e-30, 1e400]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["1e-30", "1e400", "nan", "inf", "-0", "0.000000000000000000001", "9" * 40, "1e18", "abc"]),
    st.booleans(),
)


def _within(value: Any, meta: Any) -> bool:
    for key, ok in (("ge", lambda v, b: v >= b), ("gt", lambda v, b: v > b), ("le", lambda v, b: v <= b),
                    ("lt", lambda v, b: v < b)):
        bound = meta.get(key)
        if bound is not None and not ok(value, type(value)(str(bound)) if isinstance(value, Decimal) else bound):
            return False
    return True


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(NUMERIC), value=ABSURD)
def test_any_value_of_any_number_is_refused_with_its_path_or_within_bounds(target, value):
    path, cls, field, tp = target
    text = f"{field.name} = {_toml_literal(value)}\n"
    try:
        table = parse_toml(text, "fuzz.toml")
    except Exception as exc:  # what TOML itself refuses is a ConfigError, never anything else
        assert type(exc).__name__ == "ConfigError", exc
        return
    issues: list[ConfigIssue] = []
    parsed = parse_settings(cls, table, path, issues)
    own = [i for i in issues if i.path == f"{path}.{field.name}"]
    if own:  # refused, with its key path (a form or bound error, or the plugin's own cross-check)
        assert own[0].problem and "\n" not in own[0].problem, own[0]
        return
    if parsed is None:  # other keys of the table are required or cross-checked: build the value alone
        return
    got = getattr(parsed, field.name)
    assert got is not None
    if isinstance(got, float):
        assert got == got and abs(got) != float("inf")
    if isinstance(got, Decimal):
        assert got.is_finite() and (not got or -18 <= got.normalize().as_tuple().exponent and got.adjusted() < 18)
    assert _within(got, field.metadata), (path, field.name, got)


# --- the listed kinds, through `arbot check-config` in-process ------------------------------------------


def check_config(path: Path, timeout_s: float = 60) -> tuple[int, str]:
    """``arbot check-config PATH`` in this process: (exit status, stderr + stdout); fails on a hang."""
    out = io.StringIO()
    result: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with contextlib.redirect_stderr(out), contextlib.redirect_stdout(out):
                result.append(cli.main(["check-config", str(path)]))
        except BaseException as exc:  # noqa: BLE001 - any escape is the failure under test
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout_s)
    assert not worker.is_alive(), f"check-config {path} hung for {timeout_s} s"
    assert not errors, f"check-config raised {errors[0]!r}"
    text = out.getvalue()
    assert "Traceback" not in text, text
    return result[0], text


GRID = '''
[exchanges.paper]
[strategies.g]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "28000"
upper = "32000"
levels = {levels}
order_size = {size}
'''


def _grid(levels: str = "10", size: str = '"0.01"') -> str:
    return GRID.format(levels=levels, size=size)


def _bot(tmp_path: Path, extra: str = "", **keys: str) -> str:
    lines = [f'data_dir = "{tmp_path / "data"}"', 'control_socket = ""'] + [f"{k} = {v}" for k, v in keys.items()]
    return "[bot]\n" + "\n".join(lines) + "\n" + extra


NOT_UTF8 = bytes([0xFF, 0xFE])


def _private_file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    path.chmod(0o600)
    return path


# (id, config text builder taking tmp_path, key path expected in the message)
KINDS: list[tuple[str, Any, str]] = [
    ("levels-huge", lambda t: _bot(t) + _grid("1000000000"), "strategies.g.levels"),
    ("levels-float", lambda t: _bot(t) + _grid("1e20"), "strategies.g.levels"),
    ("levels-one", lambda t: _bot(t) + _grid("1"), "strategies.g.levels"),
    ("size-tiny", lambda t: _bot(t) + _grid(size='"1e-30"'), "strategies.g.order_size"),
    ("size-huge", lambda t: _bot(t) + _grid(size="1e400"), "strategies.g.order_size"),
    ("size-nan", lambda t: _bot(t) + _grid(size="nan"), "strategies.g.order_size"),
    ("size-many-digits", lambda t: _bot(t) + _grid(size='"0.1234567890123456789012"'), "strategies.g.order_size"),
    ("shutdown-inf", lambda t: _bot(t, shutdown_timeout_s="inf"), "bot.shutdown_timeout_s"),
    ("shutdown-nan", lambda t: _bot(t, shutdown_timeout_s="nan"), "bot.shutdown_timeout_s"),
    ("orders-per-s-tiny", lambda t: _bot(t) + "[executor]\norders_per_s = 1e-300\n", "executor.orders_per_s"),
    ("retries-negative", lambda t: _bot(t) + "[executor]\nmax_retries = -1\n", "executor.max_retries"),
    ("queue-huge", lambda t: _bot(t) + "[alerts]\nqueue_size = 1000000000000\n", "alerts.queue_size"),
    ("port-out-of-range", lambda t: _bot(t) + "[plugins.metrics]\nport = 70000\n", "plugins.metrics.port"),
    ("stream-buffer-huge", lambda t: _bot(t) + "[plugins.stream]\nbuffer_events = 1000000000000\n",
     "plugins.stream.buffer_events"),
    ("stream-no-connections", lambda t: _bot(t) + "[plugins.stream]\nmax_connections = 0\n",
     "plugins.stream.max_connections"),
    ("shared-state-file", lambda t: _bot(t) + '[exchanges.a]\ntype = "paper"\nstate_file = "x.db"\n'
                                               '[exchanges.b]\ntype = "paper-dex"\nstate_file = "./x.db"\n',
     "exchanges.b.state_file"),
    ("state-file-is-the-store", lambda t: _bot(t, db_url='"sqlite:///arbot.db"')
     + '[exchanges.a]\ntype = "paper"\nstate_file = "arbot.db"\n', "exchanges.a.state_file"),
    ("grid-on-a-dex", lambda t: _bot(t) + '[exchanges.pool]\ntype = "paper-dex"\n'
                                          + _grid().replace("[exchanges.paper]\n", "").replace('"paper"', '"pool"'),
     "strategies.g.exchange"),
    ("arb-cex-is-a-dex", lambda t: _bot(t) + '[exchanges.p1]\ntype = "paper-dex"\n[exchanges.p2]\ntype = '
                                             '"paper-dex"\nstate_file = "p2.db"\n[strategies.a]\ntype = "arb"\n'
                                             'cex = "p1"\ndex = "p2"\nsymbol = "SOL/USDC"\nmax_notional = "100"\n'
                                             'size_step = "0.1"\n', "strategies.a.cex"),
    ("name-with-newline", lambda t: _bot(t) + _grid().replace("[strategies.g]", '[strategies."g\\nx"]'),
     "strategies."),
    ("name-with-space", lambda t: _bot(t) + _grid().replace("[strategies.g]", '[strategies."my grid"]'),
     'strategies."my grid"'),
    ("name-executor", lambda t: _bot(t) + _grid().replace("[strategies.g]", "[strategies.executor]"),
     "strategies.executor"),
    ("name-portfolio", lambda t: _bot(t) + _grid().replace("[strategies.g]", "[strategies.portfolio]"),
     "strategies.portfolio"),
    ("name-twice", lambda t: _bot(t) + _grid().replace("[strategies.g]", "[strategies.paper]"), "strategies.paper"),
    ("symbol-control-char", lambda t: _bot(t) + _grid().replace('"BTC/USD"', '"BTC/USD\\u0000"'),
     "strategies.g.symbol"),
    ("symbol-megabyte", lambda t: _bot(t) + _grid().replace('"BTC/USD"', '"' + "A" * 1_000_000 + '"'),
     "strategies.g.symbol"),
    ("deep-nesting", lambda t: _bot(t) + "x = " + "[" * 100_000 + "]" * 100_000 + "\n", ""),
    ("socket-path-too-long", lambda t: _bot(t).replace('control_socket = ""', f'control_socket = "{"s" * 120}"'),
     "bot.control_socket"),
    ("db-driver-missing", lambda t: _bot(t, db_url='"postgresql+pg8000://u:pw@127.0.0.1/db"'), "bot.db_url"),
    ("data-dir-under-a-file", lambda t: _bot(t).replace(str(t / "data"), str(_private_file(t / "f", b"x") / "d")),
     "bot.data_dir"),
    ("secret-is-a-directory", lambda t: _bot(t, db_url=f'"file:{t}"'), "bot.db_url"),
    ("secret-is-a-fifo", lambda t: (os.mkfifo(t / "fifo", 0o600), _bot(t, db_url=f'"file:{t / "fifo"}"'))[1],
     "bot.db_url"),
    ("secret-not-utf8", lambda t: _bot(t, db_url=f'"file:{_private_file(t / "s", NOT_UTF8)}"'), "bot.db_url"),
    ("secret-env-missing", lambda t: _bot(t, db_url='"env:ARBOT_FUZZ_NOT_SET"'), "bot.db_url"),
    ("timezone-bogus", lambda t: _bot(t) + '[scheduler]\ntimezone = "Mars/Olympus"\n', "scheduler.timezone"),
    ("kraken-depth-huge", lambda t: _bot(t) + '[exchanges.k]\ntype = "kraken"\ndepth = 100000\n',
     "exchanges.k.depth"),
]


@pytest.mark.parametrize("build,expected", [(b, e) for _, b, e in KINDS], ids=[k for k, _, _ in KINDS])
def test_listed_kinds_are_refused_with_their_key_path(tmp_path, build, expected):
    path = tmp_path / "fuzz.toml"
    path.write_text(build(tmp_path), encoding="utf-8")
    status, text = check_config(path)
    assert status == 2, text
    assert "invalid config" in text and expected in text, text
    assert len(text) < 4000, text


def test_non_utf8_config_is_one_message(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[bot]\ndata_dir = "caf\xe9"\n'.encode("latin-1"))
    status, text = check_config(path)
    assert status == 2 and "not UTF-8" in text and "line 2" in text, text


def test_config_that_is_a_directory_or_fifo(tmp_path):
    status, text = check_config(tmp_path)
    assert status == 2 and "not a regular file" in text, text
    fifo = tmp_path / "c.toml"
    os.mkfifo(fifo)
    status, text = check_config(fifo, timeout_s=20)
    assert status == 2 and "not a regular file" in text, text


def test_missing_psycopg_is_a_message(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ModuleNotFoundError
    path = tmp_path / "pg.toml"
    path.write_text(_bot(tmp_path, db_url='"postgresql://u:secretpw@127.0.0.1/db"'))
    status, text = check_config(path)
    assert status == 2 and "bot.db_url" in text and "psycopg" in text and "secretpw" not in text, text


def test_a_good_config_passes(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text(_bot(tmp_path) + _grid())
    status, text = check_config(path)
    assert status == 0, text


@pytest.mark.parametrize("kind", ["secret-is-a-fifo", "secret-is-a-directory", "levels-huge"])
def test_check_config_subprocess(tmp_path, kind):
    build = next(b for k, b, _ in KINDS if k == kind)
    path = tmp_path / "fuzz.toml"
    path.write_text(build(tmp_path))
    out = subprocess.run(arbot("check-config", str(path)), capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr and "invalid config" in out.stderr, out.stderr


def test_non_utf8_config_subprocess(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'mode = "p\xe4per"\n')
    out = subprocess.run(arbot("check-config", str(path)), capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "not UTF-8" in out.stderr, out.stderr


# --- start-up at the bounds ---------------------------------------------------------------------------

EXTREMES = {
    "grid-1000-levels": _grid("1000", '"0.00001"').replace("[exchanges.paper]",
                                                          '[exchanges.paper]\ndepth_levels = 100\nspread_ticks = 10000'
                                                          '\nlevel_step_ticks = 100\ntick_interval_ms = 0'),
    "grid-geometric-1000-levels": _grid("1000").replace('order_size = "0.01"',
                                                        'order_size = "0.01"\nspacing = "geometric"'),
    "host-extremes": '[alerts]\nqueue_size = 1000000\n[executor]\nburst = 10000\norders_per_s = 10000\n'
                     '[scheduler]\nreconcile_every_s = 0.1\n' + _grid("1000"),
    "services-at-bounds": '[plugins.stream]\nenabled = true\nport = 0\nbuffer_events = 1000000\nmax_connections = '
                          '100000\n[plugins.metrics]\nenabled = true\nport = 0\n[plugins.charts]\nkeep_points = '
                          '100000\nsample_every_s = 0\n' + _grid("1000"),
    "paper-dex-at-bounds": '[exchanges.pool]\ntype = "paper-dex"\ntick_spacing = 1\nposition_widths_bps = ['
                           + ", ".join(str(w) for w in range(1, 1000)) + "]\ntick_interval_ms = 0\n",
}


def _literal(value: Any) -> str:
    return "true" if value is True else "false" if value is False else json.dumps(value)


def at_bound(cls: type, which: str) -> dict[str, Any]:
    """Every int and float setting of ``cls`` at its lower or upper bound (just inside a strict one)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        tp = _base(typing.get_type_hints(cls)[f.name])
        if tp not in (int, float):
            continue
        inclusive, strict = ("ge", "gt") if which == "lower" else ("le", "lt")
        if f.metadata.get(inclusive) is not None:
            values[f.name] = tp(f.metadata[inclusive])
        elif f.metadata.get(strict) is not None:
            bound = f.metadata[strict]
            nudge = 1 if tp is int else abs(bound) * 0.001 + 0.001
            values[f.name] = tp(bound + nudge if which == "lower" else bound - nudge)
    return values


GRID_KEYS = {"exchange", "symbol", "lower", "upper", "levels", "order_size"}
STARTABLE = ["executor", "scheduler", "alerts", "commands", "plugins.stream", "plugins.metrics", "plugins.charts",
             "plugins.web", "plugins.rebalance", "exchanges.paper", "exchanges.paper-dex", "strategies.grid",
             "risk.limits", "risk.staleness", "risk.breaker", "risk.prediction"]
"""Settings a bot can start with offline (no venue, chat or RPC endpoint to reach)."""


def bound_config(section: str, which: str) -> str:
    """A config with ``section``'s numbers at their bounds, next to a paper venue and a grid."""
    values = at_bound(settings_classes()[section], which)
    kind, _, name = section.partition(".")
    if kind == "plugins" and name in ("stream", "metrics", "web"):
        values.update(enabled=True, port=0)  # a free port: the bound is the kernel's business
    if kind == "exchanges":
        values["state_file"] = "x-state.db"  # its own file, apart from the grid's paper venue
    lines = "".join(f"{k} = {_literal(v)}\n" for k, v in values.items())
    grid = _grid()
    if section == "strategies.grid":
        grid = "".join(line + "\n" for line in grid.splitlines() if line.partition(" = ")[0] not in values) + lines
        return grid
    if kind in ("exchanges", "risk"):
        return f'[{kind}.x]\ntype = "{name}"\n{lines}' + grid
    return f"[{section}]\n{lines}" + grid


def build_dropping_refused(text: str) -> Any:
    """The config of ``text``, leaving out keys a cross-field check refuses at these bounds (a minimum above
    its maximum, say): the bounds themselves are what this tests."""
    for _ in range(10):
        try:
            return build_config(parse_toml(text, "x.toml"), REGISTRY, "x.toml")
        except Exception as exc:
            refused = {issue.path.rsplit(".", 1)[-1] for issue in getattr(exc, "issues", [])}
            kept = [line for line in text.splitlines() if line.partition(" = ")[0] not in refused - GRID_KEYS]
            assert refused - GRID_KEYS and len(kept) < len(text.splitlines()), exc
            text = "\n".join(kept) + "\n"
    raise AssertionError(text)


@pytest.mark.parametrize("which", ["lower", "upper"])
@pytest.mark.parametrize("section", STARTABLE)
async def test_every_number_at_its_bound_starts_without_blocking(tmp_path, section, which):
    config = build_dropping_refused(_bot(tmp_path) + bound_config(section, which))
    bot = Bot(config, PLUGINS, REGISTRY)
    tracemalloc.start()
    cpu = time.process_time()
    try:
        await bot.start()
        cpu = time.process_time() - cpu
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
        await bot.stop()
    # the issue's bound is 5 s of wall time; a start takes about 0.2 s of CPU here (memory traced), and one
    # that needs 2 s of CPU already takes more than 5 s on a busy machine; memory: about 20 MB
    assert cpu < 2, f"{section} at its {which} bounds: start-up took {cpu:.1f} s of CPU"
    assert peak_mb < 200, f"{section} at its {which} bounds: start-up allocated {peak_mb:.0f} MB"


@pytest.mark.parametrize("name", list(EXTREMES))
async def test_start_up_at_the_bounds_does_not_block(tmp_path, name):
    text = _bot(tmp_path) + EXTREMES[name]
    config = build_config(parse_toml(text, "x.toml"), REGISTRY, "x.toml")
    bot = Bot(config, PLUGINS, REGISTRY)
    cpu, wall = time.process_time(), time.monotonic()
    try:
        await bot.start()
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    finally:
        await bot.stop()
    # the issue's bound: start-up never blocks 5 s; CPU time, so a loaded machine does not fail it
    assert cpu < 5, f"{name}: start-up took {cpu:.1f} s of CPU ({wall:.1f} s wall)"
