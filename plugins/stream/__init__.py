"""``stream``: live events over an authenticated WebSocket (see docs/stream.md).

Configured in ``[plugins.stream]`` (off by default). Adds ``arbot keygen`` and ``arbot watch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import hookimpl

from .settings import StreamSettings

if TYPE_CHECKING:
    from bot.app import Bot

    from .server import StreamServer

_servers: dict[int, StreamServer] = {}


def running_server(bot: Bot) -> StreamServer | None:
    """The stream server of a running bot (None when disabled): its ``port``, ``stats``, ``refusals``."""
    return _servers.get(id(bot))


@hookimpl
def register_plugin_settings(register) -> None:
    register(StreamSettings)


@hookimpl
def register_cli(register) -> None:
    from .cli import register as add_commands

    add_commands(register)


@hookimpl
def startup(bot: Bot):
    settings = bot.config.plugin_settings.get("stream")
    if settings is None or not settings.enabled:
        return None
    from .server import StreamServer

    server = StreamServer(settings, bot)
    _servers[id(bot)] = server
    return server.start()


@hookimpl
def shutdown(bot: Bot):
    server = _servers.pop(id(bot), None)
    return server.stop() if server is not None else None
