"""/chart through a real bot: the Telegram plugin against the fake Bot API, a grid on the paper
exchange, and ``arbot ctl``'s control socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from bot.api import Caller
from bot.config import resolve_secrets
from bot.control import send_command
from bot.domain import Fill, Liquidity, Side
from bot.ledger import day_start_ns
from plugins.charts import price_history
from tests.fakes.telegram_api import FakeBotAPI, png_size
from tests.helpers.waiting import wait_for

TOKEN = "123456:TEST-token-for-the-fake-api"
VIEWER, STRANGER = 2001, 6666
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
D = Decimal

GRID = """
    [exchanges.paper]
    tick_interval_ms = 5
    volatility_bps = 2
    state_file = ""
    [strategies.g]
    type = "grid"
    exchange = "paper"
    symbol = "BTC/USD"
    lower = "29700"
    upper = "30300"
    levels = 7
    order_size = "0.01"
    [plugins.charts]
    sample_every_s = 0
    width_px = 900
    height_px = 500
"""


def telegram(api: FakeBotAPI) -> str:
    return f"""
    [notifiers.tg]
    type = "telegram"
    token = "env:ARBOT_TEST_TG_TOKEN"
    base_url = "{api.base_url}"
    users = {{ {VIEWER} = "viewer" }}
    poll_timeout_s = 5
    """


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    fake = await FakeBotAPI(TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
async def bot(api, make_bot, monkeypatch, request):
    """A grid on the paper exchange, steered over Telegram by a viewer; stopped before the fake closes. A test
    given ``"far"`` (indirect parametrization) gets a grid far below the market, whose buys do not fill while it
    runs."""
    monkeypatch.setenv("ARBOT_TEST_TG_TOKEN", TOKEN)
    grid = GRID
    if getattr(request, "param", None) == "far":
        grid = grid.replace('lower = "29700"', 'lower = "20000"').replace('upper = "30300"', 'upper = "20600"')
    bot = await make_bot(grid + telegram(api), start=False, control_socket="ctl.sock")
    resolve_secrets(bot.config)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


def store_round_trip(bot, start_ns: int) -> None:
    """A buy then a dearer sell of the grid's market, stored as the executor would."""
    for n, (side, price) in enumerate([(Side.BUY, "29900"), (Side.SELL, "30000")]):
        bot.store.insert_fill(Fill("paper", "BTC/USD", f"g-c{n}", f"hand-{n}", side, D(price), D("0.01"),
                                   D("0.05"), "USD", Liquidity.MAKER, start_ns + n * 60_000_000_000), "g")


def assert_chart(png: bytes, width: int = 900, height: int = 500) -> None:
    assert png[:8] == PNG_SIGNATURE
    assert png_size(png) == (width, height)
    assert len(png) > 10_000  # axes, labels and a curve: matplotlib drew something


async def test_a_viewer_gets_the_pnl_chart_as_a_telegram_photo(api, bot):
    store_round_trip(bot, bot.clock.time_ns() - 3_600_000_000_000)
    await api.command(VIEWER, "/chart pnl")
    photo = await api.next_message(VIEWER, timeout_s=30)  # the first chart imports matplotlib
    assert_chart(photo["photo_bytes"])
    assert photo["content_type"] == "image/png" and photo["filename"] == "chart.png"
    assert photo["caption"] == "Realized PnL since the first fill, after fees: 0.90 USD"  # +1 USD, 0.10 USD fees
    assert photo["photo"][0]["width"] == 900 and "text" not in photo
    [upload] = [c for c in api.calls if c.method == "sendPhoto"]
    assert upload.params["caption"] == photo["caption"]
    audit = [(a.user_id, a.role, a.command, a.args, a.outcome) for a in bot.store.audit_log()]
    assert audit == [(str(VIEWER), "viewer", "chart", "pnl", "ok")]


@pytest.mark.parametrize("bot", ["far"], indirect=True)  # no grid fill may land before the command's answer
async def test_no_fills_in_the_period_and_bad_arguments_get_one_clear_line(api, bot):
    await api.command(VIEWER, "/chart pnl week")
    assert (await api.next_message(VIEWER))["text"] == "<pre>No fills this week: no PnL to chart.</pre>"
    await api.command(VIEWER, "/chart volume")
    assert (await api.next_message(VIEWER))["text"] == "<pre>Usage: /chart pnl [day|week] | price SYMBOL</pre>"
    await api.command(STRANGER, "/chart pnl")
    assert (await api.next_message(STRANGER))["text"] == "<pre>Not authorized.</pre>"
    assert not [c for c in api.calls if c.method == "sendPhoto"]


async def test_an_unknown_symbol_is_named_with_the_markets_there_are(api, bot):
    await wait_for(lambda: price_history(bot.operator).prices("paper", "BTC/USD"), what="a first BTC/USD price")
    await api.command(VIEWER, "/chart price DOGE/USD")
    reply = await api.next_message(VIEWER)
    assert reply["text"] == "<pre>Unknown symbol DOGE/USD. Markets with prices: BTC/USD.</pre>"


async def test_the_price_chart_of_a_running_grid_has_its_levels_and_fills(bot):
    history = price_history(bot.operator)
    await wait_for(lambda: len(history.prices("paper", "BTC/USD")) >= 20, timeout_s=10, what="20 mid prices")
    store_round_trip(bot, history.prices("paper", "BTC/USD")[0][0])
    levels = bot.strategies["g"].chart_levels("BTC/USD")
    assert levels[0] == D("29700") and levels[-1] == D("30300") and len(levels) == 7
    assert bot.strategies["g"].chart_levels("ETH/USD") == []
    viewer = Caller("test", "v", "viewer")
    reply = await bot.commands.dispatch(viewer, "chart", ["price", "btc/usd"])  # any case
    assert reply.ok and reply.title.startswith("BTC/USD: last mid paper ")
    assert_chart(reply.image_png)


async def test_a_strategy_whose_chart_levels_raises_leaves_the_chart_without_its_levels(bot, monkeypatch):
    history = price_history(bot.operator)
    await wait_for(lambda: len(history.prices("paper", "BTC/USD")) >= 2, timeout_s=10, what="2 mid prices")

    def chart_levels(symbol):
        raise KeyError(symbol)  # a bug in the plugin

    monkeypatch.setattr(bot.strategies["g"], "chart_levels", chart_levels)
    reply = await bot.commands.dispatch(Caller("test", "v", "viewer"), "chart", ["price", "BTC/USD"])
    assert reply.ok and reply.image_png  # before: "/chart failed: KeyError", reported against charts
    assert bot.plugins.info("grid").errors == ["strategy \"g\": chart_levels() raised KeyError: 'BTC/USD'"]


async def test_arbot_ctl_gets_the_chart_as_a_file_in_the_data_dir(bot, tmp_path):
    # today, whatever the time of day
    store_round_trip(bot, day_start_ns(bot.clock.time_ns(), bot.config.scheduler.timezone))
    answer = await send_command(tmp_path / "ctl.sock", "chart", ["pnl", "day"], timeout_s=30)
    assert answer["ok"] and answer["text"] == "Realized PnL today, after fees: 0.90 USD"
    path = tmp_path / "images" / answer["image"].rsplit("/", 1)[1]
    assert answer["image"] == str(path) and path.name.startswith("chart-")
    assert_chart(path.read_bytes())


@pytest.fixture
async def discord_bot(make_bot, monkeypatch):
    """A paper bot with the discord notifier connected to a fake Discord; the viewer may chart."""
    from tests.fakes.discord_api import CHANNEL_ID, GUILD_ID, FakeDiscord

    monkeypatch.setenv("ARBOT_TEST_DISCORD_TOKEN", "discord-test-token")
    async with FakeDiscord() as fake:
        bot = await make_bot(GRID + f"""
        [notifiers.dc]
        type = "discord"
        token = "env:ARBOT_TEST_DISCORD_TOKEN"
        api_base = "{fake.api_base}"
        gateway_url = "{fake.gateway_url}"
        guild_ids = [{GUILD_ID}]
        channel_ids = [{CHANNEL_ID}]
        users = {{ "{VIEWER}" = "viewer" }}
        """, start=False)
        resolve_secrets(bot.config)
        await bot.start()
        try:
            await wait_for(fake.ready.is_set, what="the client to identify on the fake gateway")
            store_round_trip(bot, bot.clock.time_ns() - 3_600_000_000_000)
            yield bot, fake
        finally:
            await bot.stop()


@pytest.mark.parametrize("reply_within_s", [30.0, 0.0])
async def test_discord_attaches_the_chart_to_the_reply_or_the_follow_up(discord_bot, monkeypatch, reply_within_s):
    _bot, fake = discord_bot
    monkeypatch.setattr("plugins.discord.notifier.REPLY_WITHIN_S", reply_within_s)
    callback = await fake.slash(VIEWER, "chart", "pnl", timeout_s=30)
    if reply_within_s:  # answered at once: the callback is a multipart message with the file
        message = callback.message
    else:  # deferred ("arbot is thinking..."), then a multipart follow-up
        assert callback.type == 5
        await wait_for(lambda: fake.followups, timeout_s=30, what="the follow-up with the chart")
        [message] = fake.followups
    assert "Realized PnL since the first fill, after fees: 0.90 USD" in message["content"]
    [attachment] = message["attachments"]
    assert attachment["filename"] == "chart.png" and attachment["content_type"] == "image/png"
    filename, png = fake.uploads[attachment["id"]]
    assert filename == "chart.png" and attachment["size"] == len(png)
    assert_chart(png)
