"""Shared by the rebalancing tests: the plugin (unless installed), and a paper arbitrage that drains the DEX of SOL."""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import Callable
from typing import Any

import plugins.arb
import plugins.rebalance


def inline_later(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
    """A test context's ``read_later`` and ``write_later``: ``fn`` run at once, its future done (as in a backtest)."""
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    try:
        done.set_result(fn(*args, **kwargs))
    except Exception as exc:
        done.set_exception(exc)
    return done


def rebalance_plugins() -> list[tuple[str, object]]:
    """The rebalance and arb plugins, those whose entry point is not installed (the others load by themselves)."""
    installed = {ep.name for ep in importlib.metadata.entry_points(group="arbot")}
    return [(name, module) for name, module in (("rebalance", plugins.rebalance), ("arb", plugins.arb))
            if name not in installed]


def config(*, mode: str = "alert", delay_s: float = 1.0, dex_sol: str = "10", cex_state: str = "",
           dex_state: str = "", check_every_s: float = 0.1, db_url: str = "") -> str:
    """A paper CEX at 150 against a deep pool at 153 that stays dislocated: every arbitrage buys SOL on the
    CEX and sells it on the DEX, so the DEX runs out of SOL (about 2 SOL a trade) and the CEX piles it up.

    ``db_url`` (the ``db_url`` fixture's store) comes first: after ``build_bot``'s ``[bot]`` header."""
    store = f'db_url = "{db_url}"' if db_url else ""
    return f"""
        {store}
        [exchanges.paper]
        symbols = ["SOL/USDC"]
        start_price = "150"
        volatility_bps = 0
        tick_interval_ms = 20
        level_qty = "50"
        taker_fee_bps = 10
        min_qty = "0.01"
        lot_size = "0.01"
        state_file = "{cex_state}"
        initial_balances = {{ USDC = "100000", SOL = "10" }}
        withdrawal_fees = {{ SOL = "0.01", USDC = "1" }}
        withdrawal_minimums = {{ SOL = "0.1", USDC = "10" }}
        transfer_delay_s = {delay_s}
        [exchanges.dex]
        type = "paper-dex"
        symbol = "SOL/USDC"
        start_price = "153"
        tvl = "1000000000"
        volatility_bps = 0
        dislocation_probability = 0
        tick_interval_ms = 50
        state_file = "{dex_state}"
        initial_balances = {{ SOL = "{dex_sol}", USDC = "100000" }}
        transfer_delay_s = {delay_s}
        [strategies.sol-arb]
        type = "arb"
        cex = "paper"
        dex = "dex"
        symbol = "SOL/USDC"
        min_edge_bps = 10
        cex_taker_fee_bps = 10
        max_notional = 300
        size_step = "0.1"
        min_size = "0.1"
        cooldown_ms = 100
        inventory_refresh_s = 0.5
        [plugins.rebalance]
        enabled = true
        mode = "{mode}"
        check_every_s = {check_every_s}
        track_every_s = 0.2
        threshold = "0.25"
        max_per_transfer = {{ SOL = "100" }}
        max_per_day = {{ SOL = "1000" }}
    """
