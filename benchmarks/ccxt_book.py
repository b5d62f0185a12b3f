"""Book throughput of the ccxt plugin on the fake Gate.io's recorded stream, next to the native Kraken path.

Both fakes (``tests/fakes/gate.py``, ``tests/fakes/kraken.py``) play the same kind of market: N
seeded random changes near the touch, with deletes and new best prices. A plain WebSocket client
subscribes to each and records every frame it receives (Gate ``spot.obu`` at 50 levels; Kraken
v2 ``book`` at depth 10 with its ``instrument`` message). The frames are then replayed offline,
each through the path its plugin runs, the bus listening (one subscriber counts BookUpdates):

* ``kraken``: ``KrakenExchange.books.handle(frame)`` -> verified book -> ``_on_book`` publishing
  the top 10 levels (the native path: msgspec raw numbers, integer units, CRC32 on every message);
* ``ccxt``: ccxt.pro's own client decoding each frame (``handle_text_or_binary_message``) through
  the plugin's update-id monitor into ccxt's gate handler and book, then the plugin's ``_on_book``
  publishing the top 10 levels as exact Decimals;
* ``ccxt-only``: the same frames through ccxt alone (no monitor, no conversion, no bus): what
  ccxt costs by itself.

Figures are messages per CPU-second (``time.process_time``; the machine is shared) and wall-clock
p50/p99 per message, same machine, same run. Correctness is checked too: the ccxt-path book must
equal the fake Gate's after the replay, and every Kraken message must pass its checksum.

Second section, fill latency (``benchmarks/fills.py``, which owns it and also runs alone): Kraken's
private ``executions`` stream against polling every ``--fill-poll-s``, one bot with two Kraken
exchanges on two fake accounts, the same fills at the same instant; milliseconds from the venue's
fill to the executor applying it (p50/p90), and the ``QueryOrders`` polls per minute each path costs.

Usage: ``.venv/bin/python benchmarks/ccxt_book.py [--updates N] [--seed S] [--fill-rounds N]``.
Ends with one ``RESULT ccxt_book key=value ...`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.api import BookUpdate, Context  # noqa: E402
from bot.bus import Bus  # noqa: E402
from bot.clock import Clock  # noqa: E402
from plugins.ccxt.exchange import CcxtExchange  # noqa: E402
from plugins.ccxt.settings import CcxtSettings  # noqa: E402
from plugins.kraken.exchange import KrakenExchange  # noqa: E402
from plugins.kraken.settings import KrakenSettings  # noqa: E402
from tests.fakes.gate import FakeGate, GatePair  # noqa: E402
from tests.fakes.gate import populate as populate_gate  # noqa: E402
from tests.fakes.kraken import FakeKrakenWS, FakePair  # noqa: E402
from tests.fakes.kraken import populate as populate_kraken  # noqa: E402

GATE_SYMBOL, KRAKEN_SYMBOL = "BTC/USDT", "BTC/USD"


def context(name: str) -> tuple[Context, list[int]]:
    """A Context with a real Bus (one BookUpdate subscriber, counting) and the system clock."""
    bus = Bus(lambda owner, exc, event: None)
    seen = [0]

    def count(event: object) -> None:
        seen[0] += 1

    bus.subscribe(BookUpdate, count, owner="benchmark")
    host = SimpleNamespace(bus=bus, clock=Clock())
    return Context(host, "exchange", name), seen  # type: ignore[arg-type]


# --- recording each fake's stream ---------------------------------------------------------------


async def record_gate(updates: int, seed: int) -> tuple[list[str], FakeGate]:
    pair = GatePair("BTC_USDT", price_precision=2, amount_precision=4)
    populate_gate(pair, seed=seed)
    fake = await FakeGate([pair], seed=seed).start()
    frames: list[str] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.ws_url + "/ws/v4/") as ws:
        await ws.send_str(json.dumps({"time": int(time.time()), "id": 1, "channel": "spot.obu",
                                      "event": "subscribe", "payload": ["ob.BTC_USDT.50"]}))
        while len(frames) < 2:  # the answer, then the full snapshot
            frames.append((await ws.receive()).data)
        await fake.random_updates("BTC_USDT", updates, yield_every=100)
        while len(frames) < 2 + fake.sent_updates:
            frames.append((await ws.receive()).data)
    return frames, fake


async def record_kraken(updates: int, seed: int) -> list[str]:
    from websockets.asyncio.client import connect

    pair = FakePair(KRAKEN_SYMBOL, price_decimals=1, qty_decimals=8)
    populate_kraken(pair, seed=seed)
    fake = await FakeKrakenWS([pair], seed=seed).start()
    frames: list[str] = []
    try:
        async with connect(fake.url, max_size=None) as ws:
            await ws.send(json.dumps({"method": "subscribe", "params": {"channel": "instrument", "snapshot": True}}))
            await ws.send(json.dumps({"method": "subscribe", "params": {"channel": "book", "symbol": [KRAKEN_SYMBOL],
                                                                        "depth": 10, "snapshot": True}}))
            while not any('"type":"snapshot"' in f and '"channel":"book"' in f for f in frames):
                frames.append(str(await ws.recv()))
            base = len(frames)
            await fake.random_updates(KRAKEN_SYMBOL, updates)
            while len(frames) < base + fake.sent_updates:
                frames.append(str(await ws.recv()))
    finally:
        await fake.close()
    return frames


# --- timing ---------------------------------------------------------------------------------------


def run(name: str, handle: Callable[[str], Any], frames: list[str], sample_every: int = 50) -> dict[str, float]:
    gc.collect()
    gc.disable()
    try:
        samples = []
        clock = time.perf_counter_ns
        cpu_start = time.process_time()
        start = clock()
        for i, frame in enumerate(frames):
            if i % sample_every == 0:
                t0 = clock()
                handle(frame)
                samples.append(clock() - t0)
            else:
                handle(frame)
        wall_s = (clock() - start) / 1e9
        cpu_s = time.process_time() - cpu_start
    finally:
        gc.enable()
    samples.sort()
    result = {"cpu_msgs_per_s": len(frames) / cpu_s if cpu_s > 0 else 0.0, "msgs_per_s": len(frames) / wall_s,
              "p50_us": samples[len(samples) // 2] / 1000, "p99_us": samples[int(len(samples) * 0.99)] / 1000}
    print(f"{name:<10} {result['cpu_msgs_per_s']:>10,.0f} msgs per CPU-s   {result['msgs_per_s']:>10,.0f} msgs/s wall"
          f"   p50 {result['p50_us']:7.2f} us   p99 {result['p99_us']:7.2f} us   ({len(frames):,} frames)")
    return result


async def book_section(updates: int, seed: int) -> dict[str, str]:
    """The book throughput figures, as RESULT key -> value."""
    gate_frames, fake = await record_gate(updates, seed)
    kraken_frames = await record_kraken(updates, seed)
    print(f"recorded: gate {len(gate_frames):,} frames ({sum(map(len, gate_frames)) / len(gate_frames):.0f} B avg), "
          f"kraken {len(kraken_frames):,} frames ({sum(map(len, kraken_frames)) / len(kraken_frames):.0f} B avg)")
    try:
        # the ccxt plugin as it runs, minus the socket: markets read from the fake over REST, frames replayed
        ctx, gate_books = context("gate")
        gate = CcxtExchange("gate", CcxtSettings(id="gate", symbols=[GATE_SYMBOL], urls=fake.urls()), ctx)
        await gate.load()
        api = gate.api
        client = api.client(api.urls["api"]["spot"])
        books = api.orderbooks

        def ccxt_path(frame: str) -> None:
            client.handle_text_or_binary_message(frame)
            book = books.get(GATE_SYMBOL)
            if book is not None:
                gate._on_book(GATE_SYMBOL, book)

        ccxt_result = run("ccxt", ccxt_path, gate_frames)
        bids, asks = gate.levels(GATE_SYMBOL)
        view = fake.pairs["BTC_USDT"].view(50)
        assert (bids, asks) == (tuple(view[0]), tuple(view[1])), "the ccxt-path book differs from the fake's"
        assert gate.counters.resyncs == 0 and gate_books[0] == len(gate_frames) - 1
        await api.close()

        plain = CcxtExchange("plain", CcxtSettings(id="gate", symbols=[GATE_SYMBOL], urls=fake.urls()),
                             context("plain")[0])
        plain.monitor = None
        plain_api = plain._build()
        plain_api.handle_message = type(plain_api).handle_message.__get__(plain_api)  # ccxt alone, no monitor
        await plain_api.load_markets()
        plain_client = plain_api.client(plain_api.urls["api"]["spot"])
        ccxt_only = run("ccxt-only", plain_client.handle_text_or_binary_message, gate_frames)
        await plain_api.close()
    finally:
        await fake.close()

    kctx, kraken_books = context("kraken")
    kraken = KrakenExchange("kraken", KrakenSettings(symbols=[KRAKEN_SYMBOL], depth=10), kctx)
    kraken_result = run("kraken", kraken.books.handle, kraken_frames)
    counters = kraken.books.counters
    assert counters.checksum_failed == 0 and counters.checksum_ok == counters.book_messages, counters
    assert kraken_books[0] == counters.book_messages

    ratio = kraken_result["cpu_msgs_per_s"] / ccxt_result["cpu_msgs_per_s"]
    print(f"the native Kraken path handles {ratio:.1f}x the messages per CPU-second of the ccxt path; "
          f"ccxt alone is {ccxt_only['cpu_msgs_per_s'] / ccxt_result['cpu_msgs_per_s']:.2f}x the ccxt path")
    return {"updates": str(updates), "ccxt_msgs_per_cpu_s": f"{ccxt_result['cpu_msgs_per_s']:.0f}",
            "ccxt_p50_us": f"{ccxt_result['p50_us']:.1f}", "ccxt_p99_us": f"{ccxt_result['p99_us']:.1f}",
            "ccxt_only_msgs_per_cpu_s": f"{ccxt_only['cpu_msgs_per_s']:.0f}",
            "kraken_msgs_per_cpu_s": f"{kraken_result['cpu_msgs_per_s']:.0f}",
            "kraken_p50_us": f"{kraken_result['p50_us']:.1f}", "kraken_over_ccxt": f"{ratio:.1f}"}


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=20_000, help="random book changes per venue")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fill-rounds", type=int, default=20, help="fills per path in the fill-latency section")
    parser.add_argument("--fill-poll-s", type=float, default=1.0, help="the polling path's fill_poll_s")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = await book_section(args.updates, args.seed)
    from benchmarks.fills import fill_latency, report

    fills = await fill_latency(args.fill_rounds, args.fill_poll_s)
    report(fills, args.fill_poll_s)
    result.update({f"fill_{k}": f"{v:.1f}" for k, v in fills.items()})
    print("RESULT ccxt_book " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    asyncio.run(main())
