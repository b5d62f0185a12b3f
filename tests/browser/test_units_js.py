"""The console's number formatting (static/js/units.js) rounds exactly as bot/units.py does.

bot/units.py owns display rounding; the browser gets exact decimal strings from the API and rounds
them with a port of it. This runs the port in Chromium on a spread of values and compares each
answer with the Python original, so the console shows the same figure as chat and `arbot report`.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from bot.api.ledger import amount, money, price, significant

pytestmark = pytest.mark.asyncio(loop_scope="module")

STATIC = Path(__file__).parents[2] / "plugins" / "web" / "static"


def samples() -> list[str]:
    rng = random.Random(5)
    fixed = ["0", "-0", "0.00", "1", "-1", "0.005", "0.015", "0.025", "-0.015", "0.0099", "0.01", "1E-7", "1E+3",
             "2.5E-9", "-0.000000001", "100.00", "123456789.5", "999999.5", "0.99999999", "150.19",
             "2.845360796237171052631578947368421052631578947368", "67.09524216693942059356394181",
             "1E+30", "-1E+30", "12345678901234567890123456789.515", "123456789012345678901234567891.75"]  # > 28 digits
    drawn = []
    for _ in range(400):
        digits = str(rng.randint(0, 10 ** rng.randint(1, 18)))  # within Decimal's 28 digits once in cents
        exponent = rng.randint(-26, 4)
        drawn.append(str(Decimal(f"{'-' if rng.random() < 0.3 else ''}{digits}E{exponent}")))
    return fixed + drawn


async def in_units_js(browser, script: str, arg: object) -> object:
    """``script`` (a function of the units module and ``arg``) evaluated in Chromium on the console's static files."""
    app = web.Application()
    app.router.add_static("/", STATIC)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/index.html")
        return await page.evaluate(f"""async (arg) => {{
            const u = await import('/js/units.js');
            return ({script})(u, arg);
        }}""", arg)
    finally:
        await context.close()
        await runner.cleanup()


async def test_units_js_matches_bot_units(browser):
    values = samples()
    assets = ["USD", "USDC", "SOL", "BTC", ""]
    got = await in_units_js(browser, """(u, [values, assets]) =>
        values.map((v) => [u.significant(v), u.price(v), ...assets.map((a) => u.amount(v, a))])""", [values, assets])
    wrong = []
    for value, answers in zip(values, got, strict=True):
        d = Decimal(value)
        expected = [significant(d), price(d), *(amount(d, a) for a in assets)]
        if answers != expected:
            wrong.append((value, answers, expected))
    assert not wrong, wrong[:5]


async def test_an_orders_fee_shows_every_asset_it_was_paid_in(browser):
    """The Orders page's fee cell: a JUP/USDC swap's fee in USDC, then its network fee in SOL, each in its asset
    (:attr:`bot.domain.Order.fees`), never summed; a fee in the quote alone as before."""
    from bot.domain import Order, Side
    from plugins.web.views import order_view

    swap = Order("j-1", "s", "jup", "JUP/USDC", Side.BUY, Decimal(100), None, fee=Decimal("0.1234"),
                 other_fees={"SOL": Decimal("0.000005"), "BONK": Decimal("12")})
    plain = Order("g-1", "s", "paper", "BTC/USD", Side.SELL, Decimal(1), Decimal(30000), fee=Decimal("0.3"))
    views = [order_view(o) for o in (swap, plain)]
    got = await in_units_js(browser, "(u, orders) => orders.map((o) => u.orderFees(o))", views)
    assert got == [" + ".join(money(v, a) for a, v in o.fees.items()) for o in (swap, plain)]
    assert got == ["0.12 USDC + 12 BONK + 0.000005 SOL", "0.30 USD"]


async def test_counted_js_agrees_with_bot_units(browser):
    """A count with its noun, as bot.units.counted words it: "1 strategy", "2 strategies", "0 orders"."""
    from bot.api.ledger import counted

    cases = [[n, noun] for n in (0, 1, 2, 11) for noun in ("strategy", "resting order", "fill", "day", "bot")]
    got = await in_units_js(browser, "(u, cases) => cases.map(([n, noun]) => u.counted(n, noun))", cases)
    assert got == [counted(n, noun) for n, noun in cases]
    assert got[5:7] == ["1 strategy", "1 resting order"]
