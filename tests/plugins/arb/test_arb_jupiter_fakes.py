"""The arb strategy against the real jupiter exchange on its fakes (issue 5): the DEX leg fails after the CEX
leg filled, so the residual is hedged on the CEX and the exposure alerted.

A live-mode bot: a paper CEX (``cex``) at 150 whose best level (2 SOL at least, whatever sizes a market
step draws) holds more than the largest leg ``max_notional`` allows (1.9 SOL), so the CEX leg fills in full
however many steps run while it is in flight, a paper-dex pool (``pool``) anchored to it and started at 153
(reversion 1% of the gap a step: it stays dislocated for seconds, each step publishing the pool), and the
``jupiter`` exchange on the fake Solana node and fake Jupiter API. The arb prices on the pool (buy on the
CEX, sell on the DEX) and sends the swap leg to jupiter (after the CEX leg filled, or with it), whose fake
quotes 150: worse than the leg's limit price, so the plugin refuses the swap before anything is signed
(``PriceLimitExceeded``).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from solders.keypair import Keypair

from bot.app import Bot
from bot.config import build_config, parse_toml, resolve_secrets
from bot.domain import (
    BPS,
    AlertLevel,
    BookUpdate,
    ExecutionResult,
    OrderStatus,
    Side,
    TimeInForce,
)
from bot.plugins import collect, load_plugins
from plugins.arb.records import executions
from tests.fakes.jupiter_api import FakeJupiterApi
from tests.fakes.solana_rpc import FakeSolanaRpc
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import Alerts, extra

KEY_ENV = "T_ARB_JUPITER_KEY"


@pytest.fixture(autouse=True)
def _clear_alerts():
    Alerts.sent.clear()
    yield
    Alerts.sent.clear()


@pytest.fixture
async def solana_node():
    fake = await FakeSolanaRpc().start()
    yield fake
    await fake.close()


@pytest.fixture
async def jupiter_fake(solana_node):
    fake = await FakeJupiterApi(solana_node).start()  # quotes 0.15 USDC units per lamport: 150 USDC per SOL
    yield fake
    await fake.close()


def _config(tmp_path, node: FakeSolanaRpc, api: FakeJupiterApi, legs: str) -> str:
    return f"""
mode = "live"
[bot]
data_dir = "{tmp_path}"
control_socket = ""

[exchanges.cex]
type = "paper"
symbols = ["SOL/USDC"]
start_price = "150"
volatility_bps = 0
tick_interval_ms = 10
level_qty = "5"
taker_fee_bps = 10
min_qty = "0.01"
lot_size = "0.01"
state_file = ""
initial_balances = {{ USDC = "100000", SOL = "100" }}

[exchanges.pool]
type = "paper-dex"
symbol = "SOL/USDC"
anchor = "cex"
reversion = "0.01"
start_price = "153"
volatility_bps = "0"
dislocation_probability = "0"
tick_interval_ms = 20
state_file = ""

[exchanges.jupiter]
type = "jupiter"
api_url = "{api.url}"
rpc_urls = ["{node.url}"]
keypair = "env:{KEY_ENV}"
rebroadcast_s = 0.05
poll_s = 0.02
request_timeout_s = 2.0

[notifiers.arb-alerts]

[strategies.sol-arb]
type = "arb"
cex = "cex"
dex = "jupiter"
pool = "pool"
symbol = "SOL/USDC"
hedge = "ioc"
{legs}
min_edge_bps = 10
cex_taker_fee_bps = 10
max_cex_slippage_bps = 20
max_dex_impact_bps = 100
max_notional = 300
size_step = "0.1"
min_size = "0.1"
cooldown_ms = 600000
"""


LEGS = {"cex-first": 'concurrent_legs = false\nleg_order = "cex-first"', "concurrent": "concurrent_legs = true"}


@pytest.fixture(params=sorted(LEGS))
async def arb_bot(request, tmp_path, solana_node, jupiter_fake, monkeypatch):
    kp = Keypair()
    monkeypatch.setenv(KEY_ENV, str(kp))
    solana_node.lamports[str(kp.pubkey())] = 100 * 10**9  # the wallet holds 100 SOL to sell
    plugins = load_plugins(extra=extra())
    registry = collect(plugins)
    assert not registry.conflicts, registry.conflicts
    text = _config(tmp_path, solana_node, jupiter_fake, LEGS[request.param])
    config = build_config(parse_toml(text, "test.toml"), registry, "test.toml")
    resolve_secrets(config)
    bot = Bot(config, plugins, registry)
    await bot.start()
    yield bot
    await bot.stop()


def _done(bot) -> bool:
    rows = executions(bot.store, "sol-arb")
    return bool(rows) and rows[0].state == "done"


def _warnings() -> list:
    return [a for a in Alerts.sent if a.kind == "arb" and a.level is AlertLevel.WARNING]


async def test_jupiter_refusing_the_dex_leg_after_the_cex_leg_filled_is_hedged_and_alerted(
        arb_bot, solana_node, jupiter_fake):
    bot = arb_bot
    results: list[ExecutionResult] = []
    bot.bus.subscribe(ExecutionResult, results.append, owner="test")
    books: list[BookUpdate] = []
    bot.bus.subscribe(BookUpdate, books.append, owner="test", exchange="cex")
    await wait_for(lambda: _done(bot), timeout_s=30, what="the execution to finish")
    [row] = executions(bot.store, "sol-arb")
    assert (row.cex_exchange, row.dex_exchange, row.direction) == ("cex", "jupiter", "buy-cex-sell-dex")
    cex_first = not bot.strategies["sol-arb"].settings.concurrent_legs
    assert row.legs == ("cex-first" if cex_first else "concurrent")

    # the CEX leg bought and filled in full (sequential: before the swap leg was created)
    cex = bot.executor.order(row.cex_cid)
    assert cex.exchange == "cex" and cex.side is Side.BUY
    assert cex.status is OrderStatus.FILLED and cex.filled_qty == row.size > 0

    # the swap leg reached jupiter, which quoted 150 against a limit priced on the pool at 153: refused
    dex = bot.executor.order(row.dex_cid)
    assert dex.exchange == "jupiter" and dex.side is Side.SELL and dex.qty == cex.filled_qty
    assert dex.status is OrderStatus.REJECTED and dex.filled_qty == 0
    if cex_first:
        assert dex.created_ns >= cex.updated_ns
    assert "worse than the limit" in dex.reason, dex.reason
    assert dex.price > Decimal(150)  # the limit the quote failed
    # ... before anything was signed or sent: one quote asked, no /swap, nothing at the node
    assert len(jupiter_fake.quotes) == 1 and jupiter_fake.quotes[0]["swapMode"] == "ExactIn"
    assert int(jupiter_fake.quotes[0]["amount"]) == int(cex.filled_qty.scaleb(9))
    assert jupiter_fake.swaps == [] and solana_node.sent == [] and solana_node.landed == {}
    assert bot.exchanges["jupiter"].signatures_made == 0

    # the residual (long what the CEX bought) was sold back on the CEX: IOC, 50 bps under the bid at most
    hedge = bot.executor.order(f"{row.opportunity_id}-hedge")
    assert hedge is not None and hedge.exchange == "cex"
    assert (hedge.side, hedge.qty, hedge.tif) == (Side.SELL, cex.filled_qty, TimeInForce.IOC)
    # the bid in force (the paper CEX's book stands still here): the book events seen since the test subscribed, or,
    # when the execution ended before the venue published again (a loaded machine), the portfolio's last top
    bid = books[-1].best_bid if books else bot.portfolio.top("cex", "SOL/USDC")[0]
    assert hedge.price == bot.exchanges["cex"].market("SOL/USDC").round_price(bid * (1 - Decimal(50) / BPS),
                                                                              Side.SELL)
    assert hedge.status is OrderStatus.FILLED and hedge.filled_qty == cex.filled_qty
    assert row.residual == 0 and row.hedge_filled == cex.filled_qty

    # a WARNING names the exposure: quantity, venue, and that it is being hedged
    await wait_for(lambda: any("left long" in a.message for a in _warnings()), timeout_s=10,
                   what="the exposure alert")
    [warning] = [a for a in _warnings() if "left long" in a.message]
    assert f"long {cex.filled_qty} SOL on cex" in warning.message and "hedging it" in warning.message
    assert warning.fields["qty"] == f"{cex.filled_qty} SOL" and warning.fields["venue"] == "cex"
    assert warning.fields["dex_leg"] == "rejected 0"

    # realized: the CEX round trip and its two fees, at most zero, against a predicted profit
    await bot.executor.flush()
    fills = [f for _, f in bot.store.fills(strategy="sol-arb")]
    assert {f.client_order_id for f in fills} == {row.cex_cid, hedge.client_order_id}
    by_hand = sum((f.price * f.qty if f.side is Side.SELL else -f.price * f.qty) - f.fee for f in fills)
    [result] = results
    assert result.realized_pnl == by_hand == row.realized_pnl <= 0 < result.predicted_pnl
