"""Kraken's nonce state file is written off the event loop, and no nonce leaves before its reservation is on disk."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from bot.api import TransientError
from bot.api.kit import TokenBucket
from plugins.kraken.rest import NONCE_RESERVE_US, KrakenRest, NonceFile, key_digest
from tests.fakes.kraken import API_KEY, API_SECRET

SLOW_FSYNC_S = 0.3


class SlowDisk(NonceFile):
    """A nonce file on a slow disk (an fsync that takes ``SLOW_FSYNC_S``); it notes the thread of each write."""

    def __init__(self, path, fail: bool = False):
        super().__init__(path)
        self.fail = fail
        self.threads: list[int] = []

    def reserve(self, key_id: str, nonce: int) -> None:
        self.threads.append(threading.get_ident())
        time.sleep(SLOW_FSYNC_S)
        if self.fail:
            raise OSError("disk full")
        super().reserve(key_id, nonce)


def rest_on(fake_rest, state: NonceFile) -> KrakenRest:
    return KrakenRest(fake_rest.url, API_KEY, API_SECRET, timeout_s=2, bucket=TokenBucket(1000, 100),
                      rate_limit_pause_s=1, time_ns=time.time_ns, nonce_file=state)


async def test_the_nonce_reservation_is_written_off_the_event_loop(fake_rest, tmp_path):
    state = SlowDisk(tmp_path / "kraken-nonces.json")
    rest = rest_on(fake_rest, state)
    ticks: list[float] = []

    async def heartbeat() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    beat = asyncio.get_running_loop().create_task(heartbeat())
    try:
        await asyncio.sleep(0.02)
        await rest.private("Balance")  # the first call reserves a minute of nonces: one write
    finally:
        beat.cancel()
        await rest.close()
    assert state.threads and threading.get_ident() not in state.threads  # before: written on the loop's thread
    assert max(b - a for a, b in zip(ticks, ticks[1:], strict=False)) < SLOW_FSYNC_S / 2  # the loop kept running
    used = int(fake_rest.log[-1][2]["nonce"])
    assert json.loads(state.path.read_text())[key_digest(API_KEY)] == used + NONCE_RESERVE_US  # on disk before use


async def test_a_nonce_whose_reservation_was_not_written_is_never_sent(fake_rest, tmp_path):
    state = SlowDisk(tmp_path / "kraken-nonces.json", fail=True)
    rest = rest_on(fake_rest, state)
    sent = len(fake_rest.log)
    try:
        with pytest.raises(TransientError, match="nonce state"):
            await rest.private("Balance")
    finally:
        await rest.close()
    assert len(fake_rest.log) == sent and not state.path.exists()
