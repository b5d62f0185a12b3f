"""``arbot record`` and ``arbot replay`` for Kraken (added through the ``register_cli`` hook).

A recording is JSON lines, one per frame as received: ``{"ts_ns": <receive time>, "raw": "<frame
text>"}``. The raw text keeps every digit, and the ``instrument`` frames are recorded too, so a
file replays on its own through the very handler the live feed uses (:class:`KrakenBooks`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from .book import KrakenBooks
from .feed import KrakenFeed
from .settings import DEPTHS, KrakenSettings

DEFAULT_WS = KrakenSettings.__dataclass_fields__["ws_url"].default


def register(add) -> None:
    record = add("record", cmd_record, help="record an exchange's raw market data frames to a JSONL file")
    record.add_argument("--exchange", required=True, choices=["kraken"], help="venue to record")
    record.add_argument("--symbol", required=True, action="append", help='market, e.g. "BTC/USD" (repeatable)')
    record.add_argument("--out", required=True, help="JSONL file to append to")
    record.add_argument("--depth", type=int, default=10, choices=DEPTHS, help="book depth to subscribe")
    record.add_argument("--ws-url", default=DEFAULT_WS, help="WebSocket v2 endpoint")
    record.add_argument("--for", dest="seconds", type=float, help="stop after this many seconds")
    record.add_argument("--messages", type=int, help="stop after this many frames")

    replay = add("replay", cmd_replay, help="run a recording through the exchange plugin's book code")
    replay.add_argument("--exchange", required=True, choices=["kraken"], help="venue the file was recorded from")
    replay.add_argument("file", help="JSONL recording")
    replay.add_argument("--depth", type=int, choices=DEPTHS,
                        help="book depth (default: from the recorded subscription answer, else 10)")


# --- record ----------------------------------------------------------------------------------------


def frame_line(frame: str | bytes, ts_ns: int) -> str:
    text = frame if isinstance(frame, str) else frame.decode("utf-8", errors="replace")
    return json.dumps({"ts_ns": ts_ns, "raw": text}) + "\n"


async def record(url: str, symbols: list[str], depth: int, out: TextIO, *, seconds: float | None = None,
                 messages: int | None = None, stop: asyncio.Event | None = None) -> KrakenBooks:
    """Record frames until ``seconds`` pass, ``messages`` frames arrived, or ``stop`` is set."""
    stop = stop or asyncio.Event()
    books = KrakenBooks(depth, symbols=symbols)
    feed = KrakenFeed(url, symbols, depth, books, silence_timeout_s=5.0, reconnect_initial_s=0.25,
                      reconnect_max_s=30.0, on_state=lambda symbol, state, reason: None)
    count = 0

    def sink(frame: str | bytes) -> None:
        nonlocal count
        out.write(frame_line(frame, time.time_ns()))
        count += 1
        if messages is not None and count >= messages:
            stop.set()

    feed.frame_sink = sink
    task = asyncio.ensure_future(feed.run())
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
    finally:
        await feed.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        out.flush()
    return books


def cmd_record(args: argparse.Namespace) -> int:
    async def main() -> KrakenBooks:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with open(args.out, "a", encoding="utf-8") as out:
            return await record(args.ws_url, args.symbol, args.depth, out, seconds=args.seconds,
                                messages=args.messages, stop=stop)

    books = asyncio.run(main())
    print(summary(books), file=sys.stderr)
    return 0


# --- replay ----------------------------------------------------------------------------------------


def read_frames(path: Path) -> Iterable[str]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)["raw"]


def recorded_depth(path: Path) -> int | None:
    """The depth the recording subscribed with, from Kraken's answer to the book subscription."""
    for raw in read_frames(path):
        if '"method"' in raw and '"book"' in raw:
            try:
                message = json.loads(raw)
                result = message.get("result") or {}
                if result.get("channel") == "book" and "depth" in result:
                    return int(result["depth"])
            except (ValueError, AttributeError, TypeError):
                continue
    return None


def replay(path: Path, depth: int) -> KrakenBooks:
    books = KrakenBooks(depth)
    for raw in read_frames(path):
        books.handle(raw)
    return books


def summary(books: KrakenBooks, top: int = 5) -> str:
    c = books.counters
    lines = [f"messages={c.messages} checksum_ok={c.checksum_ok} checksum_failed={c.checksum_failed} "
             f"resyncs={c.resyncs}"]
    for symbol, sb in sorted(books.books.items()):
        bids, asks = sb.levels(top)
        lines.append(f"{symbol} (synced: {'yes' if sb.synced else 'no'})")
        lines.append(f"  {'bid qty':>20} {'bid':>14} | {'ask':<14} {'ask qty':<20}")
        for i in range(max(len(bids), len(asks))):
            bq, bp = (str(bids[i][1]), str(bids[i][0])) if i < len(bids) else ("", "")
            ap, aq = (str(asks[i][0]), str(asks[i][1])) if i < len(asks) else ("", "")
            lines.append(f"  {bq:>20} {bp:>14} | {ap:<14} {aq:<20}")
    return "\n".join(lines)


def cmd_replay(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.exists():
        print(f"arbot: {path}: no such file", file=sys.stderr)
        return 2
    depth = args.depth or recorded_depth(path) or 10
    print(summary(replay(path, depth)))
    return 0
