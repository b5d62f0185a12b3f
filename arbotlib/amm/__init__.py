"""Exact AMM pool maths, in integers, and the :class:`bot.pool.Pool` models built on it.

* :mod:`.constant_product`: x * y = k pools (Uniswap v2, Raydium-style); :mod:`.model`: one as a
  :class:`bot.pool.Pool` (:class:`~.model.ConstantProductModel`);
* :mod:`.whirlpool`: Orca Whirlpool concentrated liquidity, bit-exact with the on-chain program.

Pure Python, no I/O: the paper DEX, the orca exchange and strategies all quote with it.
"""
