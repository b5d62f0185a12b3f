"""A fleet on one machine for tests and benchmarks: real PostgreSQL, real nats-server, real `arbot run`.

:class:`Postgres` is a throwaway server (``.ci/pgserver.py``) that can be stopped and started again
on the same port and data; the nats-server is ``tests/helpers/nats_server.py``'s (killed and started
again on the same port, its JetStream store kept); :class:`BotProcess` is one ``arbot run`` with its
own data folder, config and log. :func:`grid_config`, :func:`arb_config` and :func:`front_config` write
the three bots of the acceptance tests: a grid on one paper venue, an arbitrage on a paper CEX and a
paper pool, and a front with no strategies carrying the Telegram notifier.

What waits is async (the fake Telegram Bot API runs on the test's loop, so nothing may block it for long).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bot.control import send_command
from tests.helpers.nats_server import NatsServer, fleet_plugin_path
from tests.helpers.processes import arbot

ROOT = Path(__file__).resolve().parents[2]


def arbot_env(folder: Path) -> dict[str, str]:
    """The environment of an ``arbot`` subprocess: this checkout first, and the ``fleet`` plugin found even
    by a venv installed before its entry point existed (its metadata under ``folder``)."""
    plugin_path = fleet_plugin_path(folder / "plugin-path")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{plugin_path}", "NO_COLOR": "1"}


def fleet_unless_installed() -> list[tuple[str, object]]:
    """The fleet plugin as an extra plugin for ``load_plugins``, if this venv's metadata does not list it (yet)."""
    if any(ep.name == "fleet" for ep in importlib.metadata.entry_points(group="arbot")):
        return []
    import plugins.fleet

    return [("fleet", plugins.fleet)]


def load_module(name: str, path: Path) -> ModuleType:
    """A Python file that is not in a package (``.ci/pgserver.py``, a benchmark script) as a module."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_pgserver() -> ModuleType:
    """``.ci/pgserver.py``: the one place that knows how to run a throwaway PostgreSQL."""
    return load_module("pgserver", ROOT / ".ci" / "pgserver.py")


class Postgres:
    """A PostgreSQL server of its own (127.0.0.1, password auth), stoppable and restartable.

    Its folder is made directly in /tmp (as root the server runs as ``postgres``, which must reach
    it; pytest's tmp_path is private to root) and removed by :meth:`close`.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="arbot-fleet-pg."))
        self.url = ""
        self._pg = load_pgserver()

    @staticmethod
    def available() -> bool:
        return load_pgserver().binaries() is not None

    async def start(self) -> Postgres:
        self.url = await asyncio.to_thread(self._pg.start, self.root)
        return self

    def _pg_ctl(self, *args: str) -> None:
        bin_dir = self._pg.binaries()
        self._pg._run([str(bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "server.log"),
                       "-w", *args])

    async def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as a crash would; ``fast``: disconnecting every client)."""
        await asyncio.to_thread(self._pg_ctl, "-m", mode, "stop")

    async def start_again(self) -> None:
        """Start the stopped server with its first options (``pg_ctl restart`` reuses postmaster.opts)."""
        await asyncio.to_thread(self._pg_ctl, "restart")

    async def close(self) -> None:
        try:
            await asyncio.to_thread(self._pg.stop, self.root)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class BotProcess:
    """One ``arbot run --config DIR/arbot.toml`` with its own data folder; its log is ``DIR/run.log``."""

    name: str
    folder: Path
    config: str
    proc: asyncio.subprocess.Process | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.folder / "arbot.toml"

    @property
    def log_path(self) -> Path:
        return self.folder / "run.log"

    @property
    def socket(self) -> Path:
        return self.folder / "arbot.sock"

    def venue_file(self, name: str) -> Path:
        """A paper venue's own state file (its submissions, orders, fills), as the venue saw them."""
        return self.folder / f"{name}.db"

    async def start(self) -> BotProcess:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config)
        self.config_path.chmod(0o600)
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *arbot("run", "--config", str(self.config_path)), cwd=self.folder, stdout=log,
                stderr=subprocess.STDOUT, env={**arbot_env(self.folder), "PYTHONUNBUFFERED": "1", **self.env})
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def ctl(self, command: str, *args: str) -> dict[str, Any]:
        """``arbot ctl COMMAND ARGS`` over the bot's control socket (admin, local): ``{"ok": ..., "text": ...}``."""
        return await send_command(self.socket, command, list(args), timeout_s=30)

    async def ready(self, timeout_s: float = 90) -> None:
        """Until the bot answers on its control socket (it opens once every part has started)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if not self.running:
                code = self.proc.returncode if self.proc else None
                raise AssertionError(f"{self.name} exited ({code}):\n{self.log()[-3000:]}")
            if self.socket.exists():
                try:
                    if (await self.ctl("status")).get("ok"):
                        return
                except (OSError, TimeoutError, ValueError):
                    pass
            if loop.time() > deadline:
                raise AssertionError(f"{self.name} not ready after {timeout_s} s:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.1)

    async def stop(self, timeout_s: float = 60) -> int | None:
        """SIGTERM and wait for a clean exit (SIGKILL after ``timeout_s``); the exit code."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout_s)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode


# --- the acceptance fleet's configs ----------------------------------------------------------------

ADMIN = 1001
"""The Telegram user who runs the fleet: admin on the front and on every bot."""
OUTSIDER = 2002
"""A Telegram user the front lets in (operator) whom no other bot knows: the receiving bots refuse him."""
GROUP = -500
"""The fleet's alert chat."""
CLI_USER = "fleetqa"
"""Who `arbot fleet` runs as in the tests: an admin on every bot."""


def _head(name: str, folder: Path, db_url_file: Path) -> str:
    return textwrap.dedent(f"""\
        mode = "paper"
        [bot]
        name = "{name}"
        data_dir = "{folder}"
        db_url = "file:{db_url_file}"
        control_socket = "arbot.sock"
        shutdown_timeout_s = 10
        [notifiers.console]
        min_level = "error"
        """)


def fleet_table(nats_url: str, *, relay_alerts: bool = False, extra: str = "") -> str:
    """``[plugins.fleet]``: the bus, and who is who (the front's Telegram admin is an admin everywhere)."""
    return textwrap.dedent(f"""\
        [plugins.fleet]
        enabled = true
        nats_url = "{nats_url}"
        jetstream = true
        reconnect_wait_s = 0.5
        roles = {{ "telegram:{ADMIN}" = "admin", "cli:{CLI_USER}" = "admin" }}
        cli_user = "{CLI_USER}"
        heartbeat_s = 0.5
        relay_alerts = {"true" if relay_alerts else "false"}
        """) + extra


def grid_config(name: str, folder: Path, db_url_file: Path, fleet: str) -> str:
    """Two grids on one paper venue whose prices move enough that resting orders fill every few seconds."""
    return _head(name, folder, db_url_file) + textwrap.dedent("""\
        [executor]
        orders_per_s = 200
        burst = 50
        [exchanges.paper]
        symbols = ["BTC/USD", "ETH/USD"]
        start_prices = { "BTC/USD" = "30000", "ETH/USD" = "2000" }
        volatility_bps = "4"
        tick_interval_ms = 50
        initial_balances = { USD = "1000000", BTC = "10", ETH = "100" }
        state_file = "paper.db"
        [strategies.btc-grid]
        type = "grid"
        exchange = "paper"
        symbol = "BTC/USD"
        lower = "29400"
        upper = "30600"
        levels = 25
        order_size = "0.01"
        post_only = false
        retry_after_s = 0.5
        [strategies.eth-grid]
        type = "grid"
        exchange = "paper"
        symbol = "ETH/USD"
        lower = "1960"
        upper = "2040"
        levels = 17
        order_size = "0.1"
        post_only = false
        retry_after_s = 0.5
        """) + fleet


def arb_config(name: str, folder: Path, db_url_file: Path, fleet: str) -> str:
    """An arbitrage between a paper CEX and a paper pool that dislocates often (a trade every few seconds)."""
    return _head(name, folder, db_url_file) + textwrap.dedent("""\
        [exchanges.cex]
        type = "paper"
        symbols = ["SOL/USDC"]
        start_prices = { "SOL/USDC" = "150" }
        tick_size = "0.01"
        lot_size = "0.001"
        min_qty = "0.01"
        level_qty = "50"
        spread_ticks = 2
        level_step_ticks = 1
        volatility_bps = "2"
        tick_interval_ms = 100
        maker_fee_bps = "5"
        taker_fee_bps = "10"
        initial_balances = { SOL = "1000", USDC = "150000" }
        state_file = "cex.db"
        [exchanges.pool]
        type = "paper-dex"
        symbol = "SOL/USDC"
        anchor = "cex"
        start_price = "150"
        dislocation_probability = "0.25"
        dislocation_min_bps = "40"
        dislocation_max_bps = "120"
        tick_interval_ms = 200
        initial_balances = { SOL = "1000", USDC = "150000" }
        state_file = "pool.db"
        [strategies.sol-arb]
        type = "arb"
        cex = "cex"
        dex = "pool"
        symbol = "SOL/USDC"
        cex_taker_fee_bps = "10"
        min_edge_bps = "5"
        max_notional = "1500"
        size_step = "0.1"
        min_size = "0.1"
        """) + fleet


def front_config(name: str, folder: Path, db_url_file: Path, fleet: str, *, token_file: Path, base_url: str) -> str:
    """No strategy, no venue: the fleet's Telegram bot (the front's admin and, for the refusal test, an outsider)."""
    return _head(name, folder, db_url_file) + textwrap.dedent(f"""\
        [notifiers.telegram]
        token = "file:{token_file}"
        base_url = "{base_url}"
        users = {{ {ADMIN} = "admin", {OUTSIDER} = "operator" }}
        alert_chats = {{ {GROUP} = "all" }}
        poll_timeout_s = 1
        """) + fleet


def secret_file(path: Path, value: str) -> Path:
    """A secret for a ``file:`` reference: only its owner may read it."""
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


# --- the acceptance fleet: three bots, one PostgreSQL, one nats-server, the fake Telegram -----------

TOKEN = "123456:TEST-token-of-the-fleet-front"


class Fleet:
    """PostgreSQL, nats-server, the fake Telegram Bot API and three bots: ``grid-1``, ``arb-1`` and ``front``.

    ``watch`` is a NATS subscriber of the test's own: every bot's latest heartbeat (``status(bot)``).
    """

    def __init__(self, root: Path, *, fleet_extra: str = ""):
        self.root = root
        self.pg = Postgres()
        self.nats = NatsServer(root / "nats")
        self.api: Any = None
        self.bots: dict[str, BotProcess] = {}
        self.fleet_extra = fleet_extra
        self.heartbeats: dict[str, dict[str, Any]] = {}
        """bot -> the ``data`` of its latest heartbeat (status)."""
        self.heard_ns: dict[str, int] = {}
        """bot -> when its latest heartbeat arrived here (wall clock, ns)."""
        self.seen: dict[str, set[int]] = {}
        """bot -> the numbers (``seq``) of its events this subscriber received live (not the heartbeats)."""
        self._nc: Any = None

    async def start(self) -> Fleet:
        from tests.fakes.telegram_api import FakeBotAPI

        await self.pg.start()
        await asyncio.to_thread(self.nats.start)
        self.api = await FakeBotAPI(TOKEN).start()
        db_url_file = secret_file(self.root / "db-url", self.pg.url)
        token_file = secret_file(self.root / "telegram-token", TOKEN)
        extra = self.fleet_extra
        for name, make in (("grid-1", grid_config), ("arb-1", arb_config)):
            folder = self.root / name
            self.bots[name] = BotProcess(name, folder, make(name, folder, db_url_file,
                                                            fleet_table(self.nats.url, extra=extra)))
        folder = self.root / "front"
        self.bots["front"] = BotProcess("front", folder, front_config(
            "front", folder, db_url_file, fleet_table(self.nats.url, relay_alerts=True, extra=extra),
            token_file=token_file, base_url=self.api.base_url))
        for bot in self.bots.values():
            await bot.start()
        await asyncio.gather(*(bot.ready() for bot in self.bots.values()))
        await self.watch()
        return self

    async def watch(self) -> None:
        """Subscribe to every bot's heartbeats and events (reconnecting forever, as the bots do)."""
        import json

        import nats

        async def on_event(msg: Any) -> None:
            event = json.loads(msg.data)
            if event["kind"] == "status":
                self.heartbeats[event["bot"]] = event["data"]
                self.heard_ns[event["bot"]] = time.time_ns()
            else:
                self.seen.setdefault(event["bot"], set()).add(event["seq"])

        async def quiet(exc: Exception) -> None:
            pass

        self._nc = await nats.connect(self.nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2,
                                      error_cb=quiet)
        await self._nc.subscribe("arbot.*.evt.>", cb=on_event)

    def link(self, bot: str) -> dict[str, Any]:
        """The bot's fleet link counters in its latest heartbeat: connected, published, buffered, dropped..."""
        return dict(self.heartbeats.get(bot, {}).get("link", {}))

    async def stream_seqs(self) -> dict[str, list[int]]:
        """bot -> the numbers (``seq``) of its events kept in the JetStream stream ARBOT_EVENTS, in stream order."""
        import json

        js = self._nc.jetstream()
        expected = (await js.stream_info("ARBOT_EVENTS")).state.messages
        sub = await js.subscribe("arbot.>", stream="ARBOT_EVENTS", ordered_consumer=True)
        seqs: dict[str, list[int]] = {}
        try:
            for _ in range(expected):
                event = json.loads((await sub.next_msg(timeout=10)).data)
                seqs.setdefault(event["bot"], []).append(event["seq"])
        finally:
            await sub.unsubscribe()
        return seqs

    async def close(self) -> None:
        try:
            await asyncio.gather(*(bot.stop() for bot in self.bots.values()))
        finally:
            if self._nc is not None:
                await self._nc.close()
            if self.api is not None:
                await self.api.close()
            self.nats.close()
            await self.pg.close()
