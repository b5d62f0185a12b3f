"""``charts``: ``/chart pnl [day|week]`` and ``/chart price SYMBOL`` answer with a PNG (matplotlib).

The ``charts`` service subscribes a :class:`~.history.PriceHistory` to every ``BookUpdate`` (one mid
price per market every ``[plugins.charts] sample_every_s``); the command reads it, the store's fills
and the strategies' ``chart_levels``, and puts the PNG in :attr:`bot.api.Reply.image_png` for the
transport to send. matplotlib is imported on the first chart only.
"""

from __future__ import annotations

from bot.api import Caller, Command, Context, Operator, Reply, Service, hookimpl

from .history import PriceHistory
from .settings import ChartsSettings

PLUGIN = "charts"


class ChartsService(Service):
    """Keeps the price history the price chart draws, while the bot runs."""

    Settings = ChartsSettings

    def __init__(self, name: str, settings: ChartsSettings, ctx: Context) -> None:
        super().__init__(name, settings, ctx)
        self.history = PriceHistory(settings.sample_every_s, settings.keep_points)

    async def start(self) -> None:
        from bot.api import BookUpdate  # here: registering the plugin (`arbot --help`) needs no book view

        self.ctx.bus.subscribe(BookUpdate, self.history.on_book, owner=self.name)


def price_history(operator: Operator) -> PriceHistory | None:
    """The price history of a running bot (None when the service is not running)."""
    service = operator.service(PLUGIN)
    return service.history if isinstance(service, ChartsService) else None


async def chart(op: Operator, caller: Caller, args: list[str]) -> Reply:
    from .command import USAGE, chart_pnl, chart_price

    settings: ChartsSettings = op.plugin_settings(PLUGIN) or ChartsSettings()
    kind = args[0].lower() if args else ""
    if kind == "pnl":
        return await chart_pnl(op, settings, args[1:])
    if kind == "price":
        history = price_history(op) or PriceHistory(settings.sample_every_s, settings.keep_points)
        return await chart_price(op, settings, history, args[1:])
    return Reply(f"Usage: /chart {USAGE}", ok=False)


@hookimpl
def register_services(register) -> None:
    register(PLUGIN, ChartsService)


@hookimpl
def register_commands(register) -> None:
    register(Command("chart", chart, "viewer", "PnL curve or price with levels and fills, as an image",
                     "pnl [day|week] | price SYMBOL"))
