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

from bot.api import Operator, hookimpl

if TYPE_CHECKING:
    from .link import NatsFleet

# The service and its settings (which import the wire format) are imported when the services are collected (a
# config is read), never by `arbot --help`, which loads every plugin's module.


def running_link(operator: Operator) -> NatsFleet | None:
    """The fleet link of a running bot (None when disabled): its ``stats()``, ``counters``, ``members()``."""
    from .service import FleetService

    service = operator.service("fleet")
    return service.link if isinstance(service, FleetService) else None


@hookimpl
def register_services(register) -> None:
    from .service import FleetService

    register("fleet", FleetService)


@hookimpl
def register_cli(register) -> None:
    from .cli import register as add_commands

    add_commands(register)
