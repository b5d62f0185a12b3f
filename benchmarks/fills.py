"""Fill latency: Kraken's private ``executions`` stream against polling, in the same run.

One bot, two Kraken exchanges against two fake Kraken accounts on 127.0.0.1 (tests/fakes/kraken.py,
the documented REST and WebSocket v2 protocols): ``stream`` with the private order stream (polling
only reconciles, every ``stream_poll_s``), ``poll`` without it (polling every ``fill_poll_s``, the
baseline). Each round rests one order on each, then the fakes fill both in the same instant; the
latency is from that instant to the executor applying the fill (``FillApplied`` on the bus), on the
loop's clock. Also counted: the ``QueryOrders`` polls each path made per minute of the run (orders
rest most of it: the cost of polling).

    python benchmarks/fills.py [--rounds 20] [--fill-poll-s 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.api import FillApplied, OrderIntent, OrderStatus, Side  # noqa: E402
from bot.app import Bot  # noqa: E402
from bot.config import build_config, parse_toml, resolve_secrets  # noqa: E402
from bot.plugins import collect, load_plugins  # noqa: E402
from tests.fakes.kraken import (  # noqa: E402
    API_KEY,
    API_SECRET,
    FakeKrakenAuthWS,
    FakeKrakenREST,
    FakeKrakenWS,
    FakePair,
    populate,
)

SYMBOL = "BTC/USD"


def venue_toml(name: str, ws: FakeKrakenWS, rest: FakeKrakenREST, auth: FakeKrakenAuthWS | None,
               fill_poll_s: float) -> str:
    return f"""
[exchanges.{name}]
type = "kraken"
symbols = ["{SYMBOL}"]
ws_url = "{ws.url}"
rest_url = "{rest.url}"
api_key = "env:FAKE_KRAKEN_KEY"
api_secret = "env:FAKE_KRAKEN_SECRET"
private_stream = {"true" if auth else "false"}
private_ws_url = "{auth.url if auth else ""}"
fill_poll_s = {fill_poll_s}
stream_poll_s = 60.0
rest_per_s = 50.0
silence_timeout_s = 30.0
start_timeout_s = 5.0
"""


async def fill_latency(rounds: int, fill_poll_s: float) -> dict[str, float]:
    """p50/p90 ms from the venue's fill to the executor applying it, per path; REST calls per minute."""
    pair = FakePair(SYMBOL, price_decimals=1, qty_decimals=8)
    populate(pair)
    ws = await FakeKrakenWS([pair]).start()
    rests = {"stream": await FakeKrakenREST().start(), "poll": await FakeKrakenREST().start()}
    auth = await FakeKrakenAuthWS(rests["stream"], heartbeat_s=0.5).start()
    os.environ["FAKE_KRAKEN_KEY"], os.environ["FAKE_KRAKEN_SECRET"] = API_KEY, API_SECRET
    with tempfile.TemporaryDirectory() as tmp:
        text = (f'mode = "live"\n[bot]\ndata_dir = "{tmp}"\ncontrol_socket = ""\n[notifiers.console]\n'
                f'min_level = "error"\n' + venue_toml("stream", ws, rests["stream"], auth, fill_poll_s)
                + venue_toml("poll", ws, rests["poll"], None, fill_poll_s))
        plugins = load_plugins()
        config = build_config(parse_toml(text, "bench.toml"), collect(plugins), "bench.toml")
        resolve_secrets(config)
        bot = Bot(config, plugins, collect(plugins))
        await bot.start()
        loop = asyncio.get_running_loop()
        applied: dict[tuple[str, str], float] = {}
        bot.bus.subscribe(FillApplied, lambda e: applied.setdefault((e.fill.exchange, e.fill.trade_id), loop.time()),
                          owner="bench")
        latencies: dict[str, list[float]] = {"stream": [], "poll": []}
        try:
            await wait(lambda: bot.exchanges["stream"].streaming, 10)
            calls_before = {name: len(r.log) for name, r in rests.items()}
            started = loop.time()
            for i in range(rounds):
                cids = {}
                for name in rests:
                    cid = f"{name}-{i}"
                    bot.executor.submit(OrderIntent(strategy="bench", exchange=name, symbol=SYMBOL, side=Side.BUY,
                                                    qty=Decimal("0.01"), price=Decimal("29000"), client_order_id=cid))
                    cids[name] = cid
                await wait(lambda c=cids: all((o := bot.executor.order(cid)) is not None
                                              and o.status is OrderStatus.OPEN for cid in c.values()), 10)
                await asyncio.sleep((i % 7) / 7 * fill_poll_s)  # fills land anywhere in the polling cycle
                trades = {}
                t0 = loop.time()
                for name, rest in rests.items():
                    (txid,) = [t for t, o in rest.orders.items() if o["cl_ord_id"] == cids[name]]
                    trades[name] = (name, rest.fill(txid, Decimal("0.01"), Decimal("28999.5")))
                await wait(lambda tr=trades: all(t in applied for t in tr.values()), 10 + 2 * fill_poll_s)
                for name, key in trades.items():
                    latencies[name].append((applied[key] - t0) * 1000)
            elapsed_s = loop.time() - started
        finally:
            await bot.stop()
            await auth.close()
            for rest in rests.values():
                await rest.close()
            await ws.close()
    out: dict[str, float] = {}
    for name, values in latencies.items():
        values.sort()
        out[f"{name}_p50_ms"] = statistics.median(values)
        out[f"{name}_p90_ms"] = values[max(0, int(len(values) * 0.9) - 1)]
        polls = sum(1 for _, m, _ in rests[name].log[calls_before[name]:] if m == "QueryOrders")
        out[f"{name}_polls_per_min"] = polls / elapsed_s * 60
    return out


async def wait(condition, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("benchmark condition not met")
        await asyncio.sleep(0.001)


def report(figures: dict[str, float], fill_poll_s: float) -> None:
    for name, what in (("stream", "private stream (executions)"), ("poll", f"polling every {fill_poll_s:g} s")):
        print(f"{what:32} fill -> applied  p50 {figures[f'{name}_p50_ms']:8.1f} ms   p90 "
              f"{figures[f'{name}_p90_ms']:8.1f} ms   QueryOrders polls {figures[f'{name}_polls_per_min']:5.1f}/min")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--fill-poll-s", type=float, default=1.0)
    args = parser.parse_args()
    figures = await fill_latency(args.rounds, args.fill_poll_s)
    report(figures, args.fill_poll_s)
    line = " ".join(f"{k}={v:.1f}" for k, v in figures.items())
    print(f"RESULT fill_latency rounds={args.rounds} fill_poll_s={args.fill_poll_s:g} {line}")


if __name__ == "__main__":
    asyncio.run(main())
