"""The limits' daily loss is the ledger's day figure (/pnl day) however late or out of order fills arrive, live and
after a restart alike: a fill counts in the day it was made (its ``ts_ns``), and lots are matched in the fills' time
order (a fill made before midnight that recovery hands over after it; a DEX leg confirmed after the CEX leg it
preceded)."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import plugins.limits.stored as limits_stored
from bot.clock import ManualClock
from bot.domain import Fill, Liquidity, Side
from bot.ledger import period_start_ns, strategy_figures
from bot.settings import parse_settings
from plugins.limits.peaks import StoredPeaks

NS = 1_000_000_000
DAY1_NOON = int(dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC).timestamp()) * NS
DAY1_2355 = int(dt.datetime(2026, 3, 2, 23, 55, tzinfo=dt.UTC).timestamp()) * NS
DAY2_0010 = int(dt.datetime(2026, 3, 3, 0, 10, tzinfo=dt.UTC).timestamp()) * NS


def limits(clock: ManualClock, stored: list[tuple[str, Fill]]):
    from plugins.limits.check import Limits
    from plugins.limits.settings import LimitsSettings

    issues: list = []
    settings = parse_settings(LimitsSettings, {"max_daily_loss": Decimal("100")}, "risk.limits", issues)
    assert not issues
    ctx = SimpleNamespace(clock=clock, operator=SimpleNamespace(timezone="UTC"),
                          pause=lambda names, reason: [], record_trip=lambda *a, **k: None,
                          kill=lambda reason: None, order=lambda cid: None,
                          store=SimpleNamespace(fills_page=lambda after, limit: (list(stored), None),
                                                closes=dict, get_state=lambda key: None,
                                                set_state=lambda *a: None, bot=None, transfers=lambda **k: [],
                                                records_inline=True, on_transfer_saved=lambda *a: lambda: None),
                          bus=SimpleNamespace(subscribe=lambda *a, **k: None),
                          create_task=lambda coro, what: coro.close())
    return Limits("limits", settings, ctx)


def fill(cid: str, side: Side, price: str, ts: int) -> Fill:
    return Fill("v", "BTC/USD", cid, f"t-{cid}", side, Decimal(price), Decimal(1), Decimal(0), "USD",
                Liquidity.TAKER, ts)


def test_a_late_fill_of_yesterday_is_in_risk_daily_loss_as_in_pnl_day(monkeypatch):
    monkeypatch.setattr(limits_stored, "stored_peaks", lambda store, name: StoredPeaks({}, {}, True))
    clock = ManualClock(DAY1_NOON)
    buy, sell = fill("b", Side.BUY, "110", DAY1_NOON), fill("s", Side.SELL, "100", DAY1_2355)
    live = limits(clock, [])
    asyncio.run(live.start())
    live.on_fill("s1", buy)
    clock.advance((DAY2_0010 - DAY1_NOON) / NS)  # down over midnight: recovery hands over the sell made at 23:55
    live.on_fill("s1", sell)

    fills = [("s1", buy), ("s1", sell)]
    today = strategy_figures(fills, since_ns=period_start_ns("day", DAY2_0010, "UTC"))
    pnl_day_loss = max(-today.get("s1").net.get("USD", Decimal(0)), Decimal(0)) if "s1" in today else Decimal(0)
    assert pnl_day_loss == 0  # /pnl day: the loss was made yesterday

    restarted = limits(clock, fills)  # the same store after a restart
    asyncio.run(restarted.start())
    assert restarted.usage()["max_daily_loss.USD"].used == pnl_day_loss  # rebuilt: agrees with /pnl
    assert live.usage()["max_daily_loss.USD"].used == pnl_day_loss, live.status()  # not the 10 USD of yesterday


def test_risk_daily_loss_matches_pnl_day_when_a_fill_arrives_after_a_later_one(monkeypatch):
    """A buy reported after a sell it preceded closes the sell's lot as in the ledger (FIFO in time), not the lot
    that happened to arrive first: no loss the ledger does not have."""
    monkeypatch.setattr(limits_stored, "stored_peaks", lambda store, name: StoredPeaks({}, {}, True))
    clock = ManualClock(DAY1_NOON + 60 * NS)
    early = fill("b0", Side.BUY, "90", DAY1_NOON)         # made first, reported last
    later = fill("b1", Side.BUY, "100", DAY1_NOON + 10 * NS)
    sell = fill("s", Side.SELL, "95", DAY1_NOON + 20 * NS)
    live = limits(clock, [])
    asyncio.run(live.start())
    for f in (later, sell, early):  # arrival order
        live.on_fill("arb", f)

    fills = [("arb", early), ("arb", later), ("arb", sell)]  # the store's (time) order
    day = strategy_figures(fills, since_ns=period_start_ns("day", clock.time_ns(), "UTC"))["arb"]
    assert day.net["USD"] == Decimal(5)  # /pnl day: the sell closed the 90 buy (FIFO in time)
    restarted = limits(clock, fills)
    asyncio.run(restarted.start())
    assert restarted.usage()["max_daily_loss.USD"].used == 0
    assert live.usage()["max_daily_loss.USD"].used == 0, live.status()  # not a 5 USD loss
