"""The network fee the arb prices a swap with is the DEX venue's own (``Exchange.swap_fee_lamports``): the figure a
paper-dex charges, and what the jupiter venue will sign its next swap with (its priority price from the node's recent
fees, on the compute-unit limit Jupiter's simulation set), not the arb's own settings."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import replace
from decimal import Decimal, localcontext
from types import SimpleNamespace

import pytest
from solders.keypair import Keypair

from bot.app import Bot
from bot.config import build_config, parse_toml, resolve_secrets
from bot.domain import ExecutionResult, Opportunity, Order, OrderStatus, OrderType, Side, SwapFee
from bot.plugins import collect, load_plugins
from bot.store import Store
from plugins.arb.pricing import Direction
from plugins.jupiter.exchange import JupiterExchange
from plugins.jupiter.settings import JupiterSettings
from tests.fakes.jupiter_api import FakeJupiterApi
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import FakeDex, extra
from tests.plugins.arb.arb_kit import config as kit_config
from tests.plugins.arb.test_arb_jupiter_fakes import KEY_ENV, _config
from tests.plugins.arb.test_arb_pricing_kit import RICH, adds_up, pool, pricer
from tests.plugins.arb.test_arb_pricing_kit import book as cex_book

USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


@pytest.fixture
async def solana_node():
    fake = await FakeSolanaRpc().start()
    yield fake
    await fake.close()


@pytest.fixture
async def jupiter_fake(solana_node):
    fake = await FakeJupiterApi(solana_node).start()
    yield fake
    await fake.close()


PDEX = """
    [exchanges.paper]
    symbols = ["SOL/USDC"]
    start_price = "150"
    volatility_bps = 0
    tick_interval_ms = 10
    level_qty = "5"
    taker_fee_bps = 10
    min_qty = "0.01"
    lot_size = "0.01"
    state_file = ""
    initial_balances = { USDC = "100000", SOL = "100" }
    [exchanges.pdex]
    type = "paper-dex"
    symbol = "SOL/USDC"
    start_price = "153"
    volatility_bps = "0"
    dislocation_probability = "0"
    tick_interval_ms = 20
    state_file = ""
    [strategies.sol-arb]
    type = "arb"
    cex = "paper"
    dex = "pdex"
    symbol = "SOL/USDC"
    min_edge_bps = 10
    cex_taker_fee_bps = 10
    max_notional = 300
    size_step = "0.1"
    min_size = "0.1"
    cooldown_ms = 600000
"""


async def test_the_arb_prices_the_network_fee_the_paper_dex_charges(make_bot):
    # the arb's own settings say 200,000 compute units (2,000 lamports of priority fee at 10,000 micro-lamports), the
    # paper-dex charges 150,000 (1,500): the swap is priced with what it will be charged
    bot = await make_bot(PDEX, extra=extra(), start=False)
    bot.mode = "observe"
    seen: list[Opportunity] = []
    bot.bus.subscribe(Opportunity, seen.append, owner="test")
    await bot.start()
    await wait_for(lambda: any(o.qty > 0 for o in seen), timeout_s=10, what="a priced opportunity")
    costs = dict(next(o for o in seen if o.qty > 0).costs)
    # both are converted at one SOL price: their ratio is the lamports'
    assert costs["priority fee"] * 5_000 == costs["network fee"] * 1_500
    charged = bot.exchanges["pdex"].settings.swap_fee()
    assert (charged.signature_lamports, charged.priority_lamports) == (5_000, 1_500)
    assert bot.strategies["sol-arb"].pricer.swap_fees == dict.fromkeys(Direction, charged)


async def _jupiter_bot(tmp_path, node, api, monkeypatch) -> Bot:
    kp = Keypair()
    monkeypatch.setenv(KEY_ENV, str(kp))
    node.lamports[str(kp.pubkey())] = 100 * 10**9
    node.token_accounts[str(kp.pubkey())] = [(USDC, 0, 6)]  # its USDC account exists: no swap pays rent
    plugins = load_plugins(extra=extra())
    registry = collect(plugins)
    text = _config(tmp_path, node, api, "concurrent_legs = true").replace('mode = "live"', 'mode = "observe"')
    config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
    resolve_secrets(config)
    bot = Bot(config, plugins, registry)
    await bot.start()
    return bot


async def test_with_high_recent_fees_the_arb_prices_what_the_jupiter_swap_pays(
        tmp_path, solana_node, jupiter_fake, monkeypatch):
    solana_node.prioritization_fees = [800_000] * 4  # a busy network: 0.8 lamports per compute unit
    jupiter_fake.price = Decimal("0.153")  # quotes as the pool prices: the swap is not refused
    bot = await _jupiter_bot(tmp_path, solana_node, jupiter_fake, monkeypatch)
    try:
        venue, strategy = bot.exchanges["jupiter"], bot.strategies["sol-arb"]
        await wait_for(lambda: strategy.book is not None and strategy.pool_update is not None, timeout_s=10,
                       what="a book and a pool")
        book = strategy.book
        buy_cex, _ = strategy.pricer.evaluate(book, strategy._pricing_inventory())
        sol_price = (book.best_bid + book.best_ask) / 2
        # before any swap, on the largest limit a transaction may have: 1,400,000 units x 0.8 lamports
        assert buy_cex.cost("priority fee") == Decimal(1_120_000).scaleb(-9) * sol_price
        assert buy_cex.cost("network fee") == Decimal(5_000).scaleb(-9) * sol_price
        assert await venue.swap_fee_lamports("SOL/USDC") == SwapFee(5_000, 1_120_000)
        assert strategy.pricer.swap_fees == dict.fromkeys(Direction, SwapFee(5_000, 1_120_000))

        # a swap: Jupiter's simulation sets its limit (58,800 units), and the node charges the fee of its budget
        state = await venue.place_order(Order(client_order_id="probe-1", strategy="t", exchange="jupiter",
                                              symbol="SOL/USDC", side=Side.SELL, qty=Decimal("0.1"), price=None,
                                              order_type=OrderType.MARKET))
        assert state.status is OrderStatus.FILLED
        paid = solana_node.transactions[state.exchange_order_id].fee
        assert paid == 5_000 + 800_000 * 58_800 // 10**6
        # the next swap on that route (selling SOL: the arb's buy-cex-sell-dex) is predicted at what this one paid,
        # and the arb prices it once it refreshes; the other route (buying SOL) was not simulated: still the largest
        await strategy.refresh_inventory()
        fees = strategy.pricer.swap_fees
        assert fees[Direction.BUY_CEX_SELL_DEX].total_lamports == paid
        assert fees[Direction.BUY_DEX_SELL_CEX] == SwapFee(5_000, 1_120_000)
        buy_cex, _ = strategy.pricer.evaluate(strategy.book, strategy._pricing_inventory())
        sol_price = (strategy.book.best_bid + strategy.book.best_ask) / 2
        assert buy_cex.cost("network fee") + buy_cex.cost("priority fee") == Decimal(paid).scaleb(-9) * sol_price
    finally:
        await bot.stop()


@pytest.mark.parametrize("fees, cap, price", [([2_000_000] * 4, 1_000_000, 1_000_000), ([0, 100, 2_000, 5_000],
                                                                                          1_000_000, 2_000)])
async def test_jupiter_predicts_the_priority_price_it_signs_with(make_jupiter, solana_node, fees, cap, price):
    solana_node.prioritization_fees = fees
    venue = await make_jupiter(max_compute_unit_price_micro_lamports=cap)
    assert await venue.compute_unit_price() == price
    # buying SOL pays native SOL out: no account rent whatever the wallet holds
    assert await venue.swap_fee_lamports("SOL/USDC", Side.BUY) == SwapFee(5_000, -(-price * 1_400_000 // 10**6))


@pytest.fixture
async def make_jupiter(tmp_path, db_url, solana_node, jupiter_fake):
    """A started jupiter venue on the fakes (no bot)."""
    kp = Keypair()
    key_file = tmp_path / "id.json"
    key_file.write_text(json.dumps(list(bytes(kp))))
    os.chmod(key_file, 0o600)
    store = Store(db_url).open()
    made: list[JupiterExchange] = []

    async def factory(**overrides):
        settings = replace(JupiterSettings(api_url=jupiter_fake.url, rpc_urls=[solana_node.url],
                                           keypair_file=str(key_file)), **overrides)
        clock = SimpleNamespace(time_ns=time.time_ns, monotonic=time.monotonic)
        ctx = SimpleNamespace(name="jupiter", store=store, log=logging.getLogger("t"), clock=clock,
                              bus=SimpleNamespace(publish=lambda e: None))
        venue = JupiterExchange("jupiter", settings, ctx)  # type: ignore[arg-type]
        await venue.start()
        made.append(venue)
        return venue

    yield factory
    for venue in made:
        await venue.stop()
    store.close()


def test_each_direction_is_priced_with_the_cost_of_its_own_swap():
    # selling SOL on the DEX pays USDC out into an account the swap creates (its rent) on a route Jupiter simulated;
    # buying SOL there pays native SOL out (no account kept) on a route not swapped yet (the largest limit)
    p = pricer(pool(1_000, 150_000))
    selling, buying = SwapFee(5_000, 1_500, 2_039_280), SwapFee(5_000, 1_400_000)
    p.set_swap_fee(selling, Direction.BUY_CEX_SELL_DEX)
    p.set_swap_fee(buying, Direction.BUY_DEX_SELL_CEX)
    assert p.swap_fees == {Direction.BUY_CEX_SELL_DEX: selling, Direction.BUY_DEX_SELL_CEX: buying}
    cheap_ask = cex_book([("148.70", 50)], [("148.80", 50)])
    dear_bid = cex_book([("151.50", 50)], [("151.60", 50)])
    sell_dex, _ = p.evaluate(cheap_ask, RICH)
    _, buy_dex = p.evaluate(dear_bid, RICH)
    for ev, tick, fee in ((sell_dex, cheap_ask, selling), (buy_dex, dear_bid, buying)):
        sol = (tick.best_bid + tick.best_ask) / 2  # SOL is the base: its price is the CEX mid
        assert ev.size > 0 and adds_up(ev)
        assert ev.cost("network fee") == Decimal(fee.signature_lamports).scaleb(-9) * sol
        assert ev.cost("priority fee") == Decimal(fee.priority_lamports).scaleb(-9) * sol
        assert ev.cost("account rent") == Decimal(fee.account_rent_lamports).scaleb(-9) * sol
    assert "account rent" not in dict(buy_dex.costs)  # a cost the swap does not pay is not listed
    # the rent alone turns a trade: the same edge without it clears min_edge_bps
    assert not sell_dex.tradable
    p.set_swap_fee(SwapFee(5_000, 1_500), Direction.BUY_CEX_SELL_DEX)
    assert p.evaluate(cheap_ask, RICH)[0].tradable


async def test_the_arb_prices_the_rent_the_paper_dex_would_charge_on_the_side_that_pays_it(make_bot):
    # the DEX wallet holds SOL and no USDC: selling SOL there creates its USDC account, buying SOL does not
    text = PDEX.replace('    state_file = ""\n    [strategies',
                        '    state_file = ""\n    initial_balances = { SOL = "100" }\n    [strategies')
    bot = await make_bot(text, extra=extra(), start=False)
    bot.mode = "observe"
    await bot.start()
    strategy = bot.strategies["sol-arb"]
    await strategy.refresh_swap_fee()
    assert strategy.pricer.swap_fees == {Direction.BUY_CEX_SELL_DEX: SwapFee(5_000, 1_500, 2_039_280),
                                         Direction.BUY_DEX_SELL_CEX: SwapFee(5_000, 1_500)}
    # a swap on that side creates the account: once its fill comes in, the arb asks the venue again and prices the
    # next swap without the rent (not at the next inventory refresh, minutes later)
    state = await bot.exchanges["pdex"].place_order(Order(
        client_order_id="probe-1", strategy="t", exchange="pdex", symbol="SOL/USDC", side=Side.SELL, qty=Decimal("0.1"),
        price=None, order_type=OrderType.MARKET))
    strategy.on_fill(state.fills[0])
    await wait_for(lambda: strategy.pricer.swap_fees[Direction.BUY_CEX_SELL_DEX] == SwapFee(5_000, 1_500),
                   timeout_s=5, what="the fee asked again after the fill")


async def test_an_executed_swap_that_creates_its_account_has_the_rent_in_the_prediction_and_the_order_fee(make_bot):
    # paper mode: the arb sells SOL on the DEX (153 there, 150 on the CEX) from a wallet without a USDC account
    text = PDEX.replace('    state_file = ""\n    [strategies',
                        '    state_file = ""\n    initial_balances = { SOL = "100" }\n    [strategies')
    bot = await make_bot(text, extra=extra(), start=False)
    seen: list[Opportunity] = []
    results: list[ExecutionResult] = []
    bot.bus.subscribe(Opportunity, seen.append, owner="test")
    bot.bus.subscribe(ExecutionResult, results.append, owner="test")
    await bot.start()
    await wait_for(lambda: results, timeout_s=10, what="an executed arbitrage")
    executed = next(o for o in seen if o.opportunity_id == results[0].opportunity_id and o.acted)
    costs = dict(executed.costs)
    assert (executed.buy_exchange, executed.sell_exchange) == ("paper", "pdex")
    # the rent priced in, at the SOL price the fees were priced at
    assert costs["account rent"] * 6_500 == (costs["network fee"] + costs["priority fee"]) * 2_039_280
    # ... and paid: the DEX order's fee is the network fee and the rent, in SOL, valued at its fill's price
    await wait_for(lambda: any(o.exchange == "pdex" and o.status is OrderStatus.FILLED for o in bot.store.orders()),
                   timeout_s=10, what="the DEX leg stored")
    dex_order = next(o for o in bot.store.orders() if o.exchange == "pdex")
    (swap,) = bot.exchanges["pdex"].swaps()
    assert (swap.fee, swap.fee_asset) == (Decimal("0.002045780"), "SOL")
    with localcontext() as exact:
        exact.prec = 100
        assert dex_order.fee == swap.fee * swap.price  # a fee in the base asset, valued at its fill's price, exactly


async def test_a_venue_whose_swap_fee_lamports_takes_no_side_is_asked_once_for_both_directions(make_bot,
                                                                                                 monkeypatch):
    asked: list[tuple] = []

    async def written_before_sides(self, symbol: str) -> SwapFee:  # a third-party venue's override of old
        asked.append((symbol,))
        return SwapFee(5_000, 777)

    monkeypatch.setattr(FakeDex, "swap_fee_lamports", written_before_sides)
    bot = await make_bot(kit_config(), extra=extra(), start=False)
    bot.mode = "observe"
    await bot.start()
    assert asked == [("SOL/USDC",)]
    assert bot.strategies["sol-arb"].pricer.swap_fees == dict.fromkeys(Direction, SwapFee(5_000, 777))
