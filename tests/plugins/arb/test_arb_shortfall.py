"""The low-inventory alert and the pricer's inventory cap are one figure (``Pricer.shortfall``): a side the cap
rules out at its smallest size is alerted, with what that size needs (a CEX buy: its limit x size with the CEX
fee; a DEX buy: the pool's quote; the SOL fees), and a side the cap allows is not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.domain import AlertLevel
from plugins.arb.pricing import Direction
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import Alerts, config, extra
from tests.plugins.arb.test_arb_pricing_kit import RICH, D, book, pool, pricer

# 1 SOL steps: the smallest size is 1 SOL, walked at 160.00 (buy) or 159.90 (sell)
TICK = book([("159.90", 50)], [("160.00", 2), ("160.20", 2), ("160.40", 50)])
SCENE = {"max_cex_slippage_bps": D(50), "min_edge_bps": D(5)}


@pytest.fixture(autouse=True)
def _clear_alerts():
    Alerts.sent.clear()
    yield
    Alerts.sent.clear()


def _capped(p, direction: Direction, inventory) -> bool:
    ev = p.evaluate(TICK, inventory)[0 if direction is Direction.BUY_CEX_SELL_DEX else 1]
    return ev.size == 0 and ev.limited_by == "inventory"


@pytest.mark.parametrize("field, amounts", [
    # a CEX buy of 1 SOL holds its limit 160.00 x 1 with the 0.1 % fee: 160.16 USDC (not 160.00 at the touch)
    ("cex_quote", ["160.16", "160.159999", "160.00", "159"]),
    # the DEX wallet sells 1 SOL and pays 0.000007 SOL of fees from it
    ("dex_base", ["1.000007", "1.000006", "1"]),
])
def test_buying_on_the_cex_is_alerted_exactly_when_the_cap_rules_its_smallest_size_out(field, amounts):
    p = pricer(pool(10_000, 1_610_000), **SCENE)
    for amount in amounts:
        inventory = replace(RICH, **{field: D(amount)})
        short = p.shortfall(Direction.BUY_CEX_SELL_DEX, TICK, inventory)
        assert (short is not None) == _capped(p, Direction.BUY_CEX_SELL_DEX, inventory), amount
        if short is not None:
            venue, asset, need = ((p.settings.cex, "USDC", D("160.16")) if field == "cex_quote"
                                  else (p.settings.dex, "SOL", D("1.000007")))
            assert (short.venue, short.asset, short.have, short.need) == (venue, asset, D(amount), need)


def test_buying_on_the_dex_is_alerted_with_the_pools_quote_and_not_its_mid():
    p = pricer(pool(10_000, 1_500_000), **SCENE)  # the pool at 150: buying there and selling at 159.90 has an edge
    quote_in = p.evaluate(TICK, RICH)[1].settled()
    assert quote_in.size > 0
    one = p.shortfall(Direction.BUY_DEX_SELL_CEX, TICK, replace(RICH, dex_quote=D("150.0")))  # 1 SOL at the mid
    assert one is not None and (one.venue, one.asset) == (p.settings.dex, "USDC") and one.need > D(150)
    assert _capped(p, Direction.BUY_DEX_SELL_CEX, replace(RICH, dex_quote=D("150.0")))
    enough = replace(RICH, dex_quote=one.need)
    assert p.shortfall(Direction.BUY_DEX_SELL_CEX, TICK, enough) is None
    assert not _capped(p, Direction.BUY_DEX_SELL_CEX, enough)



def test_a_cex_buy_whose_quote_holds_its_highest_limit_is_told_without_walking_the_book_or_quoting_the_pool(
        monkeypatch):
    """After every fill both directions are asked (``check_inventory``): a CEX buy whose quote balance holds the
    smallest size at the highest price the walk may reach (the touch + max_cex_slippage_bps: 160.80, with the fee
    160.9608 USDC) needs neither the book's levels nor the pool's quote to say None; below that the walk decides, as
    before (the exact need is 160.16)."""
    p = pricer(pool(10_000, 1_610_000), **SCENE)
    quoted = []
    quote_size = type(p)._quote_size
    monkeypatch.setattr(type(p), "_quote_size", lambda self, *args: quoted.append(args) or quote_size(self, *args))
    for amount, walked in (("10000", False), ("160.9608", False), ("160.9607", True), ("160.16", True)):
        quoted.clear()
        p.set_pool(pool(10_000, 1_610_001 + len(amount)))  # a new pool state: no quote kept
        inventory = replace(RICH, cex_quote=D(amount))
        assert p.shortfall(Direction.BUY_CEX_SELL_DEX, TICK, inventory) is None, amount
        assert bool(quoted) is walked, amount
        assert not _capped(p, Direction.BUY_CEX_SELL_DEX, inventory)
    # no size under max_notional (1 SOL at 160.00 is more than 100 USDC): None before any inventory is looked at,
    # with or without the quote to buy it
    small = pricer(pool(10_000, 1_610_000), max_notional=D(100), **SCENE)
    for amount in ("10000", "1"):
        quoted.clear()
        assert small.shortfall(Direction.BUY_CEX_SELL_DEX, TICK, replace(RICH, cex_quote=D(amount))) is None
        assert not quoted


async def test_a_cex_holding_the_touch_but_not_the_limit_with_the_fee_is_alerted(make_bot):
    # min_size 0.1 SOL at the ask 150.05 is 15.005 USDC, but the IOC holds 150.05 x 0.1 x 1.001 = 15.020005
    toml = config().replace('initial_balances = { USDC = "100000", SOL = "100" }',
                            'initial_balances = { USDC = "15.01", SOL = "100" }', 1)
    assert '"15.01"' in toml
    bot = await make_bot(toml, extra=extra())

    def low() -> list:
        return [a for a in Alerts.sent if a.kind == "arb" and a.level is AlertLevel.WARNING
                and "needed to trade min_size" in a.message]

    await wait_for(low, timeout_s=10, what="the low-inventory alert")
    [alert] = low()
    assert alert.fields["direction"] == "buy-cex-sell-dex"
    assert (alert.fields["venue"], alert.fields["asset"]) == ("paper", "USDC")
    assert D(alert.fields["have"]) == D("15.01") and D(alert.fields["need"]) == D("15.020005")
    assert bot.store.orders() == []  # and the pricer was capped: nothing was sent
