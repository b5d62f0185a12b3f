"""``staleness`` risk check: pause the strategies of a market whose data went silent, resume when it is back.

A market is *stale* when its feed said it is not live (``FeedStatus`` STALE or RESYNCING) or no
``BookUpdate`` (or ``PoolUpdate``) arrived, for longer than ``stale_after_s``. Every market a
strategy trades is watched from the start: one that has sent nothing since then is silent too.
Every strategy trading a stale market is paused (``ctx.pause``), the trip is stored and alerted,
and orders to it are vetoed: the gate reads a watched market's silence itself, so an order to one silent for
longer than ``stale_after_s`` is vetoed at once, not only after the next periodic check, and an order to a market
that has sent no book (or pool) since the start is vetoed from the first order: no data, no trade (the periodic
check pauses such a market's strategies only once it has been silent for ``stale_after_s``). Once the feed is live
and books have kept arriving for ``resume_after_s``, the market is fresh again: with ``auto_resume`` the
strategies this check paused resume (an operator's pause is never undone), with an alert either way.

**Hedges through the pause.** A strategy paused here may still send an order that only reduces its exposure on
a venue whose data is fresh: an arbitrage's hedge on the CEX after the pool's feed went stale and one leg filled.
The order must be marked ``reduce_only`` and bring the net position in its symbol across venues nearer to zero,
not past it (the host checks both), be the strategy's only pause (not an operator's, the kill switch's or another
check's), and be on a market this check watches that is fresh now (feed live, data within ``stale_after_s``) on a
venue with no stale market (:meth:`Staleness.admits_while_paused`). An order to a stale venue, one that adds
exposure, and every other order of the paused strategy stay refused; the order still passes every check.

Time comes from ``ctx.clock`` only. :meth:`Staleness.check_markets` does the work; a background
task calls it every ``check_every_s`` and tests call it directly with a manual clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.api import (
    AlertLevel,
    FeedState,
    FeedStatus,
    OrderIntent,
    PoolUpdate,
    PortfolioView,
    RiskCheck,
    hookimpl,
    option,
)

if TYPE_CHECKING:
    from bot.api import BookUpdate

NS = 1_000_000_000


@dataclass(frozen=True)
class StalenessSettings:
    stale_after_s: float = option(10.0, ge=0.01, le=86_400,
                                  help="a market silent or not live for longer than this is stale (a market a "
                                       "strategy trades: silent since the start if never heard)")
    resume_after_s: float = option(30.0, ge=0, le=86_400,
                                   help="fresh data for this long makes a stale market fresh again")
    auto_resume: bool = option(True, help="resume the strategies this check paused once their markets are fresh")
    check_every_s: float = option(1.0, ge=0.01, le=3600,
                                  help="how often markets are checked (the pause lands within this)")
    exchanges: list[str] = option([], help="exchanges to watch; empty: every exchange")


@dataclass
class _Market:
    last_data_ns: int
    live: bool = True
    bad_since_ns: int | None = None
    """When the feed stopped being live."""
    stale: bool = False
    fresh_since_ns: int | None = None
    """While stale: when good data started again."""
    heard: bool = True
    """Whether a book (or pool) of it has arrived since the start: an order to a market never heard is refused."""


class Staleness(RiskCheck):
    """Watches every market's feed status and book updates; see the module docstring."""

    Settings = StalenessSettings
    exchange_settings = ("exchanges",)

    def __init__(self, name, settings, ctx):
        super().__init__(name, settings, ctx)
        self.markets: dict[tuple[str, str], _Market] = {}
        self._watch = set(settings.exchanges)
        self._paused: set[str] = set()
        """Strategies this check paused and has not resumed."""
        self._adopted = False
        """Whether the pauses of the last run (:meth:`_adopt_pauses`) were taken over."""
        self._started_ns = 0

    async def start(self) -> None:
        from bot.api import BookUpdate  # with the running bot, not when `arbot --help` imports the plugin

        self._started_ns = self.ctx.clock.time_ns()
        self.ctx.bus.subscribe(BookUpdate, self.on_book, owner=self.name)
        self.ctx.bus.subscribe(PoolUpdate, self.on_book, owner=self.name)
        self.ctx.bus.subscribe(FeedStatus, self.on_feed, owner=self.name)
        self.ctx.create_task(self._every(), "staleness checks")

    async def _every(self) -> None:
        import asyncio  # with the running bot, not when `arbot --help` imports the plugin

        while True:
            await asyncio.sleep(self.settings.check_every_s)
            self.check_markets()

    # --- events (hot path: a dict look-up and an assignment) -----------------------------------

    def on_book(self, event: BookUpdate | PoolUpdate) -> None:
        market = self.markets.get((event.exchange, event.symbol))
        now = self.ctx.clock.time_ns()
        if market is None:
            if self._watch and event.exchange not in self._watch:
                return
            self.markets[(event.exchange, event.symbol)] = _Market(now)
            return
        market.last_data_ns = now
        market.heard = True
        if market.stale and market.live and market.fresh_since_ns is None:
            market.fresh_since_ns = now

    def on_feed(self, event: FeedStatus) -> None:
        if self._watch and event.exchange not in self._watch:
            return
        now = self.ctx.clock.time_ns()
        market = self.markets.setdefault((event.exchange, event.symbol), _Market(now, heard=False))
        live = event.state is FeedState.LIVE
        if live == market.live:
            return
        market.live = live
        if live:
            market.bad_since_ns = None
            market.last_data_ns = now  # the silence is measured again from here
        else:
            market.bad_since_ns = now
            market.fresh_since_ns = None

    # --- the periodic check -------------------------------------------------------------------

    def check_markets(self) -> None:
        """Pause strategies of markets stale for longer than ``stale_after_s``; resume fresh ones."""
        now = self.ctx.clock.time_ns()
        self._watch_traded_markets()
        if not self._adopted:
            self._adopt_pauses()
        stale_after = int(self.settings.stale_after_s * NS)
        for (exchange, symbol), market in self.markets.items():
            if not market.stale:
                silent_ns = now - (market.bad_since_ns if market.bad_since_ns is not None else market.last_data_ns)
                if silent_ns > stale_after:
                    self._went_stale(exchange, symbol, market, silent_ns)
            elif (market.live and market.fresh_since_ns is not None and now - market.last_data_ns <= stale_after
                  and now - market.fresh_since_ns >= int(self.settings.resume_after_s * NS)):
                self._came_back(exchange, symbol, market, now - market.fresh_since_ns)

    def _watch_traded_markets(self) -> None:
        """Watch every market a strategy trades, silent since this check started if it has not been heard yet: a
        feed that never sent anything is as silent as one that stopped. Asked here, not in :meth:`start`: the
        strategies are built after the risk checks start."""
        operator = self.ctx.operator
        for strategy in operator.strategies.values():
            for exchange, symbol in operator.ask(strategy, "markets") or []:
                if (exchange, symbol) not in self.markets and (not self._watch or exchange in self._watch):
                    self.markets[(exchange, symbol)] = _Market(self._started_ns, heard=False)

    def _adopt_pauses(self) -> None:
        """The strategies this check paused before a restart are paused still (the host keeps a pause): their markets
        are stale until their data has been fresh for ``resume_after_s``, which resumes them, as in the run that
        paused them."""
        self._adopted = True
        mine = self.ctx.paused_by_me()
        self._paused.update(mine)
        for name in mine:
            strategy = self.ctx.operator.strategies.get(name)
            markets = self.ctx.operator.ask(strategy, "markets") if strategy is not None else None
            for exchange, symbol in markets or []:
                if not self._watch or exchange in self._watch:
                    market = self.markets.setdefault((exchange, symbol), _Market(self._started_ns, heard=False))
                    market.stale, market.fresh_since_ns = True, None

    def _went_stale(self, exchange: str, symbol: str, market: _Market, silent_ns: int) -> None:
        market.stale = True
        market.fresh_since_ns = None
        paused = self.ctx.pause(self.ctx.strategies_using(exchange, symbol), "market data stale")
        self._paused.update(paused)
        self.ctx.record_trip("market data stale", "pause", exchange=exchange, symbol=symbol,
                             silent_s=f"{silent_ns / NS:.3f}", stale_after_s=self.settings.stale_after_s,
                             feed="live" if market.live else "not live", paused=", ".join(paused) or "none")

    def _came_back(self, exchange: str, symbol: str, market: _Market, fresh_ns: int) -> None:
        market.stale = False
        market.fresh_since_ns = None
        still_stale = {n for (e, s), m in self.markets.items() if m.stale for n in self.ctx.strategies_using(e, s)}
        resumed: list[str] = []
        if self.settings.auto_resume:
            resumed = self.ctx.resume(sorted(self._paused - still_stale), "market data fresh")
        waiting = [] if self.settings.auto_resume else sorted(self._paused - still_stale)
        self._paused &= still_stale  # the rest are the operator's to resume now
        self.ctx.alert(AlertLevel.INFO, "risk", "market data fresh again", exchange=exchange, symbol=symbol,
                       fresh_s=f"{fresh_ns / NS:.3f}", resumed=", ".join(resumed) or "none",
                       waiting_for_resume=", ".join(waiting) or "none")

    # --- the gate -----------------------------------------------------------------------------

    def check(self, intent: OrderIntent, view: PortfolioView) -> str | None:
        """Veto an order to a market that is stale, or silent (or not live) for longer than ``stale_after_s`` now:
        the periodic check pauses and alerts within ``check_every_s``; the gate does not wait for it. An order to a
        watched exchange's market never heard from since the start is vetoed from the first: no data, no trade."""
        market = self.markets.get((intent.exchange, intent.symbol))
        if market is None or not market.heard:
            if self._watch and intent.exchange not in self._watch:
                return None
            if market is not None and market.stale:  # paused for it by now
                return f"market data for {intent.exchange} {intent.symbol} is stale"
            return f"no market data for {intent.exchange} {intent.symbol} since the start"
        since = market.bad_since_ns if market.bad_since_ns is not None else market.last_data_ns
        if market.stale or self.ctx.clock.time_ns() - since > int(self.settings.stale_after_s * NS):
            return f"market data for {intent.exchange} {intent.symbol} is stale"
        return None

    def admits_while_paused(self, intent: OrderIntent, view: PortfolioView) -> bool:
        """A reduce-only order of a strategy this check paused (the host has checked that it reduces the exposure)
        goes when its own market is watched and fresh now and nothing on its venue is stale: the pause is for
        another venue's data."""
        market = self.markets.get((intent.exchange, intent.symbol))
        now = self.ctx.clock.time_ns()
        if (market is None or not market.heard or market.stale or not market.live
                or now - market.last_data_ns > int(self.settings.stale_after_s * NS)):
            return False
        return not any(m.stale for (exchange, _), m in self.markets.items() if exchange == intent.exchange)

    def status(self) -> dict[str, str]:
        now = self.ctx.clock.time_ns()
        return {f"{e} {s}": ("STALE" if m.stale else "ok")
                + (f", data {(now - m.last_data_ns) / NS:.1f}s old" if m.heard else ", no data since the start")
                + ("" if m.live else ", feed not live") for (e, s), m in sorted(self.markets.items())} \
            | {"stale after": f"{self.settings.stale_after_s:g}s"}


@hookimpl
def register_risk_checks(register) -> None:
    register("staleness", Staleness)
