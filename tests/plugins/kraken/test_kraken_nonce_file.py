"""Kraken's nonce state file is read and written off the event loop, and no nonce leaves before its reservation is
on disk."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from bot.api import PermanentError, TransientError
from bot.api.kit import TokenBucket
from plugins.kraken.rest import NONCE_RESERVE_US, KrakenRest, NonceFile, key_digest
from tests.fakes.kraken import API_KEY, API_SECRET

SLOW_FSYNC_S = 0.3


class SlowDisk(NonceFile):
    """A nonce file on a slow disk (an fsync, a read, that takes ``SLOW_FSYNC_S``); it notes the thread of each write
    and each read."""

    def __init__(self, path, fail: bool = False):
        super().__init__(path)
        self.fail = fail
        self.threads: list[int] = []
        self.read_threads: list[int] = []

    def reserved(self, key_id: str) -> int:
        self.read_threads.append(threading.get_ident())
        time.sleep(SLOW_FSYNC_S)
        return super().reserved(key_id)

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


async def test_the_nonce_reservation_is_read_off_the_event_loop_at_start_and_after_a_key_rotation(fake_rest, tmp_path):
    """The file may sit on a slow or stalled disk (network storage): reading it must not stop the loop, the
    venue's feed and the other venues' orders with it."""
    state = SlowDisk(tmp_path / "kraken-nonces.json")
    state.reserve(key_digest(API_KEY), 10**18)  # an earlier run reserved far ahead of the clock
    state.threads.clear()
    rest = rest_on(fake_rest, state)  # before: read here, on the loop, by the constructor
    try:
        assert state.read_threads == []
        await rest.load_nonces()  # what the exchange's start awaits: an unreadable file still stops the start
        assert state.read_threads and threading.get_ident() not in state.read_threads
        await rest.private("Balance")
        assert int(fake_rest.log[-1][2]["nonce"]) == 10**18 + 1  # past what the earlier run reserved
        reads = len(state.read_threads)
        state.reserve(key_digest(API_KEY), 2 * 10**18)  # the key rotated back to one another run reserved ahead
        rest.use_credentials(API_KEY, API_SECRET)  # before: read here, on the loop
        assert len(state.read_threads) == reads
        await rest.private("Balance")
        assert len(state.read_threads) == reads + 1 and threading.get_ident() not in state.read_threads
        assert int(fake_rest.log[-1][2]["nonce"]) == 2 * 10**18 + 1
    finally:
        await rest.close()


async def test_an_unreadable_nonce_file_still_stops_the_start(fake_rest, tmp_path):
    state = NonceFile(tmp_path / "kraken-nonces.json")
    state.path.write_text("{not json")
    rest = rest_on(fake_rest, state)
    try:
        with pytest.raises(PermanentError, match="nonce state .* unreadable"):
            await rest.load_nonces()
    finally:
        await rest.close()
    assert fake_rest.log == []
