"""What the orca venue learns between resyncs: its mints' transfer fees re-read on a schedule (a fee scheduled since,
or its epoch reached), and a quiet pool's confirming read that holds up nothing while it waits on the node."""

from __future__ import annotations

import time

from arbotlib.amm.whirlpool.accounts import build_whirlpool
from arbotlib.amm.whirlpool.transfer_fee import TransferFee, build_mint_with_transfer_fee
from bot.domain import FeedState
from tests.helpers.waiting import wait_for
from tests.plugins.orca.orca_pools import USDC, WHIRLPOOL, pool_updates, put_pool, whirlpool_state

TICK = -20_000
TOKEN_2022 = "TokenzQdBNbLqP5VEhdkAh6Z8gQ8fzRwTPnWc7XoXBRB"


async def test_the_newer_transfer_fee_is_used_once_its_epoch_comes_and_a_new_one_is_seen_without_a_resync(
        make_orca, node):
    """USDC charges 0.5 % until epoch 800 and 1 % from then on. Before 800 the quotes assume the worse of the two;
    once the node's epoch (``getEpochInfo``) reaches 800 the 1 % alone, and when the mint's authority then schedules
    2 % from epoch 802 that is seen too: the mint and the epoch are read again every ``mint_refresh_s``, on a
    connection that never dropped (no resync)."""
    await put_pool(node, TICK)
    older, newer = TransferFee(0, 10**12, 50), TransferFee(800, 10**12, 100)
    node.put_account(USDC, build_mint_with_transfer_fee(6, older, newer), owner=TOKEN_2022)
    node.epoch = 799
    orca = await make_orca(mint_refresh_s=0.1, confirm_after_s=0)
    assert pool_updates(orca)[-1].pool.quote_transfer_fees == (older, newer)
    connects = node.ws_connects
    node.epoch = 800
    await wait_for(lambda: pool_updates(orca)[-1].pool.quote_transfer_fees == (newer,), 10, "the newer fee alone")
    later = TransferFee(802, 10**12, 200)
    node.put_account(USDC, build_mint_with_transfer_fee(6, newer, later), owner=TOKEN_2022)
    await wait_for(lambda: pool_updates(orca)[-1].pool.quote_transfer_fees == (newer, later), 10,
                   "the fee scheduled since")
    assert node.ws_connects == connects and orca.states["SOL/USDC"] is FeedState.LIVE
    count = len(pool_updates(orca))
    reads = node.calls.count("getMultipleAccounts")
    await wait_for(lambda: node.calls.count("getMultipleAccounts") >= reads + 2, 10, "two more mint reads")
    assert len(pool_updates(orca)) == count  # nothing changed: nothing published again


async def test_a_confirming_read_waiting_on_the_node_holds_up_no_window_move_and_never_rolls_a_state_back(
        make_orca, node):
    """A quiet pool's confirming read waits up to request_timeout_s on the node. Meanwhile the pool moves (a
    notification takes its tick two arrays up): the window move goes ahead at once, and the read's answer, older
    than the moved state, neither takes the pool back nor publishes it."""
    await put_pool(node, TICK)
    orca = await make_orca(confirm_after_s=0.2, request_timeout_s=10.0)
    node.slow_s = 3.0
    reads = node.calls.count("getMultipleAccounts")
    node.faults["getMultipleAccounts"] = ["timeout_lands"]  # answered 3 s late, as read when asked
    await wait_for(lambda: node.calls.count("getMultipleAccounts") > reads, 10, "the confirming read asked")
    asked = time.monotonic()
    moved = TICK + 2 * 88 * 64
    count = len(pool_updates(orca))
    await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(moved)))
    await wait_for(lambda: any(u.pool.tick == moved for u in pool_updates(orca)[count:]), 10, "the moved pool")
    assert time.monotonic() - asked < 1.5  # not after the confirming read's answer (3 s)
    await wait_for(lambda: time.monotonic() - asked > 3.5, 10, "the confirming read answered")
    assert all(u.pool.tick == moved for u in pool_updates(orca)[count:])
    assert orca.pools["SOL/USDC"].whirlpool.tick_current_index == moved
