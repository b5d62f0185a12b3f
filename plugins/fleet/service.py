"""The fleet service: this bot's link to the fleet's NATS bus while it runs (:mod:`plugins.fleet`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.api import Service

from .settings import FleetSettings

if TYPE_CHECKING:
    from .link import NatsFleet


class FleetService(Service):
    """Connects the bot to the fleet's NATS bus while it runs; NATS is reached in the background."""

    Settings = FleetSettings

    link: NatsFleet | None = None

    async def start(self) -> None:
        from .link import NatsFleet

        link = NatsFleet(self.settings, self.ctx)
        await link.start()
        self.ctx.attach_fleet(link)
        self.link = link

    def status(self) -> dict[str, str]:
        """``/status``'s row for a clash over this bot's name (two processes under it on NATS), when there is one."""
        text = self.link.clash_text() if self.link is not None else ""
        return {"name clash": text} if text else {}

    async def stop(self) -> None:
        if self.link is not None:
            await self.link.stop()
