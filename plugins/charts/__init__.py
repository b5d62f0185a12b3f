"""``charts``: ``/chart pnl [day|week]`` and ``/chart price SYMBOL`` answer with a PNG (matplotlib).

``startup`` subscribes a :class:`~.history.PriceHistory` to every ``BookUpdate`` (one mid price per
market every ``[plugins.charts] sample_every_s``); the command reads it, the store's fills and the
strategies' ``chart_levels``, and puts the PNG in :attr:`bot.api.Reply.image_png` for the
transport to send. matplotlib is imported on the first chart only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot import hookimpl
from bot.api import Caller, Command, Reply
from bot.domain import BookUpdate

from .history import PriceHistory
from .settings import ChartsSettings

if TYPE_CHECKING:
    from bot.app import Bot

PLUGIN = "charts"
_running: dict[int, tuple[PriceHistory, Callable[[], None]]] = {}


def price_history(bot: Bot) -> PriceHistory | None:
    """The price history of a running bot (None before ``startup`` and after ``shutdown``)."""
    entry = _running.get(id(bot))
    return entry[0] if entry else None


async def chart(bot: Bot, caller: Caller, args: list[str]) -> Reply:
    from .command import USAGE, chart_pnl, chart_price

    settings: ChartsSettings = bot.config.plugin_settings.get(PLUGIN) or ChartsSettings()
    kind = args[0].lower() if args else ""
    if kind == "pnl":
        return await chart_pnl(bot, settings, args[1:])
    if kind == "price":
        history = price_history(bot) or PriceHistory(settings.sample_every_s, settings.keep_points)
        return await chart_price(bot, settings, history, args[1:])
    return Reply(f"Usage: /chart {USAGE}", ok=False)


@hookimpl
def register_plugin_settings(register) -> None:
    register(ChartsSettings)


@hookimpl
def register_commands(register) -> None:
    register(Command("chart", chart, "viewer", "PnL curve or price with levels and fills, as an image",
                     "pnl [day|week] | price SYMBOL"))


@hookimpl
def startup(bot: Bot) -> None:
    settings: ChartsSettings = bot.config.plugin_settings.get(PLUGIN) or ChartsSettings()
    history = PriceHistory(settings.sample_every_s, settings.keep_points)
    unsubscribe = bot.bus.subscribe(BookUpdate, history.on_book, owner=PLUGIN)
    _running[id(bot)] = (history, unsubscribe)


@hookimpl
def shutdown(bot: Bot) -> None:
    entry = _running.pop(id(bot), None)
    if entry is not None:
        entry[1]()
