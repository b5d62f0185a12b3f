"""Two fronts sharing one Telegram token on a real nats-server: the standby takes over without repeating alerts.

The live front relays every bot's alerts to the chat (the standby's own included); the standby neither polls
nor sends. When the live front stops, the standby takes the token's lease: what the live front already
relayed must not reach the chat a second time from the standby.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.api import AlertLevel
from plugins.fleet import running_link
from tests.fakes.telegram_api import FakeBotAPI
from tests.helpers.waiting import wait_for

TOKEN = "123456:TEST-token-shared-by-two-fronts"
ADMIN, ALERTS = 1001, -700


def telegram(api: FakeBotAPI) -> str:
    return f"""
        [notifiers.tg]
        type = "telegram"
        token = "env:ARBOT_TEST_TG_TOKEN"
        base_url = "{api.base_url}"
        users = {{ {ADMIN} = "admin" }}
        alert_chats = {{ {ALERTS} = "all" }}
        poll_timeout_s = 1
        lease_retry_s = 0.2
    """


@pytest.fixture
async def api():
    fake = await FakeBotAPI(TOKEN).start()
    yield fake
    await fake.close()


def sent(api: FakeBotAPI, text: str) -> int:
    return sum(text in m["text"] for m in api.messages_to(ALERTS))


async def standby_rounds(tg, texts: tuple[str, ...], timeout_s: float = 10) -> None:
    """Give the standby a few lease rounds (it retries every 0.2 s) to see the live front still holding the
    token after these alerts: up to ``timeout_s``, until it holds none of them (not failing: the test asserts)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline and any(text in line[2] for line in tg._held for text in texts):
        await asyncio.sleep(0.05)


async def test_a_standby_front_taking_over_sends_no_alert_the_live_front_relayed(nats_server, fleet_bot, api,
                                                                                   tmp_path, monkeypatch):
    monkeypatch.setenv("ARBOT_TEST_TG_TOKEN", TOKEN)
    shared = f'db_url = "sqlite:///{tmp_path}/shared.db"\n'  # one store: one token lease between the fronts
    fronts = []
    grid = await fleet_bot("grid-1", nats_server.url)
    try:
        for name in ("front-a", "front-b"):
            front = await fleet_bot(name, nats_server.url, toml=telegram(api), fleet="relay_alerts = true\n",
                                    bot_keys=shared, start=False)
            front.resolve_secrets()
            await front.start()
            fronts.append(front)
        live, standby = fronts
        assert live.component("notifier", "tg").lease.state == "live"
        assert standby.component("notifier", "tg").lease.state == "standby"
        await wait_for(lambda: all(running_link(b.operator).stats()["connected"] for b in (grid, live, standby)),
                       timeout_s=20, what="every bot on NATS")

        grid.operator.alert(AlertLevel.ERROR, "risk", "grid order rejected", source="paper")
        standby.operator.alert(AlertLevel.ERROR, "risk", "standby store slow", source="store")
        await api.wait(lambda: sent(api, "grid order rejected") and sent(api, "standby store slow"), timeout_s=20)
        await standby_rounds(standby.component("notifier", "tg"), ("grid order rejected", "standby store slow"))

        await live.stop()  # the standby takes the lease over
        fronts.remove(live)
        await wait_for(lambda: standby.component("notifier", "tg").lease.state == "live", timeout_s=20,
                       what="the take-over")
        standby.operator.alert(AlertLevel.ERROR, "risk", "marker after the take-over", source="test")
        await api.wait(lambda: sent(api, "marker after the take-over"), timeout_s=20)
        assert sent(api, "grid order rejected") == 1  # relayed once by the live front; not again by the standby
        assert sent(api, "standby store slow") == 1
        assert sent(api, "marker after the take-over") == 1
    finally:
        for front in reversed(fronts):
            await front.stop()
