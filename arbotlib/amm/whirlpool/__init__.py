"""Orca Whirlpool concentrated liquidity, bit-exact with the on-chain program. Pure, no I/O.

* :mod:`.math`: Q64.64 sqrt prices, ticks, swap steps, multi-tick quotes (and their closed form inside
  one range);
* :mod:`.accounts`: Whirlpool, TickArray and mint account decoding (and building, for tests),
  tick-array addresses (these need solders);
* :mod:`.pool`, :mod:`.model`: quotes on decoded accounts; :class:`~.model.WhirlpoolModel` is the
  :class:`bot.pool.Pool` strategies receive in PoolUpdates.
"""
