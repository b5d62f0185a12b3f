"""A grid on the ccxt gate: live against the fake Gate.io venue, and paper on a paper venue mirroring its book."""

from __future__ import annotations

from decimal import Decimal as D

from bot.api import BookUpdate, FeedState, FillApplied, OrderStatus
from bot.api.testing import wait_for

from .conftest import SYMBOL, gate_table

GRID = """
[strategies.g]
type = "grid"
exchange = "{exchange}"
symbol = "BTC/USDT"
lower = "29900"
upper = "30100"
levels = 5
order_size = "0.0100"
"""


def resting(fake) -> list[dict]:
    return [o for o in fake.orders.values() if o["status"] == "open"]


async def test_grid_runs_live_on_the_ccxt_gate(make_bot, fake_gate):
    bot = await make_bot(gate_table(fake_gate) + GRID.format(exchange="gate"))
    applied = []
    bot.bus.subscribe(FillApplied, applied.append, owner="test")
    pair = fake_gate.pairs["BTC_USDT"]
    best_bid = max(pair.bids)  # 29999.99, best ask 30000.01: the touch stays where it is
    await fake_gate.change("BTC_USDT", bids={best_bid: pair.bids[best_bid] + 1})  # the grid decides on updates
    await wait_for(lambda: len(resting(fake_gate)) == 3, timeout_s=20, what="the grid's buys on the venue")
    assert all(o["text"].startswith("t-g-") and o["time_in_force"] == "poc" for o in resting(fake_gate))
    buys = sorted((o for o in resting(fake_gate) if o["side"] == "buy"), key=lambda o: -D(o["price"]))
    assert [o["price"] for o in buys] == ["30000", "29950", "29900"]
    fake_gate.fill(buys[0]["id"], D(buys[0]["amount"]))  # the venue fills the best buy
    await wait_for(lambda: len(applied) == 1, timeout_s=20, what="the fill")
    await wait_for(lambda: any(o["side"] == "sell" and o["price"] == "30050" for o in resting(fake_gate)),
                   timeout_s=20, what="the grid's sell one level above the fill")
    fill = applied[0].fill
    assert (fill.exchange, fill.price, fill.qty) == ("gate", D("30000"), D("0.01"))
    await wait_for(lambda: (o := bot.executor.order(fill.client_order_id)) is not None
                   and o.status is OrderStatus.FILLED, timeout_s=20, what="the executor's record of the filled order")
    assert len(applied) == 1  # polled several times meanwhile, applied once


async def test_grid_runs_paper_on_a_paper_venue_mirroring_the_gate_book(make_bot, fake_gate):
    paper = ('[exchanges.paper]\nmarket = "mirror"\nsource = "gate"\nsymbols = ["BTC/USDT"]\ntick_size = "0.01"\n'
             'lot_size = "0.0001"\nstate_file = ""\ninitial_balances = {USDT = "100000", BTC = "1"}\n')
    bot = await make_bot(gate_table(fake_gate, keys=False) + paper + GRID.format(exchange="paper"), mode="paper")
    books = []
    bot.bus.subscribe(BookUpdate, books.append, owner="test", exchange="paper")
    gate = bot.exchanges["gate"]
    await wait_for(lambda: gate.states.get(SYMBOL) is FeedState.LIVE, what="the gate feed")
    pair = fake_gate.pairs["BTC_USDT"]
    for i, price in enumerate(sorted(pair.bids, reverse=True)[:10]):  # sizes change, the touch stays
        await fake_gate.change("BTC_USDT", bids={price: pair.bids[price] + i + 1})
    await wait_for(lambda: books and books[-1].bids == gate.levels(SYMBOL)[0][:len(books[-1].bids)],
                   timeout_s=20, what="the paper venue republishing the gate book")
    await wait_for(lambda: len([o for o in bot.executor.open_orders() if o.exchange == "paper"]) >= 2,
                   timeout_s=20, what="the grid's orders on the paper venue")
    assert not fake_gate.orders  # paper mode: nothing reaches the real venue
    assert all(o.exchange == "paper" for o in bot.executor.open_orders())
