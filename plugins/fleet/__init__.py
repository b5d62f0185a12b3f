"""``fleet``: this bot on the fleet's NATS bus, and ``arbot fleet`` (see docs/fleet-bus.md).

A service configured in ``[plugins.fleet]`` (off by default). The issue calls the setting
``[fleet] nats_url``; the host has no top-level plugin tables, so it is ``[plugins.fleet] nats_url``.

When enabled, the bot

* publishes its events on ``arbot.<bot>.evt.<kind>``: ``status`` (a heartbeat every ``heartbeat_s``:
  mode, strategies and their states, open orders, PnL today from the ledger, feed health, the link's
  counters), ``order``, ``fill``, ``opportunity``, ``execution``, ``alert`` and ``risk``; JSON, amounts as
  exact decimal strings;
* answers commands on ``arbot.<bot>.cmd`` (NATS request/reply) through its own command table: the
  request names the calling user and transport, and THIS bot's ``roles`` decide what that user may do
  (deny by default); the call is audited here as ``TRANSPORT@VIA`` (``telegram@front``, ``cli@cli``);
* attaches a :class:`bot.api.FleetLink` (``members()`` from heartbeats, ``call()`` over NATS), so
  ``/status all`` and ``/pause bot:strategy`` reach the other bots;
* keeps trading and alerting when NATS is gone: events wait in a bounded outbox (``buffer_max``; the
  oldest are dropped and counted) and go out in order once NATS is back; it reconnects forever;
* with ``jetstream = true``: keeps events in the stream ``ARBOT_EVENTS`` and each bot's last status in
  the KV bucket ``arbot_fleet``; with ``relay_alerts = true``: re-emits the other bots' alerts here.

The NATS client (nats-py, the ``fleet`` extra) is imported when the service starts or ``arbot fleet``
runs, never by ``arbot --help``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.api import Operator, Service, hookimpl

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

    async def stop(self) -> None:
        if self.link is not None:
            await self.link.stop()


def running_link(operator: Operator) -> NatsFleet | None:
    """The fleet link of a running bot (None when disabled): its ``stats()``, ``counters``, ``members()``."""
    service = operator.service("fleet")
    return service.link if isinstance(service, FleetService) else None


@hookimpl
def register_services(register) -> None:
    register("fleet", FleetService)


@hookimpl
def register_cli(register) -> None:
    from .cli import register as add_commands

    add_commands(register)
