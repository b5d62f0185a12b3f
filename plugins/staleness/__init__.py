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

**What counts as data.** Only a ``BookUpdate`` or ``PoolUpdate``: a market's data age is the age of its last one. A
``FeedStatus`` is never data: LIVE ends a not-live spell but does not make the data younger, so a feed that flaps
back to LIVE without sending a book goes stale ``stale_after_s`` after its last book; and a feed going down never
restarts the count (the silence runs from its last book, or from the drop when that came first). A venue whose
market can be quiet while its data is current (a pool nobody trades) proves it by publishing the state again when
it has confirmed it: the ``orca`` venue reads a pool unchanged for ``confirm_after_s`` again and publishes it with
the read's time and slot; a heartbeat or a connection that is merely open proves nothing about the data, so it
does not count.

**Across a restart.** The host keeps this check's pauses; the first check takes them over: the markets their
strategies trade now are stale until fresh for ``resume_after_s``. A strategy none of whose markets is watched any
more (taken out of the config, or of ``exchanges``) can never see its data come back here: its pause is released at
once (resumed with ``auto_resume``, else left to an operator), with a ``market data no longer watched`` alert.

**Hedges through the pause.** A strategy paused here may still send an order that only reduces its exposure on
a venue whose data is fresh: an arbitrage's hedge on the CEX after the pool's feed went stale and one leg filled.
The order must be marked ``reduce_only`` and bring the net position in its symbol across venues nearer to zero,
not past it (the host checks both), be the strategy's only pause (not an operator's, the kill switch's or another
check's), and be on a market this check watches that is fresh now (feed live, data within ``stale_after_s``) on a
venue with no stale market (:meth:`Staleness.admits_while_paused`). An order to a stale venue, one that adds
exposure, and every other order of the paused strategy stay refused; the order still passes every check.

Time comes from ``ctx.clock`` only, its monotonic time: silence is a duration, and a wall clock that is stepped
(NTP, a VM resumed) must not hide a silent feed or fake one. :meth:`Staleness.check_markets` does the work; a background
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

    @property
    def silent_since_ns(self) -> int:
        """Since when it has been without trustworthy data: its last book (or pool), or the moment its feed stopped
        being live when that came first (a feed going down never makes its data younger)."""
        if self.bad_since_ns is None:
            return self.last_data_ns
        return min(self.bad_since_ns, self.last_data_ns)


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
        self._users: dict[tuple[str, str], list[str]] = {}
        """(exchange, symbol) -> the strategies trading it, as asked at the start of the current check: each
        strategy's ``markets()`` once a check, however many markets go stale or come back in it."""

    def _now_ns(self) -> int:
        """Monotonic time in ns: silence is a duration, so a wall clock stepped back (NTP, a VM resumed) neither
        hides a feed that stopped nor, stepped forward, makes a live one look stale."""
        return round(self.ctx.clock.monotonic() * NS)

    async def start(self) -> None:
        from bot.api import BookUpdate  # with the running bot, not when `arbot --help` imports the plugin

        self._started_ns = self._now_ns()
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
        now = self._now_ns()
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
        now = self._now_ns()
        market = self.markets.setdefault((event.exchange, event.symbol), _Market(now, heard=False))
        live = event.state is FeedState.LIVE
        if live == market.live:
            return
        market.live = live
        if live:
            # a status is no data: the silence is still measured from the last book (or pool), so a feed that
            # flaps back to LIVE without sending one goes stale all the same
            market.bad_since_ns = None
        else:
            market.bad_since_ns = now
            market.fresh_since_ns = None

    # --- the periodic check -------------------------------------------------------------------

    def check_markets(self) -> None:
        """Pause strategies of markets stale for longer than ``stale_after_s``; resume fresh ones."""
        now = self._now_ns()
        self._watch_traded_markets()
        if not self._adopted:
            self._adopt_pauses()
        stale_after = int(self.settings.stale_after_s * NS)
        back: list[tuple[tuple[str, str], _Market]] = []
        for key, market in self.markets.items():
            if not market.stale:
                silent_ns = now - market.silent_since_ns
                if silent_ns > stale_after:
                    self._went_stale(key, market, silent_ns)
            elif (market.live and market.fresh_since_ns is not None and now - market.last_data_ns <= stale_after
                  and now - market.fresh_since_ns >= int(self.settings.resume_after_s * NS)):
                back.append((key, market))
        if back:
            self._came_back(back, now)

    def _watch_traded_markets(self) -> None:
        """Watch every market a strategy trades, silent since this check started if it has not been heard yet: a
        feed that never sent anything is as silent as one that stopped. Asked here, not in :meth:`start`: the
        strategies are built after the risk checks start."""
        operator = self.ctx.operator
        self._users = {}
        for name, strategy in operator.strategies.items():
            for exchange, symbol in operator.ask(strategy, "markets") or []:
                self._users.setdefault((exchange, symbol), []).append(name)
                if (exchange, symbol) not in self.markets and (not self._watch or exchange in self._watch):
                    self.markets[(exchange, symbol)] = _Market(self._started_ns, heard=False)

    def _adopt_pauses(self) -> None:
        """The strategies this check paused before a restart are paused still (the host keeps a pause): their markets
        are stale until their data has been fresh for ``resume_after_s``, which resumes them, as in the run that
        paused them."""
        self._adopted = True
        mine = self.ctx.paused_by_me()
        self._paused.update(mine)
        orphans = []
        for name in mine:
            strategy = self.ctx.operator.strategies.get(name)
            markets = self.ctx.operator.ask(strategy, "markets") if strategy is not None else None
            watched = [(e, s) for e, s in markets or [] if not self._watch or e in self._watch]
            if not watched:
                orphans.append(name)
            for exchange, symbol in watched:
                market = self.markets.setdefault((exchange, symbol), _Market(self._started_ns, heard=False))
                market.stale, market.fresh_since_ns = True, None
        if orphans:
            # none of their markets is watched now (taken out of the config, or out of `exchanges`): no data of
            # theirs can ever come back here, so the pause would hold for good; released as data coming back is
            self._release(orphans, "market data no longer watched", "market data no longer watched")

    def _release(self, names: list[str], reason: str, message: str, **fields: str) -> None:
        """Resume ``names`` (this check's pauses) with ``auto_resume``, else leave them to an operator; alert both."""
        resumed = self.ctx.resume(names, reason) if self.settings.auto_resume else []
        waiting = [] if self.settings.auto_resume else names
        self._paused.difference_update(names)  # the rest are the operator's to resume now
        self.ctx.alert(AlertLevel.INFO, "risk", message, **fields, resumed=", ".join(resumed) or "none",
                       waiting_for_resume=", ".join(waiting) or "none")

    def _went_stale(self, key: tuple[str, str], market: _Market, silent_ns: int) -> None:
        exchange, symbol = key
        market.stale = True
        market.fresh_since_ns = None
        paused = self.ctx.pause(list(self._users.get(key, ())), "market data stale")
        self._paused.update(paused)
        self.ctx.record_trip("market data stale", "pause", exchange=exchange, symbol=symbol,
                             silent_s=f"{silent_ns / NS:.3f}", stale_after_s=self.settings.stale_after_s,
                             feed="live" if market.live else "not live", paused=", ".join(paused) or "none")

    def _came_back(self, back: list[tuple[tuple[str, str], _Market]], now: int) -> None:
        """Make ``back`` fresh, one market after the other, each resuming the strategies it leaves with no stale
        market: how many stale markets each strategy trades is counted once for the whole check (with hundreds of
        markets coming back at once, counting again for each was seconds of a blocked loop)."""
        stale_markets: dict[str, int] = {}
        for key, market in self.markets.items():
            if market.stale:
                for name in self._users.get(key, ()):
                    stale_markets[name] = stale_markets.get(name, 0) + 1
        for key, market in back:
            fresh_ns = now - (market.fresh_since_ns or now)
            market.stale = False
            market.fresh_since_ns = None
            for name in self._users.get(key, ()):
                stale_markets[name] -= 1
            self._release(sorted(n for n in self._paused if stale_markets.get(n, 0) <= 0), "market data fresh",
                          "market data fresh again", exchange=key[0], symbol=key[1], fresh_s=f"{fresh_ns / NS:.3f}")

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
        if market.stale or self._now_ns() - market.silent_since_ns > int(self.settings.stale_after_s * NS):
            return f"market data for {intent.exchange} {intent.symbol} is stale"
        return None

    def admits_while_paused(self, intent: OrderIntent, view: PortfolioView) -> bool:
        """A reduce-only order of a strategy this check paused (the host has checked that it reduces the exposure)
        goes when its own market is watched and fresh now and nothing on its venue is stale: the pause is for
        another venue's data."""
        market = self.markets.get((intent.exchange, intent.symbol))
        now = self._now_ns()
        if (market is None or not market.heard or market.stale or not market.live
                or now - market.last_data_ns > int(self.settings.stale_after_s * NS)):
            return False
        return not any(m.stale for (exchange, _), m in self.markets.items() if exchange == intent.exchange)

    def status(self) -> dict[str, str]:
        now = self._now_ns()
        return {f"{e} {s}": ("STALE" if m.stale else "ok")
                + (f", data {(now - m.last_data_ns) / NS:.1f}s old" if m.heard else ", no data since the start")
                + ("" if m.live else ", feed not live") for (e, s), m in sorted(self.markets.items())} \
            | {"stale after": f"{self.settings.stale_after_s:g}s"}


@hookimpl
def register_risk_checks(register) -> None:
    register("staleness", Staleness)
