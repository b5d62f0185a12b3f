"""One watched Whirlpool: its decoded accounts, the tick-array window around the price, its model.

Pure state, no I/O: the exchange feeds it account data (from ``getMultipleAccounts`` or an
``accountNotification``) with the slot it was observed at, and asks it which tick arrays to watch
and for the :class:`~arbotlib.amm.whirlpool.model.WhirlpoolModel` to publish. Data older than what is held
(a lower slot) is ignored, so a re-read racing a notification cannot roll the state back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from arbotlib.amm.whirlpool.accounts import (
    AccountDecodeError,
    TickArray,
    Whirlpool,
    decode_tick_array,
    decode_whirlpool,
    tick_array_address,
    tick_array_start_index,
)
from arbotlib.amm.whirlpool.math import TICK_ARRAY_SIZE
from arbotlib.amm.whirlpool.model import WhirlpoolModel
from arbotlib.amm.whirlpool.pool import AdaptiveFeePool, fixed_fee_rate
from arbotlib.amm.whirlpool.transfer_fee import TransferFee
from bot.api import split_symbol

from .settings import OrcaSettings


class PoolConfigError(ValueError):
    """The configured Whirlpool does not hold the configured tokens (or does not exist)."""


@dataclass
class PoolWatch:
    """The state of one configured market's Whirlpool."""

    symbol: str
    address: str
    base: str
    quote: str
    base_mint: str
    quote_mint: str
    base_decimals: int | None
    quote_decimals: int | None
    arrays_each_side: int
    whirlpool: Whirlpool | None = None
    whirlpool_slot: int = -1
    base_is_a: bool = True
    arrays: dict[int, TickArray | None] = field(default_factory=dict)
    """start tick index -> decoded array (None: the account does not exist: no initialized tick)."""
    array_slots: dict[int, int] = field(default_factory=dict)
    window: dict[int, str] = field(default_factory=dict)
    """start tick index -> TickArray address, of the arrays watched now."""
    base_transfer_fees: tuple[TransferFee, ...] = ()
    """The base mint's Token-2022 transfer fees a swap must assume (read with the mints at each resync)."""
    quote_transfer_fees: tuple[TransferFee, ...] = ()

    @property
    def ready(self) -> bool:
        """A model can be built: the pool, both decimals, and every array of the window are known."""
        return (self.whirlpool is not None and self.base_decimals is not None and self.quote_decimals is not None
                and bool(self.window) and all(start in self.arrays for start in self.window))

    @property
    def slot(self) -> int:
        return max([self.whirlpool_slot, *self.array_slots.values()])

    def older_than_held(self, start: int | None, slot: int) -> bool:
        """True when data at ``slot`` for the Whirlpool (``start`` None) or the tick array at ``start`` is older
        than what is held: it would be ignored."""
        held = self.whirlpool_slot if start is None else self.array_slots.get(start, -1)
        return slot < held

    def apply_whirlpool(self, raw: bytes, slot: int) -> bool:
        """Take a Whirlpool account's data; False when older than what is held. Raises on bad data."""
        if self.older_than_held(None, slot):
            return False
        pool = decode_whirlpool(raw)
        mints = {pool.token_mint_a, pool.token_mint_b}
        if mints != {self.base_mint, self.quote_mint}:
            raise PoolConfigError(
                f"{self.symbol}: whirlpool {self.address} holds mints {pool.token_mint_a} and {pool.token_mint_b}, "
                f"not {self.base} ({self.base_mint}) and {self.quote} ({self.quote_mint})")
        try:
            fixed_fee_rate(pool)
        except AdaptiveFeePool as exc:  # a pool's fee tier is fixed when it is made: this is the wrong pool
            raise PoolConfigError(f"{self.symbol}: whirlpool {self.address}: {exc}; configure a fixed-fee whirlpool "
                                  f"for {self.symbol} in the exchange's pools") from None
        self.base_is_a = pool.token_mint_a == self.base_mint
        self.whirlpool, self.whirlpool_slot = pool, slot
        return True

    def apply_tick_array(self, start: int, raw: bytes | None, slot: int) -> bool:
        """Take a TickArray account's data (None: no such account); False when stale or not watched."""
        if start not in self.window or self.older_than_held(start, slot):
            return False
        if raw is None:
            array = None
        else:
            array = decode_tick_array(raw)
            if array.start_tick_index != start or array.whirlpool != self.address:
                raise AccountDecodeError(
                    f"TickArray {self.window[start]} is for whirlpool {array.whirlpool} from tick "
                    f"{array.start_tick_index}, expected {self.address} from tick {start}")
        self.arrays[start] = array
        self.array_slots[start] = slot
        return True

    def forget(self, start: int | None, slot: int) -> None:
        """Data at ``slot`` for the Whirlpool (``start`` None) or the tick array at ``start`` did not decode: the
        account changed into something unreadable, so the state held for it is no longer the chain's. It is
        dropped (no model until good data comes, :attr:`ready` False), and ``slot`` is held so that older data,
        superseded by that change, is not taken back in its place."""
        if start is None:
            self.whirlpool = None
            self.whirlpool_slot = max(self.whirlpool_slot, slot)
        elif start in self.window:
            self.arrays.pop(start, None)
            self.array_slots[start] = max(self.array_slots.get(start, -1), slot)

    def wanted_window(self) -> dict[int, str]:
        """The arrays to watch for the current tick: its own and ``arrays_each_side`` on each side."""
        assert self.whirlpool is not None
        spacing = self.whirlpool.tick_spacing
        span = TICK_ARRAY_SIZE * spacing
        current = tick_array_start_index(self.whirlpool.tick_current_index, spacing)
        starts = [current + k * span for k in range(-self.arrays_each_side, self.arrays_each_side + 1)]
        return {start: self.window.get(start) or tick_array_address(self.address, start) for start in starts}

    def set_window(self, window: dict[int, str]) -> tuple[list[str], list[str]]:
        """Switch to ``window``; returns (addresses to start watching, addresses to stop watching)."""
        added = [address for start, address in window.items() if start not in self.window]
        removed = [address for start, address in self.window.items() if start not in window]
        for start in list(self.arrays):
            if start not in window:
                del self.arrays[start]
                self.array_slots.pop(start, None)
        self.window = dict(window)
        return added, removed

    def model(self) -> WhirlpoolModel:
        assert self.whirlpool is not None and self.base_decimals is not None and self.quote_decimals is not None
        arrays = [a for start, a in sorted(self.arrays.items()) if a is not None and start in self.window]
        # the window's arrays with no account are known too (no initialized tick): quotes may cross them
        return WhirlpoolModel.of(self.whirlpool, arrays, base=self.base, quote=self.quote,
                                 base_decimals=self.base_decimals, quote_decimals=self.quote_decimals,
                                 base_is_a=self.base_is_a, array_starts=self.window,
                                 base_transfer_fees=self.base_transfer_fees,
                                 quote_transfer_fees=self.quote_transfer_fees)

    def set_transfer_fees(self, fees: dict[str, tuple[TransferFee, ...]]) -> None:
        """Take the transfer fees of the mints (mint -> fees; a mint not in ``fees`` has none)."""
        self.base_transfer_fees = fees.get(self.base_mint, ())
        self.quote_transfer_fees = fees.get(self.quote_mint, ())


def pool_watches(settings: OrcaSettings) -> dict[str, PoolWatch]:
    """One :class:`PoolWatch` per configured market (the live venue and a replay build them alike)."""
    pools: dict[str, PoolWatch] = {}
    for symbol, address in settings.pools.items():
        base, quote = split_symbol(symbol)
        base_mint, base_decimals = settings.token(base)
        quote_mint, quote_decimals = settings.token(quote)
        pools[symbol] = PoolWatch(symbol, address, base, quote, base_mint, quote_mint, base_decimals, quote_decimals,
                                  settings.tick_arrays_each_side)
    return pools
