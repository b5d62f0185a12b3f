"""The passwords and keys in the configured URLs never show: not in a log line, not in an error's text."""

from __future__ import annotations

import logging

import pytest

from bot.api import TransientError
from bot.redact import REDACTOR

PASSWORD, KEY = "rpc-pass-5ecret", "api-key-5ecret"


async def test_an_rpc_urls_password_and_key_are_never_shown(make_exchange, caplog):
    caplog.set_level(logging.DEBUG)
    dead = f"http://user:{PASSWORD}@127.0.0.1:9/?api-key={KEY}"  # nothing listens on port 9: the call fails
    exchange = await make_exchange(rpc_urls=[dead])
    with pytest.raises(TransientError) as info:
        await exchange.balances()
    shown = [r.getMessage() for r in caplog.records] + [str(info.value)]
    assert not [text for text in shown if PASSWORD in text or KEY in text]
    assert "rpc http://127.0.0.1:9/..." in caplog.text  # the node is still named
    # and whatever else would quote them (a library's error, a plugin's debug line) is masked by the redactor
    assert REDACTOR.redact(f"POST {dead} failed") == "POST http://user:***@127.0.0.1:9/?api-key=*** failed"


async def test_the_jupiter_api_urls_key_is_known_to_the_redactor(make_exchange, jupiter_api):
    await make_exchange(api_url=f"{jupiter_api.url}/?api-key={KEY}")
    assert KEY not in REDACTOR.redact(f"GET {jupiter_api.url}/?api-key={KEY}")
