"""The paper DEX's swaps: exact amounts and fees, minimum-out refusals, latency, idempotency across restarts."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import pytest

import plugins.paper
from arbotlib.amm.model import ConstantProductModel
from bot.api import (
    Context,
    Exchange,
    InsufficientFunds,
    OrderNotFound,
    PermanentError,
    TransientError,
)
from bot.domain import (
    BookUpdate,
    FeedState,
    FeedStatus,
    Order,
    OrderStatus,
    OrderType,
    PoolUpdate,
    Side,
    SwapFee,
    TimeInForce,
)
from bot.plugins import collect, load_plugins
from bot.settings import parse_settings
from plugins.paper.dex import PaperDexExchange, SlippageExceeded
from plugins.paper.dex_settings import PaperDexSettings
from tests.helpers.waiting import wait_for

D = Decimal
NETWORK_FEE = D("0.0000065")
"""5000 lamports signature fee + ceil(10000 micro-lamports x 150000 CU / 1e6) = 1500 lamports, in SOL."""

# A constant-product pool at 100 USDC per SOL holding 2,000,000 USDC of value: 10,000 SOL and 1,000,000 USDC.
CP = dict(pool="constant-product", start_price=D("100"), tvl=D("2000000"), fee_bps=30, volatility_bps=D(0),
          dislocation_probability=D(0), tick_interval_ms=0, state_file="")
RESERVE_SOL, RESERVE_USDC = 10**13, 10**12  # smallest units (9 and 6 decimals)


def swap(cid: str, side: Side, qty: str, price: str | None = None, **kw) -> Order:
    kw.setdefault("order_type", OrderType.LIMIT if price is not None else OrderType.MARKET)
    kw.setdefault("tif", TimeInForce.IOC)
    return Order(client_order_id=cid, strategy="test", exchange="dex", symbol="SOL/USDC", side=side, qty=D(qty),
                 price=None if price is None else D(price), **kw)


class Events:
    def __init__(self, bus):
        self.events: list = []
        for t in (PoolUpdate, FeedStatus):
            bus.subscribe(t, self.events.append, owner="test", exchange="dex")

    def of(self, t):
        return [e for e in self.events if isinstance(e, t)]


@pytest.fixture
async def make_dex(bot):
    """Build (not start) a paper DEX named "dex"; its pool moves only on step()."""
    bot.exchanges = {"cex": object(), "orca": object()}  # what ctx.exchange() finds for anchor/source
    built: list[PaperDexExchange] = []

    def make(**overrides) -> PaperDexExchange:
        settings = dataclasses.replace(PaperDexSettings(), **{**CP, **overrides})
        assert settings.validate() == []
        dex = PaperDexExchange("dex", settings, Context(bot, "exchange", "dex"))
        built.append(dex)
        return dex

    yield make
    for dex in built:
        await dex.stop()


@pytest.fixture
async def dex(make_dex):
    exchange = make_dex()
    await exchange.start()
    return exchange


# --- registration and settings ------------------------------------------------------------------


def test_registered_as_paper_dex_simulated_with_documented_settings():
    registered = collect(load_plugins(entry_points=[], extra=[("paper", plugins.paper)])).classes("exchange")
    assert registered["paper-dex"] is PaperDexExchange
    assert issubclass(PaperDexExchange, Exchange) and PaperDexExchange.simulated
    assert all(f.metadata.get("help") for f in dataclasses.fields(PaperDexSettings))
    assert PaperDexSettings().network_fee_lamports() == 6500


@pytest.mark.parametrize("table, key, words", [
    ({"symbol": "SOLUSDC"}, "symbol", "BASE/QUOTE"),
    ({"market": "mirror"}, "source", "needs the name"),
    ({"source": "orca"}, "source", 'only used with market = "mirror"'),
    ({"dislocation_min_bps": "90"}, "dislocation_min_bps", "above dislocation_max_bps"),
    # a step's noise or a whale's move of 100% or more would take the pool's price to zero or below (a step
    # raised "isqrt() argument must be nonnegative" at volatility_bps = 5000)
    ({"volatility_bps": "5000"}, "volatility_bps", "<= 1000"),
    ({"dislocation_max_bps": "10000"}, "dislocation_max_bps", "<= 5000"),
    ({"position_widths_bps": [0]}, "position_widths_bps", "not in (0, 10000)"),
    ({"initial_balances": {"USDC": "10"}}, "initial_balances", "paid in SOL"),
    ({"initial_balances": {"SOL": "lots"}}, "initial_balances.SOL", "decimal number"),
])  # fmt: skip
def test_bad_settings_name_the_key(table, key, words):
    issues: list = []
    settings = parse_settings(PaperDexSettings, table, "exchanges.dex", issues)
    problems = issues if settings is None else settings.validate()
    text = "; ".join(str(p) for p in problems)
    assert key in text and words in text, text


async def test_unknown_anchor_fails_start_with_the_fix(make_dex):
    dex = make_dex(anchor="kraken")
    with pytest.raises(ValueError, match=r'anchor = "kraken": no exchange of that name.*\[exchanges.kraken\]'):
        await dex.start()


# --- swaps: exact amounts -------------------------------------------------------------------------


async def test_start_publishes_live_and_the_pool(bot, make_dex):
    events = Events(bot.bus)
    dex = make_dex()
    await dex.start()
    assert [(e.state, e.exchange) for e in events.of(FeedStatus)] == [(FeedState.LIVE, "dex")]
    (update,) = events.of(PoolUpdate)
    assert isinstance(update.pool, ConstantProductModel) and update.pool is dex.pool
    assert (update.pool.pool.reserve_a, update.pool.pool.reserve_b) == (RESERVE_SOL, RESERVE_USDC)
    assert update.pool.mid() == D(100) and update.symbol == "SOL/USDC"
    info = dex.market("SOL/USDC")
    assert (info.lot_size, info.tick_size) == (D("0.000000001"), D("0.000001"))
    assert await dex.open_orders() == []
    with pytest.raises(KeyError):
        dex.market("BTC/USD")


async def test_sell_is_exact_input_with_the_network_fee_in_sol(bot, dex):
    events = Events(bot.bus)
    state = await dex.place_order(swap("s1", Side.SELL, "10", "99.6"))
    # x*y=k with the fee on the input: out = in*(1-0.003)*y // (x + in*(1-0.003)), in smallest units.
    out = 10**10 * 9970 * RESERVE_USDC // (RESERVE_SOL * 10000 + 10**10 * 9970)
    assert out == 996_006_981
    assert state.status is OrderStatus.FILLED and state.filled_qty == D(10)
    (fill,) = state.fills
    assert (fill.side, fill.qty, fill.price) == (Side.SELL, D(10), D("99.6006981"))
    assert (fill.fee, fill.fee_asset, fill.trade_id, fill.exchange) == (NETWORK_FEE, "SOL", "paper-dex-1", "dex")
    assert state.avg_fill_price == D("99.6006981")
    balances = await dex.balances()
    assert balances["SOL"].total == balances["SOL"].free == D(100) - D(10) - NETWORK_FEE
    assert balances["USDC"].total == D(15000) + D("996.006981")
    pool = dex.pool.pool
    assert (pool.reserve_a, pool.reserve_b) == (RESERVE_SOL + 10**10, RESERVE_USDC - out)
    (update,) = events.of(PoolUpdate)
    assert update.pool is dex.pool and update.slot == 1


async def test_buy_is_exact_output(dex):
    state = await dex.place_order(swap("b1", Side.BUY, "10", "100.5"))
    # in = ceil(y * out / ((x - out) * (1 - 0.003))), in smallest units.
    paid = -(-(RESERVE_USDC * 10**10 * 10000) // ((RESERVE_SOL - 10**10) * 9970))
    assert paid == 1_004_013_041
    (fill,) = state.fills
    assert (fill.side, fill.qty, fill.price, fill.fee) == (Side.BUY, D(10), D("100.4013041"), NETWORK_FEE)
    balances = await dex.balances()
    assert balances["SOL"].total == D(110) - NETWORK_FEE
    assert balances["USDC"].total == D(15000) - D("1004.013041")
    assert (dex.pool.pool.reserve_a, dex.pool.pool.reserve_b) == (RESERVE_SOL - 10**10, RESERVE_USDC + paid)


RENT = D("0.00203928")
"""The rent-exempt deposit of a 165-byte SPL token account, 2,039,280 lamports, in SOL."""


async def test_a_swap_creating_its_output_token_account_pays_the_rent_once(make_dex):
    dex = make_dex(initial_balances={"SOL": "100"})  # no USDC account yet
    await dex.start()
    # selling SOL pays out USDC into an account the swap must create; buying SOL pays out native SOL (its wrapped-SOL
    # account is opened and closed in the swap's own transaction: no rent is kept)
    assert await dex.swap_fee_lamports("SOL/USDC", Side.SELL) == SwapFee(5_000, 1_500, 2_039_280)
    assert await dex.swap_fee_lamports("SOL/USDC", Side.BUY) == SwapFee(5_000, 1_500)
    (fill,) = (await dex.place_order(swap("s1", Side.SELL, "10"))).fills
    assert (fill.fee, fill.fee_asset) == (NETWORK_FEE + RENT, "SOL")
    balances = await dex.balances()
    assert balances["SOL"].total == D(100) - D(10) - NETWORK_FEE - RENT
    assert balances["USDC"].total == D("996.006981")
    assert (await dex.fetch_order("SOL/USDC", "s1")).fills[0].fee == NETWORK_FEE + RENT
    # the account exists now: the next swap into it pays the network fee alone
    assert await dex.swap_fee_lamports("SOL/USDC", Side.SELL) == SwapFee(5_000, 1_500)
    (fill,) = (await dex.place_order(swap("s2", Side.SELL, "1"))).fills
    assert fill.fee == NETWORK_FEE


async def test_a_token_held_at_zero_has_its_account_and_a_buy_of_a_new_base_token_pays_rent(make_dex):
    dex = make_dex(symbol="JUP/USDC", initial_balances={"SOL": "1", "USDC": "1000", "JUP": "0"})
    await dex.start()
    assert await dex.swap_fee_lamports("JUP/USDC", Side.BUY) == SwapFee(5_000, 1_500)  # listed: the account exists
    fresh = make_dex(symbol="JUP/USDC", initial_balances={"SOL": "1", "USDC": "1000"})
    await fresh.start()
    assert await fresh.swap_fee_lamports("JUP/USDC", Side.BUY) == SwapFee(5_000, 1_500, 2_039_280)
    assert await fresh.swap_fee_lamports("JUP/USDC", Side.SELL) == SwapFee(5_000, 1_500)
    (fill,) = (await fresh.place_order(dataclasses.replace(swap("b1", Side.BUY, "1"), symbol="JUP/USDC"))).fills
    assert fill.fee == NETWORK_FEE + RENT
    assert (await fresh.balances())["SOL"].total == D(1) - NETWORK_FEE - RENT


async def test_the_rent_must_be_there_in_sol(make_dex):
    dex = make_dex(initial_balances={"SOL": "10.001"})
    await dex.start()
    with pytest.raises(InsufficientFunds, match=r"insufficient SOL: the swap needs 10\.002045780 SOL \(0\.000006500 "
                                                r"of it network fee, 0\.002039280 rent of the USDC token account it "
                                                r"creates\), the wallet holds 10\.001"):
        await dex.place_order(swap("s1", Side.SELL, "10"))
    assert "USDC" not in await dex.balances()


async def test_market_orders_take_what_the_pool_gives(dex):
    state = await dex.place_order(swap("m1", Side.SELL, "10"))
    assert state.fills[0].price == D("99.6006981")


# --- refusals --------------------------------------------------------------------------------------


async def test_minimum_out_and_maximum_in_are_honoured_to_the_unit(dex):
    pool_before, balances_before = dex.pool, await dex.balances()
    # SELL 10 pays 996.006981: a minimum out one unit higher is refused, nothing changes.
    with pytest.raises(SlippageExceeded, match=r"slippage exceeded.*996\.006981.*minimum out 996\.006982"):
        await dex.place_order(swap("s-tight", Side.SELL, "10", "99.6006982"))
    # BUY 10 costs 1004.013041: a maximum in one unit lower is refused.
    with pytest.raises(SlippageExceeded, match=r"slippage exceeded.*1004\.013041.*maximum in 1004\.013040"):
        await dex.place_order(swap("b-tight", Side.BUY, "10", "100.401304"))
    assert dex.pool is pool_before and await dex.balances() == balances_before
    refused = await dex.fetch_order("SOL/USDC", "s-tight")
    assert refused.status is OrderStatus.REJECTED and "slippage exceeded" in refused.reason
    # the same id again: the venue remembers the refusal, it does not try again
    assert (await dex.place_order(swap("s-tight", Side.SELL, "10", "99"))).status is OrderStatus.REJECTED
    # exactly at the bound: it fills
    assert (await dex.place_order(swap("s-exact", Side.SELL, "10", "99.6006981"))).status is OrderStatus.FILLED


async def test_insufficient_funds_names_the_asset_and_changes_nothing(make_dex):
    dex = make_dex(initial_balances={"SOL": "5", "USDC": "100"})
    await dex.start()
    pool = dex.pool
    with pytest.raises(InsufficientFunds, match="insufficient SOL"):
        await dex.place_order(swap("too-big", Side.SELL, "10"))
    with pytest.raises(InsufficientFunds, match="insufficient USDC"):
        await dex.place_order(swap("too-dear", Side.BUY, "2"))
    # all 5 SOL in: nothing left for the network fee
    with pytest.raises(InsufficientFunds, match=r"insufficient SOL: the swap needs 5\.000006500 SOL \(0\.000006500 "
                                                r"of it network fee\), the wallet holds 5"):
        await dex.place_order(swap("no-fee", Side.SELL, "5"))
    assert dex.pool is pool and {a: b.total for a, b in (await dex.balances()).items()} == {
        "SOL": D(5), "USDC": D(100)}


@pytest.mark.parametrize("order, words", [
    (swap("gtc", Side.SELL, "1", "90", tif=TimeInForce.GTC), "cannot rest"),
    (swap("po", Side.SELL, "1", "90", post_only=True), "post_only"),
    (swap("fine", Side.SELL, "0.0000000001"), "decimals"),
    (swap("zero", Side.SELL, "0"), "above zero"),
    (dataclasses.replace(swap("sym", Side.SELL, "1"), symbol="BTC/USD"), "unknown symbol"),
])  # fmt: skip
async def test_malformed_swaps_are_refused(dex, order, words):
    with pytest.raises(PermanentError, match=words):
        await dex.place_order(order)


async def test_nothing_rests_and_nothing_cancels(dex):
    done = await dex.place_order(swap("s1", Side.SELL, "1"))
    assert await dex.cancel_order("SOL/USDC", "s1") == done  # a finished swap stays as it is
    with pytest.raises(OrderNotFound, match="never rest"):
        await dex.cancel_order("SOL/USDC", "unknown")
    assert await dex.open_orders() == []
    assert await dex.fetch_order("SOL/USDC", "never") is None


# --- latency ---------------------------------------------------------------------------------------


async def test_latency_executes_against_the_pool_at_execution_time(bot, make_dex):
    dex = make_dex(latency_ms=300, anchor="cex", reversion=D("1"))
    await dex.start()
    quoted = dex.pool.sell(D(10))
    sent_ns = bot.clock.time_ns()
    first = asyncio.create_task(dex.place_order(swap("late", Side.SELL, "10")))
    await wait_for(lambda: len(dex.submissions("late")) == 1, what="the swap in flight")
    duplicate = asyncio.create_task(dex.place_order(swap("late", Side.SELL, "10")))
    # while the swap travels, the anchor jumps and other traders move the pool up toward it
    bot.bus.publish(BookUpdate("cex", "SOL/USDC", ((D("104.99"), D(1)),), ((D("105.01"), D(1)),), 1))
    dex.step()
    bot.clock.advance(0.3)
    moved = dex.pool
    assert moved.mid() > D(101)
    expected = moved.sell(D(10))
    assert not first.done()  # it is still waiting out its latency
    state, again = await first, await duplicate
    assert state == again and len(dex.swaps()) == 1 and len(dex.submissions("late")) == 2
    (fill,) = state.fills
    assert fill.price * fill.qty == expected.quote_qty > quoted.quote_qty
    assert fill.ts_ns == sent_ns + 300_000_000


async def test_a_request_abandoned_during_its_latency_never_swaps(make_dex):
    dex = make_dex(latency_ms=60_000)
    await dex.start()
    pool, balances = dex.pool, await dex.balances()
    first = asyncio.create_task(dex.place_order(swap("gone", Side.SELL, "1")))
    await wait_for(lambda: len(dex.submissions("gone")) == 1, what="the swap in flight")
    duplicate = asyncio.create_task(dex.place_order(swap("gone", Side.SELL, "1")))
    await wait_for(lambda: len(dex.submissions("gone")) == 2, what="the duplicate")
    first.cancel()  # e.g. the executor's request timeout
    with pytest.raises(asyncio.CancelledError):
        await first
    with pytest.raises(TransientError, match="abandoned before the swap executed"):
        await duplicate
    assert await dex.fetch_order("SOL/USDC", "gone") is None and dex.swaps() == []
    assert dex.pool is pool and await dex.balances() == balances


async def test_no_latency_by_default(dex):
    state = await asyncio.wait_for(dex.place_order(swap("now", Side.SELL, "1")), 5)
    assert state.status is OrderStatus.FILLED


# --- idempotency and persistence --------------------------------------------------------------------


async def test_a_known_client_id_never_swaps_twice_even_after_restart(bot, make_dex):
    path = str(bot.data_dir / "dex.db")
    dex = make_dex(state_file=path, pool="concentrated", fee_bps=4)
    await dex.start()
    first = await dex.place_order(swap("once", Side.SELL, "3", "90"))
    assert first.status is OrderStatus.FILLED
    for _ in range(5):
        dex.step()
    pool, balances = dex.pool, await dex.balances()
    await dex.stop()

    again = make_dex(state_file=path, pool="concentrated", fee_bps=4)
    await again.start()
    assert again.pool == pool and again.step_count == 5 and await again.balances() == balances
    for _ in range(3):
        assert await again.place_order(swap("once", Side.SELL, "3", "90")) == first
    assert again.pool == pool and await again.balances() == balances
    assert [s.client_order_id for s in again.swaps()] == ["once"]
    assert len(again.submissions("once")) == 4
    assert await again.fetch_order("SOL/USDC", "once") == first
    second = await again.place_order(swap("twice", Side.SELL, "3", "90"))
    assert second.fills[0].trade_id == "paper-dex-2"
    # initial balances apply to a new file only
    assert (await again.balances())["SOL"].total == D(100) - 6 - 2 * NETWORK_FEE


async def test_a_swap_saves_the_pool_it_leaves_for_a_restart_in_a_file_only(bot, make_dex):
    from plugins.paper import dex_pool

    on_file, in_memory = make_dex(state_file=str(bot.data_dir / "dex.db")), make_dex()
    for venue in (on_file, in_memory):
        await venue.start()
        assert (await venue.place_order(swap("s", Side.SELL, "1"))).status is OrderStatus.FILLED
    # with the swap, in its transaction: what a restart resumes from
    assert on_file._ready().pool("SOL/USDC") == (dex_pool.dump(on_file.pool), 0, 1)
    # nothing ever reopens a venue kept in memory: its pool is as started, the swap wrote no JSON of it
    assert in_memory._ready().pool("SOL/USDC")[2] == 0 and in_memory.slot == 1


async def test_steps_save_the_pool_for_a_restart_in_a_file_only(bot, make_dex):
    """Every SAVE_POOL_EVERY steps (and on stop) a pool on file is saved; one kept in memory (a backtest's) never is
    after its start: nothing reopens it, and the save (the pool's JSON) would cost its steps."""
    from plugins.paper.dex import SAVE_POOL_EVERY

    on_file, in_memory = make_dex(state_file=str(bot.data_dir / "dex.db")), make_dex()
    for venue in (on_file, in_memory):
        await venue.start()
        for _ in range(SAVE_POOL_EVERY + 1):
            venue.step()
    assert on_file._ready().pool("SOL/USDC")[1:] == (SAVE_POOL_EVERY, SAVE_POOL_EVERY)
    assert in_memory._ready().pool("SOL/USDC")[1:] == (0, 0) and in_memory.step_count == SAVE_POOL_EVERY + 1
    saved = []
    in_memory._ready().save_pool = lambda *args: saved.append(args)  # type: ignore[method-assign]
    await in_memory.stop()
    assert saved == []


async def test_memory_state_starts_fresh(make_dex):
    dex = make_dex()
    await dex.start()
    await dex.place_order(swap("a", Side.SELL, "1"))
    await dex.stop()
    fresh = make_dex()
    await fresh.start()
    assert await fresh.fetch_order("SOL/USDC", "a") is None and fresh.state_path == ":memory:"


async def test_pools_sharing_a_wallet_swap_from_the_same_balances(bot, make_dex, tmp_path):
    """wallet = "NAME": a second pool (JUP/USDC) swaps from the first venue's wallet and its state file."""
    owner = make_dex(state_file=str(tmp_path / "wallet.db"),
                     initial_balances={"SOL": "100", "JUP": "5000", "USDC": "15000"})
    await owner.start()
    bot.exchanges = {**bot.exchanges, "dex": owner}
    settings = dataclasses.replace(PaperDexSettings(), **{**CP, "symbol": "JUP/USDC", "base_decimals": 6,
                                                          "start_price": D("0.85"), "wallet": "dex"})
    assert settings.validate() == []
    jup = PaperDexExchange("jup", settings, Context(bot, "exchange", "jup"))
    try:
        await jup.start()
        state = await jup.place_order(Order(client_order_id="j1", strategy="test", exchange="jup", symbol="JUP/USDC",
                                            side=Side.SELL, qty=D(1000), price=None, order_type=OrderType.MARKET,
                                            tif=TimeInForce.IOC))
        assert state.status is OrderStatus.FILLED
        got = state.fills[0].price * D(1000)
        for venue in (owner, jup):  # one wallet: both report it
            balances = await venue.balances()
            assert balances["JUP"].total == D(4000) and balances["USDC"].total == D(15000) + got
            assert balances["SOL"].total == D(100) - NETWORK_FEE
    finally:
        await jup.stop()
    with pytest.raises(ValueError, match='wallet = "nope": no exchange of that name'):
        lost = PaperDexExchange("lost", dataclasses.replace(settings, wallet="nope"), Context(bot, "exchange", "lost"))
        await lost.start()
