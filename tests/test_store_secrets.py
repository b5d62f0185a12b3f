"""No known secret reaches the database: the free text a venue's error can put in a stored row (an order's reason, a
risk event's, a transfer's, an audit line) is masked where the store writes it, whatever wrote it."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from bot.domain import Transfer, TransferStatus
from tests.helpers import secret_kit
from tests.helpers.secret_kit import KEY, MASKED


def stored_text(bot) -> str:
    """Every text column of every row the bot's store holds, as one string."""
    out = []
    with bot.store.engine.connect() as conn:
        for table in ("orders", "risk_events", "transfers", "audit_log"):
            out += [repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(out)


async def test_a_rejected_orders_reason_is_stored_masked(make_bot, monkeypatch):
    secret_kit.know_the_key(monkeypatch)
    bot = await make_bot(secret_kit.TOML, extra=[("secret-kit", secret_kit.plugin)])
    await secret_kit.reject_an_order(bot)
    (order,) = bot.operator.order_history(statuses=["rejected"])
    assert MASKED in order.reason and KEY not in order.reason  # as read back from the store
    assert KEY not in stored_text(bot)


async def test_risk_events_transfers_and_audit_lines_are_stored_masked(make_bot, monkeypatch):
    secret_kit.know_the_key(monkeypatch)
    bot = await make_bot(secret_kit.TOML, extra=[("secret-kit", secret_kit.plugin)])
    store = bot.store
    store.record_risk_event(check_name="breaker", reason=f"venue error: {secret_kit.REFUSAL}",
                            details={"error": secret_kit.REFUSAL}, action="trip")
    store.save_transfer(Transfer("t1", "USDC", Decimal(1), "a", "b", "addr", Decimal(0), Decimal(0),
                                 TransferStatus.FAILED, 1, 1, "", f"refused: {secret_kit.REFUSAL}"))
    store.audit(transport="test", user_id="u", command="/x", args=f"token {KEY}", outcome=f"error: {KEY}")
    store.audit_many([dict(ts_ns=1, transport="test", user_id="u", chat_id="", role="", command="/y",
                           args=KEY, outcome="ok")])
    stored = stored_text(bot)
    assert KEY not in stored
    assert stored.count("***") >= 6
