"""``prediction`` risk check: pause a strategy whose realized PnL strays from what it predicted.

Strategies that predict what an execution will earn (arbitrage) publish an
:class:`~bot.domain.ExecutionResult` on the bus once every leg is final. Over the last
``executions`` results of one strategy in one quote asset (a strategy trading BTC/USD and ETH/BTC has
a window per quote: USD and BTC are never summed), if the summed realized PnL differs from the summed
predicted PnL by more than ``max_error_pct`` percent of the predicted, the strategy is paused (an
operator resumes it), the trip is stored and alerted with the figures, and its window starts again.

A result that cannot be compared (a PnL that is not a finite ``Decimal``, no quote) is refused: it
goes in no window, and its strategy is paused with an ``unreadable execution result`` trip naming
the field, since its predictions can no longer be judged.

**Across a restart.** The windows are kept in the store's ``bot_state`` (key ``risk:NAME``), written after each
result, and restored at start: a strategy whose predictions stray gets no fresh window from a restart (a
lowered ``executions`` keeps the latest ones). A record that cannot be read is logged and the windows start
empty: at most ``executions`` more results before the strategy is judged again.
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
    """|realized - predicted| as a percentage of |predicted|; None when nothing was predicted."""
    if predicted == 0:
        return None
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
        self.ctx.bus.subscribe(ExecutionResult, self.on_result, owner=self.name)

    @property
    def _state_key(self) -> str:
        return f"risk:{self.name}"

    def _save(self) -> None:
        """Keep the windows in the store's ``bot_state``; a store that fails is logged (the window holds here)."""
        kept = [{"strategy": strategy, "quote": quote,
                 "results": [[str(r.predicted_pnl), str(r.realized_pnl), r.ts_ns, r.opportunity_id] for r in window]}
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
                if self._watch and strategy not in self._watch:
                    continue
                window: deque[ExecutionResult] = deque(maxlen=self.settings.executions)
                for predicted, realized, ts_ns, opportunity in entry["results"]:
                    result = ExecutionResult(strategy, Decimal(predicted), Decimal(realized), quote, int(ts_ns),
                                             str(opportunity))
                    if _unreadable(result) is not None:
                        raise ValueError(_unreadable(result))
                    window.append(result)
                windows[(strategy, quote)] = window
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            log.error("prediction %s: the stored windows cannot be read (%s); they start empty", self.name, exc)
            return
        self.windows.update(windows)

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
        if len(window) < self.settings.executions:
            self._save()
            return
        predicted, realized = _sums(window)
        error = prediction_error_pct(predicted, realized)
        if error is None:  # nothing predicted: no percentage; a realized loss is still a miss
            breach = realized < 0
        else:
            breach = error > self.settings.max_error_pct
        if not breach:
            self._save()
            return
        window.clear()  # after a resume, judge the next executions afresh
        self._save()
        paused = self.ctx.pause([result.strategy], "realized PnL strays from predicted")
        self.ctx.record_trip("realized PnL strays from predicted", "pause", strategy=result.strategy,
                             predicted=predicted, realized=realized, quote=result.quote,
                             error_pct=round(error, 2) if error is not None else "n/a",
                             max_error_pct=self.settings.max_error_pct, executions=self.settings.executions,
                             paused=", ".join(paused) or "none")

    def status(self) -> dict[str, str]:
        facts = {}
        for (strategy, quote), window in sorted(self.windows.items()):
            predicted, realized = _sums(window)
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
    return None


def _sums(window: Iterable[ExecutionResult]) -> tuple[Decimal, Decimal]:
    """The window's predicted and realized PnL, exact (stored with a trip, shown by ``arbot report``)."""
    from bot.api.ledger import EXACT_DIGITS  # here: every `arbot` command (--help too) loads this module

    results = list(window)
    with localcontext(prec=EXACT_DIGITS):
        return (sum((r.predicted_pnl for r in results), ZERO), sum((r.realized_pnl for r in results), ZERO))


@hookimpl
def register_risk_checks(register) -> None:
    register("prediction", PredictionGate)
