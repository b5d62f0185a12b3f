"""``rebalance``: inventory rebalancing between the venues a strategy trades on (docs/plugins.md).

A service configured in ``[plugins.rebalance]`` (off by default). It compares, per asset, what
each venue holds with the split the strategies need (:mod:`.planner`), proposes a transfer with its
costs when one side drifts, and sends it (``mode = "auto"``, within caps and a window) or waits for
an admin's ``/rebalance ID`` (``mode = "alert"``); every transfer is stored before it is sent and
followed until the destination credits it (:mod:`.service`). Venues take part by mixing in
:class:`bot.api.TransferVenue` (the paper venues simulate it; Kraken withdraws to a pre-registered
key).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.api import Caller, Command, ExchangeError, Operator, Reply, TransferStatus, hookimpl

if TYPE_CHECKING:
    from .service import RebalanceService

PLUGIN = "rebalance"
# The service and its planner are imported when the service starts (enabled), never by a bot that leaves it off
# (the demo) nor by `arbot --help`, which loads every plugin's module: only the settings load with a config.


def running(op: Operator) -> RebalanceService | None:
    from .service import RebalanceService

    service = op.service(PLUGIN)
    return service if isinstance(service, RebalanceService) else None


async def rebalance(op: Operator, caller: Caller, args: list[str]) -> Reply:
    service = running(op)
    if service is None:
        return Reply("Rebalancing is off: set [plugins.rebalance] enabled = true", ok=False)
    if not args:
        from bot.api.ledger import transfer_text  # with the command, not when `arbot --help` loads the plugin

        rows: list[tuple[str, ...]] = [("id", "proposal or transfer")]
        rows += [(pid, p.describe()) for pid, p in service.proposals.items()]
        now = op.now_ns()
        from .service import expected_text

        # the service's own transfers on their way, held as stored (no read of the store on the loop)
        rows += [(t.transfer_id, transfer_text(t, now) + expected_text(t, now)) for t in service.in_flight()]
        return Reply("Rebalance", rows=rows, header=True,
                     text="" if len(rows) > 1 else "No proposal waiting, no transfer on its way.")
    try:
        transfer = await service.confirm(args[0])
    except ExchangeError as exc:  # nothing stored nor sent: the proposal waits for the next /rebalance ID
        waiting = args[0] in service.proposals
        return Reply(f"Proposal {args[0]} not sent: {exc}", ok=False,
                     text=f"It is still waiting: /rebalance {args[0]} sends it." if waiting else "")
    if transfer is None:
        return Reply(f"No proposal {args[0]} (see /rebalance)", ok=False)
    from bot.api.ledger import exact_money as money_text

    failed = transfer.status is TransferStatus.FAILED
    return Reply(f"Transfer {transfer.transfer_id}: {transfer.status.value}",
                 text=f"{money_text(transfer.amount, transfer.asset)} {transfer.source} -> "
                      f"{transfer.destination}" + (f": {transfer.reason}" if failed and transfer.reason else ""),
                 ok=not failed)


def _confirm(op: Operator, args: list[str]) -> str | None:
    service = running(op)
    if not args or service is None or args[0] not in service.proposals:
        return None
    return f"Send this transfer? {service.proposals[args[0]].describe()}"


@hookimpl
def register_plugin_settings(register) -> None:
    from .settings import RebalanceSettings

    register(RebalanceSettings)


@hookimpl
def register_services(register) -> None:
    register(PLUGIN, "plugins.rebalance.service:RebalanceService")


@hookimpl
def register_commands(register) -> None:
    register(Command("rebalance", rebalance, "admin", "inventory transfer proposals; send one", "[ID]",
                     confirm=_confirm))
