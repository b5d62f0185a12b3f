"""An order's whole fee on every surface that shows one: its fee in the quote asset and, per asset, each fee its
fills paid in neither base nor quote (a JUP/USDC swap's Solana network fee, paid in SOL), never summed across assets.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from bot import hookimpl
from bot.api import Strategy
from bot.domain import OrderIntent, OrderType, Side, TimeInForce
from bot.report import report_reply
from bot.units import money
from tests.helpers.waiting import wait_for

D = Decimal

CONFIG = """
[exchanges.jup]
type = "paper-dex"
symbol = "JUP/USDC"
base_decimals = 6
start_price = "0.85"
volatility_bps = "0"
dislocation_probability = "0"
tick_interval_ms = 0
state_file = ""
initial_balances = { SOL = "1", JUP = "5000", USDC = "15000" }
[strategies.swapper]
type = "swapper"
"""


class Swapper(Strategy):
    """Trades only what a test submits for it."""

    def markets(self):
        return [("jup", "JUP/USDC")]


class SwapperPlugin:
    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("swapper", Swapper)


async def swap_once(make_bot):
    """A bot whose one JUP/USDC swap filled on the paper DEX; its fill (fee in SOL) and the stored order."""
    bot = await make_bot(CONFIG, extra=[("swapper", SwapperPlugin)])
    cid = bot.executor.submit(OrderIntent(strategy="swapper", exchange="jup", symbol="JUP/USDC", side=Side.BUY,
                                          qty=D("100"), price=None, order_type=OrderType.MARKET,
                                          tif=TimeInForce.IOC))
    await wait_for(lambda: bot.store.fills(), timeout_s=10, what="the swap's fill")
    await bot.executor.flush()
    [(_, fill)] = bot.store.fills()
    assert (fill.fee_asset, fill.fee > 0, fill.client_order_id) == ("SOL", True, cid)
    return bot, fill


async def test_a_jup_usdc_swaps_sol_fee_is_on_its_order_in_memory_and_stored(make_bot):
    bot, fill = await swap_once(make_bot)
    for order in (bot.executor.order(fill.client_order_id), bot.store.get_order(fill.client_order_id),
                  bot.operator.order_history()[0]):
        assert (order.fee, order.other_fees) == (D(0), {"SOL": fill.fee}), order
        assert order.fees == {"USDC": D(0), "SOL": fill.fee}  # per asset, the quote first; never summed


async def test_a_jup_usdc_swaps_sol_fee_is_in_the_orders_api_and_csv(make_bot):
    from plugins.web.views import ORDER_COLUMNS, csv_text, order_view

    bot, fill = await swap_once(make_bot)
    [view] = [order_view(o) for o in bot.operator.order_history()]  # what /api/v1/orders and its CSV serve
    assert (view["fee"], view["other_fees"]) == ("0", {"SOL": str(fill.fee)})
    [row] = csv.DictReader(io.StringIO(csv_text(ORDER_COLUMNS, [view])))
    assert (row["fee"], row["fee_asset"], row["other_fees"]) == ("0", "USDC", f'{{"SOL":"{fill.fee}"}}')


async def test_a_jup_usdc_swaps_sol_fee_is_in_arbot_report(make_bot):
    bot, fill = await swap_once(make_bot)
    reply = report_reply(bot.store)
    [header, row] = reply.rows
    assert row[header.index("fees")] == f"0.00 USDC + {money(fill.fee, 'SOL')}"  # (right before this change too)
