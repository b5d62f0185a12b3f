"""``accountSubscribe`` over the Solana WebSocket API, with reconnect and resubscribe.

:class:`AccountSubscriber` keeps one connection, subscribes every watched account (base64
encoding), and calls ``on_account(pubkey, data_bytes, slot)`` for each ``accountNotification``
(the notification is the account's whole new state; Solana sends no snapshot on subscribe).
Accounts can be added and removed while connected (:meth:`~AccountSubscriber.watch`,
:meth:`~AccountSubscriber.unwatch`: ``accountSubscribe``/``accountUnsubscribe``). An account unwatched while its
``accountSubscribe`` answer is on its way is unsubscribed when that answer comes (so is a second subscription of an
account unwatched and watched again meanwhile): nothing stays subscribed at the node unread.

When the connection drops, fails to open, or stays silent for ``silence_timeout_s`` (Solana
nodes send nothing while the watched accounts do not change, so keep that above the accounts'
usual update interval; websockets' own pings detect a dead peer meanwhile), it reconnects with
doubling, jittered backoff over the configured URLs in turn and subscribes every watched account
again. Notifications can be missed across a reconnect, so callers that need the current state
re-read the accounts (``getMultipleAccounts``) when ``on_connected`` fires: it fires once per
connection, after every subscription of that connection was confirmed. ``on_disconnected(reason)``
fires when a connection is lost. A URL is named in log lines and reasons by its
:func:`~arbotlib.solana.urls.shown_url` only (providers put keys in it).

An ``accountSubscribe`` the node refuses (an error object instead of a subscription id) ends the connection like a
loss: the account would get no notification on it, so the next connection subscribes everything again.

A notification that is not the documented shape (not JSON, missing fields, data not base64) is
logged, counted in ``malformed`` and reported to ``on_malformed(reason)``; the connection is kept.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import websockets

from .urls import shown_url

log = logging.getLogger("arbot.solana.ws")

AccountCallback = Callable[[str, bytes, int], None]
FrameCallback = Callable[[str, "str | bytes"], None]


def parse_account_notification(message: dict[str, Any]) -> tuple[int, int, bytes]:
    """(subscription id, slot, account data) of an ``accountNotification`` message (base64 encoding);
    KeyError, TypeError or ValueError (binascii.Error included) when it is not the documented shape."""
    params = message["params"]
    subscription = params["subscription"]
    result = params["result"]
    slot = int(result["context"]["slot"])
    data, encoding = result["value"]["data"]
    if encoding != "base64":
        raise ValueError(f"encoding {encoding!r}")
    return subscription, slot, base64.b64decode(data, validate=True)


class AccountSubscriber:
    """Watches accounts over ``accountSubscribe``; ``start()``/``stop()`` bracket it."""

    def __init__(self, urls: list[str], accounts: list[str], on_account: AccountCallback, *,
                 commitment: str = "confirmed", reconnect_initial_s: float = 0.25, reconnect_max_s: float = 30.0,
                 silence_timeout_s: float = 60.0, open_timeout_s: float = 10.0,
                 on_reconnect: Callable[[], None] | None = None,
                 on_connected: Callable[[], None] | None = None,
                 on_disconnected: Callable[[str], None] | None = None,
                 on_malformed: Callable[[str], None] | None = None,
                 on_frame: FrameCallback | None = None):
        if not urls:
            raise ValueError("at least one WebSocket URL is needed")
        self.urls = list(urls)
        self.accounts: list[str] = list(dict.fromkeys(accounts))
        self.on_account = on_account
        self.on_reconnect = on_reconnect
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.on_malformed = on_malformed
        self.on_frame = on_frame
        """Called with (account, the notification's text as received) just before ``on_account`` (a recorder)."""
        self.commitment = commitment
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.silence_timeout_s = silence_timeout_s
        self.open_timeout_s = open_timeout_s
        self.connections = 0
        """Connections opened so far (a reconnect makes it > 1)."""
        self.malformed = 0
        """Notifications or answers that were not the documented shape."""
        self.connected = asyncio.Event()
        """Set while connected with every watched account subscribed."""
        self._task: asyncio.Task[None] | None = None
        self._ws: Any = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, str]] = {}
        """request id -> (method, account or subscription id as text)."""
        self._subscriptions: dict[int, str] = {}
        """subscription id -> account."""
        self._subscription_of: dict[str, int] = {}
        self._unwanted: list[int] = []
        """Subscriptions confirmed for an account no longer watched (unwatched while the answer was on its way) or
        watched under another subscription already: unsubscribed at once, else the node would keep sending their
        notifications, dropped here, for the life of the connection."""
        self._session_ready = False
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="solana accountSubscribe")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    # --- the watched set --------------------------------------------------------------------

    async def watch(self, accounts: list[str]) -> None:
        """Add accounts; subscribed at once when connected, else on the next connection."""
        new = [a for a in dict.fromkeys(accounts) if a not in self.accounts]
        self.accounts.extend(new)
        if self._ws is not None:
            for account in new:
                await self._subscribe(self._ws, account)

    async def unwatch(self, accounts: list[str]) -> None:
        """Stop watching accounts (``accountUnsubscribe`` when subscribed)."""
        drop = set(accounts)
        self.accounts = [a for a in self.accounts if a not in drop]
        for account in drop:
            subscription = self._subscription_of.pop(account, None)
            if subscription is None:
                continue
            self._subscriptions.pop(subscription, None)
            if self._ws is not None:
                try:
                    await self._unsubscribe(self._ws, subscription)
                except websockets.ConnectionClosed:
                    pass  # the next connection subscribes only what is still watched

    # --- the connection ---------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.reconnect_initial_s
        attempt = 0
        while True:
            url = self.urls[attempt % len(self.urls)]
            shown = shown_url(url)
            reason = "connection closed"
            try:
                await self._session(url)
            except TimeoutError:
                reason = f"no message for {self.silence_timeout_s:g}s"
                log.warning("solana ws %s: %s; reconnecting in %.2fs", shown, reason, delay)
            except (OSError, websockets.WebSocketException, ValueError) as exc:
                # the reason goes to on_disconnected (a feed state's reason) too; websockets quotes the URL
                # in some errors (InvalidURI), and providers put keys in it
                reason = f"{type(exc).__name__}: {exc}".replace(url, shown)
                log.warning("solana ws %s: %s; reconnecting in %.2fs", shown, reason, delay)
            finally:
                was_connected = self._ws is not None
                self._ws = None
                self.connected.clear()
            task = asyncio.current_task()
            if self._stopping or (task is not None and task.cancelling()):
                # closing the connection on cancel can surface as a TimeoutError: cancelled all the same
                raise asyncio.CancelledError
            if self._session_ready:
                delay = self.reconnect_initial_s  # a connection that worked starts the backoff afresh
            if was_connected and self.on_disconnected is not None:
                self.on_disconnected(reason)
            attempt += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.reconnect_max_s)

    async def _subscribe(self, ws: Any, account: str) -> None:
        request = next(self._ids)
        self._pending[request] = ("accountSubscribe", account)
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": request, "method": "accountSubscribe",
                                  "params": [account, {"encoding": "base64", "commitment": self.commitment}]}))

    async def _unsubscribe(self, ws: Any, subscription: int) -> None:
        request = next(self._ids)
        self._pending[request] = ("accountUnsubscribe", str(subscription))
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": request, "method": "accountUnsubscribe",
                                  "params": [subscription]}))

    async def _session(self, url: str) -> None:
        """One connection, until it fails (every failure is an exception)."""
        self._session_ready = False
        self._pending.clear()
        self._subscriptions.clear()
        self._subscription_of.clear()
        self._unwanted.clear()
        async with websockets.connect(url, open_timeout=self.open_timeout_s, max_size=2**22) as ws:
            self._ws = ws
            self.connections += 1
            for account in list(self.accounts):
                await self._subscribe(ws, account)
            if self.connections > 1 and self.on_reconnect is not None:
                self.on_reconnect()
            if not self.accounts:
                self._ready()
            while True:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation (stop() hangs)
                async with asyncio.timeout(self.silence_timeout_s):
                    raw = await ws.recv()
                answered = self._handle(raw)
                while self._unwanted:  # subscribed at the node, but no longer (or already) watched here
                    await self._unsubscribe(ws, self._unwanted.pop())
                if answered and not self._session_ready and not self._has_pending_subscriptions():
                    self._ready()

    def _ready(self) -> None:
        self._session_ready = True
        self.connected.set()
        if self.on_connected is not None:
            self.on_connected()

    def _has_pending_subscriptions(self) -> bool:
        return any(method == "accountSubscribe" for method, _ in self._pending.values())

    def _bad(self, reason: str) -> None:
        self.malformed += 1
        log.warning("solana ws: malformed message (%d so far): %s", self.malformed, reason)
        if self.on_malformed is not None:
            self.on_malformed(reason)

    def _handle(self, raw: str | bytes) -> bool:
        """Process one message; True when it answered one of our requests."""
        try:
            message = json.loads(raw)
        except ValueError:
            self._bad("not JSON")
            return False
        if not isinstance(message, dict):
            self._bad("not a JSON object")
            return False
        if "id" in message and message.get("id") in self._pending:
            method, target = self._pending.pop(message["id"])
            if "error" in message:
                log.error("solana ws: %s %s refused: %s", method, target, message["error"])
                if method == "accountSubscribe" and target in self.accounts:
                    # no notification of it would ever come on this connection, while its readers think it watched:
                    # a new connection (after the backoff) subscribes every watched account again
                    raise ConnectionError(f"accountSubscribe {target} refused: {message['error']}")
                return True
            if method == "accountSubscribe":
                subscription = message.get("result")
                if not isinstance(subscription, int):
                    self._bad(f"accountSubscribe {target}: result is not a subscription id")
                    return True
                if target in self.accounts and target not in self._subscription_of:
                    self._subscriptions[subscription] = target
                    self._subscription_of[target] = subscription
                elif self._subscription_of.get(target) != subscription:
                    self._unwanted.append(subscription)
            return True
        if message.get("method") != "accountNotification":
            return False
        try:
            subscription, slot, payload = parse_account_notification(message)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            self._bad(f"accountNotification: {type(exc).__name__} {exc}")
            return False
        account = self._subscriptions.get(subscription)
        if account is not None:
            if self.on_frame is not None:
                self.on_frame(account, raw)
            self.on_account(account, payload, slot)
        return False
