"""Orca Whirlpool concentrated liquidity, bit-exact with the on-chain program. Pure, no I/O.

* :mod:`.math`: Q64.64 sqrt prices, ticks, swap steps, multi-tick quotes (and their closed form inside
  one range);
* :mod:`.accounts`: Whirlpool, TickArray and mint account decoding (and building, for tests),
  tick-array addresses (these need solders);
* :mod:`.transfer_fee`: Token-2022 mints' transfer fees (decoded from the mint, applied to a swap's input and
  output);
* :mod:`.pool`, :mod:`.model`: quotes on decoded accounts (fixed-fee pools only: an adaptive-fee pool is refused;
  at most the three tick arrays one swap instruction crosses); :class:`~.model.WhirlpoolModel` is the
  :class:`bot.pool.Pool` strategies receive in PoolUpdates.
"""
