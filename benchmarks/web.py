"""Web console benchmark: API latency under concurrent clients, the CPU it costs the bot, and its effect on trading.

**(a) API latency while the demo trades.** The embedded default demo (a grid on a paper exchange,
CEX/DEX arbitrage on simulated venues, whales made frequent) runs in this process with the ``web``
service on 127.0.0.1. A separate client process (aiohttp) runs N clients against
``GET /api/v1/status`` and ``GET /api/v1/orders?limit=50``, for N = 1, 50 and 200, two ways:
*paced* (each client asks every 0.5 s, as a browser polling; the headline figures) and *closed
loop* (each sends its next request as soon as the previous answer arrived: the server's
saturation throughput, where latency is N / throughput). p50/p99 are the client's round trips.
The same run measures the bot process's CPU time (``process_time``) over each window and over an
equal window with no client: the difference is the console's cost, also given per request.

**(b) Tick -> decision with and without 50 console users.** The arbitrage harness of
``benchmarks/arb.py`` (its config, Kraken v2 frame generator and percentile; imported, not
copied): raw book frames through ``KrakenBooks.handle`` -> bus -> the ``arb`` strategy, now paced
at ``--tick-hz`` on the running loop instead of back to back, so that anything else the loop does
(the console's handlers) delays them. Per frame: the synchronous chain (as arb.py measures it) and
arrival -> decision (from the frame's scheduled arrival on the loop to the decision, i.e. plus the
time the loop was busy elsewhere). Windows alternate with no client and with 50 UI-like clients
(each holds an event stream, polls ``/status`` every second and ``/orders`` every two), in the
same bot, so the comparison shares the machine's load.

    python benchmarks/web.py [--window-s 5] [--tick-hz 500]

Ends with one ``RESULT web key=value ...`` line. The machine is shared: the client process
competes with the bot for the same cores, so absolute latencies are pessimistic; compare within
the run.
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
from array import array
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

TOKEN = "benchmark-token-0123456789abcdef"
PACE_S = 0.5
"""A paced client asks every PACE_S (a browser polling twice a second)."""
WEB = """
[plugins.web]
enabled = true
port = 0
requests_per_s = 100000
request_burst = 100000
max_connections = 2000
max_connections_per_address = 2000
users = {{ bench = {{ role = "admin", token = "{hash}" }} }}
"""


# --- the client process --------------------------------------------------------------------------


async def client_main(url: str, concurrency: int, mode: str, duration_s: float) -> None:
    import aiohttp

    headers = {"Authorization": f"Bearer {TOKEN}"}
    latencies: dict[str, list[float]] = {}
    errors = 0
    stop_at = 0.0
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def get(path: str) -> None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                async with http.get(url + path) as response:
                    await response.read()
                    ok = response.status == 200
            except aiohttp.ClientError:
                ok = False
            if ok:
                latencies.setdefault(path, []).append((time.perf_counter() - t0) * 1000)
            else:
                errors += 1

        async def closed_loop(path: str) -> None:
            while time.perf_counter() < stop_at:
                await get(path)

        async def paced(path: str, first: float) -> None:
            await asyncio.sleep(first)  # spread over the interval: clients do not all ask at once
            due = time.perf_counter()
            while due < stop_at:
                await get(path)
                due += PACE_S
                await asyncio.sleep(max(0.0, due - time.perf_counter()))

        async def ui_user(ready: asyncio.Event, count: list[int]) -> None:
            async with http.get(url + "/api/v1/events") as stream:
                await stream.content.readline()
                count[0] += 1
                if count[0] == concurrency:
                    ready.set()
                await ready.wait()
                tick = 0
                while time.perf_counter() < stop_at:
                    await get("/api/v1/status")
                    if tick % 2 == 0:
                        await get("/api/v1/orders?limit=50")
                    tick += 1
                    await asyncio.sleep(1.0)

        if mode == "ui":
            ready, count = asyncio.Event(), [0]
            stop_at = time.perf_counter() + 3600
            tasks = [asyncio.create_task(ui_user(ready, count)) for _ in range(concurrency)]
            await ready.wait()
            stop_at = time.perf_counter() + duration_s
            print("ready", flush=True)
            await asyncio.gather(*tasks)
        else:
            kind, _, path = mode.partition(":")
            await asyncio.gather(*(get(path) for _ in range(concurrency)))  # each client connects before timing
            latencies.clear()
            print("ready", flush=True)
            stop_at = time.perf_counter() + duration_s
            if kind == "closed":
                await asyncio.gather(*(closed_loop(path) for _ in range(concurrency)))
            else:
                await asyncio.gather(*(paced(path, PACE_S * i / concurrency) for i in range(concurrency)))
    print(json.dumps({"latencies": latencies, "errors": errors}), flush=True)


class Clients:
    """A client process: started, waited for until ready, then its figures read when it ends."""

    def __init__(self, url: str, concurrency: int, mode: str, duration_s: float):
        self.proc = subprocess.Popen([sys.executable, __file__, "--client", url, str(concurrency), mode,
                                      str(duration_s)], stdout=subprocess.PIPE, text=True)

    async def ready(self) -> None:
        line = await asyncio.to_thread(self.proc.stdout.readline)
        if line.strip() != "ready":
            raise RuntimeError(f"client process failed to start: {line!r}")

    async def result(self) -> dict:
        out, _ = await asyncio.to_thread(self.proc.communicate, timeout=120)
        return json.loads(out.strip().splitlines()[-1])


class LoopLag:
    """How late a 5 ms sleep wakes up on the bot's loop (ms): what everything on the loop waits on."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(0.005)
            self.samples.append((loop.time() - t0 - 0.005) * 1000)

    def take(self) -> list[float]:
        samples, self.samples = self.samples, []
        return samples


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- (a) API latency while the demo trades --------------------------------------------------------


async def api_latency(window_s: float) -> dict:
    import bot
    from bot.api.testing import build_bot, wait_for
    from plugins.web import running_server
    from plugins.web.auth import token_hash

    demo = (Path(bot.__file__).parent / "default.toml").read_text()
    demo = demo.replace('mode = "paper"\n', "").replace('dislocation_probability = "0.03"',
                                                         'dislocation_probability = "0.4"')
    demo = demo.split("[notifiers.console]")[0]  # its trade lines would drown the figures
    results: dict = {}
    with tempfile.TemporaryDirectory() as data_dir:
        under_test = build_bot(demo + WEB.format(hash=token_hash(TOKEN)), data_dir=Path(data_dir),
                               extra=web_extra())
        await under_test.start()
        lag = LoopLag()
        try:
            url = f"http://127.0.0.1:{running_server(under_test.operator).port}"
            await wait_for(lambda: len(under_test.store.orders()) >= 20, timeout_s=120, what="the demo's orders")
            c0 = time.process_time()
            lag.take()
            await asyncio.sleep(window_s)
            idle_cpu = (time.process_time() - c0) / window_s
            idle_lag = lag.take()
            results["idle_cpu_pct"] = idle_cpu * 100
            results["idle_lag_p99_ms"] = pct(idle_lag, 0.99)
            print(f"bot process CPU, demo trading, console idle: {idle_cpu * 100:.1f} % of a core; loop lag p99 "
                  f"{pct(idle_lag, 0.99):.2f} ms")
            for kind in ("paced", "closed"):
                for path in ("/api/v1/status", "/api/v1/orders?limit=50"):
                    for n in (1, 50, 200):
                        clients = Clients(url, n, f"{kind}:{path}", window_s)
                        await clients.ready()
                        c0, w0 = time.process_time(), time.perf_counter()
                        lag.take()
                        got = await clients.result()
                        window_lag = pct(lag.take(), 0.99)
                        cpu = time.process_time() - c0
                        wall = time.perf_counter() - w0
                        lat = got["latencies"].get(path, [])
                        extra = cpu / wall - idle_cpu
                        per_request_us = extra * wall / max(1, len(lat)) * 1e6
                        name = f"{kind}_{'status' if 'status' in path else 'orders'}_{n}"
                        results[name] = {"p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "rps": len(lat) / wall,
                                         "extra_cpu_pct": extra * 100, "cpu_us_per_request": per_request_us,
                                         "errors": got["errors"], "lag_p99_ms": window_lag}
                        print(f"{kind:<6} GET {path:<26} {n:>3} clients: p50 {pct(lat, 0.5):7.2f} ms  "
                              f"p99 {pct(lat, 0.99):7.2f} ms  {len(lat) / wall:6.0f} req/s  bot CPU "
                              f"+{extra * 100:5.1f} % of a core ({per_request_us:.0f} us/request)  "
                              f"loop lag p99 {window_lag:.1f} ms  errors {got['errors']}")
            # 50 UI-like users (event stream, /status every s, /orders every 2 s): what a desk costs
            clients = Clients(url, 50, "ui", window_s)
            await clients.ready()
            c0, w0 = time.process_time(), time.perf_counter()
            got = await clients.result()
            ui_extra = (time.process_time() - c0) / (time.perf_counter() - w0) - idle_cpu
            results["ui50_extra_cpu_pct"] = ui_extra * 100
            print(f"50 UI-like users (SSE + polling): bot CPU +{ui_extra * 100:.1f} % of a core, "
                  f"status p99 {pct(got['latencies'].get('/api/v1/status', []), 0.99):.2f} ms")
        finally:
            lag.task.cancel()
            await under_test.stop()
    return results


def web_extra() -> list[tuple[str, object]]:
    import importlib.metadata

    if importlib.metadata.entry_points(group="arbot", name="web"):
        return []
    import plugins.web

    return [("web", plugins.web)]


# --- (b) tick -> decision with and without 50 console users -------------------------------------------


async def tick_windows(window_s: float, tick_hz: int, pool_every: int) -> dict:
    import arb as arb_bench  # benchmarks/arb.py: its config, frames and percentile

    from bot.app import Bot
    from bot.config import build_config, parse_toml
    from bot.domain import BookUpdate
    from bot.plugins import collect, load_plugins
    from plugins.kraken.book import KrakenBooks
    from plugins.web import running_server
    from plugins.web.auth import token_hash

    per_window = int(window_s * tick_hz)
    kinds = ("none", "50 users", "none", "50 users")
    frames = arb_bench.generate(per_window * len(kinds) + 10, seed=5)
    chain: dict[str, array] = {"none": array("q"), "50 users": array("q")}
    arrival: dict[str, array] = {"none": array("q"), "50 users": array("q")}
    with tempfile.TemporaryDirectory() as data_dir:
        plugins = load_plugins(extra=arb_bench.arb_unless_installed() + web_extra(), report=lambda i, m: None)
        registry = collect(plugins)
        text = arb_bench.CONFIG.format(data_dir=data_dir) + WEB.format(hash=token_hash(TOKEN))
        under_test = Bot(build_config(parse_toml(text, "bench"), registry, "bench"), plugins, registry)
        await under_test.start()
        try:
            url = f"http://127.0.0.1:{running_server(under_test.operator).port}"
            publish, clock = under_test.bus.publish, under_test.clock

            def on_book(sb) -> None:  # what KrakenExchange._on_book does for a verified book
                bids, asks = sb.levels(arb_bench.DEPTH)
                publish(BookUpdate("cex", sb.symbol, bids, asks, clock.time_ns()))

            books = KrakenBooks(arb_bench.DEPTH, on_book=on_book, symbols=[arb_bench.SYMBOL])
            dex = under_test.exchanges["dex"]
            loop = asyncio.get_running_loop()
            interval = 1.0 / tick_hz
            index = 0
            for kind in kinds:
                clients = None
                if kind != "none":
                    clients = Clients(url, 50, "ui", window_s + 5)
                    await clients.ready()
                due = loop.time()
                for _ in range(per_window):
                    due += interval
                    delay = due - loop.time()
                    await asyncio.sleep(delay if delay > 0 else 0)
                    late_ns = int((loop.time() - due) * 1e9)
                    t0 = time.perf_counter_ns()
                    books.handle(frames[index])
                    took = time.perf_counter_ns() - t0
                    chain[kind].append(took)
                    arrival[kind].append(max(0, late_ns) + took)
                    index += 1
                    if index % pool_every == 0:
                        dex.step()
                if clients is not None:
                    clients.proc.terminate()
                    await asyncio.to_thread(clients.proc.wait)
            facts = dict(under_test.strategies["arb"].status())
        finally:
            await under_test.stop()
    out = {}
    for kind in ("none", "50 users"):
        c, a = sorted(chain[kind]), sorted(arrival[kind])
        out[kind] = {"chain_p50_us": arb_bench.percentile(c, 0.5) / 1000, "chain_p99_us": arb_bench.percentile(c, 0.99)
                     / 1000, "arrival_p50_us": arb_bench.percentile(a, 0.5) / 1000,
                     "arrival_p99_us": arb_bench.percentile(a, 0.99) / 1000, "ticks": len(c)}
        print(f"tick->decision, {kind:<8}: chain p50 {out[kind]['chain_p50_us']:7.1f} us  p99 "
              f"{out[kind]['chain_p99_us']:7.1f} us | arrival->decision p50 {out[kind]['arrival_p50_us']:7.1f} us  "
              f"p99 {out[kind]['arrival_p99_us']:7.1f} us  ({len(c):,} ticks at {tick_hz}/s)")
    print(f"arb strategy: opportunities {facts.get('opportunities')}, executions {facts.get('executed')}")
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        _, _, url, concurrency, mode, duration = sys.argv
        asyncio.run(client_main(url, int(concurrency), mode, float(duration)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window-s", type=float, default=5.0, help="length of each measured window (default 5 s)")
    parser.add_argument("--tick-hz", type=int, default=500, help="book frames per second in (b) (default 500)")
    parser.add_argument("--pool-every", type=int, default=20, help="frames between two pool updates (default 20)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    api = asyncio.run(api_latency(args.window_s))
    ticks = asyncio.run(tick_windows(args.window_s, args.tick_hz, args.pool_every))
    s200, o200 = api["paced_status_200"], api["paced_orders_200"]
    print(f"goal p99 < 50 ms at 200 clients (each polling every {PACE_S:g} s): status "
          f"{'met' if s200['p99'] < 50 else 'NOT met'}, orders {'met' if o200['p99'] < 50 else 'NOT met'}; "
          f"closed loop (no pause between requests) saturates at {api['closed_status_200']['rps']:.0f} status req/s")
    none, busy = ticks["none"], ticks["50 users"]
    print("RESULT web " + " ".join(
        [f"{kind}_{name}_{n}_{q}_ms={api[f'{kind}_{name}_{n}'][q]:.2f}"
         for kind in ("paced", "closed") for name in ("status", "orders") for n in (1, 50, 200) for q in ("p50", "p99")]
        + [f"closed_status_200_rps={api['closed_status_200']['rps']:.0f}",
           f"closed_orders_200_rps={api['closed_orders_200']['rps']:.0f}",
           f"status_cpu_us_per_request={api['closed_status_200']['cpu_us_per_request']:.0f}",
           f"orders_cpu_us_per_request={api['closed_orders_200']['cpu_us_per_request']:.0f}",
           f"ui50_extra_cpu_pct={api['ui50_extra_cpu_pct']:.1f}", f"idle_cpu_pct={api['idle_cpu_pct']:.1f}",
           f"idle_loop_lag_p99_ms={api['idle_lag_p99_ms']:.2f}",
           f"paced_status_200_loop_lag_p99_ms={api['paced_status_200']['lag_p99_ms']:.2f}",
           f"tick_chain_p99_us_none={none['chain_p99_us']:.1f}", f"tick_chain_p99_us_50={busy['chain_p99_us']:.1f}",
           f"tick_arrival_p99_us_none={none['arrival_p99_us']:.1f}",
           f"tick_arrival_p99_us_50={busy['arrival_p99_us']:.1f}"]))

if __name__ == "__main__":
    main()
