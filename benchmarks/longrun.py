"""Long-running bot benchmark: the cost of one event with little and with much history kept.

A bot left running for weeks keeps per-chat, per-alert, per-order and per-fill state. What one event
costs must not grow with how much of it has piled up, and what is kept must follow what is live (the
open orders, the last minute's chats), not the whole history. Each row times the same event with
``--small`` (100) and ``--large`` (10,000) entries already kept, in one run; the ratio is the figure
(about 1 when the cost does not depend on the history, about large/small when it walks it):

* ``alert wake``: the alert runner waking with that many coalescing windows open (one per distinct alert
  text in ``[alerts] coalesce_s``: a fill alert per fill), none due (``bot.alerts.Alerts``);
* ``stranger message``: a message from a user without a role, with that many stranger chats' refusal
  windows open (``bot.commands.CommandTable``);
* ``coinbase order read``: an order's fills read back from the Coinbase venue's memory, with that many
  orders' fills kept (``plugins.coinbase.exchange.CoinbaseExchange._fills_of``, filled in full: no request);
* ``grid round trip, base fee``: a grid's round trip booked in the ledger (``bot.ledger.Position``) on a venue that
  charges buy fees in the base asset (0.01 BTC bought, 0.00001 BTC fee, the 0.00999 received sold, the sell naming
  its buy's lot), with that many round trips before it; and the lots kept and the position the ledger shows
  afterwards (the account holds nothing);
* ``executor fill keys``: the fill keys the executor keeps after that many orders filled and written, in a
  real bot (scripted venue, SQLite in a temp dir), and the time of a repeated fill of a finished order
  (looked up in the store).

With ``--baseline-tree DIR`` (another checkout, e.g. ``git archive main | tar -x -C DIR``) the same
events are timed on that code too, in a subprocess, and printed beside: before and after in one run.

Usage: ``.venv/bin/python benchmarks/longrun.py [--small 100] [--large 10000] [--events 2000]
[--baseline-tree DIR]``.
Ends with one ``RESULT longrun key=value ...`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

TREE = os.environ.get("ARBOT_LONGRUN_TREE") or str(Path(__file__).resolve().parent.parent)
sys.path.insert(0, TREE)  # the code measured: this checkout, or the baseline tree's (--baseline-tree)

from bot.alerts import Alerts  # noqa: E402
from bot.api import Caller  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.commands import CommandTable  # noqa: E402
from bot.config import CommandSettings  # noqa: E402
from bot.domain import Alert, AlertLevel, Fill, Liquidity, Side  # noqa: E402


def per_event_us(run, events: int) -> float:
    """Best of 5 rounds of ``events`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for i in range(events):
            run(i)
        best = min(best, (time.perf_counter_ns() - t0) / events / 1000)
    return best


def alert_wake(kept: int, events: int) -> float:
    alerts = Alerts(coalesce_s=60, queue_size=10, monotonic=lambda: 0.0)
    for i in range(kept):
        alerts.emit(Alert(AlertLevel.INFO, "fill", "grid", f"buy {i} filled"))
    return per_event_us(lambda i: alerts._close_windows(), events)


def stranger_message(kept: int, events: int) -> float:
    clock = ManualClock()
    table = CommandTable({}, operator=None, audit=lambda **row: None, clock=clock, settings=CommandSettings())
    for i in range(kept):
        table._folded(Caller("telegram", f"u{i}", None, f"-{i}"), "status")
    return per_event_us(lambda i: table._folded(Caller("telegram", f"u{i % kept}", None, f"-{i % kept}"), "status"),
                        events)


def coinbase_read(kept: int, events: int) -> float:
    from plugins.coinbase.exchange import CoinbaseExchange

    venue = object.__new__(CoinbaseExchange)  # its memory of orders and fills only
    venue._fills, venue._order_ids, venue._tracked = {}, {}, {}
    by_order = getattr(venue, "_fills_by_order", None)
    if by_order is None and hasattr(CoinbaseExchange, "_forget_old_fills"):
        venue._fills_by_order = by_order = {}
    for i in range(kept):
        fill = Fill("coinbase", "BTC/USD", f"o{i}", f"t{i}", Side.BUY, Decimal(1), Decimal("0.01"), Decimal(0), "USD",
                    Liquidity.MAKER, 0)
        venue._fills[fill.trade_id] = fill
        if by_order is not None:
            by_order[fill.client_order_id] = [fill]
    loop = asyncio.new_event_loop()

    def read(i: int) -> None:
        coro = venue._fills_of(f"o{i % kept}", "BTC/USD", "x", Decimal("0.01"))
        try:
            coro.send(None)  # filled in full from memory: it returns without awaiting
        except StopIteration:
            pass

    try:
        return per_event_us(read, events)
    finally:
        loop.close()


EXECUTOR = """
[executor]
orders_per_s = 100000
burst = 100000
[exchanges.v]
type = "filling"
[strategies.s]
type = "counting"
"""


def grid_round_trips(before: int, events: int) -> tuple[int, str, float]:
    """(lots kept, the position the ledger shows, us per round trip) after ``before`` round trips."""
    from bot.ledger import Position

    book = Position()
    qty, fee, n = Decimal("0.01"), Decimal("0.00001"), iter(range(10**9))

    def round_trip(_: int) -> None:
        i = next(n)
        book.apply_fill(Fill("x", "BTC/USD", f"b{i}", f"tb{i}", Side.BUY, Decimal(30000), qty, fee, "BTC",
                             Liquidity.MAKER, i))
        book.apply_fill(Fill("x", "BTC/USD", f"s{i}", f"ts{i}", Side.SELL, Decimal(30300), qty - fee,
                             Decimal("0.3"), "USD", Liquidity.MAKER, i), f"b{i}")

    for _ in range(before):
        round_trip(0)
    lots, position = len(book.lots), str(book.qty)
    return lots, position, per_event_us(round_trip, events)


async def executor_keys(orders: int, events: int) -> tuple[int, int, float]:
    """(fill keys held, fill keys remembered (capped), after ``orders`` orders filled and written; us per repeated
    fill of a finished order)."""
    from bot import hookimpl
    from bot.api import Strategy
    from bot.api.testing import build_bot
    from bot.domain import Order, OrderIntent, OrderState, OrderStatus
    from tests.fakes.venue import ScriptedVenue

    class Filling(ScriptedVenue):
        async def place_order(self, order: Order) -> OrderState:
            fill = Fill(self.name, order.symbol, order.client_order_id, f"T-{order.client_order_id}", order.side,
                        order.price, order.qty, Decimal("0.01"), "USD", Liquidity.TAKER, 1)
            state = OrderState(order.client_order_id, OrderStatus.FILLED, f"X-{order.client_order_id}", order.qty,
                               order.price, (fill,))
            self.orders[order.client_order_id] = state
            return state

    class Counting(Strategy):
        pass

    class plugin:
        @staticmethod
        @hookimpl
        def register_exchanges(register):
            register("filling", Filling)

        @staticmethod
        @hookimpl
        def register_strategies(register):
            register("counting", Counting)

    with tempfile.TemporaryDirectory() as tmp:
        handle = build_bot(EXECUTOR, data_dir=Path(tmp), extra=[("longrun", plugin)])
        await handle.start()
        bot = handle._bot
        try:
            ctx = bot.strategies["s"].ctx
            for n in range(orders):
                ctx.submit(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("0.001"), Decimal(100),
                                       client_order_id=f"k-{n}"))
                if n % 200 == 199:
                    await bot.executor.settle(30)
            await bot.executor.settle(30)
            await bot.executor.flush()
            held = bot.executor._applied
            kept = sum(map(len, held.values())) if isinstance(held, dict) else len(held)
            remembered = sum(map(len, getattr(bot.executor, "_finished", {}).values()))
            fills = [bot.exchanges["v"].orders[f"k-{n % orders}"].fills[0] for n in range(events)]
            t0 = time.perf_counter_ns()
            for fill in fills:
                assert not bot.executor.apply_fill(fill)
            return kept, remembered, (time.perf_counter_ns() - t0) / events / 1000
        finally:
            await handle.stop()


def measure(small: int, large: int, events: int) -> dict[str, Any]:
    """Every figure of this code (the checkout on the path)."""
    out: dict[str, Any] = {}
    for key, run in (("alert_wake", alert_wake), ("stranger", stranger_message), ("coinbase_read", coinbase_read)):
        out[f"{key}_us_small"], out[f"{key}_us_large"] = run(small, events), run(large, events)
    for size, kept in (("small", small), ("large", large)):
        lots, position, us = grid_round_trips(kept, min(events, 200))
        out[f"grid_lots_{size}"], out[f"grid_position_{size}"], out[f"grid_round_trip_us_{size}"] = lots, position, us
    for size, orders in (("small", small), ("large", large // 5)):
        kept, remembered, us = asyncio.run(executor_keys(orders, min(events, orders)))
        out[f"executor_keys_{size}"], out[f"remembered_keys_{size}"] = kept, remembered
        out[f"repeat_fill_us_{size}"] = us
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--baseline-tree", metavar="DIR", help="also measure the code of another checkout")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # a baseline run's answer
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.small, args.large, args.events)))
        return
    runs = {"after": measure(args.small, args.large, args.events)}
    if args.baseline_tree:
        done = subprocess.run([sys.executable, __file__, "--json", "--small", str(args.small), "--large",
                               str(args.large), "--events", str(args.events)], capture_output=True, text=True,
                              env={**os.environ, "ARBOT_LONGRUN_TREE": str(Path(args.baseline_tree).resolve())})
        if done.returncode:
            raise SystemExit(f"the baseline run failed:\n{done.stderr[-3000:]}")
        runs = {"before": json.loads(done.stdout.strip().splitlines()[-1]), **runs}
    print(f"one event with {args.small:,} vs {args.large:,} entries kept (us per event, best of 5 x "
          f"{args.events:,}; x: the large over the small):")
    for name, got in runs.items():
        print(f"  {name}:")
        for label, key in (("alert wake", "alert_wake"), ("stranger message", "stranger"),
                           ("coinbase order read", "coinbase_read")):
            small, large = got[f"{key}_us_small"], got[f"{key}_us_large"]
            print(f"    {label:<22}: {small:8.2f} us  vs {large:9.2f} us   x{large / small:.1f}")
        trip_small, trip_large = got["grid_round_trip_us_small"], got["grid_round_trip_us_large"]
        print(f"    grid round trip, base fee: {trip_small:8.2f} us  vs {trip_large:9.2f} us   "
              f"x{trip_large / trip_small:.1f}"
              f"; after {args.small:,} / {args.large:,} round trips: {got['grid_lots_small']:,} / "
              f"{got['grid_lots_large']:,} lots kept, position {got['grid_position_small']} / "
              f"{got['grid_position_large']} BTC (the account holds 0)")
        print(f"    executor fill keys    : {got['executor_keys_small']:,} held (+{got['remembered_keys_small']:,} "
              f"remembered, at most 10,000 orders') after {args.small:,} orders filled and written, "
              f"{got['executor_keys_large']:,} (+{got['remembered_keys_large']:,}) after {args.large // 5:,}; a "
              f"repeated fill of a finished order {got['repeat_fill_us_small']:.1f} us vs "
              f"{got['repeat_fill_us_large']:.1f} us")
    fields = [f"{name}_{key}={value:.2f}" if isinstance(value, float) else f"{name}_{key}={value}"
              for name, got in runs.items() for key, value in got.items()]
    print("RESULT longrun " + " ".join(fields))


if __name__ == "__main__":
    main()
