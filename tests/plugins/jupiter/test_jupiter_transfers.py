"""Transfers out of the wallet (inventory rebalancing) against the fake Solana node: sent once, exactly."""

from __future__ import annotations

import time
from decimal import Decimal
from types import SimpleNamespace

import pytest
from solders.pubkey import Pubkey

from bot.api import PermanentError, Transfer, TransferStatus, TransferTerms, TransferVenue
from plugins.jupiter.transfers import associated_token_account
from plugins.rebalance.planner import Proposal
from plugins.rebalance.service import RebalanceService
from plugins.rebalance.settings import RebalanceSettings
from tests.plugins.rebalance.rebalance_kit import inline_later

USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
KRAKEN_DEPOSIT = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


def transfer(asset: str, amount: str, tid: str = "rb-wallet-1") -> Transfer:
    now = time.time_ns()
    return Transfer(tid, asset, Decimal(amount), "jupiter", "kraken", KRAKEN_DEPOSIT, Decimal(0),
                    Decimal("0.000005"), TransferStatus.PLANNED, now, now)


async def test_sol_goes_to_the_deposit_address_once_even_when_asked_again(make_exchange, node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10 * 10**9
    ex = await make_exchange()
    terms = await ex.transfer_terms("SOL")
    assert (terms.fee, terms.network_fee, terms.network_fee_asset) == (Decimal(0), Decimal("0.000005"), "SOL")
    assert await ex.deposit_address("SOL") == owner
    t = transfer("SOL", "2.5")
    assert await ex.withdrawal(t) is None
    signature = await ex.withdraw(t)
    assert await ex.withdraw(t) == signature  # asked again after a crash: found landed, not sent again
    assert await ex.withdrawal(t) is TransferStatus.SENT
    assert node.lamports[KRAKEN_DEPOSIT] == 2_500_000_000
    assert node.lamports[owner] == 10 * 10**9 - 2_500_000_000 - node.transactions[signature].fee
    assert node.signatures_sent().count(signature) == 1


async def test_a_token_goes_to_the_destinations_token_account_with_its_decimals_checked(make_exchange, node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.token_accounts[owner] = [(USDC, 5_000 * 10**6, 6)]
    ex = await make_exchange()
    await ex.withdraw(transfer("USDC", "1234.5"))
    ata = str(associated_token_account(Pubkey.from_string(KRAKEN_DEPOSIT), Pubkey.from_string(USDC)))
    assert node.token_transfers == [(USDC, 1_234_500_000, ata)]
    assert node.token_accounts[owner] == [(USDC, 5_000 * 10**6 - 1_234_500_000, 6)]


async def test_a_transaction_that_never_landed_and_expired_is_signed_anew_once(make_exchange, node, keypair):
    node.lamports[str(keypair.pubkey())] = 10 * 10**9
    ex = await make_exchange()
    t = transfer("SOL", "1", "rb-wallet-lost")
    node.land = False
    first = await ex.withdraw(t)
    assert await ex.withdrawal(t) is TransferStatus.SENT  # pending: valid and not landed yet
    assert await ex.withdraw(t) == first  # rebroadcast, not re-signed
    node.expire_all()
    assert await ex.withdrawal(t) is None  # provably never landed
    node.land = True
    second = await ex.withdraw(t)
    assert second != first and node.landed.keys() == {second}
    assert node.lamports[KRAKEN_DEPOSIT] == 10**9


async def test_a_transfer_the_chain_refuses_is_failed(make_exchange, node, keypair):
    node.lamports[str(keypair.pubkey())] = 10**9
    node.token_accounts[str(keypair.pubkey())] = [(USDC, 10, 6)]
    ex = await make_exchange()
    t = transfer("USDC", "5", "rb-wallet-short")
    await ex.withdraw(t)
    assert await ex.withdrawal(t) is TransferStatus.FAILED
    with pytest.raises(PermanentError, match="failed on chain"):
        await ex.withdraw(t)
    assert node.token_transfers == []


class _Deposits(TransferVenue):
    """A destination venue (a CEX) whose deposit address for every asset is KRAKEN_DEPOSIT."""

    async def transfer_terms(self, asset: str) -> TransferTerms | None:
        return None

    async def deposit_address(self, asset: str) -> str:
        return KRAKEN_DEPOSIT

    async def withdraw(self, transfer_: Transfer) -> str:
        raise AssertionError("nothing is sent from the destination")

    async def withdrawal(self, transfer_: Transfer) -> TransferStatus | None:
        return None

    async def credited(self, transfer_: Transfer) -> bool:
        return False


def rebalancer(wallet) -> tuple[RebalanceService, list[str]]:
    """The rebalancing service between the wallet and a destination venue, alone (its alerts' messages listed)."""
    alerts: list[str] = []
    ctx = SimpleNamespace(name="rebalance", read_later=inline_later, write_later=inline_later,
                          store=wallet.ctx.store, clock=wallet.ctx.clock, log=wallet.ctx.log,
                          alert=lambda level, kind, message, **fields: alerts.append(message),
                          operator=SimpleNamespace(exchanges={"jupiter": wallet, "kraken": _Deposits()}))
    return RebalanceService("rebalance", RebalanceSettings(enabled=True), ctx), alerts  # type: ignore[arg-type]


async def test_a_token_transfer_that_creates_the_destinations_account_costs_its_rent(make_exchange, node, keypair):
    """The wallet pays the rent-exempt deposit of the destination's token account (165 bytes) when the transfer has
    to create it: the transfer's recorded network fee is the signature's fee plus that rent, in exact lamports; once
    the account exists, the signature's fee alone."""
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.token_accounts[owner] = [(USDC, 5_000 * 10**6, 6)]
    ex = await make_exchange()
    service, alerts = rebalancer(ex)
    proposal = Proposal("USDC", "jupiter", "kraken", Decimal("100"), await ex.transfer_terms("USDC"), Decimal("0.1"),
                        Decimal("1000"))
    rent = (128 + 165) * 3480 * 2  # the node's getMinimumBalanceForRentExemption(165): 2,039,280 lamports
    sent = await service.send(proposal)
    assert sent.status is TransferStatus.SENT
    assert sent.network_fee == Decimal(5000 + rent).scaleb(-9) == Decimal("0.00204428")
    assert [t.network_fee for t in ex.ctx.store.transfers() if t.transfer_id == sent.transfer_id] == [sent.network_fee]
    assert "network fee 0.00204428 SOL" in alerts[0]
    ata = associated_token_account(Pubkey.from_string(KRAKEN_DEPOSIT), Pubkey.from_string(USDC))
    node.put_account(str(ata), bytes(165), owner="TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", lamports=rent)
    node.advance()  # a later blockhash: the same transfer signed at the same one would be the first transaction again
    again = await service.send(proposal)
    assert again.network_fee == Decimal("0.000005")


T22 = "At2dkP1DWYW9guf36obLt3ijxkWEmDhnNsHJ1cBS3gPV"
"""A Token-2022 mint (made up): the node knows it with ``add_mint``."""
T22_TOKENS = {"SOL": "So11111111111111111111111111111111111111112:9", "X": f"{T22}:6"}
TOKEN_2022 = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"


async def test_a_token_2022_transfer_is_priced_and_sent_with_its_own_program(make_exchange, node, keypair):
    """A Token-2022 token's accounts are derived with the Token-2022 program id and made as large as the program makes
    them (170 bytes: ``ImmutableOwner``); its TransferChecked runs under that program. Priced at 165-byte rent and
    sent as a classic SPL transfer, it would go to an address nobody owns, or fail on chain."""
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.add_mint(T22)
    node.token_accounts[owner] = [(T22, 500 * 10**6, 6)]
    ex = await make_exchange(tokens=T22_TOKENS)
    rent_170 = (128 + 170) * 3480 * 2
    terms = await ex.transfer_terms_to("X", KRAKEN_DEPOSIT)
    assert terms is not None and terms.network_fee == Decimal(5000 + rent_170).scaleb(-9)

    t = transfer("X", "123.456789", "rb-wallet-t22")
    signature = await ex.withdraw(t)
    assert node.transactions[signature].err is None
    assert await ex.withdrawal(t) is TransferStatus.SENT
    ata = associated_token_account(Pubkey.from_string(KRAKEN_DEPOSIT), Pubkey.from_string(T22),
                                   Pubkey.from_string(TOKEN_2022))
    assert node.token_transfers == [(T22, 123_456_789, str(ata))]
    assert node.token_accounts[owner] == [(T22, 500 * 10**6 - 123_456_789, 6)]
    assert node.lamports[owner] == 10**9 - node.transactions[signature].fee - rent_170  # the new account's rent
    # the destination's account exists now: the next transfer costs the signature alone
    terms = await ex.transfer_terms_to("X", KRAKEN_DEPOSIT)
    assert terms is not None and terms.network_fee == Decimal("0.000005")


async def test_a_classic_transfer_to_a_new_account_pays_its_rent_on_chain_as_priced(make_exchange, node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.token_accounts[owner] = [(USDC, 5_000 * 10**6, 6)]
    ex = await make_exchange()
    terms = await ex.transfer_terms_to("USDC", KRAKEN_DEPOSIT)
    signature = await ex.withdraw(transfer("USDC", "1"))
    spent = 10**9 - node.lamports[owner]
    assert terms is not None and Decimal(spent).scaleb(-9) == terms.network_fee == Decimal("0.00204428")
    assert node.transactions[signature].err is None


async def test_a_token_with_fewer_decimals_is_proposed_in_whole_units_and_sent(make_exchange, node, keypair):
    """A token of 5 decimals (BONK's): the planner's amounts are whole units of it, so the wallet can sign them."""
    from plugins.rebalance.planner import Need, plan

    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.token_accounts[owner] = [(USDC, 900_000_000_000, 5)]
    ex = await make_exchange(tokens={"SOL": "So11111111111111111111111111111111111111112:9", "B": f"{USDC}:5"})
    terms = await ex.transfer_terms("B")
    assert terms is not None and terms.step == Decimal("0.00001")
    proposal = plan(Need("arb", "B", ("jupiter", "kraken")), {"jupiter": Decimal("9000000"),
                                                               "kraken": Decimal("0.1234567")},
                    {"jupiter": terms, "kraken": None}, Decimal("0.25"), None)
    assert proposal is not None and proposal.amount == Decimal("4499999.93827")
    await ex.withdraw(transfer("B", str(proposal.amount), "rb-wallet-b"))
    assert [amount for _, amount, _ in node.token_transfers] == [449_999_993_827]
    assert (await ex.withdrawal(transfer("B", str(proposal.amount), "rb-wallet-b"))) is TransferStatus.SENT


async def test_a_token_2022_mint_a_plain_transfer_cannot_deliver_is_never_proposed_nor_sent(
        make_exchange, node, keypair):
    """A transfer-fee mint would deliver less than sent (the fee withheld at the destination, unaccounted), a
    transfer-hook mint needs its program's accounts: the wallet offers no terms for them and refuses to send them."""
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.add_mint(T22, extensions=((1, 108),))  # TransferFeeConfig
    node.token_accounts[owner] = [(T22, 500 * 10**6, 6)]
    ex = await make_exchange(tokens=T22_TOKENS)
    assert await ex.transfer_terms("X") is None
    assert await ex.transfer_terms("SOL") is not None
    with pytest.raises(PermanentError, match=r"tokens\.X .*transfer fee"):
        await ex.withdraw(transfer("X", "1", "rb-wallet-fee"))
    assert node.sent == [] and node.token_transfers == []


async def test_killed_between_signing_and_sending_the_restarted_service_sends_that_transaction_once(
        make_exchange, node, keypair):
    """The transfer's intent and its signed transaction are stored, then the process dies before the send: after the
    restart the service finds the transaction still valid, sends those same bytes (never a second signature) and
    keeps the signature as the transfer's reference; the chain sees one transfer."""
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.token_accounts[owner] = [(USDC, 5_000 * 10**6, 6)]
    ex = await make_exchange()
    t = transfer("USDC", "100", "rb-wallet-killed")
    ex.ctx.store.save_transfer(t)
    row = await ex._sign(t)  # signed and stored; the send never happened
    assert node.sent == []
    service, alerts = rebalancer(ex)
    await service.track()
    await service.track()
    [stored] = [s for s in ex.ctx.store.transfers() if s.transfer_id == t.transfer_id]
    assert (stored.status, stored.venue_ref) == (TransferStatus.SENT, row.signature), alerts
    assert node.landed.keys() == {row.signature}
    assert [amount for _, amount, _ in node.token_transfers] == [100 * 10**6]


async def test_the_wallet_sends_the_amount_whatever_the_destinations_deposit_fee(make_exchange, node, keypair):
    """``transfer.fee`` counts Kraken's deposit fee (0.02 SOL; the wallet's own withdrawal fee is 0): the wallet sends
    exactly ``transfer.amount`` to the deposit address, and Kraken keeps its fee out of what arrives."""
    from dataclasses import replace

    owner = str(keypair.pubkey())
    node.lamports[owner] = 10 * 10**9
    ex = await make_exchange()
    signature = await ex.withdraw(replace(transfer("SOL", "2.5", "rb-wallet-depfee"), fee=Decimal("0.02")))
    assert node.lamports[KRAKEN_DEPOSIT] == 2_500_000_000
    assert node.lamports[owner] == 10 * 10**9 - 2_500_000_000 - node.transactions[signature].fee


def account_changes_after_the_quote(monkeypatch, ex, change) -> None:
    """The destination's token account appears (or goes away) right after the service priced the transfer
    (``transfer_terms_to``, asked when it is sent), before the transaction lands."""
    quote = ex.transfer_terms_to

    async def quoted_then_changed(asset: str, address: str) -> TransferTerms | None:
        terms = await quote(asset, address)
        change()
        return terms

    monkeypatch.setattr(ex, "transfer_terms_to", quoted_then_changed)


async def test_the_recorded_network_fee_is_what_the_landed_transaction_paid_not_the_rent_quoted(
        make_exchange, node, keypair, monkeypatch):
    """Priced with the rent of the destination's token account (it did not exist: 0.00204428 SOL), sent once someone
    else made that account: ``CreateIdempotent`` creates nothing and the wallet pays the signature's 5,000 lamports
    alone. The stored transfer's network fee (what /pnl, /risk and the limits count) is what the landed transaction
    paid (``getTransaction``'s balances), not 2,039,280 lamports of rent never paid."""
    from bot.ledger import transfer_costs

    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.token_accounts[owner] = [(USDC, 5_000 * 10**6, 6)]
    ex = await make_exchange()
    service, alerts = rebalancer(ex)
    ata = associated_token_account(Pubkey.from_string(KRAKEN_DEPOSIT), Pubkey.from_string(USDC))
    account_changes_after_the_quote(monkeypatch, ex, lambda: node.put_account(
        str(ata), bytes(165), owner="TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", lamports=2_039_280))
    proposal = Proposal("USDC", "jupiter", "kraken", Decimal("100"), await ex.transfer_terms("USDC"), Decimal("0.1"),
                        Decimal("1000"))
    sent = await service.send(proposal)
    assert 10**9 - node.lamports[owner] == 5000  # what the chain took
    (stored,) = ex.ctx.store.transfers()
    assert stored.status is TransferStatus.SENT, alerts
    assert stored.network_fee == sent.network_fee == Decimal("0.000005"), alerts
    assert transfer_costs([stored]) == {"SOL": Decimal("0.000005")}


async def test_rent_paid_for_an_account_gone_since_the_quote_is_recorded(make_exchange, node, keypair, monkeypatch):
    """The converse: the destination's token account existed when priced (5,000 lamports) and was closed before the
    transaction landed: the wallet paid its rent too, and that is what is recorded."""
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.token_accounts[owner] = [(USDC, 5_000 * 10**6, 6)]
    ex = await make_exchange()
    service, alerts = rebalancer(ex)
    ata = str(associated_token_account(Pubkey.from_string(KRAKEN_DEPOSIT), Pubkey.from_string(USDC)))
    node.put_account(ata, bytes(165), owner="TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", lamports=2_039_280)
    account_changes_after_the_quote(monkeypatch, ex, lambda: node.accounts.pop(ata, None))
    proposal = Proposal("USDC", "jupiter", "kraken", Decimal("100"), await ex.transfer_terms("USDC"), Decimal("0.1"),
                        Decimal("1000"))
    sent = await service.send(proposal)
    assert 10**9 - node.lamports[owner] == 5000 + 2_039_280
    assert sent.network_fee == Decimal("0.00204428"), alerts
    sol = await service.send(replace_asset(proposal, "SOL", await ex.transfer_terms("SOL")))
    assert sol.network_fee == Decimal("0.000005")  # a SOL transfer: the signature alone, never the SOL it moved


def replace_asset(proposal: Proposal, asset: str, terms: TransferTerms | None) -> Proposal:
    from dataclasses import replace

    assert terms is not None
    return replace(proposal, asset=asset, amount=Decimal("0.5"), terms=terms)


async def test_the_landed_transfer_reads_as_documented_fee_and_balances_per_account(make_exchange, node, keypair):
    """What :meth:`network_fee_paid` reads: ``meta.fee`` is the signature's fee; ``preBalances``/``postBalances`` give
    each account key's lamports, the payer's fee and rent out, the new token account's rent in."""
    owner = str(keypair.pubkey())
    node.lamports[owner] = 10**9
    node.token_accounts[owner] = [(USDC, 5_000 * 10**6, 6)]
    ex = await make_exchange()
    t = transfer("USDC", "1", "rb-wallet-read")
    signature = await ex.withdraw(t)
    tx = await ex.rpc.get_transaction(signature)
    keys, meta = tx["transaction"]["message"]["accountKeys"], tx["meta"]
    ata = str(associated_token_account(Pubkey.from_string(KRAKEN_DEPOSIT), Pubkey.from_string(USDC)))
    assert meta["fee"] == 5000 and keys[0] == owner
    assert meta["preBalances"][0] - meta["postBalances"][0] == 5000 + 2_039_280
    assert (meta["preBalances"][keys.index(ata)], meta["postBalances"][keys.index(ata)]) == (0, 2_039_280)
    from dataclasses import replace

    assert await ex.network_fee_paid(replace(t, venue_ref=signature)) == Decimal("0.00204428")
    assert await ex.network_fee_paid(t) is None  # no reference: nothing to read
