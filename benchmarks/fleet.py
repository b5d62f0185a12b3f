"""Fleet benchmark: a command's round trip across the fleet, events through NATS, and what the bus costs a tick.

A real ``nats-server`` (JetStream on, as docs/fleet.md deploys it) on 127.0.0.1; the bots are real
:class:`bot.app.Bot` objects with the ``fleet`` plugin, **in this one process** on one event loop
(lightweight: no venue, no strategy; a SQLite store each), so the figures include every bot's share
of the work on the one core this process gets.

**(a) ``/status all`` round trip** over 3 and 20 bots: from ``dispatch(caller, "status", ["all"])`` on
the first bot (the front) to the merged reply, every other bot asked over NATS (a request on
``arbot.<bot>.cmd``, authorized and run by that bot's command table, its reply parsed and merged).
Baseline in the same run: ``/status`` on the front alone (no fleet target).

**(b) Events per second through NATS** of one bot: ``--events`` fill events handed to its fleet link
(encoded, queued in its outbox, published) until a subscriber of the test's own has received them
all; baseline: the same payloads published with nats-py directly (no bot, no encoding).

**(c) Tick -> decision of an arbitrage bot, fleet bus on vs off**: ``benchmarks/arb.py``'s
measurement (raw Kraken frames through the book, the bus and the arb strategy), run twice in this
process on the same frames: once as is, once with ``[plugins.fleet]`` enabled (every order, fill,
opportunity and execution also encoded for NATS). Thread CPU time (the machine is shared).

    python benchmarks/fleet.py [--round-trips 200] [--events 20000] [--frames 20000]

Ends with one ``RESULT fleet key=value ...`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.api import Caller  # noqa: E402
from bot.api.kit import to_data  # noqa: E402
from bot.api.testing import wait_for  # noqa: E402
from bot.app import Bot  # noqa: E402
from bot.config import build_config, parse_toml  # noqa: E402
from bot.domain import Fill, Liquidity, Side  # noqa: E402
from bot.plugins import collect, load_plugins  # noqa: E402
from tests.helpers.fleet import fleet_unless_installed, load_module  # noqa: E402
from tests.helpers.nats_server import NatsServer, nats_server_binary  # noqa: E402

CALLER = Caller("bench", "1", "admin")
PER_MIN = 10_000
"""[commands] per_user_per_min: the benchmark's caller sends far more than a person (the limit is the point there)."""

BOT = """
mode = "paper"
[bot]
name = "{name}"
data_dir = "{data_dir}"
db_url = "sqlite:///{data_dir}/arbot.db"
control_socket = ""
[commands]
per_user_per_min = {per_min}
[plugins.fleet]
enabled = true
nats_url = "{nats_url}"
jetstream = true
roles = {{ "bench:1" = "admin" }}
call_timeout_s = 30
buffer_max = {buffer_max}
"""


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def start_bots(n: int, nats_url: str, folder: Path, buffer_max: int = 10_000) -> list[Bot]:
    plugins = load_plugins(extra=fleet_unless_installed(), report=lambda info, message: None)
    registry = collect(plugins)
    bots = []
    for i in range(n):
        name = f"bench-{i:02d}"
        data_dir = folder / name
        data_dir.mkdir()
        text = BOT.format(name=name, data_dir=data_dir, nats_url=nats_url, buffer_max=buffer_max, per_min=PER_MIN)
        bot = Bot(build_config(parse_toml(text, name), registry, name), plugins, registry)
        await bot.start()
        bots.append(bot)
    return bots


async def round_trips(n_bots: int, count: int, nats_url: str) -> dict[str, float]:
    """(a): ``/status all`` from the first of ``n_bots`` bots, ``count`` times; ``/status`` alone as baseline."""
    with tempfile.TemporaryDirectory() as tmp:
        bots = await start_bots(n_bots, nats_url, Path(tmp))
        try:
            front = bots[0]
            link = front.commands.fleet
            assert link is not None, "the fleet plugin attached no link"
            await wait_for(lambda: sum(m.alive for m in link.members()) == n_bots, 60, f"{n_bots} bots on NATS")
            times: dict[str, list[float]] = {"all": [], "alone": []}
            for i in range(count + 5):  # the first 5 warm up (connections, caches) and are not counted
                for key, args in (("all", ["all"]), ("alone", [])):
                    t0 = time.perf_counter()
                    reply = await front.commands.dispatch(CALLER, "status", args)
                    took = time.perf_counter() - t0
                    assert reply.ok, reply.render_text()
                    if key == "all":
                        text = reply.render_text()
                        assert all(bot.name in text for bot in bots), text
                    if i >= 5:
                        times[key].append(took * 1000)
        finally:
            for bot in bots:
                await bot.stop()
    return {"p50": percentile(times["all"], 0.5), "p99": percentile(times["all"], 0.99),
            "alone_p50": percentile(times["alone"], 0.5), "alone_p99": percentile(times["alone"], 0.99)}


def sample_fill(i: int) -> dict:
    fill = Fill("cex", "SOL/USDC", f"arb-k1a2b.{i}-1", f"T{i}", Side.BUY, Decimal("150.12"), Decimal("1.5"),
                Decimal("0.2251800"), "USDC", Liquidity.TAKER, time.time_ns())
    return {"strategy": "arb", **to_data(fill)}


async def event_rate(count: int, nats_url: str) -> dict[str, float]:
    """(b): ``count`` fill events through one bot's fleet link, and the same payloads through nats-py alone."""
    import nats

    received = 0

    async def on_event(msg) -> None:
        nonlocal received
        received += 1

    nc = await nats.connect(nats_url)
    try:
        await nc.subscribe("arbot.bench-00.evt.fill", cb=on_event)
        await nc.subscribe("bench.raw", cb=on_event)
        await nc.flush()
        with tempfile.TemporaryDirectory() as tmp:
            [bot] = await start_bots(1, nats_url, Path(tmp), buffer_max=count + 1)
            try:
                link = bot.commands.fleet
                assert link is not None
                await wait_for(lambda: link.stats()["connected"], 30, "the bot on NATS")
                fills = [sample_fill(i) for i in range(count)]
                c0, t0 = time.process_time(), time.perf_counter()
                for data in fills:
                    link.publish("fill", data)
                await wait_for(lambda: received >= count, 120, "every event at the subscriber")
                bus_s, bus_cpu = time.perf_counter() - t0, time.process_time() - c0
                assert link.stats()["dropped"] == 0
            finally:
                await bot.stop()
        payloads = [json.dumps({"bot": "bench-00", "kind": "fill", "seq": i, "ts": 0, "data": data}).encode()
                    for i, data in enumerate(fills)]
        received = 0
        c0, t0 = time.process_time(), time.perf_counter()
        for payload in payloads:
            await nc.publish("bench.raw", payload)
        await wait_for(lambda: received >= count, 120, "every raw message at the subscriber")
        raw_s, raw_cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        await nc.close()
    return {"per_s": count / bus_s, "cpu_us": bus_cpu / count * 1e6, "raw_per_s": count / raw_s,
            "raw_cpu_us": raw_cpu / count * 1e6}


def tick_to_decision(frames_n: int, nats_url: str) -> dict[str, dict[str, float]]:
    """(c): benchmarks/arb.py's tick->decision, fleet bus off then on, the same frames."""
    arb = load_module("arb_benchmark", ROOT / "benchmarks" / "arb.py")
    frames = arb.generate(frames_n, 5)
    plain = arb.CONFIG
    extra = arb.arb_unless_installed() + fleet_unless_installed()
    arb.load_with_arb = lambda: load_plugins(extra=extra, report=lambda info, message: None)
    out = {}
    for label, config in (("off", plain), ("on", plain + f'[plugins.fleet]\nenabled = true\nnats_url = "{nats_url}"\n'
                                                         'jetstream = true\nbuffer_max = 1000000\n')):
        arb.CONFIG = config
        wall, facts = asyncio.run(arb.through_strategy(frames, 20, 0))
        cpu = facts["cpu_ns"]
        out[label] = {"p50": percentile(wall, 0.5) / 1000, "p99": percentile(wall, 0.99) / 1000,
                      "cpu_p50": percentile(cpu, 0.5) / 1000, "cpu_p99": percentile(cpu, 0.99) / 1000,
                      "opportunities": facts.get("opportunities"), "executed": facts.get("executed")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=200, help="/status all per fleet size (default 200)")
    parser.add_argument("--events", type=int, default=20_000, help="events through one bot's link (default 20,000)")
    parser.add_argument("--frames", type=int, default=20_000, help="Kraken frames for tick->decision (default 20,000)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the bots' start and stop lines are not the figures
    try:
        nats_server_binary()
    except RuntimeError as exc:
        sys.exit(str(exc))

    with tempfile.TemporaryDirectory(prefix="arbot-fleet-bench.") as tmp:
        server = NatsServer(Path(tmp) / "nats")

        async def measure() -> tuple[dict, dict, dict]:
            server.start()
            try:
                three = await round_trips(3, args.round_trips, server.url)
                twenty = await round_trips(20, args.round_trips, server.url)
                events = await event_rate(args.events, server.url)
            finally:
                server.close()
            return three, twenty, events

        three, twenty, events = asyncio.run(measure())
        server.start()
        try:
            ticks = tick_to_decision(args.frames, server.url)
        finally:
            server.close()

    print("bots: fleet plugin on real nats-server (JetStream on), in this one process (no venue, no strategy)")
    for label, fig in (("3 bots", three), ("20 bots", twenty)):
        print(f"/status all, {label:<7}: p50 {fig['p50']:7.2f} ms  p99 {fig['p99']:7.2f} ms   "
              f"(baseline /status on the front alone: p50 {fig['alone_p50']:.2f} ms  p99 {fig['alone_p99']:.2f} ms; "
              f"{args.round_trips} each)")
    print(f"events through one bot's fleet link: {events['per_s']:,.0f} events/s ({events['cpu_us']:.1f} us CPU "
          f"each, bot and subscriber)   baseline nats-py alone: {events['raw_per_s']:,.0f} msgs/s "
          f"({events['raw_cpu_us']:.1f} us CPU each)")
    off, on = ticks["off"], ticks["on"]
    print(f"arb tick->decision, {args.frames:,} Kraken frames, thread CPU time: fleet bus off "
          f"p50 {off['cpu_p50']:.1f} us  p99 {off['cpu_p99']:.1f} us | on "
          f"p50 {on['cpu_p50']:.1f} us  p99 {on['cpu_p99']:.1f} us "
          f"(wall p99 off {off['p99']:.1f} us, on {on['p99']:.1f} us; opportunities {off['opportunities']} / "
          f"{on['opportunities']})")
    print(f"RESULT fleet status_all_3_p50_ms={three['p50']:.2f} status_all_3_p99_ms={three['p99']:.2f} "
          f"status_all_20_p50_ms={twenty['p50']:.2f} status_all_20_p99_ms={twenty['p99']:.2f} "
          f"status_alone_p50_ms={three['alone_p50']:.2f} events_per_s={events['per_s']:.0f} "
          f"raw_nats_msgs_per_s={events['raw_per_s']:.0f} tick_cpu_p99_us_bus_off={off['cpu_p99']:.1f} "
          f"tick_cpu_p99_us_bus_on={on['cpu_p99']:.1f} tick_p99_us_bus_off={off['p99']:.1f} "
          f"tick_p99_us_bus_on={on['p99']:.1f}")


if __name__ == "__main__":
    main()
