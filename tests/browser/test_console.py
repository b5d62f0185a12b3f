"""The web console in a real headless Chromium against a running demo bot (see conftest.py).

The tests run in file order on one bot: the feed-silencing and kill tests come last.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import expect

from bot.api.testing import wait_for

from .browser_kit import Console, login, shot

pytestmark = pytest.mark.asyncio(loop_scope="module")

TIMEOUT_MS = 30_000  # generous: the machine running the tests may be busy


async def test_logged_out_page_shows_only_the_login_form(context, console: Console):
    page = await context.new_page()
    await page.goto("/")
    await page.get_by_label("Token").wait_for()
    assert await page.locator("#app").is_hidden()
    assert await page.locator("#app > *").count() == 0  # nothing of the console is in the page
    assert await page.locator("body").inner_text() == await page.locator("#login").inner_text()
    status = await page.evaluate("fetch('/api/v1/status').then(r => r.status)")
    assert status == 401
    await page.get_by_label("Token").fill("not a token")
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_text("That token is not valid.").wait_for()
    assert await page.locator("#app").is_hidden()
    await shot(page, console, "login")


async def test_overview_updates_live_as_the_demo_trades(context, console: Console):
    page = await context.new_page()
    await login(page, console, "alice")
    fills = page.get_by_test_id("fills-today")
    await fills.wait_for()
    assert await page.get_by_test_id("mode").inner_text() == "paper"
    await page.evaluate("window.sameDocument = true")  # gone if the page reloaded
    before = await fills.inner_text()
    await expect(fills).not_to_have_text(before, timeout=TIMEOUT_MS)  # fills of the day only grow
    assert int(await fills.inner_text()) > int(before)
    # the day's net PnL is drawn as it changes
    await expect(page.locator("[data-testid=equity] path.line").first).to_be_visible(timeout=TIMEOUT_MS)
    assert await page.evaluate("window.sameDocument") is True
    assert await page.locator("#live-dot.on").count() == 1  # the event stream is connected
    await shot(page, console, "overview")
    # a phone: the same page redrawn narrow; the navigation still reaches every page
    refreshed = await page.locator("#page").get_attribute("data-refreshed")
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(page.locator("#page")).not_to_have_attribute("data-refreshed", refreshed)
    await shot(page, console, "overview-phone")
    await page.get_by_role("link", name="Executions").click()
    await page.wait_for_selector("#page[data-page=executions][data-refreshed]")
    await shot(page, console, "executions-phone")


async def test_pause_and_resume_a_strategy_with_buttons(context, console: Console):
    page = await context.new_page()
    await login(page, console, "oscar")
    op = console.bot.operator
    await page.get_by_test_id("pause-sol-arb").click()
    await page.get_by_test_id("resume-sol-arb").wait_for()
    assert op.strategy_state("sol-arb").startswith("paused")
    assert (await page.get_by_test_id("state-sol-arb").inner_text()).startswith("paused")
    await shot(page, console, "overview-paused")
    await page.get_by_test_id("resume-sol-arb").click()
    await page.get_by_test_id("pause-sol-arb").wait_for()
    assert op.strategy_state("sol-arb") == "running"


async def test_an_opportunity_opens_its_cost_breakdown(context, console: Console):
    page = await context.new_page()
    await login(page, console, "alice")
    await page.get_by_role("link", name="Opportunities").click()
    rows = page.locator("[data-testid=opportunities-table] tbody tr")
    await rows.first.wait_for(timeout=TIMEOUT_MS)
    await shot(page, console, "opportunities")
    await page.get_by_test_id("filter-acted").select_option("yes")  # a traded one: priced with every cost
    await expect(rows.first).to_contain_text("acted", timeout=TIMEOUT_MS)
    await rows.first.click()
    dialog = page.get_by_test_id("opportunity-dialog")
    await dialog.wait_for()
    breakdown = dialog.get_by_test_id("cost-breakdown")
    text = await breakdown.text_content()
    assert "net PnL" in text and "Costs" in text, text
    assert await breakdown.locator("td.num").count() >= 2  # at least one cost, and the net line
    await shot(page, console, "opportunity-breakdown")
    await dialog.get_by_role("button", name="Close").click()
    await dialog.wait_for(state="detached")


async def test_fills_export_as_csv(context, console: Console):
    page = await context.new_page()
    await login(page, console, "alice")
    await page.get_by_role("link", name="Orders & fills").click()
    await page.get_by_test_id("kind").select_option("fills")
    await page.locator("[data-testid=fills-table] tbody tr").first.wait_for(timeout=TIMEOUT_MS)
    await shot(page, console, "fills")
    async with page.expect_download() as info:
        await page.get_by_test_id("csv-export").click()
    download = await info.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, "the CSV has no fills"
    assert {"strategy", "exchange", "symbol", "trade_id", "price", "qty", "fee", "ts_ns"} <= set(rows[0])
    stored = {(f.exchange, f.trade_id) for _, f in console.bot.operator.fill_history(limit=100_000)}
    assert {(r["exchange"], r["trade_id"]) for r in rows} <= stored


async def test_orders_page_by_page(context, console: Console):
    page = await context.new_page()
    await login(page, console, "alice")
    await page.get_by_role("link", name="Orders & fills").click()
    await page.get_by_test_id("kind").select_option("orders")
    await page.get_by_test_id("page-size").select_option("10")
    await wait_for(lambda: len(console.bot.operator.order_history(limit=11)) > 10, timeout_s=30, what="11 orders")
    rows = page.locator("[data-testid=orders-table] tbody tr")
    await expect(page.get_by_test_id("page-info")).to_have_text("1–10", timeout=TIMEOUT_MS)
    assert await rows.count() == 10 and await page.get_by_test_id("prev").is_disabled()
    await page.get_by_test_id("next").click()
    await expect(page.get_by_test_id("page-info")).to_have_text(re.compile(r"^11–"))
    assert 1 <= await rows.count() <= 10 and await page.get_by_test_id("prev").is_enabled()
    await page.get_by_test_id("prev").click()
    await expect(page.get_by_test_id("page-info")).to_have_text("1–10")
    await shot(page, console, "orders")


async def test_every_page_renders(context, console: Console):
    page = await context.new_page()
    await login(page, console, "alice")
    await page.get_by_role("link", name="Executions").click()
    href = await page.get_by_test_id("executions-csv").get_attribute("href")
    assert href == "/api/v1/arb/executions?format=csv"
    for name, testid in [("Executions", "executions"), ("Inventory", "balances"), ("Risk", "risk-checks"),
                         ("System", "feeds"), ("Backtests", "backtests")]:
        await page.get_by_role("link", name=name).click()
        await page.get_by_test_id(testid).wait_for()
        await page.wait_for_selector(f"#page[data-page='{name.lower()}'][data-refreshed]")
        await shot(page, console, name.lower())
        if name == "Inventory":  # the pool's wallet starts too poor to buy: the arbitrage warned about it
            warning = page.get_by_test_id("low-inventory")
            await expect(warning).to_contain_text("sol-pool has", timeout=TIMEOUT_MS)
            await expect(page.locator("[data-testid=venue-sol-pool] tr.warn")).to_contain_text("USDC")
    await page.get_by_role("link", name="Backtests").click()
    await page.locator("[data-testid=backtests-table] tbody tr").first.click()
    chart = page.locator("img.report")
    await chart.wait_for()
    await expect(chart).to_have_js_property("complete", True)
    assert await chart.evaluate("img => img.naturalWidth") > 0  # the PNG was served and decoded
    await shot(page, console, "backtest-report")


async def test_a_viewer_sees_no_control_buttons(context, console: Console):
    page = await context.new_page()
    await login(page, console, "vera")
    await page.get_by_test_id("state-sol-arb").wait_for()
    assert await page.locator("#page button").count() == 0, await page.locator("#page button").all_inner_texts()
    await page.get_by_role("link", name="Risk").click()
    await page.get_by_test_id("risk-checks").wait_for()
    await page.wait_for_selector("#page[data-page='risk'][data-refreshed]")
    assert await page.locator("#page button").count() == 0
    await shot(page, console, "risk-viewer")
    # the API refuses the verb too, even with the right CSRF header
    status = await page.evaluate("""async () => {
        const s = await (await fetch('/api/v1/session')).json();
        const r = await fetch('/api/v1/strategies/sol-arb/pause', {method: 'POST',
            headers: {'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/json'}, body: '{}'});
        return r.status; }""")
    assert status == 403
    assert console.bot.operator.strategy_state("sol-arb") == "running"
    # logging out leaves nothing of the console in the page, and the cookie no longer works
    await page.get_by_role("button", name="Log out").click()
    await page.get_by_label("Token").wait_for()
    assert await page.locator("#app > *").count() == 0
    assert await page.evaluate("fetch('/api/v1/status').then(r => r.status)") == 401


async def test_observe_mode_on_and_off(context, console: Console):
    page = await context.new_page()
    await login(page, console, "alice")
    op = console.bot.operator
    await page.get_by_test_id("observe-on").click()
    await page.get_by_test_id("observe-banner").wait_for()
    assert op.mode == "observe" and await page.get_by_test_id("mode").inner_text() == "observe"
    await shot(page, console, "overview-observe")
    await page.get_by_test_id("observe-off").click()  # sending orders again is confirmed first, as in chat
    confirm = page.get_by_test_id("confirm-dialog")
    await expect(confirm).to_contain_text("Leave observe mode and send orders again (paper mode)?")
    await shot(page, console, "overview-observe-off-confirm")
    await confirm.get_by_role("button", name="Cancel").click()
    await confirm.wait_for(state="detached")
    assert op.mode == "observe"
    await page.get_by_test_id("observe-off").click()
    await confirm.get_by_role("button", name="Confirm").click()
    await page.get_by_test_id("observe-on").wait_for()
    assert op.mode == "paper"


async def test_forged_requests_are_refused(context, browser, console: Console):
    page = await context.new_page()
    await login(page, console, "oscar")
    op = console.bot.operator
    # from the console's own origin but without the CSRF header (a script that only has the cookie)
    status = await page.evaluate("fetch('/api/v1/strategies/sol-arb/pause', {method: 'POST'}).then(r => r.status)")
    assert status == 403
    # a page on another port (same site for cookies) posting a form and a fetch at the console
    hits: list[str] = []

    async def evil(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(content_type="text/html", text=f"""<!doctype html><body>
            <form id=f method=post action="{console.url}/api/v1/strategies/btc-grid/pause"></form>
            <script>
              fetch("{console.url}/api/v1/strategies/sol-arb/pause", {{method: "POST", mode: "no-cors",
                credentials: "include"}}).finally(() => document.getElementById("f").submit());
            </script></body>""")

    app = web.Application()
    app.router.add_get("/", evil)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        forged = await context.new_page()
        await forged.goto(f"http://127.0.0.1:{port}/")
        await forged.wait_for_url(f"{console.url}/**")  # the form was posted: its answer is the refusal
        body = json.loads(await forged.locator("body").inner_text())
        assert "X-CSRF-Token" in body["error"]
        await shot(forged, console, "forged-refused")
    finally:
        await runner.cleanup()
    assert hits == ["/"]
    assert op.strategy_state("sol-arb") == "running" and op.strategy_state("btc-grid") == "running"
    # a made-up session cookie is no session at all
    other = await browser.new_context(base_url=console.url)
    try:
        await other.add_cookies([{"name": "arbot_session", "value": "forged", "url": f"{console.url}/api/"}])
        stranger = await other.new_page()
        await stranger.goto("/")
        await stranger.get_by_label("Token").wait_for()
        status = await stranger.evaluate("""fetch('/api/v1/strategies/sol-arb/pause', {method: 'POST',
            headers: {'X-CSRF-Token': 'guess'}}).then(r => r.status)""")
        assert status == 401
        assert await stranger.locator("#app").is_hidden()
    finally:
        await other.close()
    assert op.strategy_state("sol-arb") == "running"


async def test_a_silent_venue_shows_stale_on_the_system_page(context, console: Console):
    page = await context.new_page()
    await login(page, console, "alice")
    await page.get_by_role("link", name="System").click()
    pill = page.get_by_test_id("feed-kraken-BTC/USD")
    await page.wait_for_selector("[data-testid='feed-kraken-BTC/USD'][data-state=live]", timeout=TIMEOUT_MS)
    console.kraken.silent = True
    try:
        await page.wait_for_selector("[data-testid='feed-kraken-BTC/USD']:not([data-state=live])", timeout=TIMEOUT_MS)
        await shot(page, console, "system-stale")
        assert "live" not in await pill.get_attribute("data-state")
    finally:
        console.kraken.silent = False
    await page.wait_for_selector("[data-testid='feed-kraken-BTC/USD'][data-state=live]", timeout=TIMEOUT_MS)


async def test_kill_needs_the_confirmation(context, console: Console):
    page = await context.new_page()
    await login(page, console, "alice")
    op = console.bot.operator
    await page.get_by_role("link", name="Risk").click()
    await page.get_by_test_id("kill-reason").fill("browser test")
    await page.get_by_test_id("kill").click()
    dialog = page.get_by_test_id("kill-dialog")
    await dialog.get_by_role("button", name="Cancel").click()
    await dialog.wait_for(state="detached")
    assert not any(op.killed(name) for name in op.strategies)
    await page.get_by_test_id("kill").click()
    await shot(page, console, "kill-confirm")
    await dialog.get_by_role("button", name="Kill").click()
    await wait_for(lambda: all(op.killed(name) for name in op.strategies), timeout_s=10, what="the kill")
    await expect(page.locator(".toast")).to_contain_text(f"Killed: {len(op.strategies)} strategies paused.")
    await page.get_by_role("link", name="Overview").click()
    await page.get_by_test_id("resume-sol-arb").click()  # resuming after the kill switch is confirmed first
    confirm = page.get_by_test_id("confirm-dialog")
    await expect(confirm).to_contain_text("Resume sol-arb after the kill switch?")
    await confirm.get_by_role("button", name="Confirm").click()
    await page.get_by_test_id("pause-sol-arb").wait_for()
    assert not op.killed("sol-arb") and op.strategy_state("sol-arb") == "running" and op.killed("btc-grid")
