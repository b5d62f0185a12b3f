"""Liquidity pools as strategies see them: exact quotes for a size, in the market's units.

The classes live in :mod:`bot.domain` (a PoolUpdate carries a Pool); this module names them.

A DEX exchange plugin publishes a :class:`~bot.domain.PoolUpdate` carrying a :class:`Pool` each
time a pool's state changes. A strategy asks the pool what selling or buying a base size would
give, without any I/O: implementations quote with the venue's own integer maths (constant
product, concentrated liquidity, ...) and convert to :class:`~decimal.Decimal` only at this edge.

Sides are *ours*: ``sell(q)`` pays exactly ``q`` base into the pool (exact input) and receives
quote; ``buy(q)`` receives exactly ``q`` base out of the pool (exact output) and pays quote. Every
:class:`SwapEstimate` splits what the swap costs against the pool's mid price before it into the
pool's **fee** and the **price impact** (the rest), both in quote units, so a cost breakdown can
show them apart.

The host knows no DEX; implementations live in plugins (``arbotlib.amm.model``,
``arbotlib.amm.whirlpool.model``). Write your own by subclassing :class:`Pool`.
"""

from .domain import BPS, Pool, PoolError, PoolLiquidityError, SwapEstimate

__all__ = ["BPS", "Pool", "PoolError", "PoolLiquidityError", "SwapEstimate"]
