"""accountSubscribe: notifications reach the callback, and a dropped connection is remade."""

from __future__ import annotations

import asyncio
import base64
import json

from websockets.asyncio.server import serve

from arbotlib.solana.ws import AccountSubscriber

POOL = "HJPjoWUrhoZzkNfRpHuieeFk9WcZWjwy6PBjZ81ngndJ"


async def test_notifications_and_reconnect():
    connections: list = []

    async def handler(ws):
        connections.append(ws)
        request = json.loads(await ws.recv())
        assert request["method"] == "accountSubscribe" and request["params"][0] == POOL
        assert request["params"][1]["encoding"] == "base64"
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": 77}))
        payload = f"pool state {len(connections)}".encode()
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "accountNotification", "params": {
            "subscription": 77, "result": {"context": {"slot": 100 + len(connections)}, "value": {
                "data": [base64.b64encode(payload).decode(), "base64"], "executable": False, "lamports": 1,
                "owner": "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc", "rentEpoch": 0, "space": len(payload)}}}}))
        if len(connections) == 1:
            await ws.close()  # the node drops us once
        else:
            await ws.wait_closed()

    seen: list[tuple[str, bytes, int]] = []
    reconnects: list[int] = []
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        sub = AccountSubscriber([f"ws://127.0.0.1:{port}"], [POOL], lambda a, d, s: seen.append((a, d, s)),
                                reconnect_initial_s=0.01, on_reconnect=lambda: reconnects.append(1))
        await sub.start()
        try:
            async with asyncio.timeout(5):
                while len(seen) < 2:
                    await asyncio.sleep(0.01)
        finally:
            await sub.stop()
    assert seen == [(POOL, b"pool state 1", 101), (POOL, b"pool state 2", 102)]
    assert sub.connections == 2 and reconnects == [1]


async def test_an_account_unwatched_while_its_subscribe_is_pending_is_unsubscribed_when_the_answer_comes():
    subscribe_seen = asyncio.Event()
    unwatched = asyncio.Event()
    requests: list[dict] = []

    async def handler(ws):
        request = json.loads(await ws.recv())
        requests.append(request)
        subscribe_seen.set()
        await unwatched.wait()  # the answer comes after the account was dropped
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": 91}))
        async for raw in ws:
            message = json.loads(raw)
            requests.append(message)
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": True}))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        sub = AccountSubscriber([f"ws://127.0.0.1:{port}"], [POOL], lambda a, d, s: None, reconnect_initial_s=0.01)
        await sub.start()
        try:
            async with asyncio.timeout(5):
                await subscribe_seen.wait()
                await sub.unwatch([POOL])
                unwatched.set()
                while len(requests) < 2:
                    await asyncio.sleep(0.01)
        finally:
            await sub.stop()
    assert requests[1]["method"] == "accountUnsubscribe" and requests[1]["params"] == [91]
    assert sub.connections == 1 and not sub._subscriptions and not sub._subscription_of
