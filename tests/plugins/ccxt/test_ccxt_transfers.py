"""The ccxt gate as a transfer venue against the fake Gate.io wallet: exact terms, the whitelist,
withdrawals found again by our transfer id after a lost answer, status tracking, deposits credited."""

from __future__ import annotations

import random
import time
from decimal import Decimal as D
from typing import Any

import pytest

from bot.api import PermanentError, RateLimited, Transfer, TransferStatus, TransferTerms, TransferVenue, UnknownOutcome
from bot.config import build_config, parse_toml
from bot.plugins import collect
from bot.settings import ConfigError
from plugins.rebalance.planner import Proposal

from .conftest import ccxt_plugins, gate_table

DEX = "paper:dex:BTC"
WHITELIST = f'withdraw_to = {{ BTC = {{ "{DEX}" = "BTC" }}, USDT = {{ "0xfeed" = "ERC20", "Tfeed" = "TRC20" }} }}\n'


@pytest.fixture
async def wallet_gate(make_bot, fake_gate):
    """The live ccxt gate with a withdrawal whitelist (BTC to the paper DEX; USDT to two addresses)."""

    async def factory(**settings):
        bot = await make_bot(gate_table(fake_gate, **settings) + WHITELIST + 'deposit_networks = { USDT = "TRC20" }\n')
        return bot.exchanges["gate"]

    return factory


def transfer(tid: str, amount: str = "4.5", address: str = DEX, asset: str = "BTC", fee: str = "0.0005") -> Transfer:
    now = time.time_ns()
    return Transfer(tid, asset, D(amount), "gate", "dex", address, D(fee), D(0), TransferStatus.PLANNED, now, now)


async def test_terms_are_the_venues_exact_figures_for_the_whitelisted_networks(wallet_gate, fake_gate):
    gate = await wallet_gate()
    btc = await gate.transfer_terms("BTC")
    assert (btc.fee, btc.minimum, btc.network_fee, btc.expected_s) == (D("0.0005"), D("0.001"), D(0), 1800.0)
    assert btc.step == D("0.0001")  # ccxt rounds Gate's withdrawal amounts to 4 decimals
    assert type(btc.fee) is D and type(btc.minimum) is D
    usdt = await gate.transfer_terms("USDT")  # ERC20 (2.5) and TRC20 (1) whitelisted: the dearer is quoted
    assert (usdt.fee, usdt.minimum) == (D("2.5"), D("10"))
    assert await gate.transfer_terms("ETH") is None  # not whitelisted: never sent
    assert ("GET", "/wallet/withdraw_status") in [(m, p) for m, p, _ in fake_gate.rest_log]


async def test_a_withdrawal_to_an_address_not_whitelisted_is_refused_before_the_venue_hears_of_it(wallet_gate,
                                                                                                 fake_gate):
    gate = await wallet_gate()
    with pytest.raises(PermanentError, match=r"refusing to withdraw BTC to 1Attacker.*not in withdraw_to\.BTC"):
        await gate.withdraw(transfer("rb-evil", address="1Attacker"))
    with pytest.raises(PermanentError, match="not in withdraw_to.ETH"):
        await gate.withdraw(transfer("rb-eth", asset="ETH", address=DEX))
    assert not fake_gate.withdrawals
    assert not [p for m, p, _ in fake_gate.rest_log if m == "POST"]


async def test_a_withdrawal_sends_our_id_moves_the_balance_and_is_tracked_until_done(wallet_gate, fake_gate):
    gate = await wallet_gate()
    t = transfer("rb-track-1")
    ref = await gate.withdraw(t)
    [made] = fake_gate.withdrawals
    assert (made["id"], made["withdraw_order_id"], made["amount"], made["chain"]) == (ref, "rb-track-1", "4.5005",
                                                                                      "BTC")
    assert fake_gate.accounts["BTC"] == D("10") - D("4.5005")  # the fee inside the amount: 4.5 arrives
    assert await gate.withdrawal(t) is TransferStatus.SENT  # REQUEST
    fake_gate.advance(1.5)
    assert await gate.withdrawal(t) is TransferStatus.SENT  # PEND
    fake_gate.advance(2)
    assert await gate.withdrawal(t) is TransferStatus.CREDITED  # DONE, on chain
    assert await gate.withdraw(t) == ref and len(fake_gate.withdrawals) == 1  # asked again: the same one
    assert await gate.withdrawal(transfer("rb-never")) is None
    usdt = await gate.withdraw(transfer("rb-usdt", amount="100", asset="USDT", address="Tfeed", fee="1"))
    assert fake_gate.withdrawals[-1]["id"] == usdt and fake_gate.withdrawals[-1]["chain"] == "TRX"
    assert fake_gate.withdrawals[-1]["amount"] == "101"  # TRC20's own fee, not the dearer ERC20 quote


async def test_amounts_ccxt_would_round_and_amounts_below_the_minimum_are_refused(wallet_gate, fake_gate):
    gate = await wallet_gate()
    with pytest.raises(PermanentError, match="precision"):  # ccxt's Gate currencies have 4 decimals
        await gate.withdraw(transfer("rb-odd", amount="1.00001"))
    with pytest.raises(PermanentError, match="minimum"):
        await gate.withdraw(transfer("rb-tiny", amount="0.0001"))
    assert not fake_gate.withdrawals


async def test_a_lost_answer_is_found_by_our_id_and_the_venue_holds_one_withdrawal_per_transfer_100_seeds(
        wallet_gate, fake_gate):
    gate = await wallet_gate(rate_limit_ms=1, rate_limit_pause_s=0)
    fake_gate.accounts["BTC"] = D("1000")
    runs = 100
    for seed in range(runs):
        rng = random.Random(seed)
        t = transfer(f"rb-seed-{seed}", amount=str(D(rng.randint(10, 300)) / 1000))
        fault = rng.choice(["lost", "lost", "lost-twice", "429", "none"])
        if fault == "lost":
            fake_gate.lose_withdraw = 1  # made, then the connection drops before the answer
        elif fault == "lost-twice":
            fake_gate.lose_withdraw = 1
            fake_gate.http_429_after_lost_withdraw = 10  # ... and the look-ups right after are refused too
        elif fault == "429":
            fake_gate.http_429 = 1
        refs = []
        for _again in range(rng.randint(1, 3)):  # asked again, as after a crash or the service's next round
            try:
                refs.append(await gate.withdraw(t))
            except (UnknownOutcome, RateLimited):
                pass
        fake_gate.http_429 = fake_gate.lose_withdraw = fake_gate.http_429_after_lost_withdraw = 0
        status = await gate.withdrawal(t)
        made = fake_gate.withdrawals_with_id(t.transfer_id)
        assert len(made) == (1 if status is not None else 0), (seed, fault, made)
        if fault.startswith("lost"):
            assert status is TransferStatus.SENT, (seed, fault)  # the venue made it: found, whatever was answered
        assert all(r == made[0]["id"] for r in refs), (seed, fault)
        if status is None:  # every try was refused by the rate limit: now it goes, once
            assert await gate.withdraw(t) == fake_gate.withdrawals_with_id(t.transfer_id)[0]["id"]
    ids = [w["withdraw_order_id"] for w in fake_gate.withdrawals]
    assert len(ids) == len(set(ids)) == runs
    assert fake_gate.accounts["BTC"] == D("1000") - sum(D(w["amount"]) for w in fake_gate.withdrawals)


async def test_without_client_withdrawal_ids_a_lost_answer_is_found_by_address_and_amount(wallet_gate, fake_gate,
                                                                                           monkeypatch):
    from plugins.ccxt import transfers

    monkeypatch.setattr(transfers, "CLIENT_WITHDRAWAL_IDS", {})  # as on a venue that takes none
    gate = await wallet_gate()
    fake_gate.lose_withdraw = 1
    t = transfer("rb-noid", amount="1.25")
    ref = await gate.withdraw(t)
    assert [(w["id"], w["withdraw_order_id"]) for w in fake_gate.withdrawals] == [(ref, "")]
    assert await gate.withdraw(t) == ref and await gate.withdrawal(t) is TransferStatus.SENT
    assert await gate.withdrawal(transfer("rb-other", amount="1.5")) is None
    assert len(fake_gate.withdrawals) == 1


async def test_a_late_answer_is_found_by_our_id(wallet_gate, fake_gate):
    gate = await wallet_gate(request_timeout_s=0.3)
    fake_gate.hang_withdraw_s = 2.0
    ref = await gate.withdraw(transfer("rb-late"))  # timed out: looked up, found
    assert [w["id"] for w in fake_gate.withdrawals] == [ref]


async def test_deposits_to_the_gate_are_credited_once_done(wallet_gate, fake_gate):
    gate = await wallet_gate()
    address = await gate.deposit_address("USDT")
    assert address == fake_gate.deposit_address("USDT", "TRX")  # deposit_networks: TRC20 is Gate's TRX chain
    assert await gate.deposit_address("BTC") == fake_gate.deposit_address("BTC", "BTC")
    now = time.time_ns()
    incoming = Transfer("rb-in-1", "USDT", D("250"), "dex", "gate", address, D(0), D(0), TransferStatus.SENT, now,
                        now, venue_ref="5Sig")
    assert not await gate.credited(incoming)  # nothing arrived yet
    fake_gate.deposit("USDT", D("250"), "5Sig", "TRX")
    assert not await gate.credited(incoming)  # PEND: seen, not credited
    assert (await gate.balances())["USDT"].total == D("1000000")
    fake_gate.advance(3)
    assert await gate.credited(incoming)
    assert (await gate.balances())["USDT"].total == D("1000250")
    other = Transfer("rb-in-2", "USDT", D("7"), "dex", "gate", address, D(0), D(0), TransferStatus.SENT, now, now)
    assert not await gate.credited(other)  # another amount, another reference


def build(table: str):
    return build_config(parse_toml('mode = "live"\n' + table, "t.toml"), collect(ccxt_plugins()), "t.toml")


def test_withdrawals_on_an_exchange_ccxt_cannot_withdraw_from_are_refused_at_load():
    with pytest.raises(ConfigError) as info:
        build('[exchanges.gm]\ntype = "ccxt"\nid = "gemini"\nsymbols = ["BTC/USD"]\nrequire = ["order_book"]\n'
              'withdraw_to = { BTC = { "bc1qexample" = "BTC" } }\n')
    assert "exchanges.gm.withdraw_to: gemini through ccxt cannot withdraw" in str(info.value)
    with pytest.raises(ConfigError) as info:
        build('[exchanges.g]\ntype = "ccxt"\nid = "gate"\nwithdraw_to = { BTC = { "bc1q example" = "" }, ETH = {} }\n')
    text = str(info.value)
    assert "exchanges.g.withdraw_to.BTC: expected \"ADDRESS\" = \"NETWORK\"" in text
    assert "exchanges.g.withdraw_to.ETH: give at least one" in text
    build('[exchanges.g]\ntype = "ccxt"\nid = "gate"\nwithdraw_to = { BTC = { "bc1qexample" = "BTC" } }\n')


async def test_the_destinations_deposit_fee_is_never_sent_and_never_needed_to_find_the_withdrawal(
        wallet_gate, fake_gate, monkeypatch):
    """``transfer.fee`` is 0.0005 (Gate's) + 0.02 (the destination's deposit fee): Gate sends 4.5 + its own 0.0005,
    and a venue without client ids that lists the gross amount without its fee still finds the withdrawal by the
    amount plus its own fee, so it is never sent twice."""
    from plugins.ccxt import transfers

    monkeypatch.setattr(transfers, "CLIENT_WITHDRAWAL_IDS", {})
    gate = await wallet_gate()
    t = transfer("rb-depfee", fee="0.0205")
    ref = await gate.withdraw(t)
    [made] = fake_gate.withdrawals
    assert made["amount"] == "4.5005" and fake_gate.accounts["BTC"] == D("10") - D("4.5005")
    made["fee"] = "0"  # as a venue whose list gives the gross amount and no fee
    assert await gate.withdrawal(t) is TransferStatus.SENT
    assert await gate.withdraw(t) == ref and len(fake_gate.withdrawals) == 1


async def test_a_withdrawal_is_still_found_once_its_address_left_the_whitelist(wallet_gate, fake_gate, monkeypatch):
    """Without client ids, a transfer sent before its address was taken out of ``withdraw_to`` is still followed
    (by the amount and the fee the venue lists), never refused as if it were being sent."""
    from plugins.ccxt import transfers

    monkeypatch.setattr(transfers, "CLIENT_WITHDRAWAL_IDS", {})
    gate = await wallet_gate()
    t = transfer("rb-unlisted", fee="0.0205")
    await gate.withdraw(t)
    monkeypatch.setitem(gate.settings.withdraw_to, "BTC", {})
    assert await gate.withdrawal(t) is TransferStatus.SENT


async def test_a_deposit_listed_net_of_the_destinations_deposit_fee_is_credited(wallet_gate, fake_gate, monkeypatch):
    """``transfer.amount`` is what reaches the deposit address (docs/plugins.md): a venue that keeps a deposit fee
    and lists the deposit net of it (250 sent, 1 kept, 249 listed) credits the transfer all the same."""
    gate = await wallet_gate()
    address = await gate.deposit_address("USDT")

    async def deposit_fee(asset, amount):
        return D(1)

    monkeypatch.setattr(gate, "deposit_fee", deposit_fee)
    now = time.time_ns()
    incoming = Transfer("rb-in-net", "USDT", D("250"), "dex", "gate", address, D(1), D(0), TransferStatus.SENT, now,
                        now, venue_ref="5SigFromTheSender")
    fake_gate.deposit("USDT", D("249"), "5SigSeenByGate", "TRX")  # the venue's own txid: found by amount only
    fake_gate.advance(3)
    assert await gate.credited(incoming)
    other = Transfer("rb-in-other", "USDT", D("251"), "dex", "gate", address, D(1), D(0), TransferStatus.SENT, now,
                     now)
    assert not await gate.credited(other)  # 250 would be its net: nothing of that amount arrived


class _Dex(TransferVenue):
    """The destination: its BTC deposit address is the whitelisted DEX, and it keeps 0.0002 BTC of a deposit."""

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return None

    async def deposit_address(self, asset: str) -> str:
        return DEX

    async def deposit_fee(self, asset: str, amount: D) -> D:
        return D("0.0002")

    async def withdraw(self, transfer_: Transfer) -> str:
        raise AssertionError("nothing is sent from the destination")

    async def withdrawal(self, transfer_: Transfer) -> TransferStatus | None:
        return None

    async def credited(self, transfer_: Transfer) -> bool:
        return False


def rebalancer(bot, gate) -> tuple[Any, list[str]]:
    """A rebalancing service from the gate to :class:`_Dex`, alone, on the bot's store (a new one: a restarted
    process)."""
    import logging
    from types import SimpleNamespace

    from plugins.rebalance.service import RebalanceService
    from plugins.rebalance.settings import RebalanceSettings
    from tests.plugins.rebalance.rebalance_kit import inline_later

    alerts: list[str] = []
    ctx = SimpleNamespace(name="rebalance", read_later=inline_later, write_later=inline_later, store=bot.store,
                          clock=SimpleNamespace(time_ns=time.time_ns), log=logging.getLogger("arbot.rebalance"),
                          alert=lambda level, kind, message, **fields: alerts.append(message),
                          operator=SimpleNamespace(exchanges={"gate": gate, "dex": _Dex()}))
    return RebalanceService("rebalance", RebalanceSettings(enabled=True), ctx), alerts  # type: ignore[arg-type]


async def test_the_recorded_fee_is_the_one_the_venue_charged_when_it_changed_after_the_quote(make_bot, fake_gate,
                                                                                              monkeypatch):
    """Priced at Gate's 0.0005 BTC, withdrawn once Gate asks 0.0007 (a busy chain): the stored transfer's fee (what
    /pnl, /risk and the limits count) is what Gate charged, as its withdrawal record (``fetch_withdrawals``' fee)
    lists it, plus the destination's deposit fee: 0.0009, every digit. 4.5 BTC still reach the DEX's address."""
    from bot.ledger import transfer_costs

    bot = await make_bot(gate_table(fake_gate) + WHITELIST)
    gate = bot.exchanges["gate"]
    service, alerts = rebalancer(bot, gate)
    quote = gate.transfer_terms_to

    async def quoted_then_changed(asset: str, address: str) -> TransferTerms | None:
        terms = await quote(asset, address)
        fake_gate.wallet["BTC"].chains["BTC"] = D("0.0007")  # the venue's fee moves before the withdrawal
        return terms

    monkeypatch.setattr(gate, "transfer_terms_to", quoted_then_changed)
    proposal = Proposal("BTC", "gate", "dex", D("4.5"), await gate.transfer_terms("BTC"), D("0.1"), D("11"))
    assert proposal.terms.fee == D("0.0005")
    sent = await service.send(proposal)
    [made] = fake_gate.withdrawals
    assert (made["fee"], made["amount"]) == ("0.0007", "4.5007")  # Gate's record: its fee inside the amount
    (stored,) = bot.store.transfers()
    assert stored.status is TransferStatus.SENT and stored.fee == sent.fee == D("0.0009"), alerts
    assert transfer_costs([stored]) == {"BTC": D("0.0009")}


async def test_a_withdrawal_the_venue_no_longer_lists_is_still_known_to_have_left_and_never_sent_again(
        wallet_gate, fake_gate):
    """Venues list recent withdrawals only (a time range, the last N records): once ``withdraw`` answered a reference
    the withdrawal left, so one the list no longer shows is still SENT, never "not found, send it again"."""
    from dataclasses import replace

    gate = await wallet_gate()
    t = transfer("rb-aged")
    ref = await gate.withdraw(t)
    sent = replace(t, status=TransferStatus.SENT, venue_ref=ref)
    fake_gate.withdrawals.clear()  # out of the venue's list
    assert await gate.withdrawal(sent) is TransferStatus.SENT
    assert await gate.withdrawal(t) is None  # without a reference: never known to have left


async def test_the_rebalancer_never_sends_again_a_transfer_the_venue_stopped_listing(make_bot, fake_gate):
    bot = await make_bot(gate_table(fake_gate) + WHITELIST)
    gate = bot.exchanges["gate"]
    service, alerts = rebalancer(bot, gate)
    sent = await service.send(Proposal("BTC", "gate", "dex", D("4.5"), await gate.transfer_terms("BTC"), D("0.1"),
                                       D("11")))
    assert sent.status is TransferStatus.SENT
    fake_gate.withdrawals.clear()  # out of the venue's list
    await service.track()
    await service.track()
    assert fake_gate.withdrawals == [], alerts  # nothing sent again
    assert [t.status for t in bot.store.transfers()] == [TransferStatus.SENT]
    assert fake_gate.accounts["BTC"] == D("10") - D("4.5005")
