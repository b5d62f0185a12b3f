"""What a status surface quotes of a strategy's failure: the exception's type and message, every known secret masked,
on one line cut to a bound, with no file path (a traceback's or the message's own) and no control character.

The host records it once, where it records the failure (:func:`bot.logs.describe_failure`); ``/status``,
``/strategies``, the stream's status channel, the web console and the fleet's heartbeat all read that record."""

from __future__ import annotations

import asyncio
import json

from bot import hookimpl
from bot.api import Caller, PermanentError, Strategy
from bot.logs import FAILURE_MAX_CHARS, describe_failure
from plugins.stream import running_server
from tests.helpers import secret_kit
from tests.plugins.stream.test_stream_server import BOB, login, recv, stream_toml

PATH = "/home/user/secret-project/strategies/mine.py"
TRACEBACK = (f'Traceback (most recent call last):\n  File "{PATH}", line 12, in on_order_update\n'
             "    raise RuntimeError(reason)\nRuntimeError: venue said no")


def nasty(key: str = secret_kit.KEY) -> RuntimeError:
    """An exception whose text quotes a key, a path, a whole traceback, a terminal escape and a huge line."""
    return RuntimeError(f"cannot go on: apikey={key} reading {PATH}\n{TRACEBACK}\n\x1b[2J" + "x" * 5000)


def check_quoted(text: str) -> None:
    assert secret_kit.KEY not in text and "apikey=***" in text, text
    assert "secret-project" not in text and "/home/" not in text and "mine.py" in text, text
    assert "\n" not in text and "\x1b" not in text and "line 12" not in text, text
    assert len(text) <= FAILURE_MAX_CHARS + 80, len(text)  # the bound, and the host's words around it


def test_describe_failure_keeps_the_type_and_message_masked_short_and_without_paths(monkeypatch):
    secret_kit.know_the_key(monkeypatch)
    text = describe_failure(nasty())
    assert text.startswith("RuntimeError: cannot go on: apikey=*** reading …/mine.py RuntimeError: venue said no"), text
    assert len(text) == FAILURE_MAX_CHARS and text.endswith("…"), text
    check_quoted(text)
    assert describe_failure(ValueError("plain")) == "ValueError: plain"
    assert describe_failure(KeyError("x")) == "KeyError: 'x'"
    assert describe_failure(RuntimeError()) == "RuntimeError"
    assert describe_failure(FileNotFoundError(2, "No such file or directory", r"C:\Users\me\secret\k.pem")) == (
        "FileNotFoundError: [Errno 2] No such file or directory: '…\\k.pem'")
    # a URL's path is the venue's, not this machine's: kept
    assert describe_failure(PermanentError("401 for https://venue.example/0/private/AddOrder")) == (
        "PermanentError: 401 for https://venue.example/0/private/AddOrder")
    assert describe_failure(RuntimeError("bidi \u202eevil")) == "RuntimeError: bidi \\u202eevil"
    assert describe_failure(RuntimeError(" \x1b\x07 ")) == "RuntimeError: \\x1b\\x07"  # an escape is no path

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise ValueError("no")

    assert describe_failure(Unprintable()) == "Unprintable (its text could not be read)"


class Brittle(Strategy):
    """Fails on its first rejected order with :func:`nasty`'s text."""

    def markets(self):
        return [("v", "BTC/USD")]

    def on_order_update(self, update):
        if update.reason:
            raise nasty()


class NoStart(Strategy):
    def markets(self):
        return [("v", "BTC/USD")]

    async def start(self) -> None:
        raise nasty()


class brittle_plugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("brittle", Brittle)
        register("no-start", NoStart)


TOML = secret_kit.TOML.replace('type = "fragile"', 'type = "brittle"') + '[strategies.n]\ntype = "no-start"\n'


async def test_every_status_surface_quotes_a_failed_strategy_short_masked_and_without_paths(make_bot, monkeypatch,
                                                                                            tmp_path):
    import aiohttp

    import plugins.web
    from bot.builtins import status, strategies
    from bot.config import resolve_secrets
    from tests.plugins.web.conftest import TOKENS, users_toml

    secret_kit.know_the_key(monkeypatch)
    monkeypatch.setenv("ARBOT_WEB_TEST_VERA", TOKENS["vera"][1])
    monkeypatch.setenv("ARBOT_WEB_TEST_ADA", TOKENS["ada"][1])
    web = f"[plugins.web]\nenabled = true\nport = 0\n{users_toml(tmp_path)}\n"
    bot = await make_bot(TOML + web + stream_toml(status_every_s=0.1), start=False,
                         extra=[("secret-kit", secret_kit.plugin), ("brittle", brittle_plugin), ("web", plugins.web)])
    resolve_secrets(bot.config)
    await bot.start()
    try:
        op = bot.operator
        ws, _ = await login(f"ws://127.0.0.1:{running_server(op).port}", BOB)
        await ws.send(json.dumps({"type": "subscribe", "channels": ["status"]}))
        assert (await recv(ws))["type"] == "subscribed"
        await secret_kit.reject_an_order(bot)
        for name in ("s", "n"):  # the host's record
            state = op.strategy_state(name)
            assert state.startswith("failed (RuntimeError: cannot go on" if name == "s"
                                    else "failed (not started: start() raised RuntimeError: cannot go on"), state
            check_quoted(state)
        admin = Caller("local", "uid:0", "admin")
        rows = dict((await status(op, admin, [])).rows)
        listed = {row[0]: row[2] for row in (await strategies(op, admin, [])).rows}
        console = plugins.web.running_server(op)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{console.port}/api/v1/strategies",
                                headers={"Authorization": f"Bearer {TOKENS['vera'][1]}"}) as response:
                on_web = {s["name"]: s["state"] for s in (await response.json())["items"]}
        on_web_events = console.events.status()["strategies"]
        # /plugins, `arbot plugins`, the web console's plugins and the alert: the plugin's error says it too
        [raised] = [e for info in op.plugins() if info.name == "brittle" for e in info.errors if '"s" raised' in e]
        check_quoted(raised)
        for name in ("s", "n"):
            for surface in (rows, listed, on_web, on_web_events):  # /status, /strategies, the web console
                check_quoted(surface[name])
        async with asyncio.timeout(10):  # the stream's status channel
            while True:
                frame = await recv(ws)
                shown = frame.get("data", {}).get("strategies", {})
                if frame.get("type") == "event" and shown.get("s", "").startswith("failed"):
                    break
        await ws.close()
        check_quoted(shown["s"])
        check_quoted(shown["n"])
    finally:
        await bot.stop()
