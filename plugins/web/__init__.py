"""``web``: the operator console, an authenticated REST API and a browser UI (see docs/web.md).

A service configured in ``[plugins.web]`` (off by default). The server is aiohttp, run inside the
bot's own event loop; it is imported only when the service starts, so ``arbot --help`` and the
other commands do not pay for it. Adds ``arbot web-token``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.api import Operator, Service, hookimpl

from .settings import WebSettings

if TYPE_CHECKING:
    from .server import WebServer


class WebService(Service):
    """Runs the console's server while the bot runs."""

    Settings = WebSettings

    server: WebServer | None = None

    async def start(self) -> None:
        from .server import WebServer

        self.server = WebServer(self.settings, self.ctx)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()

    async def reload_secrets(self) -> None:
        """Users' ``env:``/``file:`` tokens read again (``arbot ctl reload-secrets``); one that fails keeps them all.
        A browser session opened with a token that changed ends (its event stream too, at its next event)."""
        from .auth import Users

        if self.server is not None:
            users = Users(self.settings)
            self.server.users = users
            self.server.sessions.retain(users.keys())


def running_server(operator: Operator) -> WebServer | None:
    """The web server of a running bot (None when disabled): its ``port``, ``connections()``, ``events``."""
    service = operator.service("web")
    return service.server if isinstance(service, WebService) else None


@hookimpl
def register_services(register) -> None:
    register("web", WebService)


@hookimpl
def register_cli(register) -> None:
    from .cli import register as add_commands

    add_commands(register)
