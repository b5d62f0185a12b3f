"""``limits`` risk check: order, position and notional limits vetoed before sending; loss limits that trip.

See :class:`~plugins.limits.check.Limits`. A breach of a loss limit runs the configured action
(``pause``, ``stop`` or ``flatten``) through the host's :class:`bot.api.Context` and is stored and
alerted once with its figures.
"""

from __future__ import annotations

from bot.api import hookimpl


@hookimpl
def register_risk_checks(register) -> None:
    register("limits", "plugins.limits.check:Limits")
