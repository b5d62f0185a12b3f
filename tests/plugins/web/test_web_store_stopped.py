"""The web console on a real PostgreSQL server stopped with SIGSTOP (``tests/helpers/pg_stop.py``): audited requests
hold none of the loop's default executor's threads (``asyncio.to_thread`` elsewhere answers at once), and once the
store's read threads are all held by reads the server does not answer, a page is a 503 with ``Retry-After``, not a
500 with a traceback. Skipped on SQLite (``ARBOT_TEST_DB_URL`` names a server; ``.ci/run`` runs it)."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bot.store import reads
from plugins.web import running_server
from plugins.web.auth import token_hash
from tests.helpers.pg_stop import stopped_server

from .conftest import web_plugins

OTTO = "otto-pgstop-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {OTTO}"}


async def test_a_stopped_server_the_console_answers_503_and_the_default_executor_goes_on(make_bot, postgresql):
    bot = await make_bot('[exchanges.paper]\n[plugins.web]\nenabled = true\nport = 0\nread_cache_s = 0\n'
                         'requests_per_s = 1000\nrequest_burst = 1000\n'
                         f'users = {{ otto = {{ role = "operator", token = "{token_hash(OTTO)}" }} }}\n',
                         extra=web_plugins())
    server = running_server(bot.operator)
    base = f"http://127.0.0.1:{server.port}"
    with stopped_server(bot.store.engine, max_s=reads.READ_WAIT_S + 30) as pg:
        async with aiohttp.ClientSession() as http:

            async def get(path: str) -> tuple[int, dict]:
                async with http.get(base + path, headers=AUTH) as response:
                    return response.status, await response.json()

            # 20 audited requests: 3 hold the store's read threads, the others wait for one
            asked = [asyncio.ensure_future(get(f"/api/v1/orders?limit={i + 1}")) for i in range(20)]
            await asyncio.sleep(1.0)  # a flush of the audit, at least, meanwhile
            started = time.monotonic()
            assert await asyncio.wait_for(asyncio.to_thread(lambda: 1), 1.0) == 1
            assert time.monotonic() - started < 1.0
            await asyncio.sleep(reads.READ_WAIT_S)
            status, body = await asyncio.wait_for(get("/api/v1/orders"), 5)
            assert status == 503, body
            assert "the database is not answering" in body["error"]
            pg.resume()
            answers = await asyncio.wait_for(asyncio.gather(*asked), 30)
    assert sorted(status for status, _ in answers) == [200] * 3 + [503] * 17, answers
    server._audit_wakeup.set()
    for _ in range(100):  # every line is stored once the server answers
        if not server._audit and not server._audit_writing:
            break
        await asyncio.sleep(0.1)
    lines = [e.args for e in reversed(bot.operator.audit_log(500)) if e.command == "GET /api/v1/orders"]
    assert sorted(lines) == sorted([f"limit={i + 1}" for i in range(20)] + [""])
    assert server.audit_not_stored == 0
