"""A late transfer's WARNING and an overdue one's ERROR are alerted once per transfer, not once per run: a restart
(a new service on the same store) does not say them again, and what records them goes once the transfer ends."""

from __future__ import annotations

from dataclasses import replace

from bot.api import AlertLevel, TransferStatus
from bot.store import Store

from .test_rebalance_expected import service_on, transfer


async def test_a_late_and_an_overdue_transfer_are_alerted_once_across_restarts(db_url):
    store = Store(db_url).open()
    try:
        alerts: list[tuple[AlertLevel, str]] = []
        first, _ = service_on(store, alerts)
        store.save_transfer(transfer("rb-stuck", age_s=130, expected_s=60))  # twice its expected time: late
        store.save_transfer(transfer("rb-lost", age_s=4000, expected_s=None))  # past overdue_after_s (3600 s)
        await first.track()
        await first.track()
        assert sorted((level, message.split(":")[0]) for level, message in alerts) == [
            (AlertLevel.WARNING, "transfer rb-stuck"), (AlertLevel.ERROR, "transfer rb-lost")]

        alerts.clear()
        restarted, _ = service_on(store, alerts)  # the bot restarted: same store, a new service
        await restarted.track()
        assert alerts == []

        store.save_transfer(transfer("rb-stuck", age_s=3700, expected_s=60))  # now overdue too: that is new
        again, _ = service_on(store, alerts)
        await again.track()
        [(level, message)] = alerts
        assert level is AlertLevel.ERROR and message.startswith("transfer rb-stuck:")
    finally:
        store.close()


async def test_a_transfer_that_ended_leaves_nothing_behind_for_the_alerts(db_url):
    store = Store(db_url).open()
    try:
        alerts: list[tuple[AlertLevel, str]] = []
        service, _ = service_on(store, alerts)
        stuck = transfer("rb-stuck", age_s=130, expected_s=60)
        store.save_transfer(stuck)
        await service.track()
        assert "rb-stuck" in (store.get_state("rebalance:alerted") or "")
        store.save_transfer(replace(stuck, status=TransferStatus.CREDITED))
        store.save_transfer(transfer("rb-next", age_s=130, expected_s=60))
        await service.track()
        kept = store.get_state("rebalance:alerted") or ""
        assert "rb-next" in kept and "rb-stuck" not in kept  # kept for the transfers on their way only
        assert [m.split(":")[0] for _, m in alerts] == ["transfer rb-stuck", "transfer rb-next"]
    finally:
        store.close()
