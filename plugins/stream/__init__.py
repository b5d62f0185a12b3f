"""``stream``: live events over an authenticated WebSocket (see docs/stream.md).

A service configured in ``[plugins.stream]`` (off by default). Adds ``arbot keygen`` and ``arbot watch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.api import Operator, Service, hookimpl

from .settings import StreamSettings

if TYPE_CHECKING:
    from .server import StreamServer


class StreamService(Service):
    """Runs the stream server while the bot runs; the server (websockets, PyNaCl) is imported on start."""

    Settings = StreamSettings

    server: StreamServer | None = None

    async def start(self) -> None:
        from .server import StreamServer

        self.server = StreamServer(self.settings, self.ctx)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()


def running_server(operator: Operator) -> StreamServer | None:
    """The stream server of a running bot (None when disabled): its ``port``, ``stats`` (bad frames, drops,
    evictions), ``refusals`` (by reason) and ``open_connections``."""
    service = operator.service("stream")
    return service.server if isinstance(service, StreamService) else None


@hookimpl
def register_services(register) -> None:
    register("stream", StreamService)


@hookimpl
def register_cli(register) -> None:
    from .cli import register as add_commands

    add_commands(register)
