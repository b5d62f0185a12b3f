"""A stand-in for the running bot, just enough for a Context: real Bus, Tasks and a ManualClock, and the
exchange types a recording venue looks its recorder up in."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

from bot.api import Context
from bot.bus import Bus
from bot.clock import ManualClock
from bot.domain import BookUpdate, Fill, OrderReport, Trade
from bot.recording import recorder_in
from bot.tasks import Tasks
from plugins.coinbase.exchange import CoinbaseExchange
from plugins.kraken.exchange import KrakenExchange
from plugins.paper.dex import PaperDexExchange
from plugins.paper.exchange import PaperExchange
from plugins.paper.settings import PaperSettings

EXCHANGE_CLASSES = {"coinbase": CoinbaseExchange, "kraken": KrakenExchange, "paper": PaperExchange,
                    "paper-dex": PaperDexExchange}
"""The exchange types the stand-in bot registered (a ``ctx.recorder`` lookup reads them)."""


class Recorder:
    """Collects what the exchange publishes, by type."""

    def __init__(self, bus: Bus):
        self.events: list[Any] = []
        for event_type in (BookUpdate, Trade, Fill, OrderReport):
            bus.subscribe(event_type, self.events.append, owner="test")

    def of(self, event_type: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, event_type)]

    def clear(self) -> None:
        self.events.clear()


@pytest.fixture
def bot(tmp_path):
    errors: list[tuple] = []
    alerts: list[Any] = []
    tasks = Tasks(on_error=lambda owner, what, exc: errors.append((owner, what, exc)))
    stand_in = SimpleNamespace(  # the part of bot.api.Context's Host that a venue reaches
        bus=Bus(on_error=lambda owner, exc, event: errors.append((owner, exc, event))),
        clock=ManualClock(),
        data_dir=tmp_path / "data",
        mode="paper",
        create_task=lambda coro, owner, what: tasks.create(coro, owner=owner, what=what),
        emit_alert=alerts.append,
        exchanges={},
        recorder=lambda exchange_type: recorder_in(EXCHANGE_CLASSES, exchange_type),
        errors=errors,
        alert_list=alerts,
    )
    yield stand_in
    assert not errors, f"a subscriber or task failed: {errors}"


@pytest.fixture
def recorder(bot):
    return Recorder(bot.bus)


@pytest.fixture
async def make_exchange(bot):
    """Build (not start) a PaperExchange named "paper" (or ``name``); market stepping is manual by default.
    Each is in ``bot.exchanges``, where another exchange's ``ctx.exchange(name)`` finds it."""
    built: list[PaperExchange] = []

    def make(name: str = "paper", **overrides: Any) -> PaperExchange:
        overrides.setdefault("tick_interval_ms", 0)
        settings = dataclasses.replace(PaperSettings(), **overrides)
        exchange = PaperExchange(name, settings, Context(bot, "exchange", name))
        bot.exchanges[name] = exchange
        built.append(exchange)
        return exchange

    yield make
    for exchange in built:
        await exchange.stop()  # idempotent: closes the state file of those still running


@pytest.fixture
async def paper(make_exchange):
    """A started paper venue with the default settings and a market that moves only on step()."""
    exchange = make_exchange()
    await exchange.start()
    yield exchange
    await exchange.stop()
