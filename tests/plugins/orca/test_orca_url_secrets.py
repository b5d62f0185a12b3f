"""The passwords and keys in the configured RPC and WebSocket URLs never show in a log line."""

from __future__ import annotations

import asyncio
import logging

from bot.redact import REDACTOR

PASSWORD, KEY = "ws-pass-5ecret", "ws-key-5ecret"


async def test_a_websocket_urls_password_and_key_are_never_shown(make_orca, caplog):
    caplog.set_level(logging.DEBUG)
    dead = f"ws://user:{PASSWORD}@127.0.0.1:9/?api-key={KEY}"  # nothing listens on port 9
    await make_orca(ws_urls=[dead], start_timeout_s=0.1)  # no pool goes live here: start need not wait
    async with asyncio.timeout(5):
        while "solana ws ws://127.0.0.1:9/...: " not in caplog.text:  # the dead URL's failure, named safely
            await asyncio.sleep(0.01)
    assert PASSWORD not in caplog.text and KEY not in caplog.text
    assert REDACTOR.redact(f"connect to {dead}") == "connect to ws://user:***@127.0.0.1:9/?api-key=***"


async def test_the_rpc_urls_are_known_to_the_redactor(make_orca, node):
    rpc = f"{node.url.rstrip('/')}/?api-key={KEY}"
    await make_orca(rpc_urls=[rpc], start_timeout_s=0.1)
    assert KEY not in REDACTOR.redact(f"POST {rpc}")
