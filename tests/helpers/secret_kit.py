"""A venue whose error text quotes its key, and what shows it: for the tests that no surface lets a secret out.

A venue's error text can quote the request with its key (as a ccxt error quotes its URL). It lands in an order's
``reason``, in the alert saying the order was rejected, and in the state of a strategy that fails on it. Call
:func:`know_the_key` first: the key is then known to the redactor, as every resolved ``env:``/``file:`` value is.
"""

from __future__ import annotations

from decimal import Decimal

from bot import hookimpl
from bot.api import Command, PermanentError, Reply, Secret, Strategy
from bot.domain import OrderIntent, Side
from tests.fakes.venue import ScriptedVenue
from tests.helpers.waiting import wait_for

KEY = "sk-live-chat-0123456789"
REFUSAL = f"401 Unauthorized for https://venue.example/order?apikey={KEY}"
MASKED = "https://venue.example/order?apikey=***"
TOML = """
[exchanges.v]
type = "leaky"
[strategies.s]
type = "fragile"
"""
"""A leaky venue ``v`` and a fragile strategy ``s`` on it."""


def know_the_key(monkeypatch) -> None:
    """Make :data:`KEY` a resolved secret (known to the redactor from now on)."""
    monkeypatch.setenv("ARBOT_AUDIT_VENUE_KEY", KEY)
    Secret("env:ARBOT_AUDIT_VENUE_KEY").resolve()


async def reject_an_order(bot) -> None:
    """Have strategy ``s`` of ``bot`` (a host's Bot or a BotUnderTest) send order ``o1`` to ``v``, which refuses it
    quoting the key; return once ``s`` has failed on it and the order with its reason is stored."""
    strategy = bot.component("strategy", "s") if hasattr(bot, "component") else bot.strategies["s"]
    strategy.ctx.submit(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("1"), Decimal("100"), client_order_id="o1"))
    await wait_for(lambda: bot.operator.strategy_failed("s"), what="the rejection")
    await wait_for(lambda: bool(bot.operator.order_history(statuses=["rejected"])), what="the rejection stored")


class LeakyVenue(ScriptedVenue):
    """Refuses every order with an error quoting the request's URL, key included."""

    async def place_order(self, order):
        raise PermanentError(REFUSAL)


class Fragile(Strategy):
    """Fails on its first rejected order, quoting the venue's reason (the host shows it as the strategy's state)."""

    def markets(self):
        return [("v", "BTC/USD")]

    def on_order_update(self, update):
        if update.reason:
            raise RuntimeError(f"cannot go on: {update.reason}")


class plugin:
    """``leaky`` venues, ``fragile`` strategies and ``/rejects``, a third party's command showing stored reasons."""

    @staticmethod
    @hookimpl
    def register_exchanges(register):
        register("leaky", LeakyVenue)

    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("fragile", Fragile)

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def rejects(op, caller, args):
            rows = [(o.client_order_id, o.reason) for o in op.order_history(statuses=["rejected"])]
            return Reply("Rejected orders", rows=[("order", "reason"), *rows], header=True, data={"reasons": rows})

        register(Command("rejects", rejects, "viewer", "rejected orders with the venue's reason", fleet=True))
