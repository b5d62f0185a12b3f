"""The venue author's kit: what exchange plugins share, public like :mod:`bot.api`.

Imported on its own (``from bot.api.kit import OrderBook``) so that ``import bot.api`` stays light.

* order books and exact unit conversion: :class:`OrderBook`, :func:`to_units`, :func:`from_units`,
  :class:`PrecisionError`;
* AMM pool models: :class:`Pool`, :class:`SwapEstimate`, :class:`PoolError`, :class:`PoolLiquidityError`;
* market-data plumbing: :class:`ReconnectingFeed` (reconnects with backoff, reports
  :class:`~bot.api.FeedStatus`), :class:`PollingVenue` (a venue that polls a REST API),
  :class:`TokenBucket` (client-side rate limit);
* recording and replay of raw frames (``arbot record`` / ``arbot replay``): :class:`Recorder`,
  :class:`RecordOptions`, :class:`FrameSink`, :func:`record_to`, :func:`read_recording`,
  :func:`recorder_for`;
* :data:`REDACTOR`, which strips secrets from text before it is logged or alerted;
* :class:`ManualClock`, a clock a test or a simulation advances by hand;
* display helpers: :func:`money` (an amount with its asset, for people).
"""

from ..book import OrderBook
from ..clock import Clock, ManualClock
from ..domain import Pool, PoolError, PoolLiquidityError, SwapEstimate
from ..exact import PrecisionError, from_units, to_units
from ..feed import ReconnectingFeed, StateCallback
from ..ratelimit import TokenBucket
from ..recording import FrameSink, Recorder, RecordOptions, read_recording, record_to, recorder_for
from ..redact import REDACTOR
from ..units import money
from ..venue import PollingVenue

__all__ = [
    "REDACTOR", "Clock", "FrameSink", "ManualClock", "OrderBook", "PollingVenue", "Pool", "PoolError",
    "PoolLiquidityError", "PrecisionError", "ReconnectingFeed", "RecordOptions", "Recorder", "StateCallback",
    "SwapEstimate", "TokenBucket", "from_units", "money", "read_recording", "record_to", "recorder_for", "to_units",
]
