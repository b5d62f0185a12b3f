"""The ccxt gate as a transfer destination: what it keeps of a deposit (``fetch_deposit_withdraw_fees``' ``deposit``
fee, per network, else the currency's), its deposit minimum and limit (ccxt's currency ``limits.deposit``), against
the fake Gate.io wallet (``GET /wallet/withdraw_status``' ``deposit``)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.api import PermanentError

from .conftest import gate_table


@pytest.fixture
async def deposit_gate(make_bot, fake_gate):
    """The live ccxt gate taking USDT deposits on TRC20 (Gate's TRX chain) and BTC on its one network."""

    async def factory(**settings):
        bot = await make_bot(gate_table(fake_gate, **settings) + 'deposit_networks = { USDT = "TRC20" }\n')
        return bot.exchanges["gate"]

    return factory


def deposit_limits(gate, asset: str, network: str) -> dict:
    """ccxt's ``limits.deposit`` of ``asset`` on ``network`` (Gate's ccxt gives none: Binance's, OKX's do)."""
    return gate.api.currencies[asset]["networks"][network]["limits"]["deposit"]


async def test_the_deposit_fee_is_the_venues_exact_figure(deposit_gate, fake_gate):
    """Gate keeps ``deposit`` of every deposit of the currency (its withdraw_status): before, ccxt venues kept
    nothing (the default 0), so a move to Gate was costed short and credited() looked for the wrong net amount."""
    fake_gate.wallet["USDT"].deposit_fee = "0.5"
    gate = await deposit_gate()
    fee = await gate.deposit_fee("USDT", D("250"))
    assert fee == D("0.5") and type(fee) is D
    assert await gate.deposit_fee("BTC", D("1")) == D(0)  # Gate's "0": nothing kept
    assert await gate.deposit_limit("USDT") is None  # ccxt gives Gate no deposit limit: the default


async def test_a_networks_own_deposit_fee_wins_over_the_currencys(deposit_gate, fake_gate, monkeypatch):
    fake_gate.wallet["USDT"].deposit_fee = "0.5"
    gate = await deposit_gate()
    fetch = gate.api.fetch_deposit_withdraw_fees

    async def with_network_fees(codes=None, params={}):  # noqa: B006 - ccxt's signature
        found = await fetch(codes, params)
        for entry in found.values():
            for code, network in entry["networks"].items():
                network["deposit"] = {"fee": "0.25" if code == "TRC20" else "9", "percentage": False}
        return found

    monkeypatch.setattr(gate.api, "fetch_deposit_withdraw_fees", with_network_fees)
    assert await gate.deposit_fee("USDT", D("250")) == D("0.25")  # TRC20's, the deposit_networks entry


async def test_a_percentage_deposit_fee_is_refused_by_name(deposit_gate, monkeypatch):
    gate = await deposit_gate()
    fetch = gate.api.fetch_deposit_withdraw_fees

    async def percentage(codes=None, params={}):  # noqa: B006
        found = await fetch(codes, params)
        for entry in found.values():
            entry["deposit"] = {"fee": "0.001", "percentage": True}
        return found

    monkeypatch.setattr(gate.api, "fetch_deposit_withdraw_fees", percentage)
    with pytest.raises(PermanentError, match="charges USDT deposits a percentage: not supported"):
        await gate.deposit_fee("USDT", D("250"))


async def test_an_amount_below_the_deposit_minimum_raises_naming_it_and_the_limit_caps_the_move(
        deposit_gate, fake_gate):
    """A venue credits nothing below its deposit minimum (ccxt's ``limits.deposit.min``): deposit_fee refuses such an
    amount naming the minimum (the TransferVenue contract), and ``limits.deposit.max`` is the deposit limit, net of
    the fee."""
    fake_gate.wallet["USDT"].deposit_fee = "0.5"
    gate = await deposit_gate()
    deposit_limits(gate, "USDT", "TRC20").update(min="20", max="1000")
    with pytest.raises(PermanentError, match=r"10 USDT is below .* TRC20 deposit minimum 20 USDT"):
        await gate.deposit_fee("USDT", D("10"))
    assert await gate.deposit_fee("USDT", D("20")) == D("0.5")
    with pytest.raises(PermanentError, match=r"1000.5 USDT is over .* TRC20 deposit limit 1000 USDT"):
        await gate.deposit_fee("USDT", D("1000.5"))
    assert await gate.deposit_limit("USDT") == D("999.5")  # what may arrive net of the 0.5 kept
