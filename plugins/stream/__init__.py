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

    # its own figures, for /status and the metrics (the host's generic way: no other plugin knows the stream)

    def status(self) -> dict[str, str]:
        server = self.server
        if server is None:
            return {}
        facts = {"clients": f"{len(server.clients)} connected, {server.waiting()} waiting to authenticate, "
                            f"{server.open_connections} connections open"}
        for fact, counts in (("refused", server.refusals),
                             ("dropped", {k.removeprefix("dropped: "): n for k, n in server.stats.items()
                                          if k.startswith("dropped: ")}),
                             ("bad frames", {"": server.stats["bad frames"]})):
            shown = ", ".join(f"{k} {n}".strip() for k, n in sorted(counts.items()) if n)
            if shown:
                facts[fact] = shown
        return facts

    def counters(self) -> dict[str, int]:
        server = self.server
        if server is None:
            return {}
        counts = {_figure(k): n for k, n in server.stats.items()}
        counts |= {_figure(f"refused {k}"): n for k, n in server.refusals.items()}
        return {**dict.fromkeys(ALWAYS_COUNTED, 0), **counts}

    def gauges(self) -> dict[str, int]:
        server = self.server
        if server is None:
            return {}
        return {"clients": len(server.clients), "waiting": server.waiting(),
                "open_connections": server.open_connections}


ALWAYS_COUNTED = ("authenticated", "bad_frames", "dropped_slow_consumer", "dropped_too_many_messages",
                  "refused_full", "evicted_unauthenticated")
"""Counters exported from 0 (a rule sees them before the first); refusals by reason come as they happen."""


def _figure(text: str) -> str:
    """A counter's name as a metric label: ``dropped: slow consumer`` -> ``dropped_slow_consumer``."""
    return "_".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def running_server(operator: Operator) -> StreamServer | None:
    """The stream server of a running bot (None when disabled): its ``port``, ``stats`` (bad frames, drops,
    evictions), ``refusals`` (by reason) and ``open_connections``; ``/status`` and the metrics show them
    (:meth:`StreamService.status`, ``counters``, ``gauges``)."""
    service = operator.service("stream")
    return service.server if isinstance(service, StreamService) else None


@hookimpl
def register_services(register) -> None:
    register("stream", StreamService)


@hookimpl
def register_cli(register) -> None:
    from .cli import register as add_commands

    add_commands(register)
