"""The drawdown's equity counts what moving funds cost, by the rule the daily loss counts them: a cost in the quote
as it is, one in another asset at the portfolio's ASSET/QUOTE mid, named on /risk when no venue prices it.

The fills are those of :mod:`tests.test_surfaces_agree` (a grid's BTC/USD lot held, an arb's JUP/USDC round trip),
with ``max_drawdown`` set.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from bot.clock import ManualClock
from bot.domain import TransferStatus
from bot.ledger import EXACT_DIGITS
from tests.helpers.risk_kit import book, risk_check, trips
from tests.helpers.waiting import wait_for
from tests.test_surfaces_agree import BEFORE_MIDNIGHT, CONFIG, NOW, PLUGINS, bot, moved  # noqa: F401 (bot: fixture)

SOL_FEE = Decimal("0.00204428")
DRAWDOWN = CONFIG.replace("[risk.limits]\n", '[risk.limits]\nmax_drawdown = { USD = "1000", USDC = "1000" }\n')


@pytest.fixture
async def watched(make_bot, monkeypatch):
    """The fixture's bot with ``max_drawdown`` set (its fills are made after the start: the peaks are theirs)."""
    import tests.test_surfaces_agree as agree

    monkeypatch.setattr(agree, "CONFIG", DRAWDOWN)
    return await agree.bot.__wrapped__(make_bot)


def _drawdowns(limits) -> dict[str, Decimal]:
    usage = limits.usage()
    return {q: usage[f"max_drawdown.{q}"].used for q in ("USD", "USDC")}


async def test_a_sent_transfers_fees_move_the_drawdown_as_they_move_the_daily_loss(watched):
    limits = risk_check(watched, "limits")
    watched.bus.publish(book("150", exchange="w", symbol="SOL/USDC"))  # a SOL/USDC mid; none for SOL/USD
    before = _drawdowns(limits)
    moved(watched, "t-cex", "USD", "0.5", "0", "USD", TransferStatus.SENT, NOW - 50_000_000_000)
    moved(watched, "t-wallet", "USDC", "0", str(SOL_FEE), "SOL", TransferStatus.CREDITED, NOW - 100_000_000_000)
    moved(watched, "t-yesterday", "USDC", "1", "0", None, TransferStatus.CREDITED, BEFORE_MIDNIGHT)  # all time
    moved(watched, "t-refused", "USD", "9", "0", "USD", TransferStatus.FAILED, NOW - 40_000_000_000)  # cost nothing
    # /risk reads them at once on SQLite; on PostgreSQL it shows those read last and reads them off the loop
    await wait_for(lambda: _drawdowns(limits)["USD"] == before["USD"] + Decimal("0.5"), what="the costs read")
    after = _drawdowns(limits)
    assert after["USD"] == before["USD"] + Decimal("0.5")
    with localcontext(prec=EXACT_DIGITS):
        assert after["USDC"] == before["USDC"] + 1 + SOL_FEE * 150
    facts = limits.status()
    assert "(transfer costs 0.50 USD; 0.00204428 SOL not counted (no SOL/USD price))" in facts["drawdown USD"]
    assert "(transfer costs 1.31 USDC (0.00204428 SOL at 150.00 USDC))" in facts["drawdown USDC"]
    # the daily loss counts today's only (yesterday's USDC fee is in the drawdown, not in today's loss)
    assert limits.usage()["max_daily_loss.USDC"].used < after["USDC"] + 1


async def test_a_transfer_cost_alone_trips_the_drawdown(make_bot, monkeypatch):
    import plugins.limits.check as check
    from bot.domain import Side
    from tests.helpers.risk_kit import fill
    from tests.test_surfaces_agree import order

    monkeypatch.setattr(check, "TRANSFER_COSTS_EVERY_S", 0.01)
    config = CONFIG.replace("[risk.limits]\n", '[risk.limits]\nmax_drawdown = { USD = "2", USDC = "1000" }\n')
    limited = await make_bot(config, extra=PLUGINS, clock=ManualClock(NOW))
    await order(limited, "grid", "A", Side.BUY, "1", "100", "BTC/USD", "v")
    await order(limited, "grid", "B", Side.SELL, "1", "101", "BTC/USD", "v")
    limited.bus.publish(fill("A", Side.BUY, "1", "100", "0", NOW - 60_000_000_000))
    limited.bus.publish(fill("B", Side.SELL, "1", "101", "0", NOW - 50_000_000_000))  # +1 USD: the peak
    await limited.executor.flush()
    moved(limited, "t-cex", "USD", "1.5", "0", "USD", TransferStatus.SENT, NOW - 40_000_000_000)
    limits = risk_check(limited, "limits")
    await wait_for(lambda: limits.usage()["max_drawdown.USD"].used == Decimal("1.5"), what="the cost read")
    assert not [t for t in trips(limited, "limits") if "drawdown" in t.reason]  # 1.5 is not past 2
    moved(limited, "t-cex2", "USD", "1", "0", "USD", TransferStatus.SENT, NOW - 30_000_000_000)  # 2.5: past 2
    await wait_for(lambda: [t for t in trips(limited, "limits") if "drawdown" in t.reason], what="the trip")
    [trip] = [t for t in trips(limited, "limits") if "drawdown" in t.reason]
    assert '"transfer_costs": "2.5"' in (trip.details or "") and '"drawdown": "2.5"' in (trip.details or "")


async def test_a_first_start_with_a_drawdown_limit_counts_past_transfer_costs_in_its_peak_too(make_bot):
    """A quote with no stored peak starts from its realized total less the transfer costs counted in it: costs paid
    before the limit was set are no fall from a peak (a peak of the realized total alone would show them as one)."""
    from bot.domain import Side
    from tests.helpers.risk_kit import fill
    from tests.test_surfaces_agree import order

    first = await make_bot(CONFIG, extra=PLUGINS, clock=ManualClock(NOW))  # no max_drawdown: no peak kept
    await order(first, "grid", "A", Side.BUY, "1", "100", "BTC/USD", "v")
    await order(first, "grid", "B", Side.SELL, "1", "101", "BTC/USD", "v")
    first.bus.publish(fill("A", Side.BUY, "1", "100", "0", NOW - 60_000_000_000))
    first.bus.publish(fill("B", Side.SELL, "1", "101", "0", NOW - 50_000_000_000))
    await first.executor.flush()
    moved(first, "t-cex", "USD", "3", "0", "USD", TransferStatus.SENT, NOW - 40_000_000_000)
    await first.stop()

    config = CONFIG.replace("[risk.limits]\n", '[risk.limits]\nmax_drawdown = { USD = "2", USDC = "1000" }\n')
    second = await make_bot(config, extra=PLUGINS, clock=ManualClock(NOW))
    limits = risk_check(second, "limits")
    assert limits.equity("USD") == Decimal("-2")  # realized 1, less the 3 USD withdrawal fee
    assert limits.usage()["max_drawdown.USD"].used == 0
    second.bus.publish(book("100"))
    await second.executor.flush()
    assert not [t for t in trips(second, "limits") if "drawdown" in t.reason]
