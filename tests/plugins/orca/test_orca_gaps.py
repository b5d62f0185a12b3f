"""Every gap in the account feed is counted in ``status()``: connection losses (a drop, a silent node) and the full
re-reads they cost. A pool feed that keeps losing its connection shows it in ``/status``, not only in the log."""

from __future__ import annotations

from arbotlib.amm.whirlpool.accounts import build_whirlpool
from bot.domain import FeedState
from tests.helpers.waiting import wait_for
from tests.plugins.orca.orca_pools import WHIRLPOOL, feed_states, pool_updates, put_pool, whirlpool_state

TICK = -20_000


async def test_connection_losses_and_resyncs_are_counted_in_status(make_orca, node):
    await put_pool(node, TICK)
    orca = await make_orca(silence_timeout_s=0.5)
    assert orca.status()["feed"] == "0 reconnects, 1 resyncs", orca.status()
    for n in (1, 2):
        await node.drop_ws()
        await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.STALE, 10, f"STALE after drop {n}")
        await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.LIVE, 10, f"LIVE after drop {n}")
    node.ws_silent = True  # the node answers nothing: a gap as well
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.STALE, 10, "STALE after the silence")
    node.ws_silent = False
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.LIVE, 10, "LIVE after the silence")
    assert feed_states(orca).count("stale") == 3
    assert orca.status()["feed"] == "3 reconnects, 4 resyncs", orca.status()


async def test_a_change_missed_in_a_gap_is_never_priced_as_before(make_orca, node):
    """Between the loss and the re-read the market is STALE and nothing is published; the first pool after it is
    the chain's current one."""
    await put_pool(node, TICK)
    orca = await make_orca()
    before = len(pool_updates(orca))
    await node.drop_ws()
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.STALE, 10, "STALE after the drop")
    node.put_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 200)))  # no notification: missed
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.LIVE, 10, "LIVE again")
    after = pool_updates(orca)[before:]
    assert after and all(update.pool.tick == TICK + 200 for update in after)
    assert orca.status()["feed"].startswith("1 reconnects")
