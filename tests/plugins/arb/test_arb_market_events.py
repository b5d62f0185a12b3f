"""Which market events reach the arb strategy: books, pools and feed states of its markets, never public
trades (``Strategy.market_events``), so a venue whose trades nobody else reads need not make them."""

from __future__ import annotations

from bot.api import Strategy
from bot.domain import BookUpdate, FeedStatus, PoolUpdate, Trade
from plugins.arb.strategy import ArbStrategy
from tests.plugins.arb.arb_kit import config, extra


def subscribers(bot, event_type, exchange):
    return {owner for owner, _ in bot.bus.topic(event_type, exchange, "SOL/USDC").route}


async def test_the_arb_strategy_is_subscribed_to_books_pools_and_feed_states_not_trades(make_bot):
    assert Trade in Strategy.market_events  # a strategy receives every kind unless it says otherwise
    assert ArbStrategy.market_events == (BookUpdate, PoolUpdate, FeedStatus)
    bot = await make_bot(config(), extra=extra())
    try:
        for event_type in (BookUpdate, FeedStatus):
            assert "sol-arb" in subscribers(bot, event_type, "paper")
        assert "sol-arb" in subscribers(bot, PoolUpdate, "dex")
        assert "sol-arb" not in subscribers(bot, Trade, "paper")
    finally:
        await bot.stop()
