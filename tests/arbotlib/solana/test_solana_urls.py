"""Node URLs carry providers' keys and passwords: the RPC client and the subscriber show only scheme, host, port."""

from __future__ import annotations

import asyncio
import logging

import pytest

from arbotlib.solana.rpc import RpcUnavailable, SolanaRpc
from arbotlib.solana.urls import shown_url
from arbotlib.solana.ws import AccountSubscriber
from tests.fakes.solana_rpc import FakeSolanaRpc

PASSWORD, KEY, PATH_TOKEN = "url-pass-5ecret", "url-key-5ecret", "path-tok-5ecret"
SECRETS = (PASSWORD, KEY, PATH_TOKEN)


@pytest.mark.parametrize(("url", "shown"), [
    (f"http://user:{PASSWORD}@127.0.0.1:9/", "http://127.0.0.1:9/..."),
    (f"https://mainnet.helius-rpc.com/?api-key={KEY}", "https://mainnet.helius-rpc.com/..."),
    (f"https://example.solana-mainnet.quiknode.pro/{PATH_TOKEN}/", "https://example.solana-mainnet.quiknode.pro/..."),
    (f"wss://user:{PASSWORD}@node.example", "wss://node.example/..."),
    ("wss://api.mainnet-beta.solana.com", "wss://api.mainnet-beta.solana.com"),
    ("http://[::1]:8899/", "http://[::1]:8899"),
    (f"http://[::1:{KEY}", "<unparsable url>"),
    (KEY, "<unparsable url>"),
])
def test_a_url_is_shown_as_its_scheme_host_and_port(url, shown):
    assert shown_url(url) == shown


@pytest.fixture
async def node():
    fake = await FakeSolanaRpc().start()
    yield fake
    await fake.close()


async def test_rpc_errors_and_log_lines_name_a_url_without_its_credentials(node, caplog):
    caplog.set_level(logging.DEBUG, logger="arbot.solana")
    dead = f"http://user:{PASSWORD}@127.0.0.1:9/{PATH_TOKEN}?api-key={KEY}"  # nothing listens on port 9
    async with SolanaRpc([dead], timeout_s=1) as rpc:
        with pytest.raises(RpcUnavailable) as info:
            await rpc.get_block_height()
    assert str(info.value) == "getBlockHeight: http://127.0.0.1:9/... failed: ConnectError"
    async with SolanaRpc([dead, node.url], timeout_s=1) as rpc:
        await rpc.get_block_height()
    assert f"falling back to {shown_url(node.url)}" in caplog.text
    assert not [s for s in SECRETS if s in caplog.text]


async def test_the_subscriber_names_a_url_without_its_credentials(caplog):
    caplog.set_level(logging.DEBUG, logger="arbot.solana")
    # refused (nothing on port 9), and one websockets refuses as it is written (its error quotes the URL)
    urls = [f"ws://user:{PASSWORD}@127.0.0.1:9/{PATH_TOKEN}?api-key={KEY}",
            f"http://user:{PASSWORD}@127.0.0.1:9/{PATH_TOKEN}?api-key={KEY}"]
    subscriber = AccountSubscriber(urls, [], lambda *_: None, reconnect_initial_s=0.01, reconnect_max_s=0.02)
    await subscriber.start()
    try:
        async with asyncio.timeout(5):
            while caplog.text.count("reconnecting in") < 2:
                await asyncio.sleep(0.01)
    finally:
        await subscriber.stop()
    assert "solana ws ws://127.0.0.1:9/...: " in caplog.text and "InvalidURI: http://127.0.0.1:9/..." in caplog.text
    assert not [s for s in SECRETS if s in caplog.text]
