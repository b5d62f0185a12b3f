"""The orca venue publishes pools quoted at what a swap costs: adaptive-fee pools refused by name, Token-2022
transfer fees read from the mints (for the current epoch), no size past what one swap instruction crosses."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from arbotlib.amm.whirlpool.accounts import build_whirlpool
from arbotlib.amm.whirlpool.transfer_fee import TransferFee, build_mint_with_transfer_fee
from bot.api.kit import RecordOptions
from bot.domain import FeedState, PoolUpdate
from bot.pool import PoolLiquidityError
from plugins.orca.record import OrcaRecorder
from plugins.orca.settings import OrcaSettings
from tests.helpers.waiting import wait_for
from tests.plugins.orca.orca_pools import USDC, WHIRLPOOL, pool_updates, put_pool, whirlpool_state

TICK = -20_000
TOKEN_2022 = "TokenzQdBNbLqP5VEhdkAh6Z8gQ8fzRwTPnWc7XoXBRB"


async def test_an_adaptive_fee_pool_is_refused_by_name(make_orca, node, caplog):
    await put_pool(node, TICK)
    adaptive = dataclasses.replace(whirlpool_state(TICK), tick_spacing_seed=(1024 + 64).to_bytes(2, "little"))
    node.put_account(WHIRLPOOL, build_whirlpool(adaptive))
    orca = await make_orca(start_timeout_s=0.5)
    await wait_for(lambda: orca.states.get("SOL/USDC") is FeedState.STALE, 10, "STALE on an adaptive-fee pool")
    assert pool_updates(orca) == []
    assert f"SOL/USDC: whirlpool {WHIRLPOOL}: the whirlpool has an adaptive fee (fee tier index 1088" in caplog.text
    assert "configure a fixed-fee whirlpool for SOL/USDC" in caplog.text


async def test_the_mints_transfer_fees_are_paid_in_the_quotes(make_orca, node):
    await put_pool(node, TICK)
    plain = pool_updates(await make_orca())[-1].pool
    # USDC with a 0.5 % fee until epoch 800, 1 % from then on; SOL (wrapped) with none
    older, newer = TransferFee(0, 10**12, 50), TransferFee(800, 10**12, 100)
    node.put_account(USDC, build_mint_with_transfer_fee(6, older, newer), owner=TOKEN_2022)
    node.epoch = 799
    fees = pool_updates(await make_orca())[-1].pool
    assert (fees.base_transfer_fees, fees.quote_transfer_fees) == ((), (older, newer))
    out = plain.sell_units(10**9)[0]
    assert fees.sell_units(10**9)[0] == out - newer.fee_on(out)  # the worse of the two: epoch 800 may come first
    node.epoch = 800
    later = pool_updates(await make_orca())[-1].pool
    assert later.quote_transfer_fees == (newer,)
    paid = plain.buy_units(10**9)[0]
    assert later.buy_units(10**9)[0] == newer.sent_for(paid)


async def test_a_size_past_what_one_swap_crosses_is_refused(make_orca, node):
    await put_pool(node, TICK)
    model = pool_updates(await make_orca())[-1].pool
    assert model.arrays_per_swap == 3
    with pytest.raises(PoolLiquidityError, match="one swap crosses at most 3 tick arrays"):
        model.sell_units(10**15)


async def test_a_recording_replays_the_transfer_fees_it_was_quoted_with(node):
    await put_pool(node, TICK)
    fee = TransferFee(0, 10**12, 50)
    node.put_account(USDC, build_mint_with_transfer_fee(6, fee), owner=TOKEN_2022)
    settings = OrcaSettings(rpc_urls=[node.url], ws_urls=[node.ws_url], pools={"SOL/USDC": WHIRLPOOL},
                            reconnect_initial_s=0.02, reconnect_max_s=0.2, request_timeout_s=2.0, start_timeout_s=10.0)
    lines: list[str] = []
    stop = asyncio.Event()
    recording = asyncio.create_task(OrcaRecorder().record(RecordOptions(symbols=["SOL/USDC"], settings=settings),
                                                          lines.append, stop))
    await wait_for(lambda: any('"published"' in line for line in lines), 10, "the recorder's first pool")
    stop.set()
    await recording
    replayed = [e for e in OrcaRecorder().market_events(((i, line) for i, line in enumerate(lines)),
                                                        RecordOptions(symbols=[])) if isinstance(e, PoolUpdate)]
    assert [u.pool.quote_transfer_fees for u in replayed] == [(fee,)]
