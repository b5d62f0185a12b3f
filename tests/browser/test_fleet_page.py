"""The console's Fleet page: three in-process bots wired by an in-memory FleetLink, the front serving the console.

Every action on the page goes through the front's command layer and the link, so the bots that act
authorize and audit it themselves (transport ``web@front``), as for a chat command.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import expect

from bot.api.testing import wait_for
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.fleet_kit import MemoryFleet, start_fleet, stop_fleet
from tests.helpers.risk_kit import plugin as kit_plugin

from .browser_kit import ROLES, TOKENS, Console, login, shot
from .conftest import web_plugins

pytestmark = pytest.mark.asyncio(loop_scope="module")
TIMEOUT_MS = 30_000
WEB = "[plugins.web]\nenabled = true\nport = 0\nusers = { " + ", ".join(
    f'{n} = {{ role = "{ROLES[n]}", token = "env:ARBOT_WEB_TEST_{n.upper()}" }}' for n in TOKENS) + " }\n"
TRADER = """
[exchanges.v]
type = "scripted"
[strategies.{a}]
type = "recorder"
[strategies.{b}]
type = "recorder"
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet(tmp_path_factory) -> AsyncIterator[tuple[MemoryFleet, Console]]:
    saved = {n: os.environ.get(f"ARBOT_WEB_TEST_{n.upper()}") for n in TOKENS}
    os.environ.update({f"ARBOT_WEB_TEST_{n.upper()}": t for n, t in TOKENS.items()})
    fleet = await start_fleet(tmp_path_factory.mktemp("fleet"),
                              {"arb": TRADER.format(a="arb-1", b="arb-2"), "front": WEB,
                               "grid": TRADER.format(a="grid-1", b="grid-2")},
                              extra=[("venue", venue_plugin), ("kit", kit_plugin), *web_plugins()],
                              roles=dict(ROLES), timeout_s=1.0)
    try:
        from plugins.web import running_server

        server = running_server(fleet.bots["front"].operator)
        assert server is not None
        shots = tmp_path_factory.mktemp("screenshots")
        yield fleet, Console(fleet.bots["front"], f"http://127.0.0.1:{server.port}", None, shots)
    finally:
        await stop_fleet(fleet)
        for n, v in saved.items():
            if v is None:
                os.environ.pop(f"ARBOT_WEB_TEST_{n.upper()}", None)
            else:
                os.environ[f"ARBOT_WEB_TEST_{n.upper()}"] = v


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser, fleet):
    """A fresh browser profile, phone-sized: the fleet page is what an operator opens on the go."""
    ctx = await browser.new_context(base_url=fleet[1].url, viewport={"width": 430, "height": 900})
    errors: list[str] = []
    ctx.on("weberror", lambda e: errors.append(str(e.error)))
    yield await ctx.new_page()
    await ctx.close()
    assert not errors, f"errors in the page: {errors}"


async def open_fleet(page, console: Console, user: str) -> None:
    await login(page, console, user)
    await page.get_by_role("link", name="Fleet").click()
    await page.wait_for_selector("#page[data-page='fleet'][data-refreshed]")


async def test_every_bot_with_its_health_and_a_viewer_sees_no_buttons(page, fleet):
    _, console = fleet
    await open_fleet(page, console, "vera")
    summary = page.get_by_test_id("fleet-summary")
    for bot in ("arb", "front", "grid"):
        await expect(page.get_by_test_id(f"fleet-alive-{bot}")).to_have_text("alive")
    await expect(summary).to_contain_text("front (this)")
    await expect(page.get_by_test_id("fleet-strategies-grid")).to_contain_text("grid-2")
    assert await page.locator("#page button").count() == 0
    await shot(page, console, "fleet-viewer")
    status = await page.evaluate("""async () => {
        const s = await (await fetch('/api/v1/session')).json();
        const r = await fetch('/api/v1/fleet/grid/strategies/grid-1/pause', {method: 'POST',
            headers: {'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/json'}, body: '{}'});
        return r.status; }""")
    assert status == 403


async def test_pause_and_resume_one_strategy_of_another_bot(page, fleet):
    memory, console = fleet
    grid = memory.bots["grid"]
    await open_fleet(page, console, "oscar")
    await page.get_by_test_id("fleet-pause-grid-grid-1").click()
    await wait_for(lambda: grid.strategies["grid-1"].paused, timeout_s=10, what="grid-1 paused")
    assert not grid.strategies["grid-2"].paused and not memory.bots["arb"].strategies["arb-1"].paused
    audit = grid.store.audit_log()[0]
    assert (audit.transport, audit.user_id, audit.command, audit.args) == ("web@front", "oscar", "pause", "grid-1")
    await page.get_by_test_id("fleet-resume-grid-grid-1").click(timeout=TIMEOUT_MS)
    confirm = page.get_by_test_id("fleet-confirm")
    await expect(confirm).to_contain_text("/resume on 1 bot (grid)?")
    await confirm.get_by_role("button", name="Confirm").click()
    await wait_for(lambda: not grid.strategies["grid-1"].paused, timeout_s=10, what="grid-1 resumed")
    assert "kill" not in [c[2] for c in memory.calls]


async def test_a_silent_bot_shows_and_kill_all_is_confirmed_once(page, fleet):
    memory, console = fleet
    memory.gone.add("arb")  # not heard from within the liveness window: gone, never a target
    try:
        await open_fleet(page, console, "alice")
        await expect(page.get_by_test_id("fleet-alive-arb")).to_have_text("silent")
        assert await page.get_by_test_id("fleet-kill-arb").count() == 0  # no buttons for a bot that is not there
        await page.get_by_test_id("fleet-kill-all").click()
        confirm = page.get_by_test_id("fleet-confirm")
        await expect(confirm).to_contain_text("/kill on 2 bots (front, grid)?")
        assert not memory.bots["grid"].killed("grid-1")
        await shot(page, console, "fleet-kill-confirm")
        await confirm.get_by_role("button", name="Confirm").click()
        await wait_for(lambda: memory.bots["grid"].killed("grid-1") and memory.bots["grid"].killed("grid-2"),
                       timeout_s=10, what="grid killed")
        await expect(page.locator(".toast")).to_contain_text("arb: gone", timeout=TIMEOUT_MS)
        assert [c[1:] for c in memory.calls if c[2] == "kill"] == [("grid", "kill", ["web console kill"], True)]
        await shot(page, console, "fleet-killed")
    finally:
        memory.gone.discard("arb")
