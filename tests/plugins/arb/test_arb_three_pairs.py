"""Three arbitrage pairs on one CEX account and one wallet (examples/arb-three-pairs.toml): the balances they
share are split by inventory_weight, every fill moves what all of them see, once; three pools swapping from one
wallet are one account (Exchange.account), not three; the demo backtests end to end."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

from bot.app import Bot
from bot.backtest.driver import run_backtest
from bot.bus import Bus
from bot.domain import Balance, Fill, FillApplied, Liquidity, Side
from plugins.arb.inventory import InventoryBook, shared_balances
from tests.plugins.arb.arb_kit import arb_plugins

D = Decimal
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "arb-three-pairs.toml"


def fill(exchange: str, symbol: str, side: str, qty: str, price: str, trade_id: str, fee: str = "0",
         fee_asset: str = "USDC") -> Fill:
    return Fill(exchange, symbol, f"c-{trade_id}", trade_id, Side(side), D(price), D(qty), D(fee), fee_asset,
                Liquidity.TAKER, 1)


def test_three_pairs_split_the_shared_balances_and_see_each_others_fills():
    bus = Bus(lambda *a: None)
    shared = shared_balances(bus)
    assert shared_balances(bus) is shared  # one per bot
    sol = InventoryBook("cex", "sol-pool", "SOL", "USDC", shared=shared, strategy="sol-arb", weight=D(2))
    # the two other pools swap from sol-pool's wallet: their venues' account (Exchange.account) is sol-pool's
    jup = InventoryBook("cex", "jup-pool", "JUP", "USDC", shared=shared, strategy="jup-arb", dex_account="sol-pool")
    bonk = InventoryBook("cex", "bonk-pool", "BONK", "USDC", shared=shared, strategy="bonk-arb",
                         dex_account="sol-pool")
    cex = {"SOL": D(100), "JUP": D(20_000), "BONK": D(800_000_000), "USDC": D(40_000)}
    wallet = {"SOL": D(100), "JUP": D(20_000), "BONK": D(800_000_000), "USDC": D(40_000)}
    sol.snapshot("cex", {a: Balance(a, v, v) for a, v in cex.items()}, 1)
    assert not sol.known and not jup.known and not bonk.known  # the wallet not read yet
    jup.snapshot("jup-pool", {a: Balance(a, v, v) for a, v in wallet.items()}, 1)  # any of the pools reads it
    assert sol.known and jup.known and bonk.known

    # the CEX's USDC is split 2:1:1; JUP and BONK are each their own strategy's alone
    assert (sol.amounts()[1], jup.amounts()[1], bonk.amounts()[1]) == (D(20_000), D(10_000), D(10_000))
    assert jup.amounts()[0] == D(20_000) and bonk.amounts()[0] == D(800_000_000)
    assert sum(b.amounts()[1] for b in (sol, jup, bonk)) == cex["USDC"]  # never more than there is
    # the wallet's USDC and SOL: one wallet, counted on by all three, split 2:1:1 whichever pool reads it
    assert (sol.amounts()[3], jup.amounts()[3], bonk.amounts()[3]) == (D(20_000), D(10_000), D(10_000))
    assert (sol.amounts()[2], jup.available("jup-pool", "SOL"), bonk.available("bonk-pool", "SOL")) == (
        D(50), D(25), D(25))  # SOL: sol-arb's base, the others' network fees
    assert jup.amounts()[2] == D(20_000)  # the wallet's JUP is jup-arb's alone

    # a BONK swap on bonk-pool spends the wallet's USDC and SOL (its network fee): every pair's view of it moves
    bus.publish(FillApplied("bonk-arb", fill("bonk-pool", "BONK/USDC", "buy", "50000000", "0.00002", "s1",
                                             fee="0.000015", fee_asset="SOL")))
    assert sol.balance("sol-pool", "USDC") == jup.balance("jup-pool", "USDC") == D(39_000)
    assert sol.balance("sol-pool", "SOL") == bonk.balance("bonk-pool", "SOL") == D("99.999985")
    assert bonk.balance("bonk-pool", "BONK") == D(850_000_000)
    assert (sol.amounts()[3], jup.amounts()[3], bonk.amounts()[3]) == (D(19_500), D(9_750), D(9_750))
    assert sum(b.amounts()[3] for b in (sol, jup, bonk)) == D(39_000)  # together, never more than the wallet

    # a JUP/USDC buy on the CEX spends 850 USDC: every pair sees it at once, through the bus
    before = sol.version
    bus.publish(FillApplied("jup-arb", fill("cex", "JUP/USDC", "buy", "1000", "0.85", "t1", fee="0.85")))
    assert sol.version > before
    left = D(40_000) - D(850) - D("0.85")
    assert sol.balance("cex", "USDC") == jup.balance("cex", "USDC") == left
    assert (sol.amounts()[1], jup.amounts()[1]) == (left / 2, left / 4)
    assert jup.balance("cex", "JUP") == D(21_000)
    # the strategy's own on_fill and the bus both deliver a fill: it is applied once
    own = fill("cex", "SOL/USDC", "sell", "2", "150", "t2")
    sol.on_fill(own)
    bus.publish(FillApplied("sol-arb", own))
    assert sol.balance("cex", "SOL") == D(98) and sol.balance("cex", "USDC") == left + D(300)
    # a fill on a venue no arb strategy uses changes nothing here
    bus.publish(FillApplied("btc-grid", fill("paper", "BTC/USD", "buy", "1", "30000", "t3", fee_asset="USD")))
    assert "paper" not in shared.free


def test_the_three_pools_of_the_demo_are_one_account_split_three_ways_and_agree_with_the_wallet(
        tmp_path, monkeypatch):
    """jup-pool and bonk-pool swap from sol-pool's wallet (wallet = "sol-pool"): the three pairs together never plan
    to spend more of the wallet's USDC or SOL than it holds, and after the run's fills each sees the wallet's own
    balances."""
    seen: dict[str, object] = {}
    stop = Bot.stop

    async def stop_and_look(self):
        if not seen:
            wallet = await self.exchanges["sol-pool"].balances()
            seen["accounts"] = {name: getattr(self.exchanges[name], "account", None)
                                for name in ("sol-pool", "jup-pool", "bonk-pool")}
            seen["wallet"] = {asset: b.free for asset, b in wallet.items()}
            seen["dex_quote"] = {name: s.inventory.amounts()[3] for name, s in self.strategies.items()}
            seen["dex_sol"] = {name: s.inventory.available(s.settings.dex, "SOL")
                               for name, s in self.strategies.items()}
            seen["seen"] = {name: {asset: s.inventory.balance(s.settings.dex, asset) for asset in wallet}
                            for name, s in self.strategies.items()}
        await stop(self)

    monkeypatch.setattr(Bot, "stop", stop_and_look)
    run_backtest(EXAMPLE, tmp_path / "out", 200, chart=False, extra_plugins=arb_plugins())
    wallet = seen["wallet"]
    assert sum(seen["dex_quote"].values(), D(0)) <= wallet["USDC"], seen
    assert sum(seen["dex_sol"].values(), D(0)) <= wallet["SOL"], seen
    assert all(view == wallet for view in seen["seen"].values()), seen
    assert seen["accounts"] == {"sol-pool": "sol-pool", "jup-pool": "sol-pool", "bonk-pool": "sol-pool"}


def test_the_three_pair_demo_backtests_all_three_on_one_account_and_one_wallet(tmp_path):
    result = run_backtest(EXAMPLE, tmp_path / "out", 2_400, chart=False, extra_plugins=arb_plugins())
    report = json.loads(result.report_json.read_text())
    strategies = report["strategies"]
    assert sorted(strategies) == ["bonk-arb", "jup-arb", "sol-arb"]
    con = sqlite3.connect(tmp_path / "out" / "backtest.db")
    rows = con.execute("select strategy, exchange, status, count(*) from orders group by 1, 2, 3").fetchall()
    con.close()
    by = {(strategy, exchange, status): n for strategy, exchange, status, n in rows}
    for name, pool in (("sol-arb", "sol-pool"), ("jup-arb", "jup-pool"), ("bonk-arb", "bonk-pool")):
        assert by.get((name, "cex", "filled"), 0) > 0 and by.get((name, pool, "filled"), 0) > 0, rows
        assert D(strategies[name]["net"]["USDC"]) != 0
    # no leg was refused for want of funds: the three never planned to spend the same USDC or SOL twice
    assert all(status in ("filled", "canceled") for _, _, status in by), rows
    assert report["sections"]["arb"]["executions"] == sum(
        by.get((name, "cex", "filled"), 0) for name in ("sol-arb", "jup-arb", "bonk-arb"))
