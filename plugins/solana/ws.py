"""``accountSubscribe`` over the Solana WebSocket API, with reconnect.

:class:`AccountSubscriber` keeps one connection, subscribes every watched account (base64
encoding), and calls ``on_account(pubkey, data_bytes, slot)`` for the snapshot-free notifications
the node pushes. When the connection drops or goes silent, it reconnects with doubling, jittered
backoff over the configured URLs in turn and subscribes again; a notification can be missed
across a reconnect, so callers that need the current state re-read the account (``getAccountInfo``)
when ``on_reconnect`` fires.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import Callable

import websockets

log = logging.getLogger("arbot.solana.ws")

AccountCallback = Callable[[str, bytes, int], None]


class AccountSubscriber:
    """Watches accounts over ``accountSubscribe``; ``start()``/``stop()`` bracket it."""

    def __init__(self, urls: list[str], accounts: list[str], on_account: AccountCallback, *,
                 commitment: str = "confirmed", reconnect_initial_s: float = 0.25, reconnect_max_s: float = 30.0,
                 silence_timeout_s: float = 60.0, on_reconnect: Callable[[], None] | None = None):
        if not urls:
            raise ValueError("at least one WebSocket URL is needed")
        self.urls = list(urls)
        self.accounts = list(accounts)
        self.on_account = on_account
        self.on_reconnect = on_reconnect
        self.commitment = commitment
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.silence_timeout_s = silence_timeout_s
        self.connections = 0
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="solana accountSubscribe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        delay = self.reconnect_initial_s
        attempt = 0
        while True:
            url = self.urls[attempt % len(self.urls)]
            try:
                await self._session(url)
                delay = self.reconnect_initial_s
            except (OSError, websockets.WebSocketException, TimeoutError, ValueError) as exc:
                log.warning("solana ws %s: %s: %s; reconnecting in %.2fs", url, type(exc).__name__, exc, delay)
            self.connected.clear()
            attempt += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.reconnect_max_s)

    async def _session(self, url: str) -> None:
        async with websockets.connect(url, open_timeout=10) as ws:
            subscriptions: dict[int, str] = {}
            pending: dict[int, str] = {}
            for n, account in enumerate(self.accounts, start=1):
                pending[n] = account
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": "accountSubscribe",
                                          "params": [account, {"encoding": "base64",
                                                               "commitment": self.commitment}]}))
            self.connections += 1
            if self.connections > 1 and self.on_reconnect is not None:
                self.on_reconnect()
            while True:
                raw = await asyncio.wait_for(ws.recv(), self.silence_timeout_s)
                message = json.loads(raw)
                if "id" in message and message.get("id") in pending:
                    if "error" in message:
                        raise ValueError(f"accountSubscribe {pending[message['id']]}: {message['error']}")
                    subscriptions[int(message["result"])] = pending.pop(message["id"])
                    if not pending:
                        self.connected.set()
                elif message.get("method") == "accountNotification":
                    params = message["params"]
                    account = subscriptions.get(params["subscription"])
                    if account is None:
                        continue
                    value = params["result"]["value"]
                    data = base64.b64decode(value["data"][0])
                    self.on_account(account, data, int(params["result"]["context"]["slot"]))
