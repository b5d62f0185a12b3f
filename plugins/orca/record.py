"""Recording and replay of Orca pools: the ``recorder`` capability of :class:`~.exchange.OrcaExchange`.

``arbot record --exchange orca [--config FILE] --symbol SOL/USDC --out pools.jsonl`` runs the live
exchange itself (its RPC reads, ``accountSubscribe`` and tick-array window) and writes each thing
it took in, in order, as one recording line ``{"ts_ns": <receive time>, "raw": <JSON text>}``:

* first a header ``{"orca": {"pools": {...}, "tokens": {...}, "tick_arrays_each_side": N}}`` (the
  settings that say which accounts are which: the recording is self-contained);
* ``{"account": ADDRESS, "notification": "<the accountNotification frame, as received>"}`` (slot and
  data inside it, exactly as the node sent them);
* ``{"account": ADDRESS, "slot": N, "data": "<base64 as read>" | null}`` for each account read with
  ``getMultipleAccounts`` (at every (re)connection and for each new tick array);
* ``{"window": SYMBOL, "arrays": {START: ADDRESS}}`` when the watched tick arrays change,
  ``{"decimals": {MINT: N}}`` when mint decimals were read, ``{"transfer_fees": {MINT: [[EPOCH, MAXIMUM_FEE,
  BASIS_POINTS], ...]}}`` with the Token-2022 transfer fees the quotes pay (at each read of the mints),
  ``{"feed": SYMBOL, "state": ..., "reason": ...}`` for each feed state and ``{"published": SYMBOL}`` where the
  live venue published its pool.

Replay (``arbot replay --exchange orca FILE``, and :meth:`OrcaRecorder.market_events` for a
``paper-dex`` with ``market = "recording"``) runs the account data through the same decoding and
model code (:class:`~.watch.PoolWatch`: ``decode_whirlpool``, ``decode_tick_array``,
``WhirlpoolModel``; notifications parsed by the subscriber's own parser) and yields a ``PoolUpdate``
at each point the live venue published one: the same pool states, at their receive times.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
import logging
import time
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any

from arbotlib.amm.whirlpool.accounts import AccountDecodeError
from arbotlib.amm.whirlpool.transfer_fee import TransferFee
from arbotlib.solana.ws import parse_account_notification
from bot.api import FeedState, FeedStatus, PoolUpdate
from bot.api.kit import FrameSink, RecordOptions

from .settings import OrcaSettings
from .watch import PoolConfigError, PoolWatch, pool_watches

log = logging.getLogger("arbot.exchange.orca.record")
EXCHANGE = "orca"


def _settings(options: RecordOptions) -> OrcaSettings:
    settings = options.settings if isinstance(options.settings, OrcaSettings) else OrcaSettings()
    if options.ws_url:
        settings = dataclasses.replace(settings, ws_urls=[options.ws_url])
    if options.symbols:
        unknown = [s for s in options.symbols if s not in settings.pools]
        if unknown:
            raise ValueError(f"no Whirlpool configured for {', '.join(unknown)} (configured: "
                             f"{', '.join(settings.pools)}); give --config with [exchanges.NAME] pools")
        settings = dataclasses.replace(settings, pools={s: settings.pools[s] for s in options.symbols})
    return settings


def header(settings: OrcaSettings) -> dict[str, Any]:
    """The first line of a recording: what the venue watches, so the accounts can be told apart."""
    return {"orca": {"pools": dict(settings.pools), "tokens": dict(settings.tokens),
                     "tick_arrays_each_side": settings.tick_arrays_each_side}}


class RecordedPools:
    """Pool states rebuilt from a recording's lines, with the decoding and model code of the live venue."""

    def __init__(self, symbols: Iterable[str] = ()):
        self.symbols = set(symbols)
        self.pools: dict[str, PoolWatch] = {}
        self._owners: dict[str, tuple[PoolWatch, int | None]] = {}
        self.lines = 0
        self.accounts = 0
        """Account data taken in (reads and notifications)."""
        self.notifications = 0
        self.published = 0
        self.bad_accounts = 0

    def take(self, entry: dict[str, Any], ts_ns: int) -> PoolUpdate | FeedStatus | None:
        """Apply one recorded line; the event the live venue published at that point, if any."""
        self.lines += 1
        if "orca" in entry:
            self._header(entry["orca"])
            return None
        if not self.pools:
            raise ValueError("the recording does not start with an orca header line")
        if "account" in entry:
            address = entry["account"]
            if "notification" in entry:
                self.notifications += 1
                _, slot, data = parse_account_notification(json.loads(entry["notification"]))
                self._apply(address, data, slot)
            else:
                raw = entry["data"]
                self._apply(address, None if raw is None else base64.b64decode(raw, validate=True), int(entry["slot"]))
            return None
        if "window" in entry:
            pool = self.pools[entry["window"]]
            window = {int(start): address for start, address in entry["arrays"].items()}
            _, removed = pool.set_window(window)
            for start, address in window.items():
                self._owners[address] = (pool, start)
            for address in removed:
                self._owners.pop(address, None)
            return None
        if "decimals" in entry:
            found = {mint: int(n) for mint, n in entry["decimals"].items()}
            for pool in self.pools.values():
                pool.base_decimals = found.get(pool.base_mint, pool.base_decimals)
                pool.quote_decimals = found.get(pool.quote_mint, pool.quote_decimals)
            return None
        if "transfer_fees" in entry:
            fees = {mint: tuple(TransferFee(*map(int, fee)) for fee in charged)
                    for mint, charged in entry["transfer_fees"].items()}
            for pool in self.pools.values():
                pool.set_transfer_fees(fees)
            return None
        if "published" in entry:
            pool = self.pools[entry["published"]]
            if not pool.ready:
                raise ValueError(f"{pool.symbol}: published at a point where its accounts are incomplete")
            self.published += 1
            return PoolUpdate(EXCHANGE, pool.symbol, pool.model(), ts_ns, pool.slot) if self._wanted(pool.symbol) \
                else None
        if "feed" in entry:
            symbol = entry["feed"]
            return FeedStatus(EXCHANGE, symbol, FeedState(entry["state"]), ts_ns, str(entry.get("reason", ""))) \
                if self._wanted(symbol) else None
        raise ValueError(f"not an orca recording line: keys {sorted(entry)}")

    def _wanted(self, symbol: str) -> bool:
        return not self.symbols or symbol in self.symbols

    def _header(self, head: dict[str, Any]) -> None:
        settings = OrcaSettings(pools=dict(head["pools"]), tokens=dict(head["tokens"]),
                                tick_arrays_each_side=int(head["tick_arrays_each_side"]))
        unknown = sorted(self.symbols - set(settings.pools))
        if unknown:
            raise ValueError(f"the recording has no pool for {', '.join(unknown)} (it has "
                             f"{', '.join(settings.pools)})")
        self.pools = pool_watches(settings)
        self._owners = {pool.address: (pool, None) for pool in self.pools.values()}

    def _apply(self, address: str, data: bytes | None, slot: int) -> None:
        """As :meth:`OrcaExchange._apply`: undecodable data is counted and the state held for it dropped."""
        owner = self._owners.get(address)
        if owner is None:
            return
        self.accounts += 1
        pool, start = owner
        try:
            if start is None:
                if data is None:
                    raise PoolConfigError(f"{pool.symbol}: whirlpool account {address} does not exist")
                pool.apply_whirlpool(data, slot)
            else:
                pool.apply_tick_array(start, data, slot)
        except AccountDecodeError as exc:
            self.bad_accounts += 1
            pool.forget(start, slot)
            log.debug("recorded account %s at slot %d did not decode: %s", address, slot, exc)


def _events(pools: RecordedPools, frames: Iterable[tuple[int, str]]) -> Iterator[PoolUpdate | FeedStatus | None]:
    """Each frame taken in by ``pools``, lazily: the event the live venue published there, if any.

    ValueError for a frame that is not an orca recording line, raised while that frame is the one read:
    the reader names the file's line (``arbot replay``, the paper-dex's playback)."""
    for ts_ns, raw in frames:
        try:
            entry = json.loads(raw)
        except ValueError:
            raise ValueError("its raw field is not JSON (not an orca recording?)") from None
        if not isinstance(entry, dict):
            raise ValueError("not an orca recording line")
        try:
            event = pools.take(entry, ts_ns)
        except binascii.Error:
            raise ValueError("malformed orca line: its account data is not base64") from None
        except json.JSONDecodeError:
            raise ValueError("malformed orca line: its notification is not JSON") from None
        except (KeyError, TypeError, AttributeError) as exc:  # a field missing, or of the wrong kind
            raise ValueError(f"malformed orca line ({type(exc).__name__}: {exc})") from None
        yield event


class OrcaRecorder:
    """``Exchange.recorder`` for Orca: records with the live :class:`OrcaExchange`, replays with :class:`PoolWatch`."""

    async def record(self, options: RecordOptions, sink: FrameSink, stop: asyncio.Event) -> str:
        from .exchange import OrcaExchange

        settings = _settings(options)
        pools_published = 0

        def publish(event: Any) -> None:
            # counted, not kept: each event is already a line of the recording, and a recording left running
            # for days must hold no more than it did after its first minute
            nonlocal pools_published
            if isinstance(event, PoolUpdate):
                pools_published += 1

        ctx = SimpleNamespace(name=EXCHANGE, log=logging.getLogger("arbot.exchange.orca"),
                              clock=SimpleNamespace(time_ns=time.time_ns), bus=SimpleNamespace(publish=publish))
        exchange = OrcaExchange(EXCHANGE, settings, ctx)  # type: ignore[arg-type]
        lines = 0

        def write(entry: dict[str, Any]) -> None:
            nonlocal lines
            lines += 1
            sink(json.dumps(entry, separators=(",", ":")))

        exchange.tap = write
        write(header(settings))
        await exchange.start()
        try:
            await stop.wait()
        finally:
            await exchange.stop()
        return (f"messages={lines} pools_published={pools_published} bad_accounts={exchange.bad_accounts} "
                f"stale_notifications={exchange.stale_notifications} "
                f"markets={','.join(settings.pools)}")

    def market_events(self, frames: Iterable[tuple[int, str]], options: RecordOptions,
                      levels: int = 0) -> Iterator[PoolUpdate | FeedStatus]:  # fmt: skip
        """The PoolUpdates (and feed states) the live venue published, rebuilt from the recorded accounts;
        ``options.symbols`` limits the markets (empty: all). ``levels`` has no meaning for a pool."""
        for event in _events(RecordedPools(options.symbols), frames):
            if event is not None:
                yield event

    def replay(self, frames: Iterable[str], options: RecordOptions) -> str:
        """Rebuild the pools; one line of counters, then each pool's last state."""
        pools = RecordedPools(options.symbols)
        last: dict[str, PoolUpdate] = {}
        for event in _events(pools, ((0, frame) for frame in frames)):
            if isinstance(event, PoolUpdate):
                last[event.symbol] = event
        lines = [f"messages={pools.lines} accounts={pools.accounts} notifications={pools.notifications} "
                 f"pools_published={pools.published} bad_accounts={pools.bad_accounts}"]
        for symbol, update in sorted(last.items()):
            tick = getattr(update.pool, "tick", "-")  # a WhirlpoolModel's current tick
            lines.append(f"{symbol}: slot {update.slot} tick {tick} mid {update.pool.mid():.6f}")
        return "\n".join(lines)
