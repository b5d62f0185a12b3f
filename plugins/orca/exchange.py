"""Orca Whirlpools as an arbot Exchange: live pool states on the bus, no orders.

**A market-data (pool state) source.** For each configured market the exchange loads the
Whirlpool account and the tick arrays around its current tick (the array holding the tick and
``tick_arrays_each_side`` on each side; addresses are the program's PDAs, seeds
``[b"tick_array", whirlpool, str(start_tick_index)]``), watches them all with ``accountSubscribe``,
and on every change publishes a :class:`~bot.domain.PoolUpdate` whose pool is a
:class:`~arbotlib.amm.whirlpool.model.WhirlpoolModel` (exact concentrated-liquidity quotes, no I/O). When
the current tick moves into another array the window moves with it: the new arrays are
subscribed first, then read, then the old ones unsubscribed; the pool is published again once
every array of the new window is known.

**Orders go through Jupiter.** Placing a swap on a Whirlpool directly would mean building Orca's
swap instruction (token accounts, tick-array accounts, SOL wrapping) ourselves; the ``jupiter``
exchange already signs, sends, confirms and never re-signs a swap, and with ``dexes =
["Whirlpool"]`` its routes stay on Orca. So every order method here raises
:class:`~bot.api.PermanentError` saying so, ``simulated`` is False, and :meth:`balances` returns
``{}`` (this exchange holds no wallet). An arbitrage strategy prices from this exchange's
PoolUpdates (its ``pool`` setting) and swaps on ``jupiter``.

**Feed states**, per market: RESYNCING while the accounts are (re-)read, LIVE once they are,
STALE as soon as the WebSocket connection is lost or goes silent (``silence_timeout_s``). Every
(re)connection re-reads every watched account with ``getMultipleAccounts`` (a notification may
have been missed meanwhile), and a malformed notification also triggers a re-read. Account data
that does not decode (wrong size or discriminator, fields that do not hold together) is logged and
counted in ``bad_accounts``: the account has changed into something unreadable, so the state held
for it is dropped and the market goes STALE (never quoted from a state the chain has left); from a
notification, every account is read again, and the market is LIVE again as soon as its accounts
decode (at that read, or at the next good update). The feed stays up. A
notification from a slot older than the state held (a lagging node; a read answered later) is
dropped unread and counted in ``stale_notifications``. ``status()`` shows both counters and the
subscriber's malformed ones, and the feed's gaps: connections lost (``reconnects``) and the full re-reads done
(``resyncs``). When a read
finds an account of the window undecodable with no good state to keep, that market stays STALE
(a pool is never quoted without its ticks) until the account decodes. Both tick-array layouts
decode: the fixed-size ``TickArray`` and Orca's newer variable-size ``DynamicTickArray``.

**Quotes pay what a swap costs.** A pool with an adaptive fee is refused (a configuration error naming it: its swaps
pay more than its ``fee_rate``, by how much depends on the price's recent volatility); the mints are read at every
resync and again every ``mint_refresh_s`` (with the epoch, ``getEpochInfo``), and a Token-2022 mint's transfer fee
(the one charged in the current epoch, and a change already scheduled until its epoch comes; from then on the newer
fee alone) is withheld in the quotes from what reaches the pool and from what reaches the trader: a fee scheduled
since the last read, or the newer fee's epoch reached, re-publishes the pools it changes. A quote never
needs more than the three tick arrays one swap instruction crosses, whatever ``tick_arrays_each_side`` loads.

**Quiet pools are proven current.** A node sends nothing while the watched accounts do not change, so a quiet pool
would look as old as its last trade, and a feed status is no market data (the ``staleness`` check counts only pool
states). A LIVE pool with no published state for ``confirm_after_s`` is read again (``getMultipleAccounts``); when
the read is at a slot at least as recent as the state held, the state is current as of that read and is published
again with the read's time and slot (a change the subscription missed is published the same way). Each pool is read
on its own: a read that fails, or finds the whirlpool gone, publishes nothing for that pool (its data then ages and
goes stale, as it should) and holds up no other; the next period tries again. The venue's lock is not held while the
read waits on the node (up to ``request_timeout_s``): a resync or a window move goes ahead meanwhile, and the read's
answer is applied under the lock only if the connection and the pool's window are still those it read for, each
account only when newer than what is held (never rolling back what came in meanwhile), the pool published only when
the read is at least as recent as its whole state. The scheduled mint reads wait on the node unlocked too, and are
dropped when a resync read the mints meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from arbotlib.amm.whirlpool.accounts import AccountDecodeError, decode_mint_decimals
from arbotlib.amm.whirlpool.transfer_fee import TransferFee, TransferFeeConfig, decode_transfer_fee_config
from arbotlib.solana.rpc import MAX_MULTIPLE_ACCOUNTS, RpcError, SolanaRpc
from arbotlib.solana.ws import AccountSubscriber
from bot.api import (
    Balance,
    Context,
    Exchange,
    FeedState,
    FeedStatus,
    MarketInfo,
    Order,
    OrderState,
    PermanentError,
    PoolUpdate,
)
from bot.api.kit import add_url

from .record import OrcaRecorder
from .settings import OrcaSettings
from .watch import PoolConfigError, PoolWatch, pool_watches

NO_ORDERS = ("the orca exchange only publishes Whirlpool states; swap through the jupiter exchange "
             '(with dexes = ["Whirlpool"] to stay on Orca)')


class OrcaExchange(Exchange):
    """Whirlpool states from Solana RPC + ``accountSubscribe``, published as PoolUpdates."""

    Settings = OrcaSettings

    @classmethod
    def markets_of(cls, settings: OrcaSettings) -> list[str]:
        """The markets of its pools."""
        return list(settings.pools)
    simulated = False
    venue_kind = "pool"
    recorder = OrcaRecorder()

    def __init__(self, name: str, settings: OrcaSettings, ctx: Context):
        super().__init__(name, settings, ctx)
        self.pools: dict[str, PoolWatch] = pool_watches(settings)
        self._owners: dict[str, tuple[PoolWatch, int | None]] = {
            pool.address: (pool, None) for pool in self.pools.values()}
        """watched account -> (its pool, tick array start; None for the Whirlpool itself)."""
        self.states: dict[str, FeedState] = {}
        self.bad_accounts = 0
        """Account updates that did not decode (wrong size, discriminator, whirlpool)."""
        self.stale_notifications = 0
        """Account notifications from a slot older than the state held (a lagging node), dropped unread."""
        self.updates_published = 0
        self.reconnects = 0
        """Connections lost (dropped, refused a subscription, or silent for ``silence_timeout_s``): gaps in the feed,
        each one read over by a resync."""
        self.resyncs = 0
        """Full re-reads of every watched account completed (the first load, each reconnect, a malformed
        notification, an account that did not decode)."""
        self.rpc: SolanaRpc | None = None
        self.subscriber: AccountSubscriber | None = None
        self._lock = asyncio.Lock()
        self._generation = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._published_at: dict[str, float] = {}
        """symbol -> monotonic time its state was last published (changed or proven current)."""
        self._mint_reads = 0
        """Mint reads applied so far: a scheduled read answered after a resync's newer one is dropped."""
        self._undecoded: set[str] = set()
        """Markets left STALE by the last read because an account of theirs did not decode."""
        self.tap: Callable[[dict[str, Any]], None] | None = None
        """A recorder's sink (:mod:`.record`): each account read and notification as received, each
        tick-array window, feed state and published pool, in order. None (nothing recorded) in a bot."""

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        for url in (*s.rpc_urls, *s.ws_urls):  # providers put keys and passwords in these: masked in every log line
            add_url(url)
        self.rpc = SolanaRpc(s.rpc_urls, timeout_s=s.request_timeout_s, commitment=s.commitment)
        for symbol in self.pools:
            self.publish_feed_state(symbol, FeedState.RESYNCING, "loading the whirlpool")
        self.subscriber = AccountSubscriber(
            s.ws_urls, [pool.address for pool in self.pools.values()], self._on_account, commitment=s.commitment,
            reconnect_initial_s=s.reconnect_initial_s, reconnect_max_s=s.reconnect_max_s,
            silence_timeout_s=s.silence_timeout_s, on_connected=self._on_connected,
            on_disconnected=self._on_disconnected, on_malformed=self._on_malformed,
            on_frame=self._on_frame if self.tap is not None else None)
        await self.subscriber.start()
        if s.confirm_after_s > 0:
            self._spawn(self._confirm_quiet_pools(), "quiet pools")
        if s.mint_refresh_s > 0:
            self._spawn(self._refresh_mints(), "mint reads")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.start_timeout_s
        # strategies start after us and assume live pools: give the first load a chance
        while loop.time() < deadline and not all(self.states.get(sym) is FeedState.LIVE for sym in self.pools):
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.subscriber is not None:
            await self.subscriber.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.rpc is not None:
            await self.rpc.close()

    def _spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}: {what}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))

    def _done(self, task: asyncio.Task[None], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.ctx.log.error("%s %s failed: %s", self.name, what, task.exception(), exc_info=task.exception())

    # --- feed states ------------------------------------------------------------------------

    def publish_feed_state(self, symbol: str, state: FeedState, reason: str) -> None:
        """Publish a FeedStatus, once per change."""
        if self.states.get(symbol) is state:
            return
        self.states[symbol] = state
        if self.tap is not None:
            self.tap({"feed": symbol, "state": state.value, "reason": reason})
        self.ctx.log.info("%s %s feed %s: %s", self.name, symbol, state, reason)
        self.ctx.bus.publish(FeedStatus(self.name, symbol, state, self.ctx.clock.time_ns(), reason))

    def _on_connected(self) -> None:
        self._spawn(self._resync(self._generation, "subscribed"), "resync")

    def _on_disconnected(self, reason: str) -> None:
        self._generation += 1
        self.reconnects += 1
        for symbol in self.pools:
            self.publish_feed_state(symbol, FeedState.STALE, f"websocket lost: {reason}")

    def _on_malformed(self, reason: str) -> None:
        # an update may be lost in it: read every account again
        self._spawn(self._resync(self._generation, f"malformed notification ({reason})"), "resync")

    # --- account data -----------------------------------------------------------------------

    def _apply(self, address: str, data: bytes | None, slot: int, *, notified: bool = False) -> bool:
        """Apply one account's data; bad data is counted and logged, never raised.

        Bad data means the account changed into something this venue cannot read: the state held for it is
        dropped (:meth:`PoolWatch.forget`) and a LIVE market goes STALE, never quoted from a state the chain has
        left; from a notification (``notified``) for a market not already STALE for bad data, every account is read
        again (a garbled notification is then repaired at once); a read that finds it bad leaves the market STALE
        until good data comes, and further bad notifications for it are only counted (an account of a layout this
        venue cannot read may change at every swap: it must not have every account read at every swap)."""
        owner = self._owners.get(address)
        if owner is None:
            return False
        pool, start = owner
        try:
            if start is None:
                if data is None:
                    raise PoolConfigError(f"{pool.symbol}: whirlpool account {address} does not exist")
                return pool.apply_whirlpool(data, slot)
            return pool.apply_tick_array(start, data, slot)
        except AccountDecodeError as exc:
            self.bad_accounts += 1
            read_again = notified and pool.symbol not in self._undecoded
            self.ctx.log.warning("%s %s: bad account %s at slot %d (%d so far), its state dropped%s: %s",
                                 self.name, pool.symbol, address, slot, self.bad_accounts,
                                 ", reading every account again" if read_again else "", exc)
            pool.forget(start, slot)
            self._undecoded.add(pool.symbol)
            if self.states.get(pool.symbol) is FeedState.LIVE:
                self.publish_feed_state(pool.symbol, FeedState.STALE, f"account {address} did not decode")
            if read_again:
                self._spawn(self._resync(self._generation, f"bad account {address}"), "resync")
            return False

    def _on_frame(self, address: str, raw: str | bytes) -> None:
        if self.tap is not None:
            self.tap({"account": address, "notification": raw if isinstance(raw, str) else raw.decode()})

    def _on_account(self, address: str, data: bytes, slot: int) -> None:
        owner = self._owners.get(address)
        if owner is None:
            return
        pool, start = owner
        if pool.older_than_held(start, slot):
            # its content is older than what a read or a later notification gave: dropped, but counted
            self.stale_notifications += 1
            self.ctx.log.debug("%s %s: notification of %s at slot %d is older than the state held; dropped (%d so "
                               "far)", self.name, pool.symbol, address, slot, self.stale_notifications)
            return
        try:
            changed = self._apply(address, data, slot, notified=True)
        except PoolConfigError as exc:
            self.bad_accounts += 1
            self.ctx.log.error("%s: %s", self.name, exc)
            return
        if not changed:
            return
        if start is None and pool.window and pool.wanted_window().keys() != pool.window.keys():
            self._spawn(self._move_window(pool), f"{pool.symbol} tick arrays")
        elif self.states.get(pool.symbol) is FeedState.LIVE:
            self._publish(pool)
        elif not self._lock.locked():  # a resync or window move under way decides whether it is LIVE again
            self._publish_current(pool)

    def _publish_current(self, pool: PoolWatch) -> None:
        """Publish a LIVE pool; bring back LIVE (and publish) one left STALE by an account that did not decode, now
        that every account of its window has come in good on a connection that is up."""
        if self.states.get(pool.symbol) is FeedState.LIVE:
            self._publish(pool)
        elif (pool.symbol in self._undecoded and pool.ready and self.subscriber is not None
              and self.subscriber.connected.is_set()):
            self._undecoded.discard(pool.symbol)
            self.publish_feed_state(pool.symbol, FeedState.LIVE, "every account decoded")
            self._publish(pool)

    def _publish(self, pool: PoolWatch) -> None:
        if not pool.ready:
            return
        if self.tap is not None:
            self.tap({"published": pool.symbol})
        self.ctx.bus.publish(PoolUpdate(self.name, pool.symbol, pool.model(), self.ctx.clock.time_ns(), pool.slot))
        self.updates_published += 1
        self._published_at[pool.symbol] = time.monotonic()

    async def _confirm_quiet_pools(self) -> None:
        """Read again each LIVE pool with nothing published for ``confirm_after_s`` (see the module doc)."""
        period = self.settings.confirm_after_s
        while True:
            now = time.monotonic()
            live = [pool for pool in self.pools.values() if self.states.get(pool.symbol) is FeedState.LIVE]
            due = [pool for pool in live if now - self._published_at.get(pool.symbol, now) >= period]
            if due:
                await self._confirm(due)
            # monotonic time: a wall clock that jumps neither floods the node nor stops the reads
            next_due = min((self._published_at.get(pool.symbol, now) + period for pool in live), default=now + period)
            await asyncio.sleep(max(next_due - time.monotonic(), period / 10))

    async def _confirm(self, pools: list[PoolWatch]) -> None:
        """Read each of ``pools`` again, one read per pool (a pool whose accounts cannot be read holds up no other),
        and publish those the read proves current. The lock is held to look and to apply, not while the node is
        asked (see the module doc)."""
        for pool in pools:
            async with self._lock:
                generation = self._generation
                if self.states.get(pool.symbol) is not FeedState.LIVE:
                    continue
                addresses = [pool.address, *pool.window.values()]
            try:
                answers = await self._fetch(addresses)
            except RpcError as exc:
                self.ctx.log.warning("%s %s: reading the quiet pool again failed (%s); its data ages", self.name,
                                     pool.symbol, exc)
                continue
            async with self._lock:
                if (generation != self._generation or self.states.get(pool.symbol) is not FeedState.LIVE
                        or addresses != [pool.address, *pool.window.values()]):
                    continue  # reconnected (its resync reads) or the window moved (its move read) meanwhile
                try:
                    slot = self._apply_answers(answers)
                except PoolConfigError as exc:
                    self.ctx.log.warning("%s %s: reading the quiet pool again failed (%s); its data ages", self.name,
                                         pool.symbol, exc)
                    continue
                if slot is None or slot < pool.slot or self.states.get(pool.symbol) is not FeedState.LIVE:
                    continue  # a lagging node, or newer data came in meanwhile (and was published): no proof
                if pool.window and pool.wanted_window().keys() != pool.window.keys():
                    self._spawn(self._move_window(pool), f"{pool.symbol} tick arrays")  # publishes once moved
                else:
                    self._publish(pool)

    async def _read(self, addresses: list[str]) -> int | None:
        """Read and apply ``addresses``; the oldest slot the reads were answered at (None: nothing to read)."""
        return self._apply_answers(await self._fetch(addresses))

    async def _fetch(self, addresses: list[str]) -> list[tuple[int, list[str], list[Any]]]:
        """Ask the node for ``addresses``: (slot, addresses, accounts) per ``getMultipleAccounts``, one per
        :data:`MAX_MULTIPLE_ACCOUNTS` accounts. No state is touched (it may run without the lock)."""
        assert self.rpc is not None
        answers = []
        for first in range(0, len(addresses), MAX_MULTIPLE_ACCOUNTS):
            chunk = addresses[first : first + MAX_MULTIPLE_ACCOUNTS]
            slot, accounts = await self.rpc.get_multiple_accounts(chunk)
            answers.append((slot, chunk, list(accounts)))
        return answers

    def _apply_answers(self, answers: list[tuple[int, list[str], list[Any]]]) -> int | None:
        """Apply what :meth:`_fetch` read, each account at the slot of its own answer (the node moves on between
        the requests, and an account held at an older slot than its read would let a late notification from between
        them roll it back; older than what is held, it is ignored); the oldest slot (None: nothing read)."""
        oldest: int | None = None
        for slot, chunk, accounts in answers:
            oldest = slot if oldest is None else min(oldest, slot)
            for address, account in zip(chunk, accounts, strict=True):
                data = None if account is None else account.data
                if self.tap is not None:
                    self.tap({"account": address, "slot": slot,
                              "data": None if data is None else base64.b64encode(data).decode()})
                self._apply(address, data, slot)
        return oldest

    async def _set_window(self, pool: PoolWatch, *, read: bool = True) -> None:
        """Watch the tick arrays around the current tick: subscribe new ones, read them, drop old ones."""
        assert self.subscriber is not None
        added, removed = pool.set_window(pool.wanted_window())
        for start, address in pool.window.items():
            self._owners[address] = (pool, start)
        if self.tap is not None:
            self.tap({"window": pool.symbol, "arrays": {str(start): address for start, address in pool.window.items()}})
        await self.subscriber.watch(added)
        if read:
            await self._read(added)
        for address in removed:
            self._owners.pop(address, None)
        await self.subscriber.unwatch(removed)

    async def _move_window(self, pool: PoolWatch) -> None:
        async with self._lock:
            try:
                await self._set_window(pool)
            except RpcError as exc:
                self.ctx.log.warning("%s %s: reading the new tick arrays failed (%s); re-reading all",
                                     self.name, pool.symbol, exc)
                self._spawn(self._resync(self._generation, "tick arrays unread"), "resync")
                return
            self._publish_current(pool)

    async def _load_mints(self) -> None:
        """Read every pool's mints and apply them (at a resync, under the lock)."""
        self._set_mints(*await self._read_mints())

    async def _refresh_mints(self) -> None:
        """Every ``mint_refresh_s``: read the mints and the epoch again, without the lock while the node answers,
        and re-publish the LIVE pools whose transfer fees changed (a fee scheduled since, or the newer fee's epoch
        reached). A read a resync's newer one overtook is dropped."""
        while True:
            await asyncio.sleep(self.settings.mint_refresh_s)
            before = self._mint_reads
            try:
                found, fees = await self._read_mints()
            except (RpcError, PoolConfigError) as exc:
                self.ctx.log.warning("%s: reading the mints again failed (%s); their transfer fees as last read",
                                     self.name, exc)
                continue
            async with self._lock:
                if self._mint_reads != before:
                    continue  # a resync read them meanwhile
                changed = self._set_mints(found, fees)
                for pool in changed:
                    if self.states.get(pool.symbol) is FeedState.LIVE:
                        self.ctx.log.info("%s %s: transfer fees now %s / %s", self.name, pool.symbol,
                                          pool.base_transfer_fees, pool.quote_transfer_fees)
                        self._publish(pool)

    async def _read_mints(self) -> tuple[dict[str, int], dict[str, tuple[TransferFee, ...]]]:
        """Read every pool's mints: the decimals not configured, and each mint's Token-2022 transfer fees (with the
        current epoch, which selects them) for the quotes to pay. A change to a mint's fee is scheduled two epochs
        ahead, and :meth:`~arbotlib.amm.whirlpool.transfer_fee.TransferFeeConfig.fees_from` assumes a scheduled one
        until its epoch comes, the newer alone from then on. No state is touched (it may run without the lock)."""
        mints = sorted({mint for pool in self.pools.values() for mint in (pool.base_mint, pool.quote_mint)})
        missing = {mint for pool in self.pools.values()
                   for mint, decimals in ((pool.base_mint, pool.base_decimals),
                                          (pool.quote_mint, pool.quote_decimals)) if decimals is None}
        assert self.rpc is not None
        _, accounts = await self.rpc.get_multiple_accounts(mints)
        found: dict[str, int] = {}
        configs: dict[str, TransferFeeConfig] = {}
        for mint, account in zip(mints, accounts, strict=True):
            if account is None:
                raise PoolConfigError(f"mint {mint} does not exist: check exchanges.{self.name}.tokens")
            try:
                if mint in missing:
                    found[mint] = decode_mint_decimals(account.data)
            except AccountDecodeError as exc:
                raise PoolConfigError(f"mint {mint}: {exc}; give its decimals in exchanges.{self.name}.tokens"
                                      ) from None
            try:
                config = decode_transfer_fee_config(account.data)
            except AccountDecodeError as exc:
                raise PoolConfigError(f"mint {mint}: {exc}; its transfer fee cannot be known, so its pools are not "
                                      f"quoted: remove them from exchanges.{self.name}.pools") from None
            if config is not None:
                configs[mint] = config
        fees: dict[str, tuple[TransferFee, ...]] = {}
        if configs:
            epoch = await self.rpc.get_epoch()
            fees = {mint: charged for mint, config in configs.items() if (charged := config.fees_from(epoch))}
        return found, fees

    def _set_mints(self, found: dict[str, int], fees: dict[str, tuple[TransferFee, ...]]) -> list[PoolWatch]:
        """Apply a mint read (decimals, transfer fees); the pools whose transfer fees changed."""
        self._mint_reads += 1
        changed = []
        for pool in self.pools.values():
            pool.base_decimals = found.get(pool.base_mint, pool.base_decimals)
            pool.quote_decimals = found.get(pool.quote_mint, pool.quote_decimals)
            was = (pool.base_transfer_fees, pool.quote_transfer_fees)
            pool.set_transfer_fees(fees)
            if (pool.base_transfer_fees, pool.quote_transfer_fees) != was:
                changed.append(pool)
        if self.tap is not None:
            if found:
                self.tap({"decimals": found})
            self.tap({"transfer_fees": {mint: [[fee.epoch, fee.maximum_fee, fee.basis_points] for fee in charged]
                                        for mint, charged in fees.items()}})
        return changed

    async def _resync(self, generation: int, why: str) -> None:
        """Re-read every watched account (retrying with backoff), then publish and go LIVE."""
        s = self.settings
        async with self._lock:
            if generation != self._generation:
                return  # the connection this was for is gone; the next one resyncs
            for symbol in self.pools:
                self.publish_feed_state(symbol, FeedState.RESYNCING, f"reading the accounts: {why}")
            delay = s.reconnect_initial_s
            while True:
                try:
                    await self._read([pool.address for pool in self.pools.values()])
                    await self._load_mints()
                    for pool in self.pools.values():
                        if pool.whirlpool is not None:
                            await self._set_window(pool, read=False)
                    await self._read([a for pool in self.pools.values() for a in pool.window.values()])
                    break
                except PoolConfigError as exc:
                    for symbol in self.pools:
                        self.publish_feed_state(symbol, FeedState.STALE, str(exc))
                    raise
                except RpcError as exc:
                    self.ctx.log.warning("%s: reading the accounts failed (%s); again in %.2fs", self.name, exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, s.reconnect_max_s)
                if generation != self._generation:
                    return
            if generation != self._generation:
                return
            self.resyncs += 1
            for pool in self.pools.values():
                if pool.ready:
                    self._undecoded.discard(pool.symbol)
                    self.publish_feed_state(pool.symbol, FeedState.LIVE, "accounts read and subscribed")
                    self._publish(pool)
                else:
                    self._undecoded.add(pool.symbol)
                    self.publish_feed_state(pool.symbol, FeedState.STALE,
                                            "the whirlpool or a tick array of its window did not decode (see the log)")

    # --- Exchange ---------------------------------------------------------------------------

    def status(self) -> dict[str, str]:
        """For ``/status``: the feed's gaps (connections lost, full re-reads) and the notifications and account data
        dropped so far."""
        malformed = self.subscriber.malformed if self.subscriber is not None else 0
        return {"feed": f"{self.reconnects} reconnects, {self.resyncs} resyncs",
                "dropped": f"{self.bad_accounts} bad accounts, {self.stale_notifications} late notifications "
                           f"(older slot), {malformed} malformed"}

    def market(self, symbol: str) -> MarketInfo:
        pool = self.pools[symbol]  # KeyError: not configured
        if pool.base_decimals is None or pool.quote_decimals is None:
            raise KeyError(f"{symbol}: the mints' decimals are not known yet")
        return MarketInfo(symbol, pool.base, pool.quote, tick_size=Decimal(1).scaleb(-pool.quote_decimals),
                          lot_size=Decimal(1).scaleb(-pool.base_decimals))

    async def place_order(self, order: Order) -> OrderState:
        raise PermanentError(NO_ORDERS)

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        raise PermanentError(NO_ORDERS)

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        return None  # never placed one

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        return []

    async def balances(self) -> dict[str, Balance]:
        return {}  # no wallet here: the jupiter exchange reports the wallet's balances
