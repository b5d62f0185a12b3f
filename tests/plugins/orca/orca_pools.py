"""Helpers for the orca exchange tests: a Whirlpool, its tick arrays and their addresses on a fake node."""

from __future__ import annotations

from solders.pubkey import Pubkey

from arbotlib.amm.whirlpool.accounts import (
    Tick,
    Whirlpool,
    build_dynamic_tick_array,
    build_mint,
    build_tick_array,
    build_whirlpool,
)
from arbotlib.amm.whirlpool.math import sqrt_price_at_tick
from bot.domain import FeedStatus, PoolUpdate
from tests.fakes.solana_rpc import FakeSolanaRpc

SOL = "So11111111111111111111111111111111111111112"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
PROGRAM = "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc"
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
WHIRLPOOL = "Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE"
SPACING = 64
SPAN = 88 * SPACING
TICK_DEFAULT = -20_000
"""About 135 USDC per SOL (1.0001 ** tick * 10 ** (9 - 6))."""
# liquidity positions (lower tick, upper tick, liquidity), ticks on the spacing grid
POSITIONS = [(-22528, -17920, 10**12), (-20480, -19520, 5 * 10**11), (-33792, -5632, 2 * 10**11),
             (-40000 // 64 * 64, -30016, 3 * 10**11)]


def pda(start: int, whirlpool: str = WHIRLPOOL) -> str:
    """The TickArray address, derived here independently of the plugin (Orca's seeds)."""
    address, _ = Pubkey.find_program_address(
        [b"tick_array", bytes(Pubkey.from_string(whirlpool)), str(start).encode()], Pubkey.from_string(PROGRAM))
    return str(address)


def nets(positions=POSITIONS) -> dict[int, int]:
    out: dict[int, int] = {}
    for lower, upper, liquidity in positions:
        out[lower] = out.get(lower, 0) + liquidity
        out[upper] = out.get(upper, 0) - liquidity
    return out


def whirlpool_state(tick: int, positions=POSITIONS, *, extra_sqrt: int = 12345) -> Whirlpool:
    liquidity = sum(lq for lower, upper, lq in positions if lower <= tick < upper)
    return Whirlpool(whirlpools_config=PROGRAM, tick_spacing=SPACING, tick_spacing_seed=SPACING.to_bytes(2, "little"),
                     fee_rate=400, liquidity=liquidity, sqrt_price=sqrt_price_at_tick(tick) + extra_sqrt,
                     tick_current_index=tick, token_mint_a=SOL, token_mint_b=USDC)


def tick_array_bytes(start: int, positions=POSITIONS) -> bytes:
    ticks = {(i - start) // SPACING: Tick(True, net, abs(net)) for i, net in nets(positions).items()
             if start <= i < start + SPAN}
    return build_tick_array(start, ticks, whirlpool=WHIRLPOOL)


def dynamic_tick_array_bytes(start: int, positions=POSITIONS) -> bytes:
    """The same ticks as :func:`tick_array_bytes`, in the program's variable-size DynamicTickArray layout."""
    ticks = {(i - start) // SPACING: Tick(True, net, abs(net)) for i, net in nets(positions).items()
             if start <= i < start + SPAN}
    return build_dynamic_tick_array(start, ticks, whirlpool=WHIRLPOOL)


def window(tick: int, each_side: int = 3) -> list[int]:
    current = tick // SPAN * SPAN
    return [current + k * SPAN for k in range(-each_side, each_side + 1)]


async def put_pool(node: FakeSolanaRpc, tick: int, positions=POSITIONS, *, arrays_from: int | None = None) -> None:
    """Store the Whirlpool, its mints and every tick array from 5 arrays below to 5 above ``tick`` (no
    notification)."""
    node.put_account(WHIRLPOOL, build_whirlpool(whirlpool_state(tick, positions)), owner=PROGRAM)
    for mint, decimals in ((SOL, 9), (USDC, 6)):
        if mint not in node.accounts:
            node.put_account(mint, build_mint(decimals), owner=TOKEN_PROGRAM)
    for start in window(tick if arrays_from is None else arrays_from, 5):
        node.put_account(pda(start), tick_array_bytes(start, positions), owner=PROGRAM)


def pool_updates(exchange) -> list[PoolUpdate]:
    return [e for e in exchange.published if isinstance(e, PoolUpdate)]


def feed_states(exchange) -> list[str]:
    return [str(e.state) for e in exchange.published if isinstance(e, FeedStatus)]
