"""The venue author's kit: what exchange plugins share, public like :mod:`bot.api`.

Each name is imported when first used, so ``from bot.api.kit import Pool`` loads the pool models
and not the WebSocket feed (``import bot.api`` loads none of it).

* order books and exact unit conversion: :class:`OrderBook`, :func:`to_units`, :func:`from_units`,
  :class:`PrecisionError`; :class:`BookPublisher`, which publishes views of a live book on the bus
  after each change (one reused view while nobody keeps it), and :class:`BookViews`, which a venue
  handing out views of a live book in batches (:meth:`bot.api.BookUpdate.of_book`) releases before
  it changes the book; :class:`Topic` (``ctx.bus.topic(EventType, exchange, symbol)``): the bus's
  subscribers of one event type and market, resolved once, so a venue publishes without the bus's
  look-up and skips making an event nobody subscribed to (``topic.route`` empty);
* AMM pool models: :class:`Pool`, :class:`SwapEstimate`, :class:`PoolError`, :class:`PoolLiquidityError`;
* market-data plumbing: :class:`ReconnectingFeed` (reconnects with backoff, reports
  :class:`~bot.api.FeedStatus`), :class:`PollingVenue` (a venue that polls a REST API),
  :class:`OrderMemory` (the venue's ids and fills read of its newest orders, bounded, never a tracked one),
  :class:`TokenBucket` (client-side rate limit); :class:`Flapping`, the one flap rule of anything that drops and
  comes back (a private stream, a connection, a dead-man switch): a loss alerted once, a flap once, the losses after
  it counted, and one note when it has held :data:`FLAP_WINDOW_S` again (:data:`LOST`, :data:`FLAPPING`,
  :data:`COUNTED`: what :meth:`Flapping.lost` says a loss is worth); :class:`Folding`, the one rule of anything said
  again and again (a warning per request, a refusal per stranger, a failure per retry): per key, the first said as it
  happens, the rest counted, and one summary (a :class:`Fold`, with its count) per interval;
* recording and replay of raw frames (``arbot record`` / ``arbot replay``): :class:`Recorder`,
  :class:`RecordOptions`, :class:`FrameSink`, :func:`record_to`, :func:`read_recording` (skips and counts
  malformed lines in a :class:`ReadStats`, and receive times that went back, read as no time passing);
* JSON from outside with its nesting depth checked before parsing: :func:`loads_limited`
  (:class:`TooDeep`, :data:`MAX_JSON_DEPTH`);
* :data:`REDACTOR`, which masks every known secret (each resolved ``env:``/``file:`` value, the store
  URL's password) in text: the host passes log lines, alerts and command replies through it, and a plugin
  serves what it sends to clients through ``REDACTOR.redact(text)`` (as the web console does with every
  answer and event), an event's data through ``REDACTOR.redact_event(data)`` (its text fields only, for
  the bus path: as the stream and the fleet bus do), other JSON-shaped data through
  ``REDACTOR.redact_data(value)`` (as the fleet's heartbeat status is), and text it quotes cut short through
  ``REDACTOR.cut(text, max_chars)`` (masked first, so a secret straddling the cut shows none of itself);
  :func:`add_url`, which makes the passwords and keys of a configured URL (``user:password@``, ``?api-key=``)
  known to it (call it for each URL of your settings when your component starts), and :func:`safe_url`, a URL
  with them masked;
* events as JSON, the one encoder of every wire (the stream, the fleet bus): :func:`to_data` (a domain
  event as a dict, Decimals as exact strings, enums as values), :func:`fill_data` (an applied fill with its
  strategy, as the stream, the fleet bus and the web console send it) and :func:`jsonable` (any value);
* :func:`read_plugin_settings`, a plugin's ``[plugins.NAME]`` table read from a config file, validated and
  its secrets resolved, for a plugin's own ``arbot`` subcommand (no bot running);
* console output as the host writes it: :func:`format_ts` (the one timestamp format), :func:`fit`
  (lines cut to ``MAX_LINE`` unless ``-v``), :func:`colour_wanted` (``NO_COLOR`` and ``--no-color``),
  :func:`escape_controls` (control characters shown escaped, never sent to a terminal);
  :func:`json_lines` (True when stderr carries JSON objects only, ``log_format = "json"``: write there
  through ``logging``);
* :class:`Outbox`, per-chat send lanes for chat transports (replies and alerts never wait in front
  of another chat's, and stopping never waits on the chat service), and :func:`drop_least_urgent`, its rule
  for a full queue, for a transport's own bounded queue;
* who a connection or a request comes from, for a service's per-client limits (the web console's, the metrics
  endpoint's, the stream's): :class:`ClientAddresses` (``ClientAddresses(settings.trusted_proxies)``: ``peer()``
  keys a connection's peer, its IPv4 address or IPv6 /64, and says whether it is a trusted proxy; ``client()`` keys
  a request by its peer, or from a trusted proxy by the right-most X-Forwarded-For hop that is not one),
  :func:`client_key`, :func:`parse_address`, and :func:`trusted_proxies_problems` for the setting's ``validate()``;
* :class:`Clock` and :class:`ManualClock`, a clock a test or a simulation advances by hand;
* :class:`TokenLease`: a chat transport live in exactly one process per bot token (a store lease),
  standing by in the others and taking over when the holder stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from ..book import OrderBook
    from ..bookview import BookPublisher, BookViews
    from ..bus import Topic
    from ..client_address import ClientAddresses, client_key, parse_address, trusted_proxies_problems
    from ..clock import Clock, ManualClock
    from ..domain import Pool, PoolError, PoolLiquidityError, SwapEstimate
    from ..exact import PrecisionError, from_units, to_units
    from ..feed import ReconnectingFeed, StateCallback
    from ..flapping import COUNTED, FLAP_WINDOW_S, FLAPPING, LOST, Flapping, Loss
    from ..folding import Fold, Folding
    from ..jsonable import fill_data, jsonable, to_data
    from ..jsonlimits import MAX_JSON_DEPTH, TooDeep, loads_limited
    from ..logs import colour_wanted, escape_controls, fit, format_ts, json_lines
    from ..outbox import Outbox, drop_least_urgent
    from ..pluginconfig import read_plugin_settings
    from ..ratelimit import TokenBucket
    from ..recording import FrameSink, Recorder, RecordOptions, read_recording, record_to
    from ..recording_stats import ReadStats
    from ..redact import REDACTOR, add_url, safe_url
    from ..standby import TokenLease
    from ..venue import DeadManSwitch, OrderMemory, PollingVenue

_WHERE = {
    "OrderBook": "bot.book", "BookPublisher": "bot.bookview", "BookViews": "bot.bookview", "Clock": "bot.clock",
    "ManualClock": "bot.clock",
    "Pool": "bot.domain", "PoolError": "bot.domain", "PoolLiquidityError": "bot.domain", "SwapEstimate": "bot.domain",
    "PrecisionError": "bot.exact", "from_units": "bot.exact", "to_units": "bot.exact",
    "Flapping": "bot.flapping", "FLAP_WINDOW_S": "bot.flapping", "LOST": "bot.flapping", "FLAPPING": "bot.flapping",
    "COUNTED": "bot.flapping", "Loss": "bot.flapping", "Fold": "bot.folding", "Folding": "bot.folding",
    "ReconnectingFeed": "bot.feed", "StateCallback": "bot.feed", "TokenBucket": "bot.ratelimit",
    "Outbox": "bot.outbox", "drop_least_urgent": "bot.outbox",
    "colour_wanted": "bot.logs", "escape_controls": "bot.logs", "fit": "bot.logs", "format_ts": "bot.logs",
    "json_lines": "bot.logs",
    "FrameSink": "bot.recording", "Recorder": "bot.recording", "RecordOptions": "bot.recording",
    "read_recording": "bot.recording", "record_to": "bot.recording", "REDACTOR": "bot.redact",
    "add_url": "bot.redact", "safe_url": "bot.redact",
    "PollingVenue": "bot.venue", "DeadManSwitch": "bot.venue", "OrderMemory": "bot.venue",
    "ReadStats": "bot.recording_stats",
    "MAX_JSON_DEPTH": "bot.jsonlimits", "TooDeep": "bot.jsonlimits", "loads_limited": "bot.jsonlimits",
    "jsonable": "bot.jsonable", "to_data": "bot.jsonable", "fill_data": "bot.jsonable",
    "read_plugin_settings": "bot.pluginconfig",
    "TokenLease": "bot.standby", "Topic": "bot.bus",
    "ClientAddresses": "bot.client_address", "client_key": "bot.client_address",
    "parse_address": "bot.client_address", "trusted_proxies_problems": "bot.client_address",
}
__all__ = [
    "COUNTED",
    "FLAPPING",
    "FLAP_WINDOW_S",
    "LOST",
    "Loss",
    "MAX_JSON_DEPTH",
    "REDACTOR",
    "BookPublisher",
    "BookViews",
    "ClientAddresses",
    "Clock",
    "DeadManSwitch",
    "Flapping",
    "Fold",
    "Folding",
    "FrameSink",
    "ManualClock",
    "OrderBook",
    "OrderMemory",
    "Outbox",
    "PollingVenue",
    "Pool",
    "PoolError",
    "PoolLiquidityError",
    "PrecisionError",
    "ReadStats",
    "ReconnectingFeed",
    "RecordOptions",
    "Recorder",
    "StateCallback",
    "SwapEstimate",
    "TokenBucket",
    "TokenLease",
    "TooDeep",
    "Topic",
    "add_url",
    "client_key",
    "colour_wanted",
    "drop_least_urgent",
    "escape_controls",
    "fill_data",
    "fit",
    "format_ts",
    "from_units",
    "json_lines",
    "jsonable",
    "loads_limited",
    "parse_address",
    "read_plugin_settings",
    "read_recording",
    "record_to",
    "safe_url",
    "to_data",
    "to_units",
    "trusted_proxies_problems",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
