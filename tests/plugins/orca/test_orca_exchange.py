"""The orca exchange over real sockets against the fake node: load, updates, tick-array window, faults."""

from __future__ import annotations

from decimal import Decimal

import pytest
from solders.pubkey import Pubkey

from arbotlib.amm.whirlpool.accounts import (
    build_mint,
    build_tick_array,
    build_whirlpool,
    decode_tick_array,
    decode_whirlpool,
)
from arbotlib.amm.whirlpool.pool import quote_exact_in, quote_exact_out
from bot.api import PermanentError
from bot.domain import FeedState, Order, OrderType, Side
from bot.pool import PoolLiquidityError
from tests.helpers.waiting import wait_for
from tests.plugins.orca.orca_pools import (
    POSITIONS,
    SOL,
    USDC,
    WHIRLPOOL,
    dynamic_tick_array_bytes,
    feed_states,
    pda,
    pool_updates,
    put_pool,
    tick_array_bytes,
    whirlpool_state,
    window,
)

TICK = -20_000


def chain_quotes(node, tick: int, sizes=(10**6, 10**9, 25 * 10**9)):
    """Quotes from arbotlib.amm.whirlpool.pool on the accounts the node holds for the window around ``tick``."""
    pool = decode_whirlpool(node.accounts[WHIRLPOOL].data)
    arrays = [decode_tick_array(node.accounts[pda(s)].data) for s in window(tick)]
    sells = [quote_exact_in(pool, arrays, size, a_to_b=True).amount_out for size in sizes]
    buys = [quote_exact_out(pool, arrays, size, a_to_b=False).amount_in for size in sizes]
    return sells, buys


def model_quotes(model, sizes=(10**6, 10**9, 25 * 10**9)):
    return [model.sell_units(s)[0] for s in sizes], [model.buy_units(s)[0] for s in sizes]


async def test_initial_load_publishes_the_pool_quoted_as_on_chain(make_orca, node):
    await put_pool(node, TICK)
    orca = await make_orca()
    assert orca.states["SOL/USDC"] is FeedState.LIVE
    update = pool_updates(orca)[-1]
    assert (update.exchange, update.symbol) == ("orca", "SOL/USDC")
    assert update.slot == node.slot and update.ts_ns > 0
    assert model_quotes(update.pool) == chain_quotes(node, TICK)
    assert update.pool.mid() == update.mid and Decimal(100) < update.mid < Decimal(200)
    # a 25 SOL sell crosses initialized ticks: the quote is the multi-tick one, not a single-range guess
    assert update.pool.sell(Decimal(25)).quote_units == chain_quotes(node, TICK)[0][2]
    # the whirlpool and 3 arrays each side of the current one, at Orca's PDAs, are subscribed
    assert node.subscribed() == {WHIRLPOOL, *(pda(s) for s in window(TICK))}
    assert feed_states(orca) == ["resyncing", "live"]
    info = orca.market("SOL/USDC")
    assert (info.base, info.quote, info.lot_size, info.tick_size) == ("SOL", "USDC", Decimal("1E-9"),
                                                                      Decimal("0.000001"))


async def test_notifications_update_the_pool(make_orca, node):
    await put_pool(node, TICK)
    orca = await make_orca()
    before = len(pool_updates(orca))
    # the price moves inside the same tick array
    await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 300)))
    await wait_for(lambda: len(pool_updates(orca)) > before, 10, "a PoolUpdate after the whirlpool changed")
    update = pool_updates(orca)[-1]
    assert update.pool.tick == TICK + 300 and update.slot == node.slot
    assert model_quotes(update.pool) == chain_quotes(node, TICK + 300)
    # liquidity added in a tick array: a new initialized tick reaches the model
    positions = [*POSITIONS, (-20096, -19968, 7 * 10**11)]
    start = window(TICK)[3]
    count = len(pool_updates(orca))
    await node.set_account(pda(start), tick_array_bytes(start, positions))
    await wait_for(lambda: len(pool_updates(orca)) > count, 10, "a PoolUpdate after a tick array changed")
    assert (-20096, 7 * 10**11) in pool_updates(orca)[-1].pool.ticks
    assert orca.states["SOL/USDC"] is FeedState.LIVE and orca.bad_accounts == 0


async def test_the_window_follows_the_current_tick(make_orca, node):
    await put_pool(node, TICK)
    orca = await make_orca()
    moved = TICK + 2 * 88 * 64  # two arrays up
    count = len(pool_updates(orca))
    await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(moved)))
    await wait_for(lambda: any(u.pool.tick == moved for u in pool_updates(orca)[count:]), 10, "the moved pool")
    await wait_for(lambda: node.subscribed() == {WHIRLPOOL, *(pda(s) for s in window(moved))}, 10,
                   "the new window subscribed and the old arrays unsubscribed")
    assert any(method == "accountUnsubscribe" for method, _ in node.ws_calls)
    assert model_quotes(pool_updates(orca)[-1].pool) == chain_quotes(node, moved)


async def test_dropped_connection_goes_stale_resubscribes_and_catches_up(make_orca, node):
    await put_pool(node, TICK)
    orca = await make_orca()
    node.ws_refuse = 2  # the first reconnects fail: backoff, then it gets through
    await node.drop_ws()
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.STALE, 10, "STALE after the drop")
    # a change while disconnected: no notification reaches us, the resync must read it
    node.put_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK - 500)))
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.LIVE, 10, "LIVE again")
    assert feed_states(orca)[-3:] == ["stale", "resyncing", "live"]
    assert node.ws_connects == 2 and node.ws_refuse == 0  # two refused attempts, then one accepted
    assert node.subscribed() == {WHIRLPOOL, *(pda(s) for s in window(TICK - 500))}
    update = pool_updates(orca)[-1]
    assert update.pool.tick == TICK - 500 and model_quotes(update.pool) == chain_quotes(node, TICK - 500)


async def test_a_refused_subscription_is_not_left_unsubscribed(make_orca, node):
    """A node may answer ``accountSubscribe`` with an error object (at its subscription limit, say): that account
    gets no notification on this connection, so a pool published LIVE would stay at the state read at the resync
    while the chain moves on. It must be subscribed (on a new connection) before the market is LIVE again."""
    await put_pool(node, TICK)
    node.ws_refuse_subscribe = 1  # the whirlpool's subscription, the first one asked for
    orca = await make_orca()
    await wait_for(lambda: WHIRLPOOL in node.subscribed() and orca.states["SOL/USDC"] is FeedState.LIVE, 10,
                   "the whirlpool subscribed and the market LIVE")
    before = len(pool_updates(orca))
    await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 300)))
    await wait_for(lambda: len(pool_updates(orca)) > before, 10, "a PoolUpdate after the whirlpool changed")
    assert pool_updates(orca)[-1].pool.tick == TICK + 300


async def test_a_silent_node_is_left_and_rejoined(make_orca, node):
    await put_pool(node, TICK)
    orca = await make_orca(silence_timeout_s=0.5)
    node.ws_silent = True
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.STALE, 10, "STALE after the silence")
    node.ws_silent = False
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.LIVE, 10, "LIVE again")
    assert node.ws_connects >= 2


async def test_bad_account_data_is_counted_and_resynced_never_quoted_stale(make_orca, node, caplog):
    """An account whose new data does not decode has changed on chain: the state held for it is no longer the
    chain's, so the market is not quoted from it. The bad data is counted, every account is read again, and the
    market stays STALE while the account still reads bad; the next good data brings it back."""
    await put_pool(node, TICK)
    orca = await make_orca()
    count, reads = len(pool_updates(orca)), node.calls.count("getMultipleAccounts")
    await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 10)) + b"\0")  # wrong size
    await wait_for(lambda: orca.bad_accounts == 2, 10, "the bad notification and the bad re-read counted")
    assert node.calls.count("getMultipleAccounts") > reads  # resynced
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.STALE, 10, "STALE: the whirlpool reads bad")
    assert "654 bytes, expected 653" in caplog.text and len(pool_updates(orca)) == count
    # more bad data for a market already STALE for it: counted, not read again each time (an account of a layout
    # this venue cannot read, changing at every swap, would otherwise have every account read at every swap)
    reads = node.calls.count("getMultipleAccounts")
    await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 15)) + b"\0")
    await wait_for(lambda: orca.bad_accounts == 3, 10, "the next bad notification counted")
    assert node.calls.count("getMultipleAccounts") == reads and orca.states["SOL/USDC"] is FeedState.STALE
    # the feed is still up: the next good update is published, LIVE again
    await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 20)))
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.LIVE, 10, "LIVE after a good update")
    assert pool_updates(orca)[-1].pool.tick == TICK + 20
    # a tick array: a wrong discriminator (counted, read again: still bad), then another array's data (counted)
    start = window(TICK)[3]
    before = orca.bad_accounts
    await node.set_account(pda(start), b"\1" * 8 + build_tick_array(start)[8:])
    await wait_for(lambda: orca.bad_accounts == before + 2 and orca.states["SOL/USDC"] is FeedState.STALE, 10,
                   "the bad tick array counted, re-read and the market STALE")
    await node.set_account(pda(start), build_tick_array(start + 64, whirlpool=WHIRLPOOL))
    await wait_for(lambda: orca.bad_accounts == before + 3, 10, "another array's data counted")
    assert "discriminator" in caplog.text and f"is for whirlpool {WHIRLPOOL} from tick {start + 64}" in caplog.text
    count = len(pool_updates(orca))
    await node.set_account(pda(start), tick_array_bytes(start))
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.LIVE and len(pool_updates(orca)) > count, 10,
                   "LIVE once the tick array decodes")
    assert model_quotes(pool_updates(orca)[-1].pool) == chain_quotes(node, TICK + 20)
    assert node.ws_connects == 1


async def test_a_good_whirlpool_after_bad_data_that_moves_the_window_is_live_again(make_orca, node):
    """The good data that ends a bad spell may also move the price into other tick arrays: once the new window is
    read, the market is LIVE again and published (not left STALE because the window had to move first)."""
    await put_pool(node, TICK)
    orca = await make_orca(confirm_after_s=0)
    await node.set_account(WHIRLPOOL, b"\2" * 653)
    await wait_for(lambda: orca.bad_accounts == 2 and orca.states["SOL/USDC"] is FeedState.STALE, 10,
                   "the bad whirlpool counted, re-read and the market STALE")
    moved = TICK + 2 * 88 * 64
    await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(moved)))
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.LIVE, 10, "LIVE in the new window")
    assert pool_updates(orca)[-1].pool.tick == moved
    assert model_quotes(pool_updates(orca)[-1].pool) == chain_quotes(node, moved)


async def test_bad_data_that_a_re_read_finds_good_is_live_at_once(make_orca, node):
    """A node that sent one garbled notification: the re-read finds the account good and the market LIVE again
    with the chain's state, without waiting for the account to change."""
    await put_pool(node, TICK)
    orca = await make_orca(confirm_after_s=0)  # no quiet-pool read: only the resync can find the state
    slot = node.put_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 30)))  # what the chain holds
    await node.notify(WHIRLPOOL, b"\2" * 653, slot)  # what the node sent
    await wait_for(lambda: orca.bad_accounts == 1 and pool_updates(orca)[-1].pool.tick == TICK + 30, 10,
                   "the re-read state published")
    assert orca.states["SOL/USDC"] is FeedState.LIVE and feed_states(orca)[-2:] == ["resyncing", "live"]


async def test_a_notification_older_than_the_state_held_is_counted_and_ignored(make_orca, node):
    """A notification from a slot before the one the state was read at (a lagging node) changes nothing, and an
    operator sees it counted in /status."""
    await put_pool(node, TICK)
    orca = await make_orca()
    count, held = len(pool_updates(orca)), orca.pools["SOL/USDC"].whirlpool_slot
    await node.notify(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 300)), held - 1)
    start = window(TICK)[3]
    await node.notify(pda(start), tick_array_bytes(start, [*POSITIONS, (-20096, -19968, 7 * 10**11)]),
                      orca.pools["SOL/USDC"].array_slots[start] - 1)
    await wait_for(lambda: orca.stale_notifications == 2, 10, "two late notifications counted")
    assert len(pool_updates(orca)) == count and orca.pools["SOL/USDC"].whirlpool.tick_current_index == TICK
    assert (-20096, 7 * 10**11) not in orca.pools["SOL/USDC"].model().ticks
    assert orca.bad_accounts == 0 and orca.states["SOL/USDC"] is FeedState.LIVE
    assert orca.status()["dropped"] == "0 bad accounts, 2 late notifications (older slot), 0 malformed"
    # one at the slot held is not late: applied
    await node.notify(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 300)), held)
    await wait_for(lambda: len(pool_updates(orca)) > count, 10, "the update at the slot held")
    assert orca.stale_notifications == 2


async def test_a_pool_with_dynamic_tick_arrays_is_quoted_as_with_fixed_ones(make_orca, node):
    """Orca's newer variable-size tick arrays hold the same ticks: a window mixing them with fixed ones is LIVE
    and quotes exactly as the fixed layout would, at load and on notifications."""
    await put_pool(node, TICK)
    fixed = chain_quotes(node, TICK)
    starts = window(TICK)
    for start in starts[2:5]:  # the current array and its neighbours, where the 25 SOL quote crosses ticks
        node.put_account(pda(start), dynamic_tick_array_bytes(start))
    orca = await make_orca()
    assert orca.states["SOL/USDC"] is FeedState.LIVE and orca.bad_accounts == 0
    assert model_quotes(pool_updates(orca)[-1].pool) == fixed
    count = len(pool_updates(orca))
    positions = [*POSITIONS, (-20096, -19968, 7 * 10**11)]
    await node.set_account(pda(starts[3]), dynamic_tick_array_bytes(starts[3], positions))
    await wait_for(lambda: len(pool_updates(orca)) > count, 10, "a PoolUpdate after a dynamic tick array changed")
    assert (-20096, 7 * 10**11) in pool_updates(orca)[-1].pool.ticks and orca.bad_accounts == 0


async def test_a_read_in_several_requests_holds_each_account_at_the_slot_it_was_read(make_orca, node):
    """A read of more accounts than one getMultipleAccounts takes goes out in several requests, answered at
    different slots. Each account is held at the slot of its own answer: held at the oldest, a late notification
    from between the answers (older than the account's read) would roll the account back."""
    await put_pool(node, TICK)
    orca = await make_orca(confirm_after_s=0)
    real = node._getMultipleAccounts

    def moving_on(*args):  # the chain moves on between the requests of one read
        reply = real(*args)
        node.advance(10)
        return reply

    node._getMultipleAccounts = moving_on
    node.put_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 30)))  # no notification: the read finds it
    first = node.slot
    others = [str(Pubkey.new_unique()) for _ in range(100)]  # none of ours: the whirlpool is in the second request
    await orca._read([*others, WHIRLPOOL])
    assert orca.pools["SOL/USDC"].whirlpool_slot == first + 10
    await node.notify(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK - 30)), first + 5)
    await wait_for(lambda: orca.stale_notifications == 1, 10, "the notification older than the read dropped")
    assert orca.pools["SOL/USDC"].whirlpool.tick_current_index == TICK + 30


async def test_an_undecodable_tick_array_at_load_keeps_the_market_stale_until_it_decodes(make_orca, node):
    await put_pool(node, TICK)
    start = window(TICK)[4]
    node.put_account(pda(start), tick_array_bytes(start)[:-1])  # one byte short
    orca = await make_orca(start_timeout_s=0.5)
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.STALE, 10, "STALE: a tick array did not decode")
    assert orca.bad_accounts == 1 and pool_updates(orca) == []  # no pool quoted without its ticks
    await node.set_account(pda(start), tick_array_bytes(start))
    await wait_for(lambda: orca.states["SOL/USDC"] is FeedState.LIVE, 10, "LIVE once it decodes")
    assert model_quotes(pool_updates(orca)[-1].pool) == chain_quotes(node, TICK)


@pytest.mark.parametrize("kind", ["json", "shape", "base64"])
async def test_a_malformed_notification_is_counted_and_resynced(make_orca, node, kind):
    await put_pool(node, TICK)
    orca = await make_orca()
    node.put_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 40)))  # missed: the re-read finds it
    await node.send_malformed(kind)
    await wait_for(lambda: orca.subscriber.malformed == 1, 10, "the malformed notification counted")
    await wait_for(lambda: pool_updates(orca)[-1].pool.tick == TICK + 40, 10, "the re-read pool")
    assert orca.states["SOL/USDC"] is FeedState.LIVE and node.ws_connects == 1
    assert feed_states(orca)[-2:] == ["resyncing", "live"]


async def test_decimals_are_read_from_the_mints(make_orca, node):
    await put_pool(node, TICK)
    node.put_account(SOL, build_mint(9), owner="TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
    node.put_account(USDC, build_mint(6), owner="TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
    orca = await make_orca(tokens={"SOL": SOL, "USDC": USDC})
    model = pool_updates(orca)[-1].pool
    assert (model.base_decimals, model.quote_decimals) == (9, 6)
    assert orca.market("SOL/USDC").lot_size == Decimal("1E-9")


async def test_quote_as_token_a_is_inverted(make_orca, node):
    """USDC/SOL on the same pool: the base is token B, so sells go b -> a."""
    await put_pool(node, TICK)
    orca = await make_orca(pools={"USDC/SOL": WHIRLPOOL})
    model = pool_updates(orca)[-1].pool
    assert not model.base_is_a
    pool = decode_whirlpool(node.accounts[WHIRLPOOL].data)
    arrays = [decode_tick_array(node.accounts[pda(s)].data) for s in window(TICK)]
    assert model.sell_units(10**8)[0] == quote_exact_in(pool, arrays, 10**8, a_to_b=False).amount_out
    sol_mid = pool_updates(orca)[-1].mid
    assert Decimal("0.005") < sol_mid < Decimal("0.01")


async def test_a_pool_of_other_tokens_is_refused_by_name(make_orca, node, caplog):
    await put_pool(node, TICK)
    orca = await make_orca(tokens={"SOL": SOL + ":9", "USDT": "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB:6"},
                           pools={"SOL/USDT": WHIRLPOOL}, start_timeout_s=0.5)
    await wait_for(lambda: orca.states["SOL/USDT"] is FeedState.STALE, 10, "STALE on a wrong pool")
    assert pool_updates(orca) == []
    assert f"whirlpool {WHIRLPOOL} holds mints {SOL} and {USDC}, not SOL" in caplog.text


async def test_orders_go_through_jupiter(make_orca, node):
    await put_pool(node, TICK)
    orca = await make_orca()
    order = Order(client_order_id="c1", strategy="s", exchange="orca", symbol="SOL/USDC", side=Side.SELL,
                  qty=Decimal(1), price=None, order_type=OrderType.MARKET)
    with pytest.raises(PermanentError, match="swap through the jupiter exchange"):
        await orca.place_order(order)
    with pytest.raises(PermanentError, match="jupiter"):
        await orca.cancel_order("SOL/USDC", "c1")
    assert await orca.fetch_order("SOL/USDC", "c1") is None and await orca.open_orders() == []
    assert await orca.balances() == {} and orca.simulated is False


async def test_a_quiet_pool_is_read_again_and_published_as_current(make_orca, node):
    """Solana sends nothing while a pool does not change: the venue proves its quiet pool current by reading the
    accounts again after confirm_after_s without a notification, and publishes the state with the read's time and
    slot, so the risk check's data age is the age of that proof, not of the last trade on the pool."""
    await put_pool(node, TICK)
    orca = await make_orca(confirm_after_s=0.2)
    first = pool_updates(orca)[-1]
    node.advance(5)  # the chain moves on; the pool does not change
    await wait_for(lambda: len(pool_updates(orca)) >= 3, 10, "the quiet pool confirmed twice")
    confirmed = pool_updates(orca)[-1]
    assert confirmed.ts_ns > first.ts_ns and confirmed.slot == node.slot > first.slot
    assert confirmed.pool.tick == TICK and model_quotes(confirmed.pool) == model_quotes(first.pool)
    assert orca.states["SOL/USDC"] is FeedState.LIVE and feed_states(orca) == ["resyncing", "live"]
    # a change missed by the subscription is found by the confirming read
    node.put_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 40)))
    await wait_for(lambda: pool_updates(orca)[-1].pool.tick == TICK + 40, 10, "the missed change read")


async def test_a_quiet_pool_that_cannot_be_read_again_is_not_published(make_orca, node):
    """No proof, no data: while the confirming reads fail the venue publishes nothing, so the data ages and the
    risk check sees it go stale."""
    await put_pool(node, TICK)
    orca = await make_orca(confirm_after_s=0.2)
    count = len(pool_updates(orca))
    reads = node.calls.count("getMultipleAccounts")
    node.faults["getMultipleAccounts"] = ["500"] * 1000
    await wait_for(lambda: node.calls.count("getMultipleAccounts") >= reads + 2, 10, "two confirming reads tried")
    assert len(pool_updates(orca)) == count and orca.states["SOL/USDC"] is FeedState.LIVE


async def test_a_confirming_read_that_finds_the_pool_gone_keeps_confirming(make_orca, node, caplog):
    """A confirming read that finds the whirlpool account missing publishes nothing for it (its data ages into
    stale), and the venue keeps confirming: once the account reads again, the pool is published as current."""
    await put_pool(node, TICK)
    orca = await make_orca(confirm_after_s=0.1)
    saved = node.accounts.pop(WHIRLPOOL)
    count = len(pool_updates(orca))
    reads = node.calls.count("getMultipleAccounts")
    await wait_for(lambda: node.calls.count("getMultipleAccounts") >= reads + 2, 10, "two confirming reads tried")
    assert len(pool_updates(orca)) <= count + 1  # at most one confirmation raced the removal
    assert "does not exist" in caplog.text
    count = len(pool_updates(orca))
    node.accounts[WHIRLPOOL] = saved
    await wait_for(lambda: len(pool_updates(orca)) > count, 10, "the pool confirmed again")


async def test_the_published_pool_quotes_only_within_its_window(make_orca, node):
    """Past the tick arrays watched the ticks are unknown: a size that would take the price there is refused,
    not quoted as if the liquidity stayed constant; an array of the window with no account counts as known."""
    await put_pool(node, TICK)
    gone = window(TICK, 1)[0]
    del node.accounts[pda(gone)]  # no account: no initialized tick in it
    orca = await make_orca(tick_arrays_each_side=1)
    model = pool_updates(orca)[-1].pool
    span = 88 * 64
    assert model.known_ticks == (window(TICK, 1)[0], window(TICK, 1)[-1] + span)
    with pytest.raises(PoolLiquidityError, match="can take only"):
        model.sell_units(10**15)  # a million SOL: far below the window's lowest tick
    pool = decode_whirlpool(node.accounts[WHIRLPOOL].data)
    arrays = [decode_tick_array(node.accounts[pda(s)].data) for s in window(TICK, 1)[1:]]
    assert model.sell_units(10**9)[0] == quote_exact_in(pool, arrays, 10**9, a_to_b=True).amount_out
