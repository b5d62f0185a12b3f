"""Chat round trips: ``/status`` through python-telegram-bot and a fake Bot API, and alert throughput.

A real Bot (paper venue, one grid strategy, store on a temporary SQLite file) runs the
``telegram`` notifier against the fake Bot API of the test suite on 127.0.0.1. Each round trip
enqueues one ``/status`` update (the fake wakes PTB's pending long poll), and ends when the fake
receives the bot's sendMessage: long poll answer, PTB update processing, the command layer (role,
rate limit, handler, audit row), HTML rendering, and the sendMessage request.

Baseline, in the same run: ``CommandTable.dispatch`` of ``/status`` alone (the command layer
with its audit row, no transport), so the transport's share is visible.

Alert throughput: distinct alerts emitted at once, timed until the fake has every message; once
with the send rate opened up (the transport's capacity) and once with Telegram's own limit
(``max_messages_per_s = 30``, what a real deployment runs with). The alert chat is a private
one: to a group, Telegram allows (and the plugin sends) 20 messages a minute.

    python benchmarks/chat.py [--round-trips 300] [--alerts 500]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.api import Caller  # noqa: E402
from bot.app import Bot  # noqa: E402
from bot.config import build_config, parse_toml, resolve_secrets  # noqa: E402
from bot.domain import AlertLevel  # noqa: E402
from bot.plugins import collect, load_plugins  # noqa: E402
from tests.fakes.telegram_api import FakeBotAPI  # noqa: E402

TOKEN = "123456:BENCH-token-for-the-fake-api"
ADMIN, ALERTS = 1001, 2002
"""ALERTS is a private chat: PTB's limiter holds a *group* chat to Telegram's 20 messages a minute."""

CONFIG = """
[bot]
data_dir = "{data_dir}"
control_socket = ""
[commands]
per_user_per_min = 1000000
[exchanges.paper]
tick_interval_ms = 0
state_file = ""
[strategies.btc-grid]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "28500"
upper = "31500"
levels = 21
order_size = "0.01"
[notifiers.tg]
type = "telegram"
token = "env:ARBOT_BENCH_TG_TOKEN"
base_url = "{base_url}"
users = {{ {admin} = "admin" }}
alert_chats = {{ {alerts} = "all -bot" }}
min_level = "info"
max_messages_per_s = {rate}
"""


async def start_bot(api: FakeBotAPI, data_dir: str, rate: float) -> Bot:
    text = CONFIG.format(data_dir=data_dir, base_url=api.base_url, admin=ADMIN, alerts=ALERTS, rate=rate)
    plugins = load_plugins()
    registry = collect(plugins)
    config = build_config(parse_toml(text, "bench.toml"), registry, "bench.toml")
    resolve_secrets(config)
    bot = Bot(config, plugins, registry)
    await bot.start()
    return bot


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return {"p50_ms": statistics.median(ms), "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
            "mean_ms": statistics.fmean(ms)}


async def status_round_trips(api: FakeBotAPI, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await api.command(ADMIN, "/status")
        reply = await api.next_message(ADMIN)
        samples.append(time.perf_counter() - start)
        assert reply["text"].startswith("<pre>Status"), reply["text"]
    return samples


async def dispatch_alone(bot: Bot, n: int) -> list[float]:
    caller = Caller("bench", str(ADMIN), "admin", "1")
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        reply = await bot.commands.dispatch(caller, "status", [])
        samples.append(time.perf_counter() - start)
        assert reply.ok
    return samples


async def alert_throughput(bot: Bot, api: FakeBotAPI, n: int, tag: str) -> float:
    def delivered() -> int:
        return sum(1 for m in api.messages_to(ALERTS) if m["text"].startswith(f"ℹ️ [bench] {tag}"))

    start = time.perf_counter()
    for i in range(n):
        bot.alert(AlertLevel.INFO, "fill", f"{tag} {i}", source="bench", qty="0.01 BTC")
    await api.wait(lambda: delivered() == n, timeout_s=n)  # each sendMessage wakes the waiter
    return n / (time.perf_counter() - start)


def phase(what: str) -> None:
    print(f"... {what}", file=sys.stderr, flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=300)
    parser.add_argument("--alerts", type=int, default=500)
    parser.add_argument("--limited-alerts", type=int, default=120)
    args = parser.parse_args()
    os.environ["ARBOT_BENCH_TG_TOKEN"] = TOKEN
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    api = await FakeBotAPI(TOKEN).start()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            bot = await start_bot(api, data_dir, rate=1_000_000)
            try:
                phase("warm-up")
                await status_round_trips(api, 20)  # warm-up: connections, caches
                await dispatch_alone(bot, 20)
                phase("/status round trips")
                telegram = percentiles(await status_round_trips(api, args.round_trips))
                baseline = percentiles(await dispatch_alone(bot, args.round_trips))
                phase("alerts, send rate opened up")
                open_rate = await alert_throughput(bot, api, args.alerts, "open")
            finally:
                await bot.stop()
        with tempfile.TemporaryDirectory() as data_dir:
            bot = await start_bot(api, data_dir, rate=30)
            try:
                phase("alerts, Telegram's limit")
                limited_rate = await alert_throughput(bot, api, args.limited_alerts, "limited")
            finally:
                await bot.stop()
    finally:
        await api.close()

    print(f"/status through python-telegram-bot + fake Bot API ({args.round_trips} round trips):")
    print(f"  p50 {telegram['p50_ms']:.2f} ms   p99 {telegram['p99_ms']:.2f} ms   mean {telegram['mean_ms']:.2f} ms")
    print("baseline, CommandTable.dispatch('status') alone (roles, handler, audit row):")
    print(f"  p50 {baseline['p50_ms']:.2f} ms   p99 {baseline['p99_ms']:.2f} ms   mean {baseline['mean_ms']:.2f} ms")
    print(f"  the transport adds {telegram['p50_ms'] - baseline['p50_ms']:.2f} ms at p50")
    print(f"alerts delivered to the fake: {open_rate:.0f}/s with the send rate opened up ({args.alerts} alerts), "
          f"{limited_rate:.1f}/s under Telegram's 30 messages/s ({args.limited_alerts} alerts)")
    print(f"RESULT chat round_trips={args.round_trips} status_p50_ms={telegram['p50_ms']:.2f} "
          f"status_p99_ms={telegram['p99_ms']:.2f} dispatch_p50_ms={baseline['p50_ms']:.3f} "
          f"dispatch_p99_ms={baseline['p99_ms']:.3f} alerts_per_s={open_rate:.0f} "
          f"alerts_per_s_telegram_limit={limited_rate:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
