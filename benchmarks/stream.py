"""Stream fan-out: 1,000 authenticated WebSocket clients on loopback, against a 1-client baseline.

A real bot (no exchanges) runs the stream plugin in this process; a second process opens the
clients with the real ``websockets`` client, each with its own Ed25519 key, answers the challenges
and subscribes to every channel. The bot then publishes order updates, fills and alerts at a
steady rate through its bus. Each client notes the delay from the event's server timestamp to its
arrival. Printed per phase: fan-out latency p50/p99 (ms), the server process's CPU use (% of one
core) while publishing, the time one publish takes on the bus path (us), and the server's wall time
to write one event to every client. On a 2-core machine the one client process that plays all the
clients is itself CPU-bound, so the end-to-end latency includes its queueing. Last line:
``RESULT stream key=value ...``.

    .venv/bin/python benchmarks/stream.py [--clients 1000] [--rate 10] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nacl.signing import SigningKey  # noqa: E402

from bot.app import Bot  # noqa: E402
from bot.config import build_config, parse_toml  # noqa: E402
from bot.domain import AlertLevel, Fill, Liquidity, OrderStatus, OrderUpdate, Side  # noqa: E402
from bot.plugins import collect, load_plugins  # noqa: E402
from plugins.stream import running_server  # noqa: E402
from plugins.stream.protocol import public_key_of  # noqa: E402

# --- the client process ----------------------------------------------------------------------


def client_process(url: str, seeds: list[bytes], conn) -> None:
    asyncio.run(_clients(url, seeds, conn))


async def _clients(url: str, seeds: list[bytes], conn) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from plugins.stream.protocol import challenge_payload, dumps, sign

    delays_ns: list[int] = []
    counts = [0]
    record = [False]

    async def one(seed: bytes, ready: asyncio.Event, opened: list) -> None:
        key = SigningKey(seed)
        ws = await connect(url, proxy=None, open_timeout=60, max_queue=64)
        opened.append(ws)
        challenge = json.loads(await ws.recv())
        await ws.send(dumps({"type": "auth", "key": public_key_of(key), "nonce": challenge["nonce"],
                             "ts": challenge["ts"], "sig": sign(key, challenge_payload(challenge["nonce"],
                                                                                      challenge["ts"]))}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(dumps({"type": "subscribe", "channels": ["orders", "fills", "alerts"]}))
        assert json.loads(await ws.recv())["type"] == "subscribed"
        ready.set()
        try:
            async for message in ws:
                now = time.time_ns()
                if record[0]:  # the timestamp without a full parse: one client process plays 1,000 clients
                    at = message.find('"ts":')
                    if message.startswith('{"type":"event"') and at > 0:
                        delays_ns.append(now - int(message[at + 5:message.index(",", at)]))
                        counts[0] += 1
        except ConnectionClosed:
            pass

    opened: list = []
    tasks = []
    for start in range(0, len(seeds), 100):  # in waves: the listen backlog is finite
        events = [asyncio.Event() for _ in seeds[start:start + 100]]
        wave = zip(seeds[start:start + 100], events, strict=True)
        tasks += [asyncio.create_task(one(seed, ev, opened)) for seed, ev in wave]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 120)
    conn.send("ready")
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, conn.recv) == "record"
    record[0] = True
    conn.send("recording")
    assert await loop.run_in_executor(None, conn.recv) == "stop"
    record[0] = False
    conn.send({"delays_ns": delays_ns[::max(1, len(delays_ns) // 200_000)], "events": counts[0]})
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- the server side ------------------------------------------------------------------------


def percentile(values: list[int], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] / 1e6


async def phase(n_clients: int, rate: float, seconds: float, data_dir: Path) -> dict:
    keys = [SigningKey.generate() for _ in range(n_clients)]
    clients = ", ".join(f'c{i} = "viewer:{public_key_of(k)}"' for i, k in enumerate(keys))
    text = (f'[bot]\ndata_dir = "{data_dir}"\ncontrol_socket = ""\ndb_url = "sqlite:///bench-{n_clients}.db"\n'
            f"[plugins.stream]\nenabled = true\nport = 0\nmax_connections = {n_clients + 10}\n"
            # the clients connect in waves of 100, all from 127.0.0.1: one address, as behind a proxy
            f"max_unauthenticated = 200\nmax_unauthenticated_per_address = 200\n"
            f"clients = {{ {clients} }}\n")
    plugins = load_plugins()
    registry = collect(plugins)
    bot = Bot(build_config(parse_toml(text, "bench"), registry, "bench"), plugins, registry)
    t_start = time.perf_counter()
    await bot.start()
    server = running_server(bot.operator)
    url = f"ws://127.0.0.1:{server.port}"
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=client_process, args=(url, [bytes(k) for k in keys], child))
    proc.start()
    loop = asyncio.get_running_loop()
    try:
        assert await loop.run_in_executor(None, parent.recv) == "ready"
        assert len(server.clients) == n_clients, (len(server.clients), n_clients)
        print(f"  {n_clients} client(s) connected and authenticated in {time.perf_counter() - t_start:.1f} s",
              file=sys.stderr, flush=True)
        parent.send("record")
        assert await loop.run_in_executor(None, parent.recv) == "recording"
        flush_ns: list[int] = []
        flush = server._flush

        def timed_flush() -> None:  # the server's whole fan-out of one loop iteration's events
            t0 = time.perf_counter_ns()
            flush()
            flush_ns.append(time.perf_counter_ns() - t0)

        server._flush = timed_flush
        interval = 1 / rate
        publish_ns: list[int] = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        next_at = loop.time()
        n = 0
        while n < rate * seconds:
            n += 1
            kind = n % 3
            t0 = time.perf_counter_ns()
            if kind == 0:
                bot.bus.publish(OrderUpdate(exchange="paper", symbol="BTC/USD", client_order_id=f"g-{n}",
                                            strategy="grid", status=OrderStatus.OPEN, filled_qty=Decimal("0"),
                                            avg_fill_price=None, ts_ns=time.time_ns()))
            elif kind == 1:
                bot.bus.publish(Fill(exchange="paper", symbol="BTC/USD", client_order_id=f"g-{n}", trade_id=f"t{n}",
                                     side=Side.BUY, price=Decimal("30123.45"), qty=Decimal("0.01"),
                                     fee=Decimal("0.0482"), fee_asset="USD", liquidity=Liquidity.MAKER,
                                     ts_ns=time.time_ns()))
            else:
                bot.alert(AlertLevel.INFO, "fill", f"buy 0.01 BTC/USD at 30123.45 (#{n})", exchange="paper")
            if kind == 0:  # order updates reach only the stream: its own cost on the bus path
                publish_ns.append(time.perf_counter_ns() - t0)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        await asyncio.sleep(0.5)  # let the last events arrive
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        parent.send("stop")
        result = await loop.run_in_executor(None, parent.recv)
    finally:
        t_end = time.perf_counter()
        await loop.run_in_executor(None, proc.join, 30)  # the loop must run: it answers the clients' closes
        print(f"  client process ended in {time.perf_counter() - t_end:.1f} s", file=sys.stderr, flush=True)
        if proc.is_alive():
            proc.kill()
        t_end = time.perf_counter()
        await bot.stop()
        print(f"  bot stopped in {time.perf_counter() - t_end:.1f} s", file=sys.stderr, flush=True)
    expected = int(rate * seconds) * n_clients
    return {
        "clients": n_clients, "events": int(rate * seconds), "frames": result["events"], "expected": expected,
        "p50_ms": percentile(result["delays_ns"], 50), "p99_ms": percentile(result["delays_ns"], 99),
        "cpu_pct": 100 * cpu / wall, "publish_us": statistics.median(publish_ns) / 1e3,
        "publish_p99_us": sorted(publish_ns)[int(0.99 * len(publish_ns))] / 1e3,
        "dropped": server.stats["dropped: slow consumer"],
        "fanout_ms": statistics.median(flush_ns) / 1e6 if flush_ns else float("nan"),
    }


async def main() -> None:
    logging.getLogger("arbot").setLevel(logging.ERROR)  # the executor warns about each fill of no order of ours
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second published (default 10: orders, "
                        "fills and alerts of a busy bot)")
    parser.add_argument("--seconds", type=float, default=15.0, help="publishing time per phase (default 15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for n in (1, args.clients):
            row = await phase(n, args.rate, args.seconds, Path(tmp))
            rows.append(row)
            print(f"{n:>5} client(s): {row['events']} events -> {row['frames']}/{row['expected']} frames  "
                  f"fan-out latency p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  "
                  f"server CPU {row['cpu_pct']:.1f}%  publish {row['publish_us']:.1f} us "
                  f"(p99 {row['publish_p99_us']:.1f} us)  server fan-out {row['fanout_ms']:.2f} ms/event  "
                  f"dropped {row['dropped']}", flush=True)
    base, full = rows
    print(f"RESULT stream clients={full['clients']} rate={args.rate:g} frames={full['frames']} "
          f"expected={full['expected']} p50_ms={full['p50_ms']:.2f} p99_ms={full['p99_ms']:.2f} "
          f"cpu_pct={full['cpu_pct']:.1f} publish_us={full['publish_us']:.1f} fanout_ms={full['fanout_ms']:.2f} "
          f"dropped={full['dropped']} "
          f"baseline_p50_ms={base['p50_ms']:.2f} baseline_p99_ms={base['p99_ms']:.2f} "
          f"baseline_cpu_pct={base['cpu_pct']:.1f} baseline_publish_us={base['publish_us']:.1f} "
          f"maxrss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
