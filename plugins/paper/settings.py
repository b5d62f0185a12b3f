"""The paper venue's config table (``[exchanges.paper]``): market source and shape, fees, balances, state file."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from bot.api import option, split_symbol

BOOK_SPAN_MAX_TICKS = 20_000
"""Widest simulated book, spread and every level (``depth_levels x level_step_ticks + spread_ticks``): the
market keeps a ladder of prices eight times as wide, built at start."""

BACKTEST_TICK_MS = 100
"""Pace, in a backtest, of a paper venue whose config steps it only by hand (``tick_interval_ms = 0``)."""


SHAPE_KEYS = ("tick_size", "lot_size", "min_qty", "level_qty")
"""What ``shapes`` may set per symbol."""


@dataclass(frozen=True)
class PaperSettings:
    """Settings of the simulated venue. Every market shares the same shape; prices may differ."""

    symbols: list[str] = option(["BTC/USD"], min_items=1, help="markets this venue trades, each BASE/QUOTE")
    market: Literal["simulated", "recording", "mirror"] = option(
        "simulated",
        help='where the books come from: "simulated" (seeded random walk), "recording" (a file made by '
        '`arbot record`) or "mirror" (the live books of another configured exchange, see source)',
    )
    recording: str = option(
        "", help='market = "recording": the JSONL file made by `arbot record`, relative to the working directory'
    )
    recording_exchange: str = option(
        "", help='market = "recording": exchange type it was recorded from (kraken, coinbase): its book code reads it'
    )
    playback_speed: Decimal = option(
        Decimal("1"), ge=0, le=1_000_000,
        help='market = "recording": 1 plays at the recorded pace, 10 ten times faster; '
        "0: the recording advances only when step() is called (backtests)",
    )  # fmt: skip
    recording_end: Literal["stop", "loop"] = option(
        "stop",
        help='market = "recording": at the end of the file "stop" (the books go stale) or "loop" (play it again)',
    )
    source: str = option("", help='market = "mirror": name of the configured exchange whose books are traded against')
    symbol_map: dict[str, str] = option(
        {}, help='recording or mirror: source symbol -> our symbol where they differ, e.g. {"BTC/USDT" = "BTC/USD"}'
    )
    start_price: Decimal = option(Decimal("30000"), gt=0, help="first mid price of each market, in quote units")
    start_prices: dict[str, str] = option(
        {}, help='first mid price per symbol, overriding start_price, e.g. {"ETH/USD" = "2000"}'
    )
    tick_size: Decimal = option(Decimal("0.01"), gt=0, help="smallest price increment, in quote units")
    lot_size: Decimal = option(Decimal("0.00001"), gt=0, help="smallest size increment, in base units")
    shapes: dict[str, dict[str, str]] = option(
        {}, help="per symbol, markets of another scale on the same account: tick_size, lot_size, min_qty and "
        'level_qty overriding the venue\'s, e.g. {"BONK/USDC" = { tick_size = "0.00000001", lot_size = "1", '
        'min_qty = "1000", level_qty = "50000000" }}',
    )  # fmt: skip
    min_qty: Decimal = option(Decimal("0.0001"), ge=0, help="smallest order size accepted, in base units")
    min_notional: Decimal = option(Decimal("0"), ge=0, help="smallest order value (price x size) accepted, quote")
    spread_ticks: int = option(10, ge=1, le=10_000, help="distance from best bid to best ask, in ticks")
    level_step_ticks: int = option(10, ge=1, le=10_000, help="distance between two book levels on one side, in ticks")
    depth_levels: int = option(10, ge=1, le=100, help="book levels published (and matched against) per side")
    level_qty: Decimal = option(Decimal("0.5"), gt=0, help="average size of a book level near the touch, base units")
    volatility_bps: Decimal = option(
        Decimal("0.5"), ge=0, le=10_000, help="standard deviation of one step's price move, basis points of the price"
    )
    tick_interval_ms: int = option(
        100, ge=0, le=3_600_000, help="time between two market steps; 0: the market moves only when step() is called"
    )
    seed: int = option(42, ge=0, le=2**32 - 1, help="seed of the random walk: the same seed gives the same prices")
    maker_fee_bps: Decimal = option(Decimal("16"), ge=0, lt=10_000, help="fee on fills of resting orders, basis points")
    taker_fee_bps: Decimal = option(Decimal("26"), ge=0, lt=10_000,
                                    help="fee on fills that take liquidity, basis points")
    fee_decimals: int = option(
        8, ge=0, le=18, help="fees are rounded half-up to this many decimals of the quote asset"
    )
    initial_balances: dict[str, str] = option(
        {"USD": "100000", "BTC": "1"},
        help="balances of a new paper account, asset -> decimal string (used when the state file is created)",
    )
    latency_ms: int = option(
        0, ge=0, le=60_000, help="simulated round trip of an order request; the venue acts halfway through it"
    )
    withdrawal_fees: dict[str, str] = option(
        {}, help='simulated transfers out: the venue\'s withdrawal fee per asset, e.g. { SOL = "0.01" }')
    withdrawal_minimums: dict[str, str] = option(
        {}, help='simulated transfers out: smallest withdrawal per asset, e.g. { SOL = "0.1" }')
    network_fee_sol: Decimal = option(
        Decimal("0"), ge=0, help="simulated transfers out: chain fee in SOL paid on top (0: in the withdrawal fee)")
    transfer_delay_s: float = option(60.0, ge=0, le=7 * 86_400,
                                     help="a simulated transfer to or from this venue takes this long")
    state_file: str = option(
        "paper-exchange.db", owned_file=True,
        help='SQLite file of the venue\'s own state, relative to the data directory; "" keeps it in memory',
    )

    def validate(self) -> list[tuple[str, str]]:
        """Cross-field checks: (key, problem) pairs."""
        problems: list[tuple[str, str]] = []
        for symbol in self.symbols:
            try:
                split_symbol(symbol)
            except ValueError as exc:
                problems.append(("symbols", str(exc)))
        if len(set(self.symbols)) != len(self.symbols):
            problems.append(("symbols", "a symbol is listed twice"))
        for symbol, text in self.start_prices.items():
            if symbol not in self.symbols:
                problems.append((f"start_prices.{symbol}", f'"{symbol}" is not one of symbols {self.symbols}'))
            elif not _positive_decimal(text):
                problems.append((f"start_prices.{symbol}", f'expected a decimal number > 0 as a string, got "{text}"'))
        for symbol, shape in self.shapes.items():
            if symbol not in self.symbols:
                problems.append((f"shapes.{symbol}", f'"{symbol}" is not one of symbols {self.symbols}'))
                continue
            for key, text in shape.items():
                if key not in SHAPE_KEYS:
                    problems.append((f"shapes.{symbol}.{key}", f"unknown key; expected one of {', '.join(SHAPE_KEYS)}"))
                elif not _positive_decimal(str(text), allow_zero=key == "min_qty"):
                    problems.append((f"shapes.{symbol}.{key}",
                                     f'expected a decimal number > 0 as a string, got "{text}"'))
        transfer_tables = (("withdrawal_fees", self.withdrawal_fees), ("withdrawal_minimums", self.withdrawal_minimums))
        for key, table in transfer_tables:
            for asset, text in table.items():
                if not _positive_decimal(text, allow_zero=True):
                    problems.append((f"{key}.{asset}", f'expected a decimal number >= 0 as a string, got "{text}"'))
        for asset, text in self.initial_balances.items():
            if not _positive_decimal(text, allow_zero=True):
                problems.append(
                    (f"initial_balances.{asset}", f'expected a decimal number >= 0 as a string, got "{text}"')
                )
        span = self.depth_levels * self.level_step_ticks + self.spread_ticks
        if span > BOOK_SPAN_MAX_TICKS:
            problems.append(("level_step_ticks", f"the book would span {span} ticks (depth_levels x level_step_ticks "
                                                 f"+ spread_ticks); at most {BOOK_SPAN_MAX_TICKS}: use fewer or "
                                                 "closer levels, or a larger tick_size"))
        if self.min_qty and self.min_qty % self.lot_size:
            problems.append(("min_qty", f"{self.min_qty} is not a multiple of lot_size {self.lot_size}"))
        problems += self._validate_source()
        return problems

    def _validate_source(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        market = self.market
        if market == "recording":
            if not self.recording:
                problems.append(("recording", 'market = "recording" needs the file: recording = "FILE.jsonl" '
                                              "(made by `arbot record --exchange TYPE --symbol S --out FILE.jsonl`)"))
            elif not self.recording_path().is_file():
                problems.append(("recording", f"no such file: {self.recording_path()}"))
            if not self.recording_exchange:
                problems.append(("recording_exchange", 'market = "recording" needs the exchange type the file was '
                                                       'recorded from, e.g. recording_exchange = "kraken"'))
        else:
            for key in ("recording", "recording_exchange"):
                if getattr(self, key):
                    problems.append((key, f'only used with market = "recording" (market is "{market}")'))
        if market == "mirror":
            if not self.source:
                problems.append(("source", 'market = "mirror" needs the name of a configured exchange to follow, '
                                           'e.g. source = "kraken"'))
        elif self.source:
            problems.append(("source", f'only used with market = "mirror" (market is "{market}")'))
        if market == "simulated" and self.symbol_map:
            problems.append(("symbol_map", 'only used with market = "recording" or "mirror"'))
        seen: dict[str, str] = {}
        for theirs, ours in self.symbol_map.items():
            if ours not in self.symbols:
                problems.append((f"symbol_map.{theirs}", f'"{ours}" is not one of symbols {self.symbols}'))
            elif ours in seen:
                problems.append((f"symbol_map.{theirs}", f'"{ours}" is already fed by "{seen[ours]}"; '
                                                         "each symbol takes one source symbol"))
            seen[ours] = theirs
        fed: dict[str, str] = {}
        for ours in self.symbols:
            theirs = next((t for t, o in self.symbol_map.items() if o == ours), ours)
            if theirs in fed:
                problems.append((f"symbol_map.{theirs}" if theirs in self.symbol_map else "symbol_map",
                                 f'source symbol "{theirs}" would feed both "{fed[theirs]}" and "{ours}"; '
                                 "map one of them to another source symbol"))
            fed[theirs] = ours
        return problems

    def recording_path(self) -> Path:
        """The recording file (``~`` expanded, relative to the working directory)."""
        return Path(self.recording).expanduser().absolute()

    def source_symbols(self) -> dict[str, str]:
        """Source (recorded or mirrored) symbol -> our symbol, for each of ``symbols``."""
        ours_to_theirs = {ours: theirs for theirs, ours in self.symbol_map.items()}
        return {ours_to_theirs.get(symbol, symbol): symbol for symbol in self.symbols}

    def shape_of(self, symbol: str, key: str) -> Decimal:
        """``tick_size``, ``lot_size``, ``min_qty`` or ``level_qty`` of ``symbol`` (its shape, else the venue's)."""
        text = self.shapes.get(symbol, {}).get(key)
        return Decimal(str(text)) if text is not None else Decimal(getattr(self, key))

    def start_price_of(self, symbol: str) -> Decimal:
        """First mid price of ``symbol``."""
        text = self.start_prices.get(symbol)
        return Decimal(text) if text is not None else self.start_price


def _positive_decimal(text: str, *, allow_zero: bool = False) -> bool:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        return False
    return value.is_finite() and (value >= 0 if allow_zero else value > 0)
