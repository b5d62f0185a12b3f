"""Executions that go wrong: a failed DEX leg is hedged (or held) and alerted; a restart never sends a
filled leg again, drops a leg that was never sent and hedges instead; one opportunity, one execution."""

from __future__ import annotations

import asyncio
from decimal import Decimal, localcontext

import pytest

from bot.domain import (
    BPS,
    AlertLevel,
    BookUpdate,
    ExecutionResult,
    Fill,
    Liquidity,
    OrderIntent,
    OrderStatus,
    Side,
    TimeInForce,
)
from bot.ledger import EXACT_DIGITS
from plugins.arb.execution import ArbExecutions
from plugins.arb.records import execution_values, executions
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import Alerts, config, extra


@pytest.fixture(autouse=True)
def _clear_alerts():
    Alerts.sent.clear()
    yield
    Alerts.sent.clear()


def done(bot):
    rows = executions(bot.store, "sol-arb")
    return rows and rows[0].state == "done"


def warnings():
    return [a for a in Alerts.sent if a.kind == "arb" and a.level is AlertLevel.WARNING]


async def test_dex_leg_rejected_after_the_cex_leg_filled_is_hedged_on_the_cex(make_bot, monkeypatch):
    finished = []
    finish = ArbExecutions._finish
    monkeypatch.setattr(ArbExecutions, "_finish", lambda self, ex: (finished.append(ex), finish(self, ex)))
    bot = await make_bot(config(dex='reject = "slippage"\nlatency_ms = 30'), extra=extra())
    results = []
    bot.bus.subscribe(ExecutionResult, results.append, owner="test")
    books: list[BookUpdate] = []
    bot.bus.subscribe(BookUpdate, books.append, owner="test", exchange="paper")
    await wait_for(lambda: done(bot), timeout_s=10, what="the execution to finish")
    [row] = executions(bot.store, "sol-arb")
    cex = bot.executor.order(row.cex_cid)
    dex = bot.executor.order(row.dex_cid)
    assert cex.status is OrderStatus.FILLED and dex.status is OrderStatus.REJECTED
    assert "slippage" in dex.reason
    # the residual (long what the CEX bought) is sold back on the CEX: IOC, 50 bps under the bid at most
    hedge = bot.executor.order(f"{row.opportunity_id}-hedge")
    assert hedge is not None and hedge.exchange == "paper"
    bid = books[-1].best_bid
    limit = bot.exchanges["paper"].market("SOL/USDC").round_price(bid * (1 - Decimal(50) / BPS), Side.SELL)
    assert (hedge.side, hedge.qty, hedge.price, hedge.tif) == (Side.SELL, cex.filled_qty, limit, TimeInForce.IOC)
    assert hedge.status is OrderStatus.FILLED and row.residual == 0 and row.hedge_filled == cex.filled_qty
    # the WARNING names the exposure: quantity, venue, value at mid
    await wait_for(warnings, timeout_s=5, what="the exposure alert")
    [warning] = warnings()
    assert f"long {cex.filled_qty} SOL on paper" in warning.message
    mid = (books[-1].best_bid + books[-1].best_ask) / 2
    assert warning.fields["qty"] == f"{cex.filled_qty} SOL" and warning.fields["venue"] == "paper"
    assert warning.fields["value_at_mid"] == f"{(cex.filled_qty * mid).quantize(Decimal('0.01'))} USDC"
    # realized: the round trip on the CEX and its two fees, against a predicted profit
    await bot.executor.flush()
    fills = [f for _, f in bot.store.fills(strategy="sol-arb")]
    by_hand = sum((f.price * f.qty if f.side is Side.SELL else -f.price * f.qty) - f.fee for f in fills)
    assert {f.client_order_id for f in fills} == {row.cex_cid, hedge.client_order_id}
    [result] = results
    assert result.realized_pnl == by_hand == row.realized_pnl < 0 < result.predicted_pnl
    # what was executed: bought on the CEX and sold back by the hedge; the prediction was for the decided size
    assert (result.size, result.filled) == (row.size, cex.filled_qty)
    # every column the execution changed on its way (legs, hedge, state, note, PnL) was written: a save sets only
    # CHANGING_COLUMNS, so the stored row is the one in memory, digit for digit
    [ex] = finished
    assert {name: str(getattr(row, name)) for name in execution_values(row)} == {
        name: str(value) for name, value in execution_values(ex.row).items()}
    assert ex.hedge is not None and row.state == "done" and row.note == ""


STALE_POOL = """
[risk.staleness]
stale_after_s = 0.2
resume_after_s = 600
check_every_s = 0.02
"""


async def test_a_pause_for_the_pools_stale_data_lets_the_hedge_go_on_the_fresh_cex(make_bot):
    """The pool's feed goes stale while the DEX leg is in flight; staleness pauses the strategy; the swap fails.
    The CEX leg's fill is hedged on the CEX all the same: its book is fresh and the hedge only reduces the exposure.
    Orders that add exposure, or go to the stale venue, stay refused while the pause lasts."""
    bot = await make_bot(config(dex='reject = "slippage"\nlatency_ms = 800\nstale_on_order = true') + STALE_POOL,
                         extra=extra())
    await wait_for(lambda: done(bot), timeout_s=10, what="the execution to finish")
    [row] = executions(bot.store, "sol-arb")
    cex, dex = bot.executor.order(row.cex_cid), bot.executor.order(row.dex_cid)
    assert cex.status is OrderStatus.FILLED and dex.status is OrderStatus.REJECTED
    assert bot.strategy_state("sol-arb") == "paused by risk staleness"
    hedge = bot.executor.order(f"{row.opportunity_id}-hedge")
    assert hedge is not None and hedge.exchange == "paper"
    assert (hedge.side, hedge.qty, hedge.status) == (Side.SELL, cex.filled_qty, OrderStatus.FILLED)
    assert row.residual == 0 and row.hedge_filled == cex.filled_qty
    assert not [a for a in warnings() if "refused" in a.message]
    assert bot.portfolio.position("paper", "SOL/USDC") == 0

    ctx = bot.strategies["sol-arb"].ctx
    price = bot.portfolio.last_price("paper", "SOL/USDC")
    def order(exchange: str, side: Side, reduce_only: bool = True) -> OrderIntent:
        return OrderIntent("sol-arb", exchange, "SOL/USDC", side, Decimal("0.1"), price, reduce_only=reduce_only)
    assert ctx.submit(order("paper", Side.BUY)) is None  # flat: any order adds exposure
    # say 0.5 SOL long is held on paper (a fill the portfolio books, as one of another order would be)
    bot.portfolio.on_fill(Fill("paper", "SOL/USDC", "elsewhere", "test-long", Side.BUY, price, Decimal("0.5"),
                               Decimal(0), "USDC", Liquidity.TAKER, 0))
    assert ctx.submit(order("paper", Side.BUY)) is None  # adds to it
    assert ctx.submit(order("dex", Side.SELL)) is None  # reduces it, but on the stale venue
    assert ctx.submit(order("paper", Side.SELL, reduce_only=False)) is None  # not marked: the pause holds it
    assert ctx.submit(order("paper", Side.SELL)) is not None  # reduces it on the fresh venue: it goes
    bot.pause(["sol-arb"], by="test:op")
    assert ctx.submit(order("paper", Side.SELL)) is None  # an operator's pause holds everything


async def test_hold_policy_keeps_the_residual_and_says_so(make_bot):
    bot = await make_bot(config(dex='reject = "slippage"', arb='hedge = "hold"'), extra=extra())
    await wait_for(lambda: done(bot), timeout_s=10, what="the execution to finish")
    [row] = executions(bot.store, "sol-arb")
    cex = bot.executor.order(row.cex_cid)
    assert bot.executor.order(f"{row.opportunity_id}-hedge") is None
    assert row.residual == cex.filled_qty > 0 and "held" in row.note
    await wait_for(warnings, timeout_s=5, what="the exposure alert")
    [warning] = warnings()
    assert "holding it" in warning.message and warning.fields["venue"] == "paper"


async def test_an_opportunity_is_executed_once_and_a_stored_client_id_is_never_sent_again(make_bot):
    bot = await make_bot(config(), extra=extra())
    await wait_for(lambda: done(bot), timeout_s=10, what="the execution to finish")
    [row] = executions(bot.store, "sol-arb")
    strategy, dex = bot.strategies["sol-arb"], bot.exchanges["dex"]
    assert [o.client_order_id for o in dex.received] == [row.dex_cid]
    # the same opportunity id cannot start a second execution (its row is unique)
    evaluation = strategy.pricer.best(strategy.book, strategy._pricing_inventory())
    assert strategy.executions.execute(row.opportunity_id, evaluation, Decimal(150), 1) is None
    # and the executor refuses to send a client id it has stored, whoever asks
    intent = OrderIntent(strategy="sol-arb", exchange="dex", symbol="SOL/USDC", side=Side.SELL, qty=row.size,
                         price=row.dex_price, tif=TimeInForce.IOC, client_order_id=row.dex_cid)
    assert strategy.ctx.submit(intent) is None  # the executor refuses an id it has stored
    assert await bot.executor.settle(5)
    assert [o.client_order_id for o in dex.received] == [row.dex_cid]
    assert len(executions(bot.store, "sol-arb")) == 1


async def test_restart_with_the_cex_leg_filled_and_the_dex_leg_never_sent_hedges_it(make_bot, tmp_path):
    # First run: CEX first, a long gap before the DEX leg; stop while the gap lasts (the DEX leg never leaves).
    sequential = 'concurrent_legs = false\nleg_order = "cex-first"\nleg_gap_ms = 60000\nmax_input_age_ms = 200'
    toml = config(arb=sequential).replace('state_file = ""', 'state_file = "paper.db"')
    first = await make_bot(toml, extra=extra())
    await wait_for(lambda: executions(first.store, "sol-arb")
                   and (o := first.executor.order(executions(first.store, "sol-arb")[0].cex_cid)) is not None
                   and o.status is OrderStatus.FILLED, timeout_s=10, what="the CEX leg to fill")
    [row] = executions(first.store, "sol-arb")
    assert row.state == "open" and row.dex_submitted_ns == 0 and first.exchanges["dex"].received == []
    await first.stop()
    # the restart comes later than max_input_age_ms after the decision: the DEX leg's prices no longer stand
    await wait_for(lambda: first.clock.time_ns() - row.created_ns > 300_000_000, what="the opportunity to age")
    # Second run, same store and venue state: nothing new is tradable (edge 50%), the old execution is finished.
    second = await make_bot(toml.replace("min_edge_bps = 10", "min_edge_bps = 5000"), extra=extra())
    await wait_for(lambda: done(second), timeout_s=10, what="the recovered execution to finish")
    [row] = executions(second.store, "sol-arb")
    assert second.exchanges["dex"].received == []  # the DEX leg is not sent late
    assert "too old" in row.note and row.dex_status == "not sent"
    cex = second.executor.order(row.cex_cid)
    hedge = second.executor.order(f"{row.opportunity_id}-hedge")
    assert hedge is not None and hedge.side is Side.SELL and hedge.qty == cex.filled_qty
    assert hedge.status is OrderStatus.FILLED and row.residual == 0
    # the CEX leg reached the venue exactly once, over both runs
    cex_ids = [o.client_order_id for o in second.store.orders() if o.exchange == "paper"]
    assert cex_ids.count(row.cex_cid) == 1
    assert len(second.exchanges["paper"]._state.submissions(row.cex_cid)) == 1  # the venue's own log
    await wait_for(lambda: any("long" in a.message and "paper" in a.message for a in warnings())
                   and any("left unfinished" in a.message for a in Alerts.sent), timeout_s=5, what="the alerts")


async def test_dex_first_sends_the_cex_leg_only_after_the_swap_and_for_what_it_filled(make_bot):
    bot = await make_bot(config(dex="latency_ms = 50", arb='concurrent_legs = false\nleg_order = "dex-first"'),
                         extra=extra())
    seen = []
    bot.bus.subscribe(ExecutionResult, seen.append, owner="test")
    await wait_for(lambda: seen, timeout_s=10, what="the execution")
    [row] = executions(bot.store, "sol-arb")
    cex, dex = bot.executor.order(row.cex_cid), bot.executor.order(row.dex_cid)
    assert dex.status is OrderStatus.FILLED and cex.status is OrderStatus.FILLED
    assert cex.created_ns >= dex.updated_ns  # the CEX leg was created once the swap was final
    assert row.dex_final_ns <= row.cex_submitted_ns and cex.qty == dex.filled_qty == row.size
    await bot.executor.flush()
    fills = [f for _, f in bot.store.fills(strategy="sol-arb")]
    position = sum(f.base_change for f in fills)
    assert row.legs == "dex-first" and position != 0  # the swap's SOL fee
    # the residual is the accounts' base change once every fill is in (a fill heard after the legs' final answers,
    # as on PostgreSQL where the store's round trips come first, corrects the row then)
    await wait_for(lambda: executions(bot.store, "sol-arb")[0].residual == position, timeout_s=5,
                   what="the row's residual to be the fills' base change")


@pytest.mark.parametrize("legs", ['concurrent_legs = false\nleg_order = "cex-first"', "concurrent_legs = true"])
async def test_a_refused_first_leg_sends_nothing_and_reports_no_execution(make_bot, legs):
    # max_input_age_ms far off: on a loaded machine a PostgreSQL commit of the row can come later than the default 500
    # ms after the decision, and the legs are then dropped for that (both "not sent"), not refused by the risk gate
    toml = config(arb=legs + "\nmax_input_age_ms = 60000") + """
        [risk.limits]
        max_order_notional = "10"
    """
    bot = await make_bot(toml, extra=extra())
    strategy = bot.strategies["sol-arb"]
    seen = []
    bot.bus.subscribe(ExecutionResult, seen.append, owner="test")
    # (on PostgreSQL the row's changes after its insert land on the store writer's thread a moment later)
    await wait_for(lambda: [r for r in executions(bot.store, "sol-arb") if r.state != "open"], timeout_s=10,
                   what="the refused execution")
    [row] = executions(bot.store, "sol-arb")
    assert row.state == "refused" and row.realized_pnl is None
    assert (row.cex_status, row.dex_status) == ("refused", "not sent") and "no leg was sent" in row.note
    assert bot.store.orders() == [] and bot.exchanges["dex"].received == [] and seen == []
    assert strategy.status()["refused this run"] == "1" and strategy.status()["executed this run"] == "0"


async def test_low_inventory_is_alerted_once_per_side(make_bot):
    # the DEX wallet holds too little SOL to sell min_size: buy-cex-sell-dex cannot trade
    bot = await make_bot(config(dex='balances = { SOL = "0.05", USDC = "100000" }'), extra=extra())
    strategy = bot.strategies["sol-arb"]

    def low() -> list:
        return [a for a in warnings() if "needed to trade min_size" in a.message]

    await wait_for(low, timeout_s=10, what="the low-inventory alert")
    [alert] = low()
    assert alert.fields["venue"] == "dex" and alert.fields["asset"] == "SOL" and alert.fields["have"] == "0.05"
    assert alert.fields["direction"] == "buy-cex-sell-dex"
    await strategy.refresh_inventory()  # checked again: still low, not alerted again
    strategy.check_inventory()
    await bot.alerts.flush()
    assert len(low()) == 1
    assert "dex SOL" in strategy.status()["low inventory"]
    from bot.api import Caller

    reply = await bot.commands.dispatch(Caller("local", "me", "viewer"), "inventory", [])
    assert "dex has 0.05 SOL" in reply.text
    assert bot.exchanges["dex"].received == []  # nothing it could not pay for was sent


def _stored_execution(oid: str, created_ns: int):
    from plugins.arb.records import ArbExecutionRow

    return ArbExecutionRow(
        opportunity_id=oid, strategy="sol-arb", state="open", symbol="SOL/USDC", direction="buy-cex-sell-dex",
        created_ns=created_ns, size=Decimal("1.0"), legs="concurrent", predicted_pnl=Decimal("2"),
        sol_price=Decimal("150"), cex_exchange="paper", cex_side="buy", cex_qty=Decimal("1.0"),
        cex_price=Decimal("150.35"), cex_cid=f"{oid}-cex", dex_exchange="dex", dex_side="sell",
        dex_qty=Decimal("1.0"), dex_price=Decimal("150"), dex_cid=f"{oid}-dex")


@pytest.mark.parametrize("age_ms, sent", [(0, True), (1000, False)])
async def test_legs_never_sent_before_a_restart_go_only_while_the_opportunity_is_fresh(make_bot, age_ms, sent):
    from bot.clock import ManualClock
    from plugins.arb.records import insert_execution

    clock = ManualClock()
    bot = await make_bot(config(), extra=extra(), start=False, clock=clock)
    bot.store.open()
    oid = f"recovered{age_ms}"
    assert insert_execution(bot.store, _stored_execution(oid, clock.time_ns() - age_ms * 1_000_000))
    results = []
    bot.bus.subscribe(ExecutionResult, results.append, owner="test")
    await bot.start()
    try:
        await wait_for(lambda: executions(bot.store, "sol-arb")[-1].state in ("done", "refused"), timeout_s=10,
                       what="the recovered execution")
        row = executions(bot.store, "sol-arb")[-1]
        assert row.opportunity_id == oid
        if sent:  # young enough: both legs go now, with the stored ids, sizes and limits
            cex, dex = bot.executor.order(f"{oid}-cex"), bot.executor.order(f"{oid}-dex")
            assert (cex.qty, cex.price, dex.qty, dex.price) == (Decimal("1.0"), Decimal("150.35"),
                                                                 Decimal("1.0"), Decimal("150"))
            assert cex.status is OrderStatus.FILLED and dex.status is OrderStatus.FILLED
            assert [r.opportunity_id for r in results] == [oid]
        else:  # too old: nothing is sent late, and nothing happened to report
            assert bot.executor.order(f"{oid}-cex") is None and bot.executor.order(f"{oid}-dex") is None
            assert (row.cex_status, row.dex_status) == ("not sent", "not sent") and "too old" in row.note
            assert row.state == "refused"  # no leg was sent: not an execution
            assert results == [] and bot.exchanges["dex"].received == []
    finally:
        await bot.stop()


async def test_a_leg_whose_outcome_is_unknown_is_followed_to_its_end_by_reconciliation(make_bot, monkeypatch):
    import asyncio

    from bot.api import TransientError
    from bot.builtins import reconcile
    from plugins.paper.exchange import PaperExchange

    answers_lost = {"on": True}
    place, fetch, publish = PaperExchange.place_order, PaperExchange.fetch_order, PaperExchange._publish_fills

    async def place_and_hang(self, order):
        state = await place(self, order)  # the venue executes the order ...
        if answers_lost["on"]:
            await asyncio.sleep(3600)  # ... and the answer never comes back
        return state

    async def fetch_or_fail(self, symbol, cid):
        if answers_lost["on"]:
            raise TransientError("venue unreachable")
        return await fetch(self, symbol, cid)

    def publish_unless_lost(self, changes, now):
        if not answers_lost["on"] or self.name != "paper":
            publish(self, changes, now)

    monkeypatch.setattr(PaperExchange, "place_order", place_and_hang)
    monkeypatch.setattr(PaperExchange, "_publish_fills", publish_unless_lost)
    monkeypatch.setattr(PaperExchange, "fetch_order", fetch_or_fail)
    executor = "[executor]\nrequest_timeout_s = 0.2\nmax_retries = 1\nbackoff_initial_s = 0.01\nbackoff_max_s = 0.02\n"
    bot = await make_bot(executor + config(), extra=extra())
    await wait_for(lambda: executions(bot.store, "sol-arb"), timeout_s=10, what="an execution")
    [row] = executions(bot.store, "sol-arb")
    await wait_for(lambda: (o := bot.executor.order(row.cex_cid)) is not None and o.status is OrderStatus.UNKNOWN,
                   timeout_s=10, what="the CEX leg to be UNKNOWN")
    strategy = bot.strategies["sol-arb"]
    await reconcile(bot.operator)
    assert strategy.executions.busy and not done(bot)  # nothing is hedged against a fill that may not exist
    assert row.cex_cid in [o.client_order_id for o in bot.executor.open_orders()]

    answers_lost["on"] = False  # the venue answers again
    await reconcile(bot.operator)
    assert bot.executor.order(row.cex_cid).status is OrderStatus.FILLED
    await wait_for(lambda: done(bot), timeout_s=10, what="the execution to finish")
    assert not strategy.executions.busy
    assert bot.exchanges["paper"].submissions(row.cex_cid)[0][1] == row.cex_cid
    assert len(bot.exchanges["paper"].submissions(row.cex_cid)) == 1


def test_a_legs_network_fee_in_sol_counts_when_its_fills_are_missing_as_when_they_are_there():
    """A JUP/USDC execution whose legs' fills are missing (realized from the orders' own figures) counts the DEX
    swap's SOL network fee, the order's ``other_fees``, at the opportunity's SOL price, as it does from the fills."""
    import logging
    from types import SimpleNamespace

    from bot.domain import MarketInfo, Order
    from plugins.arb.execution import Execution

    D = Decimal
    sol_fee, sol_price = D("0.0000065"), D("150")
    row = SimpleNamespace(
        opportunity_id="o-1", legs="concurrent", sol_price=sol_price, hedge_cid=None,
        cex_exchange="cex", cex_side="sell", cex_qty=D(100), cex_price=D("0.86"), cex_cid="o-1-cex",
        cex_submitted_ns=1, cex_final_ns=2, cex_status="filled", cex_filled=D(100), cex_avg_price=D("0.86"),
        dex_exchange="dex", dex_side="buy", dex_qty=D(100), dex_price=D("0.85"), dex_cid="o-1-dex",
        dex_submitted_ns=1, dex_final_ns=3, dex_status="filled", dex_filled=D(100), dex_avg_price=D("0.85"))
    cex_fill = Fill("cex", "JUP/USDC", "o-1-cex", "t1", Side.SELL, D("0.86"), D(100), D("0.0172"), "USDC",
                    Liquidity.TAKER, 2)
    dex_fill = Fill("dex", "JUP/USDC", "o-1-dex", "sig", Side.BUY, D("0.85"), D(100), sol_fee, "SOL",
                    Liquidity.TAKER, 3)
    orders = {"o-1-cex": Order("o-1-cex", "arb", "cex", "JUP/USDC", Side.SELL, D(100), D("0.86"), fee=D("0.0172")),
              "o-1-dex": Order("o-1-dex", "arb", "dex", "JUP/USDC", Side.BUY, D(100), None,
                               other_fees={"SOL": sol_fee})}
    ctx = SimpleNamespace(order=orders.get, held_order=lambda cid: None, log=logging.getLogger("test"))
    market = MarketInfo("JUP/USDC", "JUP", "USDC", D("0.0001"), D("0.01"))
    arb = ArbExecutions("arb", None, ctx, market, lambda: None, lambda ex: None)
    from_orders = Execution(row, saved={})
    from_fills = Execution(row, saved={})
    from_fills.cex.fills, from_fills.dex.fills = {"t1": cex_fill}, {"sig": dex_fill}
    expected = D(86) - D(85) - D("0.0172") - sol_fee * sol_price
    assert arb.realized(from_fills) == (expected, D(0))
    assert arb.realized(from_orders) == (expected, D(0))


@pytest.mark.parametrize("level_qty", ["5", "0.7"])
async def test_a_residual_held_at_a_restart_is_valued_at_the_cex_mid_not_at_zero(make_bot, level_qty):
    # First run: CEX first, a long gap before the DEX leg; stop while the gap lasts (the DEX leg never leaves).
    # With level_qty 0.7 the CEX leg walks several levels: its order's average price is a rounded quotient.
    sequential = ('concurrent_legs = false\nleg_order = "cex-first"\nleg_gap_ms = 60000\nmax_input_age_ms = 200\n'
                  'hedge = "hold"')
    toml = config(arb=sequential).replace('state_file = ""', 'state_file = "paper.db"')
    toml = toml.replace('level_qty = "5"', f'level_qty = "{level_qty}"')
    first = await make_bot(toml, extra=extra())
    await wait_for(lambda: executions(first.store, "sol-arb")
                   and (o := first.executor.order(executions(first.store, "sol-arb")[0].cex_cid)) is not None
                   and o.status.terminal, timeout_s=10, what="the CEX leg to end")  # (a thin book: some of it)
    [row] = executions(first.store, "sol-arb")
    await first.stop()
    await wait_for(lambda: first.clock.time_ns() - row.created_ns > 300_000_000, what="the opportunity to age")
    # Second run: the DEX leg is too old to send, the CEX leg's base is held. The restart settles the execution
    # before any book came in: the base held is still worth about what was paid for it (the CEX mid is 150).
    second = await make_bot(toml.replace("min_edge_bps = 10", "min_edge_bps = 5000"), extra=extra())
    await wait_for(lambda: done(second), timeout_s=10, what="the recovered execution to finish")
    [row] = executions(second.store, "sol-arb")
    await second.executor.flush()
    cex_fills = [f for _, f in second.store.fills(strategy="sol-arb") if f.exchange == "paper"]
    held = sum(f.qty for f in cex_fills)
    assert held > 0 and row.residual == held and second.exchanges["dex"].received == []
    by_hand = held * Decimal(150) - sum(f.price * f.qty for f in cex_fills) - sum(f.fee for f in cex_fills)
    assert row.realized_pnl == by_hand, (len(cex_fills), second.executor.order(row.cex_cid).avg_fill_price)


async def test_a_dex_leg_that_lands_after_the_executor_gave_up_on_it_is_hedged_and_counted(make_bot):
    # The swap is broadcast, but the node confirms it only 1.5 s later: the executor times out, finds nothing at the
    # venue, retries once and gives the order up (FAILED). The execution hedges the CEX leg and finishes; then the
    # swap lands. Its fill leaves the strategy short what the DEX sold: hedged too, and the execution's figures are
    # those of every fill.
    executor = "[executor]\nrequest_timeout_s = 0.2\nmax_retries = 1\nbackoff_initial_s = 0.01\nbackoff_max_s = 0.02\n"
    bot = await make_bot(executor + config(dex="lands_after_ms = 1500"), extra=extra())
    results: list[ExecutionResult] = []
    bot.bus.subscribe(ExecutionResult, results.append, owner="test")
    await wait_for(lambda: done(bot), timeout_s=10, what="the execution to finish")
    [row] = executions(bot.store, "sol-arb")
    assert bot.executor.order(row.dex_cid).status is OrderStatus.FAILED and row.hedge_cid  # the CEX leg sold back
    await wait_for(lambda: any("landed late" in a.message for a in warnings()), timeout_s=10,
                   what="the swap to land, and its alert")
    await wait_for(lambda: executions(bot.store, "sol-arb")[0].state == "done"
                   and not bot.strategies["sol-arb"].executions.busy, timeout_s=10, what="the late fill hedged")
    await bot.executor.settle(5)
    await bot.executor.flush()
    [row] = executions(bot.store, "sol-arb")
    fills = [f for _, f in bot.store.fills(strategy="sol-arb")]
    net = sum((f.qty if f.side is Side.BUY else -f.qty for f in fills), Decimal(0))
    # what the DEX sold late was bought back on the CEX; what is left is the swap's fee in SOL, under min_qty
    assert net == 0 and row.residual == sum(f.base_change for f in fills) == -sum(f.fee for f in fills
                                                                               if f.exchange == "dex") != 0
    late_hedge = bot.executor.order(f"{row.opportunity_id}-hedge2")
    assert late_hedge.side is Side.BUY and late_hedge.filled_qty == sum(f.qty for f in fills if f.exchange == "dex")
    assert row.hedge_cid == late_hedge.client_order_id and "landed late" in row.note
    with localcontext(prec=EXACT_DIGITS):
        by_hand = sum(((f.price * f.qty if f.side is Side.SELL else -f.price * f.qty)
                       - (f.fee * f.price if f.fee_asset == "SOL" else f.fee) for f in fills), Decimal(0))
    assert row.realized_pnl == by_hand
    # the bus heard the first figure, then its correction: what the backtest's captured PnL and the prediction gate
    # count is the row's figure (arbot report's, /arb's, /status's "captured this run"), not the first one
    first, last = results
    assert (first.corrects, last.corrects, last.opportunity_id) == (False, True, first.opportunity_id)
    assert last.realized_pnl == by_hand != first.realized_pnl and last.predicted_pnl == first.predicted_pnl


def test_an_execution_reopened_by_a_late_fill_recovers_every_hedge_it_sent():
    """After a restart, an execution whose row names its second hedge (``-hedge2``: a late fill reopened it) counts
    the first hedge's fills too."""
    import logging
    from types import SimpleNamespace

    from bot.domain import MarketInfo, Order, OrderStatus
    from plugins.arb.execution import Execution

    D = Decimal
    row = SimpleNamespace(
        opportunity_id="o-1", legs="concurrent", sol_price=D(150), hedge_cid="o-1-hedge2", created_ns=1,
        hedge_side="buy", hedge_qty=D(1), hedge_price=D(151), hedge_status="filled", hedge_filled=D(1),
        cex_exchange="cex", cex_side="buy", cex_qty=D(1), cex_price=D(150), cex_cid="o-1-cex",
        cex_submitted_ns=1, cex_final_ns=2, cex_status="filled", cex_filled=D(1), cex_avg_price=D(150),
        dex_exchange="dex", dex_side="sell", dex_qty=D(1), dex_price=D(152), dex_cid="o-1-dex",
        dex_submitted_ns=1, dex_final_ns=3, dex_status="failed", dex_filled=D(0), dex_avg_price=None)

    def fill(cid, exchange, side, price, trade_id):
        return Fill(exchange, "SOL/USDC", cid, trade_id, side, D(price), D(1), D(0), "USDC", Liquidity.TAKER, 2)

    fills = {"o-1-cex": [fill("o-1-cex", "cex", Side.BUY, 150, "c1")],
             "o-1-dex": [fill("o-1-dex", "dex", Side.SELL, 153, "d1")],  # landed after the order was given up
             "o-1-hedge": [fill("o-1-hedge", "cex", Side.SELL, 149, "h1")],
             "o-1-hedge2": [fill("o-1-hedge2", "cex", Side.BUY, 151, "h2")]}
    orders = {cid: Order(cid, "arb", f[0].exchange, "SOL/USDC", f[0].side, D(1), f[0].price,
                         status=OrderStatus.FAILED if cid == "o-1-dex" else OrderStatus.FILLED,
                         filled_qty=D(0) if cid == "o-1-dex" else D(1), avg_fill_price=f[0].price)
              for cid, f in fills.items()}
    ctx = SimpleNamespace(order=orders.get, held_order=lambda cid: None, log=logging.getLogger("test"),
                          stored_fills=lambda client_order_id: fills[client_order_id])
    arb = ArbExecutions("arb", None, ctx, MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01")),
                        lambda: None, lambda ex: None)
    ex = Execution(row, saved={})
    ex.hedge.final_ns = 4  # (recover() marks it final, and writes the row, when its order is)
    arb._earlier_hedges(ex)
    for leg in ex.legs():
        arb._adopt(ex, leg)
    assert [leg.cid for leg in ex.legs()] == ["o-1-cex", "o-1-dex", "o-1-hedge", "o-1-hedge2"]
    assert ex.dex.filled == 1 and ex.hedge_cid() == ex.hedge.cid == "o-1-hedge2"
    assert arb.realized(ex) == (D(-150) + D(153) + D(149) - D(151), D(0))


def test_a_restart_while_a_late_fills_hedge_waits_for_a_book_sends_that_hedge(monkeypatch):
    """A late fill reopened a finished execution (its first hedge, ``-hedge``, long done) and the bot stopped before
    the new hedge went (no book yet): the restart hedges the new residual under ``-hedge2``, counting the first
    hedge's fills, rather than take the first hedge's end for the new one's."""
    import contextlib
    import logging
    from types import SimpleNamespace

    from bot.clock import ManualClock
    from bot.domain import MarketInfo, Order, OrderStatus
    from plugins.arb import execution
    from plugins.arb.execution import Execution
    from tests.plugins.arb.test_arb_pricing_kit import book, settings

    D = Decimal
    row = SimpleNamespace(  # done: the DEX leg failed, the CEX leg's 1 SOL sold back by the hedge
        opportunity_id="o-1", strategy="arb", legs="concurrent", sol_price=D(150), created_ns=1, note="", state="done",
        realized_pnl=D(-1), residual=D(0), finished_ns=4,
        hedge_cid="o-1-hedge", hedge_side="sell", hedge_qty=D(1), hedge_price=D(149), hedge_status="filled",
        hedge_filled=D(1),
        cex_exchange="cex", cex_side="buy", cex_qty=D(1), cex_price=D(150), cex_cid="o-1-cex",
        cex_submitted_ns=1, cex_final_ns=2, cex_status="filled", cex_filled=D(1), cex_avg_price=D(150),
        dex_exchange="dex", dex_side="sell", dex_qty=D(1), dex_price=D(152), dex_cid="o-1-dex",
        dex_submitted_ns=1, dex_final_ns=3, dex_status="failed", dex_filled=D(0), dex_avg_price=None)

    def fill(cid, exchange, side, price):
        return Fill(exchange, "SOL/USDC", cid, f"t-{cid}", side, D(price), D(1), D(0), "USDC", Liquidity.TAKER, 2)

    fills = {"o-1-cex": [fill("o-1-cex", "cex", Side.BUY, 150)], "o-1-dex": [fill("o-1-dex", "dex", Side.SELL, 153)],
             "o-1-hedge": [fill("o-1-hedge", "cex", Side.SELL, 149)]}
    orders = {cid: Order(cid, "arb", f[0].exchange, "SOL/USDC", f[0].side, D(1), f[0].price,
                         status=OrderStatus.FAILED if cid == "o-1-dex" else OrderStatus.FILLED,
                         filled_qty=D(0) if cid == "o-1-dex" else D(1), avg_fill_price=f[0].price)
              for cid, f in fills.items()}
    submitted = []
    ctx = SimpleNamespace(clock=ManualClock(), log=logging.getLogger("test"), intent=contextlib.nullcontext,
                          submit=lambda intent: submitted.append(intent) or intent, order=orders.get,
                          held_order=lambda cid: None,
                          stored_fills=lambda client_order_id: fills.get(client_order_id, []),
                          alert=lambda level, kind, message, **fields: None, alerts_heard=False,
                          bus=SimpleNamespace(publish=lambda event: None),
                          store=SimpleNamespace(records_inline=True))
    monkeypatch.setattr(execution, "execution_values", lambda row: {})  # (a row of the columns read here only)
    market = MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01"))
    # the run that saw the late fill: no fresh book came before it stopped
    first = ArbExecutions("arb", settings(hedge="ioc"), ctx, market, lambda: None, lambda ex: None)
    first._save = lambda ex, columns=None: ex.sync_row()  # (the row is what the store would hold)
    ex = Execution(row, saved={})
    ex.cex.fills, ex.hedge.fills = {"t-o-1-cex": fills["o-1-cex"][0]}, {"t-o-1-hedge": fills["o-1-hedge"][0]}
    first._late_fill(ex, fills["o-1-dex"][0])
    assert ex.hedge_wanted and not submitted and row.state == "hedging"
    # the restart
    monkeypatch.setattr(execution, "open_executions", lambda store, strategy: [row])
    monkeypatch.setattr(execution, "unhedged_residual", lambda store, strategy: D(0))  # (no other execution)
    second = ArbExecutions("arb", settings(hedge="ioc"), ctx, market, lambda: None, lambda ex: None)
    second._save = lambda ex, columns=None: ex.sync_row()
    [ex] = asyncio.run(second.recover())
    assert not submitted and ex.hedge_wanted and ex.residual() == -1 and row.state == "hedging"
    second.on_book(book(bids=[("150", "10")], asks=[("150.1", "10")]))
    [hedge] = submitted
    assert (hedge.client_order_id, hedge.side, hedge.qty) == ("o-1-hedge2", Side.BUY, D(1))
    assert [leg.cid for leg in ex.legs()] == ["o-1-cex", "o-1-dex", "o-1-hedge", "o-1-hedge2"]


def test_a_hedge_worth_less_than_the_cex_minimum_order_value_is_held_not_sent():
    """A residual whose hedge is on the lot grid and above min_qty, but worth less than the market's min_notional, is
    held and alerted: the venue would refuse the order."""
    import contextlib
    import logging
    from types import SimpleNamespace

    from bot.clock import ManualClock
    from bot.domain import MarketInfo
    from plugins.arb.execution import Execution
    from tests.plugins.arb.test_arb_pricing_kit import book, settings

    D = Decimal
    row = SimpleNamespace(
        opportunity_id="o-1", legs="concurrent", sol_price=D(150), hedge_cid="", created_ns=1, note="", state="open",
        cex_exchange="cex", cex_side="buy", cex_qty=D(1), cex_price=D(150), cex_cid="o-1-cex",
        cex_submitted_ns=1, cex_final_ns=2, cex_status="filled", cex_filled=D("0.5"), cex_avg_price=D(150),
        dex_exchange="dex", dex_side="sell", dex_qty=D(1), dex_price=D(152), dex_cid="o-1-dex",
        dex_submitted_ns=1, dex_final_ns=3, dex_status="rejected", dex_filled=D(0), dex_avg_price=None)
    submitted, alerts = [], []
    ctx = SimpleNamespace(clock=ManualClock(), log=logging.getLogger("test"), intent=contextlib.nullcontext,
                          submit=lambda intent: submitted.append(intent) or intent, order=lambda cid: None,
                          held_order=lambda cid: None,
                          alert=lambda level, kind, message, **fields: alerts.append(message), alerts_heard=False,
                          bus=SimpleNamespace(publish=lambda event: None))
    market = MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01"), min_qty=D("0.01"), min_notional=D(100))
    arb = ArbExecutions("arb", settings(hedge="ioc"), ctx, market, lambda: None, lambda ex: None)
    arb._save = lambda ex, columns=None: None  # (no store here)
    ex = arb._track(Execution(row, saved={}))
    ex.hedge_wanted = True
    arb._send_hedge(ex, book(bids=[("150", "10")], asks=[("150.1", "10")]))
    assert submitted == []  # 0.5 SOL at about 149 is worth less than 100 USDC
    assert "below the CEX minimum" in row.note and any("cannot hedge" in a for a in alerts)


def test_a_second_cex_leg_worth_less_than_the_cex_minimum_order_value_is_not_sent():
    """dex-first: the swap filled less than asked; the CEX leg for what it filled would be worth less than the market's
    min_notional, which the venue refuses: it is dropped (the swap's base is then the residual)."""
    import contextlib
    import logging
    from types import SimpleNamespace

    from bot.clock import ManualClock
    from bot.domain import MarketInfo
    from plugins.arb.execution import Execution
    from tests.plugins.arb.test_arb_pricing_kit import settings

    D = Decimal
    row = SimpleNamespace(
        opportunity_id="o-1", legs="dex-first", sol_price=D(150), hedge_cid="", created_ns=1, note="", state="open",
        cex_exchange="cex", cex_side="sell", cex_qty=D(1), cex_price=D(150), cex_cid="o-1-cex",
        cex_submitted_ns=0, cex_final_ns=0, cex_status="", cex_filled=D(0), cex_avg_price=None,
        dex_exchange="dex", dex_side="buy", dex_qty=D(1), dex_price=D(149), dex_cid="o-1-dex",
        dex_submitted_ns=1, dex_final_ns=3, dex_status="filled", dex_filled=D("0.5"), dex_avg_price=D(149))
    submitted = []
    ctx = SimpleNamespace(clock=ManualClock(), log=logging.getLogger("test"), intent=contextlib.nullcontext,
                          submit=lambda intent: submitted.append(intent) or intent, order=lambda cid: None,
                          held_order=lambda cid: None,
                          alert=lambda level, kind, message, **fields: None, alerts_heard=False,
                          bus=SimpleNamespace(publish=lambda event: None))
    market = MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01"), min_qty=D("0.01"), min_notional=D(100))
    arb = ArbExecutions("arb", settings(hedge="hold"), ctx, market, lambda: None, lambda ex: None)
    arb._save = lambda ex, columns=None: None  # (no store here)
    ex = arb._track(Execution(row, saved={}))
    arb._advance(ex)
    assert submitted == []  # 0.5 SOL at 150 is worth less than 100 USDC
    assert ex.cex.status == "not sent" and "below the CEX minimum" in row.note


def test_a_late_fill_of_an_execution_finished_before_a_restart_reopens_it(monkeypatch):
    """The swap the executor gave up on lands after a restart (the venue resumes confirming it): its execution,
    finished in the previous run, is read back from the store and reopened, and the late fill hedged."""
    import contextlib
    import logging
    from types import SimpleNamespace

    from bot.clock import ManualClock
    from bot.domain import MarketInfo, Order, OrderStatus
    from plugins.arb import execution
    from tests.plugins.arb.test_arb_pricing_kit import book, settings

    D = Decimal
    row = SimpleNamespace(  # done: the DEX leg failed, the CEX leg's 1 SOL sold back by the hedge
        opportunity_id="o-1", strategy="arb", legs="concurrent", sol_price=D(150), created_ns=1, note="", state="done",
        predicted_pnl=D(2), size=D(1), realized_pnl=D(-1), residual=D(0), finished_ns=4,
        hedge_cid="o-1-hedge", hedge_side="sell", hedge_qty=D(1), hedge_price=D(149), hedge_status="filled",
        hedge_filled=D(1),
        cex_exchange="cex", cex_side="buy", cex_qty=D(1), cex_price=D(150), cex_cid="o-1-cex",
        cex_submitted_ns=1, cex_final_ns=2, cex_status="filled", cex_filled=D(1), cex_avg_price=D(150),
        dex_exchange="dex", dex_side="sell", dex_qty=D(1), dex_price=D(152), dex_cid="o-1-dex",
        dex_submitted_ns=1, dex_final_ns=3, dex_status="failed", dex_filled=D(0), dex_avg_price=None)

    def fill(cid, exchange, side, price):
        return Fill(exchange, "SOL/USDC", cid, f"t-{cid}", side, D(price), D(1), D(0), "USDC", Liquidity.TAKER, 2)

    late = fill("o-1-dex", "dex", Side.SELL, 153)
    fills = {"o-1-cex": [fill("o-1-cex", "cex", Side.BUY, 150)], "o-1-dex": [late],  # stored already, or not yet
             "o-1-hedge": [fill("o-1-hedge", "cex", Side.SELL, 149)]}
    orders = {cid: Order(cid, "arb", f[0].exchange, "SOL/USDC", f[0].side, D(1), f[0].price,
                         status=OrderStatus.FAILED if cid == "o-1-dex" else OrderStatus.FILLED,
                         filled_qty=D(0) if cid == "o-1-dex" else D(1), avg_fill_price=f[0].price)
              for cid, f in fills.items()}
    submitted, alerts = [], []
    ctx = SimpleNamespace(clock=ManualClock(), log=logging.getLogger("test"), intent=contextlib.nullcontext,
                          submit=lambda intent: submitted.append(intent) or intent, order=orders.get,
                          held_order=lambda cid: None,
                          stored_fills=lambda client_order_id: fills.get(client_order_id, []),
                          alert=lambda level, kind, message, **fields: alerts.append(message), alerts_heard=False,
                          bus=SimpleNamespace(publish=lambda event: submitted.append(event)),
                          store=SimpleNamespace(records_inline=True))  # (read inline: execution_of below)
    monkeypatch.setattr(execution, "execution_values", lambda row: {})  # (a row of the columns read here only)
    monkeypatch.setattr(execution, "execution_of", lambda store, strategy, oid: row if oid == "o-1" else None)
    the_book = book(bids=[("150", "10")], asks=[("150.1", "10")])
    arb = ArbExecutions("arb", settings(hedge="ioc"), ctx, MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01")),
                        lambda: the_book, lambda ex: None)
    arb._save = lambda ex, columns=None: ex.sync_row()  # (the row is what the store would hold)
    arb.on_fill(late)  # this run has finished nothing: the execution is the store's
    assert any("landed late" in a for a in alerts) and arb.busy
    arb.on_book(the_book)
    [hedge] = submitted  # and no second ExecutionResult
    assert (hedge.client_order_id, hedge.side, hedge.qty) == ("o-1-hedge2", Side.BUY, D(1))
    assert arb.done_count == 0


def test_a_recovered_execution_missing_its_legs_fills_realizes_from_what_the_restart_read(monkeypatch):
    """An execution a previous run left unfinished, whose legs ended with no fill stored: it is realized from the
    legs' orders' own figures, fees included. ``_realized`` asked ``ctx.order`` for each leg's fees, a store read on
    the loop on PostgreSQL; it takes the orders ``recover()`` read off the loop now."""
    import contextlib
    import logging
    from types import SimpleNamespace

    from bot.clock import ManualClock
    from bot.domain import MarketInfo, Order, OrderStatus
    from plugins.arb import execution
    from plugins.arb.records import StoredLegs
    from tests.plugins.arb.test_arb_pricing_kit import settings

    D = Decimal
    sol_fee, sol_price = D("0.0001"), D("150")
    row = SimpleNamespace(
        opportunity_id="o-1", strategy="arb", legs="concurrent", sol_price=sol_price, created_ns=1, note="",
        state="open", realized_pnl=None, residual=None, finished_ns=0, hedge_cid=None, predicted_pnl=D(1), size=D(1),
        cex_exchange="cex", cex_side="buy", cex_qty=D(1), cex_price=D(150), cex_cid="o-1-cex",
        cex_submitted_ns=1, cex_final_ns=2, cex_status="filled", cex_filled=D(1), cex_avg_price=D(150),
        dex_exchange="dex", dex_side="sell", dex_qty=D(1), dex_price=D(152), dex_cid="o-1-dex",
        dex_submitted_ns=1, dex_final_ns=3, dex_status="filled", dex_filled=D(1), dex_avg_price=D(152))
    orders = {"o-1-cex": Order("o-1-cex", "arb", "cex", "SOL/USDC", Side.BUY, D(1), D(150),
                               status=OrderStatus.FILLED, filled_qty=D(1), avg_fill_price=D(150), fee=D("0.3")),
              "o-1-dex": Order("o-1-dex", "arb", "dex", "SOL/USDC", Side.SELL, D(1), D(152),
                               status=OrderStatus.FILLED, filled_qty=D(1), avg_fill_price=D(152),
                               other_fees={"SOL": sol_fee})}
    read_on_the_loop: list[str] = []

    async def read_later(fn, *args):
        return [row], StoredLegs(dict(orders), {cid: [] for cid in orders}), D(0)  # (no other execution done)

    ctx = SimpleNamespace(clock=ManualClock(), log=logging.getLogger("test"), intent=contextlib.nullcontext,
                          submit=lambda intent: intent, order=lambda cid: read_on_the_loop.append(cid) or orders[cid],
                          held_order=lambda cid: None, stored_fills=lambda client_order_id: [],
                          alert=lambda level, kind, message, **fields: None, alerts_heard=False,
                          bus=SimpleNamespace(publish=lambda event: None), read_later=read_later,
                          store=SimpleNamespace(records_inline=False))
    monkeypatch.setattr(execution, "execution_values", lambda row: {})  # (a row of the columns read here only)
    market = MarketInfo("SOL/USDC", "SOL", "USDC", D("0.01"), D("0.01"))
    arb = ArbExecutions("arb", settings(hedge="ioc"), ctx, market, lambda: None, lambda ex: None)
    arb._save = lambda ex, columns=None: ex.sync_row()
    [ex] = asyncio.run(arb.recover())
    assert read_on_the_loop == []
    # (SOL is this market's base: its fee counts at the leg's price)
    assert row.state == "done" and row.realized_pnl == D(152) - D(150) - D("0.3") - sol_fee * D(152)
