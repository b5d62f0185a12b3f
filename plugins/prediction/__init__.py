"""``prediction`` risk check: pause a strategy whose realized PnL strays from what it predicted.

Strategies that predict what an execution will earn (arbitrage) publish an
:class:`~bot.domain.ExecutionResult` on the bus once every leg is final. Over the last
``executions`` results of one strategy, if the summed realized PnL differs from the summed
predicted PnL by more than ``max_error_pct`` percent of the predicted, the strategy is paused (an
operator resumes it), the trip is stored and alerted with the figures, and its window starts again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from bot.api import ZERO, ExecutionResult, RiskCheck, hookimpl, option

HUNDRED = Decimal(100)


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

    def __init__(self, name, settings, ctx):
        super().__init__(name, settings, ctx)
        self.windows: dict[str, deque[ExecutionResult]] = {}
        self._watch = set(settings.strategies)

    async def start(self) -> None:
        self.ctx.bus.subscribe(ExecutionResult, self.on_result, owner=self.name)

    def on_result(self, result: ExecutionResult) -> None:
        if self._watch and result.strategy not in self._watch:
            return
        window = self.windows.setdefault(result.strategy, deque(maxlen=self.settings.executions))
        window.append(result)
        if len(window) < self.settings.executions:
            return
        predicted, realized = _sums(window)
        error = prediction_error_pct(predicted, realized)
        if error is None:  # nothing predicted: no percentage; a realized loss is still a miss
            breach = realized < 0
        else:
            breach = error > self.settings.max_error_pct
        if not breach:
            return
        window.clear()  # after a resume, judge the next executions afresh
        paused = self.ctx.pause([result.strategy], "realized PnL strays from predicted")
        self.ctx.record_trip("realized PnL strays from predicted", "pause", strategy=result.strategy,
                             predicted=predicted, realized=realized, quote=result.quote,
                             error_pct=round(error, 2) if error is not None else "n/a",
                             max_error_pct=self.settings.max_error_pct, executions=self.settings.executions,
                             paused=", ".join(paused) or "none")

    def status(self) -> dict[str, str]:
        facts = {}
        for strategy, window in sorted(self.windows.items()):
            predicted, realized = _sums(window)
            error = prediction_error_pct(predicted, realized)
            facts[f"error {strategy}"] = (f"{round(error, 2) if error is not None else 'n/a'}% over {len(window)} / "
                                          f"{self.settings.executions} executions")
        facts["max error"] = f"{self.settings.max_error_pct}%"
        return facts


def _sums(window: Iterable[ExecutionResult]) -> tuple[Decimal, Decimal]:
    """The window's predicted and realized PnL, exact (stored with a trip, shown by ``arbot report``)."""
    from bot.api.ledger import EXACT_DIGITS  # here: every `arbot` command (--help too) loads this module

    results = list(window)
    with localcontext(prec=EXACT_DIGITS):
        return (sum((r.predicted_pnl for r in results), ZERO), sum((r.realized_pnl for r in results), ZERO))


@hookimpl
def register_risk_checks(register) -> None:
    register("prediction", PredictionGate)
