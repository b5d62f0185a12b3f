"""The console when the database does not answer (or the bot is stopping), and what it must not quote or hold.

- A store read refused (:class:`~bot.store.ReadRefused`: the store's read threads are held by reads the database has
  not answered) or a store closed (the bot is stopping) is a 503 with ``Retry-After`` and a message that says which,
  one WARNING line and no traceback; not a 500.
- Audit lines are written on a thread of the console's own, never one of the loop's default executor: a database
  that does not answer holds that thread alone, ``asyncio.to_thread`` elsewhere in the process goes on, and the stop
  waits a bounded time and says how many lines were not stored.
- A bad value of a known query parameter is quoted only when it looks like what the parameter takes; anything else
  (a token pasted in the wrong parameter) is described, in the answer and in the audit line.
- An event stream whose client stops reading is closed once a write has waited ``events_write_timeout_s``.

A small bot of its own whose one user's token the config holds only as its hash: the log redactor does not know it,
so only the console's own care keeps it out of answers, logs and the audit log.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import aiohttp
import pytest
import pytest_asyncio

from bot.api import AuditEntry
from bot.api.testing import build_bot, wait_for
from bot.store import ReadRefused, StoreClosed
from plugins.web import running_server
from plugins.web.auth import token_hash

from .conftest import web_plugins

pytestmark = pytest.mark.asyncio(loop_scope="module")

OTTO = "otto-storedown-0123456789abcdef"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("web-store-down")
    bot = build_bot('[exchanges.paper]\n[strategies.g1]\ntype = "grid"\nexchange = "paper"\nsymbol = "BTC/USD"\n'
                    'lower = "29000"\nupper = "31000"\nlevels = 5\norder_size = "0.01"\n'
                    '[plugins.web]\nenabled = true\nport = 0\nrequests_per_s = 1000\nrequest_burst = 1000\n'
                    'read_cache_s = 0\nevents_write_timeout_s = 1\n'
                    f'users = {{ otto = {{ role = "operator", token = "{token_hash(OTTO)}" }} }}\n',
                    data_dir=data_dir, extra=web_plugins())
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


AUTH = {"Authorization": f"Bearer {OTTO}"}


def url(bot, path: str) -> str:
    return f"http://127.0.0.1:{running_server(bot.operator).port}{path}"


async def written(bot) -> None:
    """Until every audit line handed over so far is stored."""
    server = running_server(bot.operator)
    server._audit_wakeup.set()
    await wait_for(lambda: not server._audit and not server._audit_writing, timeout_s=10, what="the audit written")


def web_audit(bot, since_ns: int) -> list[AuditEntry]:
    return [e for e in reversed(bot.operator.audit_log(5000)) if e.transport == "web" and e.ts_ns >= since_ns]


# --- 1. a read refused, a store closed: 503 -------------------------------------------------------------------

@pytest.mark.parametrize(("error", "said"), [
    (ReadRefused("the database is not answering: the store's 3 read threads each hold a read it has not answered "
                 "(the oldest for 7 s); nothing was read, try again later"), "the database is not answering"),
    (StoreClosed("store sqlite:///x is closed: it can no longer be read or written"), "the bot is stopping"),
])
async def test_a_read_the_store_refuses_is_a_503_with_retry_after(site, monkeypatch, caplog, error, said):
    async def refused(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(site.store, "read_off_loop", refused)
    since = site.clock.time_ns()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="arbot.web"):
        async with aiohttp.ClientSession() as http, http.get(url(site, "/api/v1/orders"), headers=AUTH) as response:
            body = await response.json()
    assert response.status == 503, body
    assert said in body["error"]
    assert int(response.headers["Retry-After"]) >= 1
    records = [r for r in caplog.records if r.name == "arbot.web"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING, [r.getMessage() for r in records]
    assert records[0].exc_info is None and said in records[0].getMessage()
    monkeypatch.undo()
    await written(site)
    [line] = [e for e in web_audit(site, since) if e.command == "GET /api/v1/orders"]
    assert line.outcome.startswith("refused: 503") and said in line.outcome


# --- 2. audit writes: a thread of the console's own, bounded at the stop -----------------------------------

async def test_audit_lines_are_written_off_the_default_executor(site, monkeypatch):
    server = running_server(site.operator)
    record, threads = site.operator.record_audit, []

    def noted(entries):
        threads.append(threading.current_thread().name)
        record(entries)

    monkeypatch.setattr(site.operator, "record_audit", noted)
    async with aiohttp.ClientSession() as http, http.get(url(site, "/api/v1/status"), headers=AUTH) as response:
        assert response.status == 200
    await written(site)
    assert threads and all(name.startswith("arbot-web-audit") for name in threads), threads
    assert server.audit_not_stored == 0


async def test_a_database_not_answering_holds_no_default_executor_thread(site, monkeypatch):
    """20 audited requests while the audit write hangs (a database not answering); then the loop's default executor
    still answers at once, and every line is stored once the database answers, in order."""
    answering = threading.Event()
    record = site.operator.record_audit

    def hangs(entries):
        answering.wait(30)
        record(entries)

    monkeypatch.setattr(site.operator, "record_audit", hangs)
    since = site.clock.time_ns()
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(20):
                async with http.get(url(site, f"/api/v1/alerts?limit={i + 1}"), headers=AUTH) as response:
                    assert response.status == 200
                await asyncio.sleep(0.3)  # a flush every other one (at most two a second)
        started = time.monotonic()
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "answered"), 1.0) == "answered"
        assert time.monotonic() - started < 1.0
    finally:
        answering.set()
    await written(site)
    lines = [e.args for e in web_audit(site, since) if e.command == "GET /api/v1/alerts"]
    assert lines == [f"limit={i + 1}" for i in range(20)]


async def test_the_backlog_is_bounded_and_what_was_dropped_is_said_once(site, monkeypatch, caplog):
    from plugins.web import server as server_module

    server = running_server(site.operator)
    answering = threading.Event()
    record = site.operator.record_audit

    def hangs(entries):
        answering.wait(30)
        record(entries)

    monkeypatch.setattr(site.operator, "record_audit", hangs)
    monkeypatch.setattr(server_module, "AUDIT_BACKLOG", 10)
    since = site.clock.time_ns()
    try:
        with caplog.at_level(logging.WARNING, logger="arbot.web"):
            server.audit("otto", "operator", "GET /first", "", "ok")
            await wait_for(lambda: server._audit_writing, timeout_s=5, what="the first write in progress")
            for i in range(25):
                server.audit("otto", "operator", f"GET /x{i}", "", "ok")
            dropped = [r for r in caplog.records if "audit" in r.getMessage() and r.levelno == logging.WARNING]
            assert len(dropped) == 1, [r.getMessage() for r in dropped]  # said once, not per line
            assert "10" in dropped[0].getMessage()
    finally:
        answering.set()
    await written(site)
    lines = web_audit(site, since)
    assert [e.command for e in lines[:11]] == ["GET /first"] + [f"GET /x{i}" for i in range(10)]
    assert "15 audit line(s) not stored" in lines[11].outcome
    assert server.audit_not_stored == 15


async def test_the_stop_waits_a_bounded_time_for_a_database_not_answering(tmp_path, caplog):
    bot = build_bot('[exchanges.paper]\n[plugins.web]\nenabled = true\nport = 0\n'
                    f'users = {{ otto = {{ role = "operator", token = "{token_hash(OTTO)}" }} }}\n',
                    data_dir=tmp_path, extra=web_plugins())
    await bot.start()
    answering = threading.Event()
    record = bot.operator.record_audit

    def hangs(entries):
        answering.wait(30)
        record(entries)

    bot.operator.record_audit = hangs  # type: ignore[method-assign]
    server = running_server(bot.operator)
    try:
        server.audit("otto", "operator", "GET /a", "", "ok")
        await wait_for(lambda: server._audit_writing, timeout_s=5, what="the write in progress")
        server.audit("otto", "operator", "GET /b", "", "ok")
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="arbot.web"):
            await asyncio.wait_for(server.stop(), 10)
        assert time.monotonic() - started < 5
        said = [r.getMessage() for r in caplog.records if r.name == "arbot.web" and "not stored" in r.getMessage()]
        assert said and "2 audit line(s)" in said[0], said
        answering.set()  # the database answers: a second stop (the bot's) has nothing to wait for
        await wait_for(lambda: not server._audit_writing, timeout_s=5, what="the lines written")
        server.audit("otto", "operator", "GET /c", "", "ok")  # a line after the stop: written all the same
        started = time.monotonic()
        await asyncio.wait_for(server.stop(), 10)
        assert time.monotonic() - started < 1
        assert [e.command for e in bot.operator.audit_log(10) if e.transport == "web"][:3] == ["GET /c", "GET /b",
                                                                                              "GET /a"]
    finally:
        answering.set()
        await bot.stop()


# --- 3. a bad value is quoted only when it looks like one ----------------------------------------------------

@pytest.mark.parametrize("query", [f"since={OTTO}", f"until={OTTO}", f"limit={OTTO}", f"offset={OTTO}",
                                   f"format={OTTO}", f"state={OTTO}", f"state=open,{OTTO}"])
async def test_a_token_in_a_known_parameter_is_not_quoted(site, caplog, query):
    since = site.clock.time_ns()
    with caplog.at_level(logging.DEBUG):
        async with aiohttp.ClientSession() as http, \
                http.get(url(site, f"/api/v1/orders?{query}"), headers=AUTH) as response:
            text = await response.text()
    assert response.status == 400, text
    assert OTTO not in text and OTTO[:20] not in text
    assert f"{len(OTTO)} characters" in text or "characters" in text
    await written(site)
    lines = [e for e in web_audit(site, since) if e.command == "GET /api/v1/orders"]
    assert lines and all(OTTO[:12] not in f"{e.args} {e.outcome}" for e in lines), lines
    assert all(OTTO[:12] not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("query", "quoted"), [("since=2026-13-45", "'2026-13-45'"), ("limit=-5", "'-5'"),
                                               ("format=xml", "'xml'"), ("state=opne", "'opne'"),
                                               ("until=99999999999999999999", "'99999999999999999999'")])
async def test_a_value_that_looks_like_the_parameter_is_still_quoted(site, query, quoted):
    since = site.clock.time_ns()
    async with aiohttp.ClientSession() as http, \
            http.get(url(site, f"/api/v1/orders?{query}"), headers=AUTH) as response:
        body = await response.json()
    assert response.status == 400 and quoted in body["error"], body
    await written(site)
    [line] = [e for e in web_audit(site, since) if e.command == "GET /api/v1/orders"]
    assert line.args == query


# --- 4. an event stream whose client stops reading -----------------------------------------------------------

async def test_an_event_stream_whose_client_stops_reading_is_closed(site):
    server = running_server(site.operator)
    hub = server.events
    closed_before = server.endpoints.streams_stalled
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    await loop.sock_sendall(sock, f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OTTO}\r\n"
                                  "\r\n".encode())
    try:
        await wait_for(lambda: len(hub.streams) == 1, timeout_s=5, what="the stream open")
        # never read: each event is 64 KiB, far more than the socket buffers take
        for _ in range(120):
            hub.publish("note", {"text": "x" * 65536})
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await wait_for(lambda: not hub.streams, timeout_s=10, what="the stalled stream closed")
        assert time.monotonic() - started < 5
        assert server.endpoints.streams_stalled == closed_before + 1
    finally:
        sock.close()
