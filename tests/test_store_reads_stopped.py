"""A PostgreSQL server that stops answering holds only the store's own read threads, never the loop's default
executor: a trader sending ``/pnl`` again and again (and ``/status``, ``/report``, ``/positions`` meanwhile) leaves
``asyncio.to_thread`` and ``loop.getaddrinfo`` (an HTTP or websocket client's DNS look-up) to everyone else; the
repeated ``/pnl`` is one query, and a read that cannot get a thread answers at once that the database is not
answering."""

from __future__ import annotations

import asyncio
import time

from bot.domain import TransferStatus
from bot.store import reads
from tests.helpers.pg_stop import stopped_server
from tests.test_surfaces_agree import CONFIG, PLUGINS, VIEWER, moved

PNL_ASKED = 8
"""More than the default executor's threads on this machine (min(32, cpus + 4): 6 on 2 cores)."""
UNRELATED_WAIT_S = 1.0
"""An unrelated ``asyncio.to_thread`` call answers within this while the server is stopped."""


async def test_repeated_reads_of_a_stopped_server_leave_the_default_executor_free(make_bot, postgresql, monkeypatch):
    monkeypatch.setattr(reads, "READ_WAIT_S", 0.5)
    live = await make_bot(CONFIG, extra=PLUGINS)  # the real clock
    moved(live, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, live.clock.time_ns())
    loop = asyncio.get_running_loop()
    with stopped_server(live.store.engine, max_s=8) as server:
        asked = [live.commands.dispatch(VIEWER, "pnl", []) for _ in range(PNL_ASKED)]
        asked += [live.commands.dispatch(VIEWER, name, []) for name in ("status", "report", "positions")]
        asking = asyncio.ensure_future(asyncio.gather(*asked))
        await asyncio.sleep(0.2)  # every read has asked for its thread
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.gather(asyncio.to_thread(time.sleep, 0),
                                                  loop.getaddrinfo("localhost", 80)), UNRELATED_WAIT_S)
            unrelated_s = time.monotonic() - started
        except TimeoutError:
            unrelated_s = None
        print(f"an unrelated to_thread + getaddrinfo while stopped: {unrelated_s} s")
        await asyncio.sleep(0.7)  # past READ_WAIT_S: every read thread holds a read the database has not answered
        started = time.monotonic()
        try:
            refused = await asyncio.wait_for(live.commands.dispatch(VIEWER, "risk", []), 3)
        except TimeoutError:
            refused = None
        refused_s = time.monotonic() - started
        print(f"/risk answered in {refused_s:.3f} s: {refused and refused.text!r}")
        answered_while_stopped = asking.done()
        server.resume()
    replies = await asyncio.wait_for(asking, 15)
    assert unrelated_s is not None, (f"asyncio.to_thread waited more than {UNRELATED_WAIT_S} s behind "
                                     f"{PNL_ASKED} /pnl reads of a stopped server")
    assert not answered_while_stopped
    assert refused is not None and refused_s < 0.2 and not refused.ok, refused
    assert refused.title == "/risk could not read the store" and "the database is not answering" in refused.text
    pnls = replies[:PNL_ASKED]
    assert all(p.ok and p.data["totals"]["transfer_costs"] == {"USD": "0.5"} for p in pnls), [p.text for p in pnls]
