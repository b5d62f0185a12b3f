"""The risk gate: every registered risk check is asked about every order before it is sent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .api import Context, PortfolioView, RiskCheck
from .domain import OrderIntent

log = logging.getLogger("arbot.risk")


@dataclass(frozen=True)
class Veto:
    check: str
    reason: str


class FailedToStart(RiskCheck):
    """Stands in the gate for a configured risk check that could not be created or whose ``start()`` raised: it would
    judge nothing, so every order is vetoed, naming it (fail closed, as for a check that raises), until the bot
    starts with it. ``error`` says what failed ("failed to start (...)", "could not be created (...)")."""

    def __init__(self, name: str, settings: Any, ctx: Context, error: str):
        super().__init__(name, settings, ctx)
        self.error = error

    def check(self, intent: OrderIntent, view: PortfolioView) -> str | None:
        return f"risk check {self.name} {self.error}; every order is blocked until it starts"

    def status(self) -> dict[str, str]:
        return {"state": f"{self.error}: every order blocked"}


class RiskGate:
    """Asks each check in turn; the first veto wins. A check that raises vetoes (fail closed)."""

    def __init__(self, checks: list[RiskCheck], view: PortfolioView,
                 plugin_label: Callable[[str], str] | None = None):
        self.checks = checks
        self.view = view
        self._plugin_label = plugin_label
        """A check's name -> its plugin as errors name it (``plugin "x" (dist 1.0)``); None: not known."""

    def _owner(self, check: RiskCheck) -> str:
        return f"{self._plugin_label(check.name)}: " if self._plugin_label else ""

    def check(self, intent: OrderIntent) -> Veto | None:
        for check in self.checks:
            try:
                reason = check.check(intent, self.view)
            except Exception as exc:  # a broken check must not let orders through
                log.error('%srisk check "%s" raised %s: %s; the order is vetoed', self._owner(check), check.name,
                          type(exc).__name__, exc, exc_info=exc)
                return Veto(check.name, f"risk check failed ({type(exc).__name__}: {exc}); order blocked")
            if reason:
                return Veto(check.name, reason)
        for check in self.checks:
            try:
                check.accepted(intent)
            except Exception as exc:  # bookkeeping only: the order is already allowed
                log.error('%srisk check "%s" raised %s in accepted(): %s', self._owner(check), check.name,
                          type(exc).__name__, exc, exc_info=exc)
        return None
