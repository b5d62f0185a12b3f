"""A balances snapshot during which a fill of its account was applied (``await balances()`` in flight) is set aside:
whether the venue's answer counts that fill cannot be told, so taking it could undo the fill and adding the fill to
it could count it twice. What we knew (the last snapshot moved by every fill since) is kept until the next one."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from types import SimpleNamespace

from bot.api import Balance, Fill, Liquidity, Side
from bot.clock import ManualClock
from plugins.arb.inventory import InventoryBook, SharedBalances
from plugins.arb.strategy import ArbStrategy

D = Decimal
CEX = {"SOL": D(10), "USDC": D(3000)}
DEX = {"SOL": D(10), "USDC": D(3000)}


def balances(amounts: dict[str, D]) -> dict[str, Balance]:
    return {asset: Balance(asset, amount, amount) for asset, amount in amounts.items()}


def buy_on_cex(trade_id: str, qty: str = "1", price: str = "150.15") -> Fill:
    """The CEX leg of a SOL/USDC execution: spends qty x price USDC, its fee 0.15 USDC."""
    return Fill("cex", "SOL/USDC", f"o-{trade_id}", trade_id, Side.BUY, D(price), D(qty), D("0.15"), "USDC",
                Liquidity.TAKER, 1)


class SlowVenue:
    """A venue whose ``balances()`` answers with what it held when asked, once the test lets it."""

    def __init__(self, held: dict[str, D]) -> None:
        self.held = held
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()

    async def balances(self) -> dict[str, Balance]:
        answer = balances(self.held)  # the account as it was when asked
        self.asked.set()
        await self.answer.wait()
        return answer


def test_a_fill_applied_while_the_balances_are_on_their_way_is_not_undone():
    async def scenario() -> InventoryBook:
        book = InventoryBook("cex", "dex", "SOL", "USDC", strategy="sol-arb")
        book.snapshot("cex", balances(CEX), 1)
        book.snapshot("dex", balances(DEX), 1)
        venues = {"cex": SlowVenue(CEX), "dex": SlowVenue(DEX)}

        async def no_fee() -> None:
            return None

        strategy = SimpleNamespace(
            settings=SimpleNamespace(cex="cex", dex="dex"), inventory=book, refresh_swap_fee=no_fee,
            check_inventory=lambda: None,
            ctx=SimpleNamespace(exchange=venues.__getitem__, clock=ManualClock(), log=logging.getLogger("test")))
        refresh = asyncio.create_task(ArbStrategy.refresh_inventory(strategy))  # type: ignore[arg-type]
        await venues["cex"].asked.wait()
        book.on_fill(buy_on_cex("t1"))  # the CEX leg fills while its balances are in flight
        venues["cex"].answer.set()
        await venues["dex"].asked.wait()
        venues["dex"].answer.set()
        await refresh
        return book

    book = asyncio.run(scenario())
    # the answer (asked before the fill) is set aside: the last snapshot moved by the fill is kept
    assert book.balance("cex", "USDC") == D(3000) - D("150.15") - D("0.15") == D("2849.70")
    assert book.balance("cex", "SOL") == D(11)
    assert book.fills_since["cex"] == 1 and book.known


def test_an_answer_that_already_counts_the_fill_that_came_meanwhile_does_not_count_it_twice():
    """The venue matched the fill before it answered (the common case for a REST answer slower than the fill's
    stream): applying the fill on top of that answer took its USDC twice (2699.40 instead of 2849.70)."""
    book = InventoryBook("cex", "dex", "SOL", "USDC", strategy="sol-arb")
    book.snapshot("cex", balances(CEX), 1)
    asked = book.fills_applied
    book.on_fill(buy_on_cex("t1"))  # heard while the answer was on its way
    took = book.snapshot("cex", balances({"SOL": D(11), "USDC": D("2849.70")}), 2, since=asked)
    assert not took
    assert book.balance("cex", "USDC") == D("2849.70") and book.balance("cex", "SOL") == D(11)


def test_a_snapshot_asked_after_a_fill_takes_the_venues_word_for_it():
    shared = SharedBalances()
    book = InventoryBook("cex", "dex", "SOL", "USDC", shared=shared, strategy="sol-arb")
    book.snapshot("cex", balances(CEX), 1)
    book.on_fill(buy_on_cex("t1"))
    asked = book.fills_applied  # the request, after the fill: its answer counts it
    book.snapshot("cex", balances({"SOL": D(11), "USDC": D("2849.70")}), 2, since=asked)
    assert book.balance("cex", "USDC") == D("2849.70") and book.balance("cex", "SOL") == D(11)
    assert book.fills_since["cex"] == 0
    # a fill on another account since the request does not move this one
    asked = book.fills_applied
    book.snapshot("dex", balances(DEX), 3)
    book.on_fill(Fill("dex", "SOL/USDC", "o-d", "d1", Side.SELL, D(152), D(1), D("0.000005"), "SOL",
                      Liquidity.TAKER, 3))
    book.snapshot("cex", balances({"SOL": D(11), "USDC": D("2849.70")}), 4, since=asked)
    assert book.balance("cex", "USDC") == D("2849.70") and book.balance("dex", "SOL") == D("8.999995")
