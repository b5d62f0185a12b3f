"""Shared by the ccxt transfer tests: a strategy that only holds inventory on two venues, and the config
of a live bot moving BTC from the ccxt gate (pointed at the fake Gate.io) to a paper DEX."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from typing import ClassVar

from bot.api import Strategy, hookimpl, option
from plugins.paper.dex import PaperDexExchange

HOLDER = "tests.plugins.ccxt.transfer_kit"


@dataclass(frozen=True)
class HolderSettings:
    cex: str = option("gate", help="the venue on one side")
    dex: str = option("dex", help="the venue on the other side")
    symbol: str = option("BTC/USDT", help="the market whose two assets are held on both venues")


class Holder(Strategy):
    """Trades nothing; holds a market's assets on two venues, which is what the rebalancing plan reads."""

    Settings = HolderSettings
    order_settings: ClassVar[tuple[str, ...]] = ()
    exchange_settings: ClassVar[tuple[str, ...]] = ("cex", "dex")


class DexWithoutWithdrawals(PaperDexExchange):
    """A paper DEX that says it cannot withdraw (as ccxt's gemini does)."""

    @classmethod
    def lacks(cls, settings, features: tuple[str, ...]) -> list[str]:
        return [f for f in features if f == "withdraw"]


@hookimpl
def register_strategies(register) -> None:
    register("holder", Holder)


@hookimpl
def register_exchanges(register) -> None:
    register("paper-dex-no-withdrawals", DexWithoutWithdrawals)


def missing_entry_points() -> list[str]:
    """Of the plugins these tests use, those whose entry point is not installed."""
    installed = {ep.name for ep in importlib.metadata.entry_points(group="arbot")}
    return [name for name in ("ccxt", "rebalance") if name not in installed]


def config(gate_urls: dict[str, str], *, data_dir: str, dex_state: str = "", db_url: str = "",
           delay_s: float = 1.0, request_timeout_s: float = 5.0, whitelist: str = "paper:dex:BTC",
           dex_type: str = "paper-dex", mode: str = "auto") -> str:
    """A live bot: the ccxt gate holds 10 BTC, the paper DEX 1 BTC; the holder needs half on each, so the
    rebalancing service (auto mode) withdraws 4.5 BTC from the gate to the DEX's deposit address."""
    urls = "{" + ", ".join(f'"{k}" = "{v}"' for k, v in gate_urls.items()) + "}"
    store = f'db_url = "{db_url}"\n' if db_url else ""
    return f"""mode = "live"
[bot]
data_dir = "{data_dir}"
control_socket = ""
{store}
[exchanges.gate]
type = "ccxt"
id = "gate"
symbols = ["BTC/USDT"]
api_key = "env:FAKE_GATE_KEY"
api_secret = "env:FAKE_GATE_SECRET"
urls = {urls}
start_timeout_s = 10
request_timeout_s = {request_timeout_s}
reconnect_initial_s = 0.05
reconnect_max_s = 0.5
rate_limit_pause_s = 0.5
withdraw_to = {{ BTC = {{ "{whitelist}" = "BTC" }} }}
transfer_expected_s = 600
[exchanges.dex]
type = "{dex_type}"
symbol = "BTC/USDT"
start_price = "30000"
tvl = "1000000000"
volatility_bps = 0
dislocation_probability = 0
tick_interval_ms = 200
state_file = "{dex_state}"
initial_balances = {{ BTC = "1", USDT = "1000000", SOL = "1" }}
transfer_delay_s = {delay_s}
[strategies.hold]
type = "holder"
cex = "gate"
dex = "dex"
symbol = "BTC/USDT"
[plugins.rebalance]
enabled = true
mode = "{mode}"
check_every_s = 0.2
track_every_s = 0.2
threshold = "0.25"
max_per_transfer = {{ BTC = "5" }}
max_per_day = {{ BTC = "10" }}
"""
