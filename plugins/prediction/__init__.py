"""``prediction`` risk check: pause a strategy whose realized PnL strays from what it predicted.

Strategies that predict what an execution will earn (arbitrage) publish an
:class:`~bot.domain.ExecutionResult` on the bus once every leg is final. Over the last
``executions`` results of one strategy in one quote asset (a strategy trading BTC/USD and ETH/BTC has
a window per quote: USD and BTC are never summed), if the summed realized PnL differs from the summed
predicted PnL by more than ``max_error_pct`` percent of the predicted, the strategy is paused (an
operator resumes it), the trip is stored and alerted with the figures, and its window starts again.

**Like with like.** A result that gives ``size`` (what its prediction is for) and ``filled`` (how much of it was
executed) is judged against its prediction scaled to what filled, ``predicted_pnl * filled / size``: a partly
filled execution that earned what was predicted for its filled part is no miss, and a partial fill does not
dilute a miss elsewhere in the window. The scaling is done at the ledger's precision (``EXACT_DIGITS``, 200
significant digits): exact whenever the scaled figure has a finite decimal expansion within it, as it has for a
size in decimal lots filled in part; a third of a size filled is rounded at the 200th digit (a trip then shows it to
28). A result without them is taken as predicted for what it executed.

A result that cannot be compared (a PnL that is not a finite ``Decimal``, no quote, a ``size`` that is not above
zero or a ``filled`` below zero, one of the two without the other) is refused: it
goes in no window, and its strategy is paused with an ``unreadable execution result`` trip naming
the field, since its predictions can no longer be judged.

**Across a restart.** The windows are kept in the store's ``bot_state`` (key ``risk:NAME``), written after each
result, and restored at start: a strategy whose predictions stray gets no fresh window from a restart (a lowered
``executions`` keeps the latest ones). A miss is stored before the pause is taken, and its window cleared only after:
a crash in between leaves the strategy paused (the host keeps the pause) or the miss stored, judged again by the
next result. A record that cannot be read is logged and the windows start
empty: at most ``executions`` more results before the strategy is judged again. A window nothing in the config can
feed any more (its strategy no longer configured or watched, or its quote one the strategy's settings no longer
trade in) is dropped at start, logged, and the store written without it.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from bot.api import ZERO, ExecutionResult, RiskCheck, hookimpl, option

HUNDRED = Decimal(100)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictionSettings:
    executions: int = option(20, ge=1, le=10_000, help="how many of a strategy's latest executions are compared")
    max_error_pct: Decimal = option(Decimal(50), gt=0, help="largest difference between realized and predicted "
                                                            "PnL over those executions, percent of the predicted")
    strategies: list[str] = option([], help="strategies to watch; empty: every strategy that publishes results")


def prediction_error_pct(predicted: Decimal, realized: Decimal) -> Decimal | None:
    """|realized - predicted| as a percentage of |predicted|, at the ledger's precision; None when nothing was
    predicted."""
    from bot.api.ledger import EXACT_DIGITS  # here: every `arbot` command (--help too) loads this module

    if predicted == 0:
        return None
    with localcontext(prec=EXACT_DIGITS):
        return abs(realized - predicted) / abs(predicted) * HUNDRED


class PredictionGate(RiskCheck):
    """Keeps the last ``executions`` (predicted, realized) pairs per strategy; see the module docstring."""

    Settings = PredictionSettings
    strategy_settings = ("strategies",)

    def __init__(self, name, settings, ctx):
        super().__init__(name, settings, ctx)
        self.windows: dict[tuple[str, str], deque[ExecutionResult]] = {}
        """(strategy, quote) -> its latest results in that quote."""
        self._watch = set(settings.strategies)

    async def start(self) -> None:
        self._restore()
        self._drop_unfed()
        self.ctx.bus.subscribe(ExecutionResult, self.on_result, owner=self.name)

    @property
    def _state_key(self) -> str:
        return f"risk:{self.name}"

    def _save(self) -> None:
        """Keep the windows in the store's ``bot_state``; a store that fails is logged (the window holds here)."""
        kept = [{"strategy": strategy, "quote": quote,
                 "results": [[str(r.predicted_pnl), str(r.realized_pnl), r.ts_ns, r.opportunity_id,
                              *(() if r.size is None or r.filled is None else (str(r.size), str(r.filled)))]
                             for r in window]}
                for (strategy, quote), window in sorted(self.windows.items()) if window]
        try:
            self.ctx.store.set_state(self._state_key, json.dumps(kept), self.ctx.clock.time_ns())
        except Exception:
            log.exception("prediction %s: the windows could not be stored; a restart would start them afresh",
                          self.name)

    def _restore(self) -> None:
        text = self.ctx.store.get_state(self._state_key)
        if not text:
            return
        try:
            windows = {}
            for entry in json.loads(text):
                strategy, quote = str(entry["strategy"]), str(entry["quote"])
                window: deque[ExecutionResult] = deque(maxlen=self.settings.executions)
                for predicted, realized, ts_ns, opportunity, *sizes in entry["results"]:
                    size, filled = (Decimal(sizes[0]), Decimal(sizes[1])) if sizes else (None, None)
                    result = ExecutionResult(strategy, Decimal(predicted), Decimal(realized), quote, int(ts_ns),
                                             str(opportunity), size, filled)
                    if _unreadable(result) is not None:
                        raise ValueError(_unreadable(result))
                    window.append(result)
                windows[(strategy, quote)] = window
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            log.error("prediction %s: the stored windows cannot be read (%s); they start empty", self.name, exc)
            return
        self.windows.update(windows)

    def _drop_unfed(self) -> None:
        """Drop (and log) the restored windows nothing in the config can feed any more: of a strategy no longer
        configured or watched, or of a quote asset its settings say it trades no more (a strategy that does not say
        what it trades may feed any quote). Else they would stay on ``/risk`` and in the store for ever."""
        traded = self.ctx.traded_quotes()
        dropped = []
        for strategy, quote in sorted(self.windows):
            quotes = traded.get(strategy)
            if strategy not in traded:
                why = "the strategy is no longer configured"
            elif self._watch and strategy not in self._watch:
                why = "the strategy is no longer in this check's strategies"
            elif quotes is not None and quote not in quotes:
                why = f"the strategy trades no pair in {quote} now (it trades in {', '.join(sorted(quotes))})"
            else:
                continue
            window = self.windows.pop((strategy, quote))
            dropped.append(strategy)
            log.warning("prediction %s: the window of %s in %s (%d results) dropped: %s", self.name, strategy,
                        quote, len(window), why)
        if dropped:
            self._save()

    def on_result(self, result: ExecutionResult) -> None:
        if self._watch and result.strategy not in self._watch:
            return
        problem = _unreadable(result)
        if problem is not None:
            paused = self.ctx.pause([result.strategy], "unreadable execution result")
            self.ctx.record_trip("unreadable execution result", "pause", strategy=result.strategy, problem=problem,
                                 opportunity=result.opportunity_id, paused=", ".join(paused) or "none")
            return
        window = self.windows.setdefault((result.strategy, result.quote), deque(maxlen=self.settings.executions))
        if result.corrects:  # a late fill changed an execution's figure: in its place, not one more execution
            at = next((i for i, r in enumerate(window) if r.opportunity_id == result.opportunity_id), None)
            if at is None:  # judged already (a breach clears the window), or older than the window
                return
            window[at] = result
        else:
            window.append(result)
        # stored first, miss or not: a crash before the pause below leaves the miss to be judged again after the
        # restart, never a window cleared without its pause
        self._save()
        if len(window) < self.settings.executions:
            return
        predicted, realized, rounded = _sums(window)
        error = prediction_error_pct(predicted, realized)
        if error is None:  # nothing predicted: no percentage; a realized loss is still a miss
            breach = realized < 0
        else:
            breach = error > self.settings.max_error_pct
        if not breach:
            return
        paused = self.ctx.pause([result.strategy], "realized PnL strays from predicted")  # kept by the host
        self.ctx.record_trip("realized PnL strays from predicted", "pause", strategy=result.strategy,
                             predicted=_shown(predicted, rounded), realized=realized, quote=result.quote,
                             error_pct=round(error, 2) if error is not None else "n/a",
                             max_error_pct=self.settings.max_error_pct, executions=self.settings.executions,
                             paused=", ".join(paused) or "none")
        window.clear()  # after a resume, judge the next executions afresh: only once the pause is taken
        self._save()

    def status(self) -> dict[str, str]:
        facts = {}
        for (strategy, quote), window in sorted(self.windows.items()):
            predicted, realized, _ = _sums(window)
            error = prediction_error_pct(predicted, realized)
            shown = round(error, 2) if error is not None else "n/a"
            facts[f"error {strategy} {quote}"] = f"{shown}% over {len(window)} / {self.settings.executions} executions"
        facts["max error"] = f"{self.settings.max_error_pct}%"
        return facts


def _unreadable(result: ExecutionResult) -> str | None:
    """What makes ``result`` impossible to compare with others, or None when it can be."""
    for field in ("predicted_pnl", "realized_pnl"):
        value = getattr(result, field)
        if not isinstance(value, Decimal) or not value.is_finite():
            return f"{field} is {value!r} ({type(value).__name__}), not a finite Decimal"
    if not isinstance(result.quote, str) or not result.quote:
        return "quote is empty: the asset its PnL is in is unknown"
    if (result.size is None) != (result.filled is None):
        given, missing = ("size", "filled") if result.filled is None else ("filled", "size")
        return f"size and filled go together: {given} is given, {missing} is not"
    for field in ("size", "filled"):
        value = getattr(result, field)
        if value is not None and (not isinstance(value, Decimal) or not value.is_finite()):
            return f"{field} is {value!r} ({type(value).__name__}), not a finite Decimal"
    if result.size is not None and result.size <= 0:
        return f"size is {result.size}: the size a prediction is for must be above zero"
    if result.filled is not None and result.filled < 0:
        return f"filled is {result.filled}: what was executed cannot be below zero"
    return None


def _sums(window: Iterable[ExecutionResult]) -> tuple[Decimal, Decimal, bool]:
    """The window's prediction for what was executed and its realized PnL, exact as the ledger's sums (stored with a
    trip, shown by ``arbot report``), and whether a scaled prediction had to be rounded."""
    from bot.api.ledger import EXACT_DIGITS, predicted_for_filled

    results = list(window)
    scaled = [predicted_for_filled(r) for r in results]
    with localcontext(prec=EXACT_DIGITS):
        return (sum((value for value, _ in scaled), ZERO), sum((r.realized_pnl for r in results), ZERO),
                any(rounded for _, rounded in scaled))


def _shown(value: Decimal, rounded: bool) -> Decimal:
    """A figure for a trip: as it is, or to 28 significant digits when it was rounded anyway (200 digits of a third
    tell nobody anything more)."""
    with localcontext(prec=28):
        return +value if rounded else value


@hookimpl
def register_risk_checks(register) -> None:
    register("prediction", PredictionGate)
