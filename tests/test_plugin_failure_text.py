"""What a plugin's error says of a component that could not be built or started (a strategy, a risk check, a
notifier, a venue, a service): the failure's short text (:func:`bot.logs.describe_failure`), never the exception's
whole text with a local path, in ``op.plugins()`` (``/plugins``, ``arbot plugins``, the web console) and the
``plugin_error`` alert; the log keeps the whole exception, with its traceback (at DEBUG, as for every plugin
error)."""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import sys
from dataclasses import dataclass

import pytest

from bot import hookimpl
from bot.api import Job, Notifier, Secret, Service, Strategy, option
from bot.plugins import ComponentLoadError, collect, load_plugins, verify_registrations
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.waiting import wait_for

PATH = "/home/u/secret-project/x.py"


def local() -> RuntimeError:
    return RuntimeError(f"cannot open {PATH}")


class Recording(Notifier):
    sent: list = []

    async def send(self, alert):
        Recording.sent.append(alert)


class NoStart(Strategy):
    def markets(self):
        return [("v", "BTC/USD")]

    async def start(self) -> None:
        raise local()


class NoMarkets(Strategy):
    def markets(self):
        raise local()


class NoBuild(Strategy):
    def __init__(self, *args):
        raise local()


class NoStartService(Service):
    async def start(self) -> None:
        raise local()


class NoBuildService(Service):
    def __init__(self, *args):
        raise local()


class failing:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("no-start", NoStart)
        register("no-markets", NoMarkets)
        register("no-build", NoBuild)

    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("recording", Recording)

    @staticmethod
    @hookimpl
    def register_services(register):
        register("no-start-service", NoStartService)
        register("no-build-service", NoBuildService)


class raising_hooks:
    """A startup hook that raises, an async shutdown that raises, and a job that raises: each quoting a path."""

    @staticmethod
    @hookimpl
    def startup(bot):
        raise local()

    @staticmethod
    @hookimpl
    async def shutdown(bot):
        raise local()

    @staticmethod
    @hookimpl
    def register_jobs(register, config):
        async def tick(op):
            raise local()

        register(Job("tick", tick, every_s=0.05))


TOML = """
[exchanges.v]
type = "scripted"
[notifiers.rec]
type = "recording"
[strategies.started]
type = "no-start"
[strategies.listed]
type = "no-markets"
[strategies.built]
type = "no-build"
"""


async def test_a_component_that_fails_to_build_or_start_is_quoted_short_and_logged_whole(make_bot, caplog):
    Recording.sent.clear()
    caplog.set_level(logging.DEBUG)
    bot = await make_bot(TOML, extra=[("venue", venue_plugin), ("failing", failing)])
    op = bot.operator
    [errors] = [info.errors for info in op.plugins() if info.name == "failing"]
    expected = {"built": 'strategy "built" could not be created', "listed": 'strategy "listed" failed to start',
                "started": 'strategy "started" failed to start',
                "no-build-service": 'service "no-build-service" could not be created',
                "no-start-service": 'service "no-start-service" failed to start'}
    for what in expected.values():
        assert any(e.startswith(what) for e in errors), (what, errors)
    assert len(errors) == len(expected), errors
    await wait_for(lambda: sum(a.kind == "plugin_error" for a in Recording.sent) >= len(expected),
                   what="the plugin errors alerted")
    alerted = [a.message for a in Recording.sent if a.kind == "plugin_error"]
    for text in [*errors, *alerted]:
        assert "RuntimeError: cannot open …/x.py" in text, text
        assert "/home/" not in text and "secret-project" not in text, text
    logged = [r for r in caplog.records if r.exc_info and PATH in str(r.exc_info[1])]
    for name in expected:  # the log keeps the whole exception, with its traceback
        assert any(f'"{name}"' in r.getMessage() for r in logged), (name, [r.getMessage() for r in caplog.records])


async def test_a_hook_or_job_that_raises_is_quoted_short(make_bot):
    toml = '[exchanges.v]\ntype = "scripted"\n'
    bot = await make_bot(toml, extra=[("venue", venue_plugin), ("hooks", raising_hooks)])
    info = bot.plugins.infos["hooks"]
    await wait_for(lambda: any(e.startswith('job "tick" raised') for e in info.errors), what="the job to fail")
    await bot.stop()
    assert any(e.startswith("startup raised") for e in info.errors), info.errors
    assert any(e.startswith("shutdown raised") for e in info.errors), info.errors
    for text in info.errors:
        assert "RuntimeError: cannot open …/x.py" in text and "/home/" not in text, text


@dataclass(frozen=True)
class TokenSettings:
    token: Secret = option(help='"file:PATH"')


class NoNewToken(Notifier):
    Settings = TokenSettings

    async def send(self, alert):
        Recording.sent.append(alert)

    async def reload_secrets(self) -> None:
        raise local()


class NoReloadService(Service):
    async def reload_secrets(self) -> None:
        raise local()


class refusing_reload:
    @staticmethod
    @hookimpl
    def register_notifiers(register):
        register("no-new-token", NoNewToken)

    @staticmethod
    @hookimpl
    def register_services(register):
        register("no-reload-service", NoReloadService)


async def test_a_reload_that_raises_is_quoted_short_in_the_reply_and_the_alert(make_bot, tmp_path, caplog):
    Recording.sent.clear()
    caplog.set_level(logging.DEBUG)
    token = tmp_path / "tg.token"
    token.write_text("before")
    token.chmod(0o600)
    bot = await make_bot(f'[notifiers.tg]\ntype = "no-new-token"\ntoken = "file:{token}"\n',
                         extra=[("refusing", refusing_reload)])
    token.write_text("after")
    lines = await bot.reload_secrets(by="test")
    assert any(line.startswith("tg: could not take the new value") for line in lines), lines
    assert any(line.startswith("no-reload-service: ") for line in lines), lines
    await wait_for(lambda: sum(a.source in ("tg", "no-reload-service") for a in Recording.sent
                               if "error" in a.fields) >= 2, what="both failures alerted")
    alerted = [a.fields["error"] for a in Recording.sent if a.source in ("tg", "no-reload-service")]
    for text in [*lines[1:], *alerted]:
        assert "/home/" not in text and "secret-project" not in text, text
    for text in [*[line for line in lines if line.startswith(("tg:", "no-reload-service:"))], *alerted]:
        assert "RuntimeError: cannot open …/x.py" in text, text
    logged = [r for r in caplog.records if r.exc_info and PATH in str(r.exc_info[1])]
    assert {n for n in ("tg", "no-reload-service") if any(n in r.getMessage() for r in logged)} == \
        {"tg", "no-reload-service"}, [r.getMessage() for r in caplog.records]


# --- a plugin that cannot be loaded: short on the running bot's surfaces, whole on the developer's CLI ---------

BROKEN = 'raise RuntimeError("cannot open /home/u/secret-project/x.py")\n'


@pytest.fixture
def broken_modules(tmp_path, monkeypatch):
    """``brokenpkg`` raises on import (a parent package of ``brokenpkg.sub``); ``brokenmod`` too, when imported."""
    (tmp_path / "brokenpkg").mkdir()
    (tmp_path / "brokenpkg" / "__init__.py").write_text(BROKEN)
    (tmp_path / "brokenpkg" / "sub.py").write_text("class Cls: ...\n")
    (tmp_path / "brokenmod.py").write_text(BROKEN + "class Cls: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("brokenpkg", "brokenpkg.sub", "brokenmod"):
        monkeypatch.delitem(sys.modules, name, raising=False)


class by_reference:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("parent-fails", "brokenpkg.sub:Cls")
        register("module-fails", "brokenmod:Cls")


BAD_ENTRY_POINT = importlib.metadata.EntryPoint(name="badep", value="brokenpkg", group="arbot")


def short_and_whole(info) -> None:
    assert info.errors and len(info.errors) == len(info.details), (info.errors, info.details)
    for short, whole in zip(info.errors, info.details, strict=True):
        assert "RuntimeError: cannot open …/x.py" in short and "/home/" not in short, short
        assert f"RuntimeError: cannot open {PATH}" in whole, whole


def test_a_plugin_that_cannot_be_loaded_is_quoted_short_and_kept_whole_for_the_cli(broken_modules):
    plugins = load_plugins(entry_points=[BAD_ENTRY_POINT], extra=[("refs", by_reference)],
                           report=lambda info, message: None)
    registry = collect(plugins)
    verify_registrations(registry)  # the parent package fails to import: reported now
    short_and_whole(plugins.infos["badep"])
    assert len(plugins.infos["refs"].errors) == 1
    with pytest.raises(ComponentLoadError) as raised:  # a config using it: the whole text, for check-config
        registry.classes("strategy")["module-fails"]
    assert f"RuntimeError: cannot open {PATH}" in str(raised.value)
    short_and_whole(plugins.infos["badep"])
    short_and_whole(plugins.infos["refs"])
    assert len(plugins.infos["refs"].errors) == 2


def test_arbot_plugins_quotes_a_load_error_short_and_plugins_v_whole(broken_modules, monkeypatch, capsys):
    from bot import cli

    monkeypatch.setattr(cli, "load_plugins", functools.partial(cli.load_plugins, entry_points=[BAD_ENTRY_POINT],
                                                               extra=[("refs", by_reference)]))
    monkeypatch.delenv("ARBOT_CONFIG", raising=False)
    assert cli.main(["plugins"]) == 1
    out = capsys.readouterr().out
    assert "RuntimeError: cannot open …/x.py" in out and "/home/" not in out, out
    assert cli.main(["plugins", "-v"]) == 1
    out = capsys.readouterr().out
    assert out.count(f"RuntimeError: cannot open {PATH}") == 2, out


async def test_the_running_bot_quotes_a_load_error_short(broken_modules, make_bot, monkeypatch):
    Recording.sent.clear()
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [BAD_ENTRY_POINT])
    bot = await make_bot('[notifiers.rec]\ntype = "recording"\n', extra=[("failing", failing)])
    [errors] = [info.errors for info in bot.operator.plugins() if info.name == "badep"]
    await wait_for(lambda: any(a.kind == "plugin_error" and a.source == "badep" for a in Recording.sent),
                   what="the load error alerted")
    alerted = [a.message for a in Recording.sent if a.kind == "plugin_error" and a.source == "badep"]
    for text in [*errors, *alerted]:
        assert "RuntimeError: cannot open …/x.py" in text and "/home/" not in text, text
