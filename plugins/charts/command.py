"""``/chart pnl [day|week]`` and ``/chart price SYMBOL``: a PNG in the reply.

The handler gathers values on the loop (store, price history, strategies' levels) and draws in a
worker thread, so the loop keeps trading while matplotlib works.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.api import Reply
from bot.api.ledger import money, moneys, net_after_transfer_costs

from .history import PriceHistory
from .render import Size, pnl_png, price_png
from .series import PnlCurve, market_fills, pnl_curves

if TYPE_CHECKING:
    from bot.api import Operator

    from .settings import ChartsSettings

USAGE = "pnl [day|week] | price SYMBOL"
PNL_PERIODS = {"day": "today", "week": "this week"}


def _size(settings: ChartsSettings) -> Size:
    return Size(settings.width_px, settings.height_px)


async def chart_pnl(op: Operator, settings: ChartsSettings, args: list[str]) -> Reply:
    period = args[0].lower() if args else None
    if len(args) > 1 or (period is not None and period not in PNL_PERIODS):
        return Reply(f"Usage: /chart {USAGE}", ok=False)
    since = op.period_start_ns(period) if period else None
    ledger = op.ledger()
    curves = pnl_curves(ledger.steps(since_ns=since), since_ns=since)
    costs = ledger.transfer_costs(since_ns=since)  # transfers created in the period, as /pnl counts them
    when = PNL_PERIODS[period] if period else "since the first fill"
    if not curves:
        costs_text = transfer_costs_text({}, costs)
        return Reply(f"No fills {when}: no PnL to chart." + (f" {costs_text[0].upper()}{costs_text[1:]}."
                                                              if costs_text else ""))
    costs_text = transfer_costs_text({c.asset: c.total for c in curves}, costs)
    title = pnl_title(when, curves) + (f"; {costs_text}" if costs_text else "")
    png = await asyncio.to_thread(pnl_png, curves, title, _size(settings))
    return Reply(title, image_png=png)


def pnl_title(when: str, curves: list[PnlCurve]) -> str:
    """The chart's title: each curve's end, the ledger's realized PnL after fees."""
    return f"Realized PnL {when}, after fees: " + ", ".join(money(c.total, c.asset) for c in curves)


def transfer_costs_text(net: dict[str, Decimal], costs: dict[str, Decimal]) -> str:
    """What moving funds cost in the period and the bot's net after it, worded as ``/pnl`` words them (empty
    without any): the curves are the strategies' net, no transfer is a strategy's."""
    if not costs:
        return ""
    return (f"transfer costs: {moneys(costs)}; net after transfer costs: "
            f"{moneys(net_after_transfer_costs(net, costs))}")


def _known_symbol(op: Operator, history: PriceHistory, wanted: str) -> str | None:
    """The market's own spelling of ``wanted`` (case-insensitive), if any exchange has it."""
    names = {symbol for _, symbol in history.markets()}
    names |= {symbol for strategy in op.strategies.values() for _, symbol in op.ask(strategy, "markets") or []}
    for exchange in op.exchanges.values():
        try:
            names.add(exchange.market(wanted.upper()).symbol)
        except KeyError:
            pass
    return next((s for s in sorted(names) if s.upper() == wanted.upper()), None)


async def chart_price(op: Operator, settings: ChartsSettings, history: PriceHistory, args: list[str]) -> Reply:
    if len(args) != 1:
        return Reply(f"Usage: /chart {USAGE}", ok=False)
    symbol = _known_symbol(op, history, args[0])
    if symbol is None:
        markets = sorted({s for _, s in history.markets()})
        return Reply(f"Unknown symbol {args[0]}. Markets with prices: {', '.join(markets) or 'none yet'}.", ok=False)
    prices = {exchange: history.prices(exchange, s) for exchange, s in history.markets() if s == symbol}
    if not prices:
        return Reply(f"No prices for {symbol} yet; the chart needs a few book updates.")
    start = min(points[0][0] for points in prices.values())
    fills = market_fills(op.store.fills(since_ns=start), symbol)
    levels = [level for strategy in op.strategies.values() for level in op.ask(strategy, "chart_levels", symbol) or []]
    last = ", ".join(f"{e} {points[-1][1]}" for e, points in sorted(prices.items()))
    title = f"{symbol}: last mid {last}"
    png = await asyncio.to_thread(price_png, prices, levels, fills, title, _size(settings))
    return Reply(title, image_png=png)
