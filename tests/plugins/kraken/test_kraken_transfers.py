"""Kraken as a source and destination of inventory transfers, against the fake venue's funding calls."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from types import SimpleNamespace

import pytest

from bot.api import PermanentError, Transfer, TransferStatus, TransferTerms, TransferVenue
from plugins.rebalance.planner import Proposal
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

WALLET = "WaLLet1111111111111111111111111111111111111"


def transfer(amount: str = "5", fee: str = "0.01", ref: str = "") -> Transfer:
    now = time.time_ns() - 1_000_000_000
    return Transfer("rb-test-1", "SOL", Decimal(amount), "kraken", "wallet", WALLET, Decimal(fee), Decimal(0),
                    TransferStatus.PLANNED, now, now, ref)


async def test_withdrawals_go_to_the_pre_registered_key_once_even_when_asked_again(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, withdraw_keys='{ SOL = "my-sol-wallet" }')
    terms = await kraken.transfer_terms("SOL")
    assert (terms.fee, terms.minimum) == (Decimal("0.01"), Decimal("0.05"))
    assert await kraken.transfer_terms("BTC") is None  # no key registered for it: cannot send
    t = transfer()
    assert await kraken.withdrawal(t) is None
    ref = await kraken.withdraw(t)
    assert await kraken.withdraw(t) == ref  # after a crash: found by WithdrawStatus, not sent again
    assert len(fake_rest.withdrawals) == 1 and fake_rest.withdrawals[0]["key"] == "my-sol-wallet"
    assert Decimal(fake_rest.withdrawals[0]["amount"]) == Decimal("5")  # the fee on top, the amount arrives
    assert Decimal(fake_rest.balances["SOL"]) == Decimal("100") - Decimal("5.01")
    assert await kraken.withdrawal(t) is TransferStatus.SENT


async def test_a_withdrawal_is_never_sent_twice_when_the_clocks_differ_or_kraken_stops_listing_it(
        kraken_bot, fake_ws, fake_rest):
    from dataclasses import replace

    bot, kraken = await kraken_bot(fake_ws, fake_rest, withdraw_keys='{ SOL = "my-sol-wallet" }')
    ahead = replace(transfer(), created_ns=time.time_ns() + 30_000_000_000)  # our clock 30 s ahead of Kraken's
    ref = await kraken.withdraw(ahead)
    assert await kraken.withdraw(ahead) == ref and len(fake_rest.withdrawals) == 1  # its answer lost: found
    sent = replace(ahead, status=TransferStatus.SENT, venue_ref=ref)
    fake_rest.withdrawals.clear()  # WithdrawStatus lists recent withdrawals only
    assert await kraken.withdrawal(sent) is TransferStatus.SENT  # it left: never "not found, send it again"


async def test_an_asset_without_a_withdrawal_key_is_refused(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest)
    with pytest.raises(PermanentError, match="withdraw_keys"):
        await kraken.withdraw(transfer())
    assert fake_rest.withdrawals == []


async def test_deposits_are_credited_when_kraken_lists_them_as_success(kraken_bot, fake_ws, fake_rest):
    bot, kraken = await kraken_bot(fake_ws, fake_rest, deposit_methods='{ SOL = "Solana" }')
    assert await kraken.deposit_address("SOL") == fake_rest.deposit_addresses[("SOL", "Solana")]
    incoming = transfer(amount="3", ref="5igSig")
    assert not await kraken.credited(incoming)
    fake_rest.deposit("SOL", Decimal("3"), "5igSig", status="Pending")
    assert not await kraken.credited(incoming)
    fake_rest.deposits[-1]["status"] = "Success"
    assert await kraken.credited(incoming)


class _Wallet(TransferVenue):
    """The destination: a wallet whose deposit address for every asset is WALLET (it credits nothing itself)."""

    def __init__(self, address: str = WALLET) -> None:
        self.address = address

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return None

    async def deposit_address(self, asset: str) -> str:
        return self.address

    async def withdraw(self, transfer_: Transfer) -> str:
        raise AssertionError("nothing is sent from the destination")

    async def withdrawal(self, transfer_: Transfer) -> TransferStatus | None:
        return None

    async def credited(self, transfer_: Transfer) -> bool:
        return False


def rebalancer(bot, kraken, wallet: TransferVenue | None = None, **settings) -> tuple[RebalanceService, list[str]]:
    """A rebalancing service from Kraken to a wallet, alone, on the bot's store (a new one: a restarted process)."""
    alerts: list[str] = []
    ctx = SimpleNamespace(name="rebalance", read_later=inline_later, write_later=inline_later,
                          store=bot.store, clock=SimpleNamespace(time_ns=time.time_ns),
                          log=logging.getLogger("arbot.rebalance"),
                          alert=lambda level, kind, message, **fields: alerts.append(message),
                          operator=SimpleNamespace(exchanges={"kraken": kraken, "wallet": wallet or _Wallet()}))
    return RebalanceService("rebalance", RebalanceSettings(enabled=True, **settings), ctx), alerts  # type: ignore[arg-type]


async def test_a_withdrawal_whose_answer_was_lost_keeps_its_reference_and_is_never_sent_twice(
        kraken_bot, fake_ws, fake_rest):
    """Killed between Kraken making the withdrawal and its answer: after the restart the transfer is found at Kraken
    and recorded with its refid; once Kraken no longer lists it, it is still known to have left, never sent again."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, withdraw_keys='{ SOL = "my-sol-wallet" }')
    service, _ = rebalancer(bot, kraken)
    fake_rest.lose_withdraw = 1
    proposal = Proposal("SOL", "kraken", "wallet", Decimal("5"), await kraken.transfer_terms("SOL"), Decimal("0.1"),
                        Decimal("100"))
    lost = await service.send(proposal)
    assert lost.status is TransferStatus.PLANNED and len(fake_rest.withdrawals) == 1
    made = fake_rest.withdrawals[0]

    restarted, alerts = rebalancer(bot, kraken)
    await restarted.track()
    (stored,) = bot.store.transfers()
    assert (stored.status, stored.venue_ref) == (TransferStatus.SENT, made["refid"])
    fake_rest.withdrawals.clear()  # WithdrawStatus lists recent withdrawals only
    await restarted.track()
    await restarted.track()
    assert fake_rest.withdrawals == [], alerts  # nothing sent again
    assert Decimal(fake_rest.balances["SOL"]) == Decimal("100") - Decimal("5.01")


async def test_a_key_that_sends_elsewhere_than_the_destinations_deposit_address_is_refused(
        kraken_bot, fake_ws, fake_rest):
    """Kraken sends to the key's registered address whatever the transfer says: a key registered for another wallet
    than the destination's would move the funds where the destination never credits them."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, withdraw_keys='{ SOL = "my-sol-wallet" }')
    other = "0therWaLLet11111111111111111111111111111111"
    service, alerts = rebalancer(bot, kraken, _Wallet(other))
    proposal = Proposal("SOL", "kraken", "wallet", Decimal("5"), await kraken.transfer_terms("SOL"), Decimal("0.1"),
                        Decimal("100"))
    failed = await service.send(proposal)
    assert failed.status is TransferStatus.FAILED and fake_rest.withdrawals == []
    assert "withdraw_keys.SOL" in failed.reason and WALLET in failed.reason and other in failed.reason
    assert Decimal(fake_rest.balances["SOL"]) == Decimal("100")
    # to the key's own address it goes
    sent = await rebalancer(bot, kraken)[0].send(proposal)
    assert sent.status is TransferStatus.SENT and len(fake_rest.withdrawals) == 1


async def test_the_terms_carry_the_keys_method_minimum_and_the_withdrawal_limit(kraken_bot, fake_ws, fake_rest):
    """The minimum is the key's method's (not a cheaper method's no key uses), and the most Kraken lets go now
    (``WithdrawInfo``'s limit) caps the proposal, so it is not refused at Kraken."""
    from plugins.rebalance.planner import Need, plan

    bot, kraken = await kraken_bot(fake_ws, fake_rest, withdraw_keys='{ SOL = "my-sol-wallet" }')
    fake_rest.other_withdraw_methods["SOL"] = [("Solana Lightning", Decimal("0.001"))]
    fake_rest.withdraw_limits["SOL"] = Decimal("3")
    terms = await kraken.transfer_terms("SOL")
    assert terms is not None and (terms.minimum, terms.maximum) == (Decimal("0.05"), Decimal("3"))
    proposal = plan(Need("arb", "SOL", ("kraken", "wallet")), {"kraken": Decimal("80"), "wallet": Decimal("20")},
                    {"kraken": terms, "wallet": None}, Decimal("0.25"), None)
    assert proposal is not None and proposal.amount == Decimal("3")
    sent = await rebalancer(bot, kraken)[0].send(proposal)
    assert sent.status is TransferStatus.SENT and Decimal(fake_rest.withdrawals[0]["amount"]) == Decimal("3")


class _Source(_Wallet):
    """A wallet sending SOL to Kraken: withdrawal fee 0.001 SOL, minimum 0.01; records what it was asked to send."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Transfer] = []

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return TransferTerms(asset, Decimal("0.001"), Decimal("0.01"), Decimal(0), asset, 30.0)

    async def withdraw(self, transfer_: Transfer) -> str:
        self.sent.append(transfer_)
        return f"sig{len(self.sent)}"


async def test_a_deposit_into_kraken_counts_its_deposit_fee_and_refuses_an_amount_below_its_minimum(
        kraken_bot, fake_ws, fake_rest, monkeypatch):
    """``DepositMethods`` gives the configured method's fee and minimum: the fee is a cost of the transfer (shown and
    recorded with the withdrawal fee), an amount below the minimum (or above the limit) is refused, naming it."""
    monkeypatch.setattr("plugins.kraken.transfers.DEPOSIT_METHODS_TTL_S", 0)  # each figure the fake changes, read
    bot, kraken = await kraken_bot(fake_ws, fake_rest, deposit_methods='{ SOL = "Solana" }')
    fake_rest.deposit_fees["SOL"] = Decimal("0.02")
    fake_rest.deposit_minimums["SOL"] = Decimal("0.5")
    assert await kraken.deposit_fee("SOL", Decimal("5")) == Decimal("0.02")
    assert await kraken.deposit_fee("SOL", Decimal("0.52")) == Decimal("0.02")  # 0.5 net: the minimum
    with pytest.raises(PermanentError, match=r"0\.51 SOL \(0\.49 after .*Solana deposit minimum 0\.5"):
        await kraken.deposit_fee("SOL", Decimal("0.51"))  # Kraken's minimum is of the net amount
    fake_rest.deposit_limits["SOL"] = Decimal("4")
    assert await kraken.deposit_fee("SOL", Decimal("4.02")) == Decimal("0.02")
    with pytest.raises(PermanentError, match=r"Solana deposit limit 4"):
        await kraken.deposit_fee("SOL", Decimal("4.03"))
    del fake_rest.deposit_limits["SOL"]

    source = _Source()
    alerts: list[str] = []
    ctx = SimpleNamespace(name="rebalance", read_later=inline_later, write_later=inline_later,
                          store=bot.store, clock=SimpleNamespace(time_ns=time.time_ns),
                          log=logging.getLogger("arbot.rebalance"),
                          alert=lambda level, kind, message, **fields: alerts.append(message),
                          operator=SimpleNamespace(exchanges={"kraken": kraken, "wallet": source}))
    service = RebalanceService("rebalance", RebalanceSettings(enabled=True), ctx)  # type: ignore[arg-type]
    proposal = Proposal("SOL", "wallet", "kraken", Decimal("5"), await source.transfer_terms("SOL"), Decimal("0.1"),
                        Decimal("100"))
    sent = await service.send(proposal)
    assert sent.status is TransferStatus.SENT and sent.fee == Decimal("0.021")  # withdrawal + deposit fee
    assert bot.store.transfers()[0].fee == Decimal("0.021")
    assert any("deposit fee 0.02 SOL" in a for a in alerts), alerts
    fake_rest.deposit("SOL", Decimal("5"), "sig1")
    assert await kraken.credited(sent)
    assert Decimal(fake_rest.balances["SOL"]) == Decimal("100") + Decimal("4.98")

    small = Proposal("SOL", "wallet", "kraken", Decimal("0.4"), await source.transfer_terms("SOL"), Decimal("0.1"),
                     Decimal("100"))
    with pytest.raises(PermanentError, match="deposit minimum 0.5"):
        await service.send(small)
    assert len(source.sent) == 1 and len(bot.store.transfers()) == 1  # nothing stored, nothing sent


async def test_as_source_kraken_adds_only_its_own_withdrawal_fee_never_the_destinations_deposit_fee(
        kraken_bot, fake_ws, fake_rest):
    """``transfer.fee`` counts the destination's deposit fee too (0.01 withdrawal + 0.02 deposit): Kraken's
    ``Withdraw`` amount includes Kraken's fee only, so 5 SOL reach the destination's address (docs/plugins.md)."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, withdraw_keys='{ SOL = "my-sol-wallet" }')
    t = transfer(amount="5", fee="0.03")
    ref = await kraken.withdraw(t)
    assert Decimal(fake_rest.withdrawals[0]["amount"]) == Decimal("5")  # what leaves Kraken's hands, less its fee
    assert Decimal(fake_rest.balances["SOL"]) == Decimal("100") - Decimal("5.01")
    assert await kraken.withdraw(t) == ref and len(fake_rest.withdrawals) == 1  # found again after a crash
    assert await kraken.withdrawal(t) is TransferStatus.SENT


def fee_changes_after_the_quote(monkeypatch, kraken, fake_rest, fee: str) -> None:
    """Kraken changes its SOL withdrawal fee (venues follow network conditions) right after the service priced the
    transfer (``transfer_terms_to``, asked when it is sent), before the withdrawal is made."""
    quote = kraken.transfer_terms_to

    async def quoted_then_changed(asset: str, address: str) -> TransferTerms | None:
        terms = await quote(asset, address)
        fake_rest.withdraw_fees[asset] = Decimal(fee)
        return terms

    monkeypatch.setattr(kraken, "transfer_terms_to", quoted_then_changed)


async def test_the_recorded_fee_is_the_one_kraken_charged_when_it_changed_after_the_quote(
        kraken_bot, fake_ws, fake_rest, monkeypatch):
    """Priced at Kraken's 0.01 SOL, withdrawn once Kraken asks 0.0135: the stored transfer's fee (what /pnl, /risk
    and the limits count) is the fee Kraken charged, as its record of the withdrawal (``WithdrawStatus``) lists it,
    every digit; 5 SOL still reach the wallet."""
    from bot.ledger import transfer_costs

    bot, kraken = await kraken_bot(fake_ws, fake_rest, withdraw_keys='{ SOL = "my-sol-wallet" }')
    service, alerts = rebalancer(bot, kraken)
    proposal = Proposal("SOL", "kraken", "wallet", Decimal("5"), await kraken.transfer_terms("SOL"), Decimal("0.1"),
                        Decimal("100"))
    assert proposal.terms.fee == Decimal("0.01")
    fee_changes_after_the_quote(monkeypatch, kraken, fake_rest, "0.0135")
    sent = await service.send(proposal)
    [made] = fake_rest.withdrawals
    assert (made["fee"], made["amount"]) == ("0.0135", "5.0000")  # Kraken's record: what it charged, what it sent
    (stored,) = bot.store.transfers()
    assert stored.status is TransferStatus.SENT and stored.fee == sent.fee == Decimal("0.0135"), alerts
    assert transfer_costs([stored]) == {"SOL": Decimal("0.0135")}
    assert Decimal(fake_rest.balances["SOL"]) == Decimal("100") - Decimal("5.0135")


async def test_a_withdrawal_found_after_a_lost_answer_records_the_fee_kraken_charged(
        kraken_bot, fake_ws, fake_rest, monkeypatch):
    """The answer of a withdrawal made at a changed fee is lost: after the restart the transfer is found at Kraken and
    stored SENT with the fee Kraken's record lists, not the fee it was priced at."""
    bot, kraken = await kraken_bot(fake_ws, fake_rest, withdraw_keys='{ SOL = "my-sol-wallet" }')
    service, _ = rebalancer(bot, kraken)
    proposal = Proposal("SOL", "kraken", "wallet", Decimal("5"), await kraken.transfer_terms("SOL"), Decimal("0.1"),
                        Decimal("100"))
    fee_changes_after_the_quote(monkeypatch, kraken, fake_rest, "0.0072")
    fake_rest.lose_withdraw = 1
    lost = await service.send(proposal)
    assert lost.status is TransferStatus.PLANNED and lost.fee == Decimal("0.01")  # the quote, not counted yet

    restarted, alerts = rebalancer(bot, kraken)
    await restarted.track()
    (stored,) = bot.store.transfers()
    assert (stored.status, stored.fee) == (TransferStatus.SENT, Decimal("0.0072")), alerts
    assert len(fake_rest.withdrawals) == 1


async def test_a_fee_raised_between_its_read_and_the_withdrawal_makes_no_withdrawal(kraken_bot, fake_ws, fake_rest):
    """Kraken's ``Withdraw`` amount includes its fee: asked for 5.01 at a fee of 0.01 read from ``WithdrawInfo``, a fee
    of 0.0135 by the time the request arrives would put 4.9965 on chain, and the destination, looking for 5, would
    never credit it. ``max_fee`` (the fee read) makes Kraken refuse instead: nothing is made, and the refusal names
    both fees (safe to ask again: :class:`TransientError`)."""
    from bot.api import TransientError

    bot, kraken = await kraken_bot(fake_ws, fake_rest, withdraw_keys='{ SOL = "my-sol-wallet" }')
    fake_rest.fee_rises_at_withdraw["SOL"] = Decimal("0.0135")
    t = transfer()
    with pytest.raises(TransientError, match=r"fee rose from 0\.01 SOL to 0\.0135 SOL"):
        await kraken.withdraw(t)
    [asked] = [params for _, method, params in fake_rest.log if method == "Withdraw"]
    assert (asked["amount"], asked["max_fee"]) == ("5.01", "0.01")
    assert fake_rest.withdrawals == [] and Decimal(fake_rest.balances["SOL"]) == Decimal("100")
    assert await kraken.withdrawal(t) is None  # never made: the service may quote it again


async def test_the_rebalancer_quotes_again_a_transfer_kraken_refused_for_a_risen_fee(kraken_bot, fake_ws, fake_rest):
    """Auto mode: the withdrawal refused for a fee risen since its read is not SENT and costs nothing (FAILED, nothing
    left Kraken), one alert names the fee change, and the next check quotes it again at the new fee and sends it
    (a refusal that would come again blocks auto mode until a restart; this one does not)."""
    from bot.api import Balance

    bot, kraken = await kraken_bot(fake_ws, fake_rest, withdraw_keys='{ SOL = "my-sol-wallet" }')
    balances = {"kraken": {"SOL": Balance("SOL", Decimal(80), Decimal(80))},
                "wallet": {"SOL": Balance("SOL", Decimal(20), Decimal(20))}}

    async def read_balances() -> dict:
        return balances

    service, alerts = rebalancer(bot, kraken, mode="auto")
    strategy = SimpleNamespace(settings=SimpleNamespace(cex="kraken", dex="wallet", symbol="SOL/USDC"))
    service.ctx.operator = SimpleNamespace(exchanges=service.ctx.operator.exchanges, strategies={"arb": strategy},
                                           strategy_state=lambda name: "running", balances=read_balances)
    fake_rest.fee_rises_at_withdraw["SOL"] = Decimal("0.0135")
    await service.check()
    assert fake_rest.withdrawals == []
    (refused,) = bot.store.transfers()
    assert refused.status is TransferStatus.FAILED and "0.0135" in refused.reason, refused
    said = [a for a in alerts if refused.transfer_id in a and "0.0135" in a]
    assert len(said) == 1 and "fee rose from 0.01 SOL to 0.0135 SOL" in said[0], alerts
    assert "next check" in said[0], said

    await service.check()  # quoted again, at 0.0135: sent
    [made] = fake_rest.withdrawals
    assert (Decimal(made["amount"]), Decimal(made["fee"])) == (Decimal(30), Decimal("0.0135")), made  # 30 arrive
    sent = [t for t in bot.store.transfers() if t.status is TransferStatus.SENT]
    assert [t.fee for t in sent] == [Decimal("0.0135")], alerts


class _Landed(_Source):
    """A wallet sending SOL to Kraken whose transfers land (SENT) and that says its withdrawal fee (``says``)."""

    def __init__(self, says: bool = True) -> None:
        super().__init__()
        self.says = says

    async def withdraw(self, transfer_: Transfer) -> str:
        self.sent.append(transfer_)
        return f"sig-{'says' if self.says else 'silent'}-{len(self.sent)}"

    async def withdrawal(self, transfer_: Transfer) -> TransferStatus | None:
        return TransferStatus.SENT if transfer_.venue_ref else None

    async def withdrawal_fee(self, transfer_: Transfer) -> Decimal | None:
        return Decimal("0.001") if self.says else None


def into_kraken(bot, kraken, source: TransferVenue) -> tuple[RebalanceService, list[str]]:
    alerts: list[str] = []
    ctx = SimpleNamespace(name="rebalance", read_later=inline_later, write_later=inline_later,
                          store=bot.store, clock=SimpleNamespace(time_ns=time.time_ns),
                          log=logging.getLogger("arbot.rebalance"),
                          alert=lambda level, kind, message, **fields: alerts.append(message),
                          operator=SimpleNamespace(exchanges={"kraken": kraken, "wallet": source}))
    return RebalanceService("rebalance", RebalanceSettings(enabled=True), ctx), alerts  # type: ignore[arg-type]


async def test_the_deposit_fee_recorded_is_the_one_kraken_kept_not_the_one_quoted(
        kraken_bot, fake_ws, fake_rest, monkeypatch):
    """Sent into Kraken quoted at its 0.02 SOL deposit fee (``DepositMethods``); Kraken's fee is 0.025 when the deposit
    arrives, and its ``DepositStatus`` record says so. Once credited the transfer's fee (what /pnl, /risk and the limits
    count) is the 0.001 withdrawal fee plus the 0.025 Kraken kept, not the 0.021 quoted; the alert says so."""
    from bot.ledger import transfer_costs

    monkeypatch.setattr("plugins.kraken.transfers.DEPOSIT_METHODS_TTL_S", 0)
    bot, kraken = await kraken_bot(fake_ws, fake_rest, deposit_methods='{ SOL = "Solana" }')
    fake_rest.deposit_fees["SOL"] = Decimal("0.02")
    source = _Landed()
    service, alerts = into_kraken(bot, kraken, source)
    proposal = Proposal("SOL", "wallet", "kraken", Decimal("5"), await source.transfer_terms("SOL"), Decimal("0.1"),
                        Decimal("100"))
    sent = await service.send(proposal)
    assert sent.fee == Decimal("0.021")  # as quoted: what Kraken keeps is known once it is credited
    fake_rest.deposit_fees["SOL"] = Decimal("0.025")
    fake_rest.deposit("SOL", Decimal("5"), sent.venue_ref)
    assert await kraken.deposit_fee_charged(sent) == Decimal("0.025")
    await service.track()
    (stored,) = bot.store.transfers()
    assert (stored.status, stored.fee) == (TransferStatus.CREDITED, Decimal("0.026")), alerts
    assert transfer_costs([stored]) == {"SOL": Decimal("0.026")}
    [said] = [a for a in alerts if "credited" in a]
    assert "fees 0.026 SOL in all" in said and "not the 0.021 SOL recorded when it was sent" in said, said


async def test_after_a_restart_what_kraken_kept_is_recorded_where_the_source_says_its_own_fee(
        kraken_bot, fake_ws, fake_rest, monkeypatch, caplog):
    """The run that sent it (and knew the deposit fee in its recorded fee) is gone: the withdrawal fee is asked of the
    source again; a source that does not say keeps the recorded fees, logged, never a guess."""
    monkeypatch.setattr("plugins.kraken.transfers.DEPOSIT_METHODS_TTL_S", 0)
    bot, kraken = await kraken_bot(fake_ws, fake_rest, deposit_methods='{ SOL = "Solana" }')
    fake_rest.deposit_fees["SOL"] = Decimal("0.02")
    for says, recorded in ((True, Decimal("0.026")), (False, Decimal("0.021"))):
        source = _Landed(says)
        sent = await into_kraken(bot, kraken, source)[0].send(Proposal(
            "SOL", "wallet", "kraken", Decimal(5 if says else 6), await source.transfer_terms("SOL"), Decimal("0.1"),
            Decimal("100")))
        fake_rest.deposit_fees["SOL"] = Decimal("0.025")
        fake_rest.deposit("SOL", sent.amount, sent.venue_ref)
        restarted, alerts = into_kraken(bot, kraken, source)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="arbot.rebalance"):
            await restarted.track()
        [stored] = [t for t in bot.store.transfers() if t.transfer_id == sent.transfer_id]
        assert (stored.status, stored.fee) == (TransferStatus.CREDITED, recorded), alerts
        assert says or "does not say its withdrawal fee" in caplog.text, caplog.text
        fake_rest.deposit_fees["SOL"] = Decimal("0.02")
