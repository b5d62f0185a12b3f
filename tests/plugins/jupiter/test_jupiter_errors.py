"""Priority fees, error mapping, bad input, balances and the secret canary."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from sqlalchemy import text

from bot.api import InsufficientFunds, PermanentError, RateLimited, TransientError
from bot.domain import Order, OrderStatus, OrderType, Side
from plugins.jupiter.errors import (
    BlockhashExpired,
    SlippageExceeded,
    SolanaInsufficientFunds,
    SwapFailed,
)
from plugins.jupiter.exchange import PriceLimitExceeded, percentile
from plugins.jupiter.records import FAILED, load_swap
from plugins.jupiter.settings import JupiterSettings


def _order(cid="swap-1", side=Side.SELL, qty="0.5", price=None) -> Order:
    return Order(client_order_id=cid, strategy="s", exchange="jupiter", symbol="SOL/USDC", side=side,
                 qty=Decimal(qty), price=None if price is None else Decimal(price), order_type=OrderType.MARKET)


def test_percentile():
    assert percentile([], 75) == 0
    assert percentile([5, 1, 3, 2], 50) == 2 and percentile([5, 1, 3, 2], 75) == 3 and percentile([5, 1], 100) == 5


async def test_priority_fee_derived_and_capped(make_exchange, node, jupiter_api):
    node.prioritization_fees = [10, 20, 30, 9_000_000]
    exchange = await make_exchange(priority_fee_percentile=50)
    assert await exchange.compute_unit_price() == 20
    exchange = await make_exchange(priority_fee_percentile=100, max_compute_unit_price_micro_lamports=50_000)
    assert await exchange.compute_unit_price() == 50_000
    await exchange.place_order(_order())
    assert jupiter_api.swaps[-1]["computeUnitPriceMicroLamports"] == 50_000


async def test_priority_fee_fixed_is_capped(make_exchange):
    exchange = await make_exchange(compute_unit_price_micro_lamports=7_000, max_compute_unit_price_micro_lamports=5_000)
    assert await exchange.compute_unit_price() == 5_000
    exchange = await make_exchange(compute_unit_price_micro_lamports=3_000)
    assert await exchange.compute_unit_price() == 3_000


async def test_slippage_in_preflight(make_exchange, node):
    node.preflight_err = {"code": -32002, "message": "Transaction simulation failed: Error processing Instruction 2",
                          "data": {"err": {"InstructionError": [2, {"Custom": 6001}]},
                                   "logs": ["Program log: Error: SlippageToleranceExceeded"]}}
    exchange = await make_exchange()
    with pytest.raises(SlippageExceeded) as info:
        await exchange.place_order(_order())
    assert isinstance(info.value, PermanentError)
    assert load_swap(exchange.ctx.store, "jupiter", "swap-1").status == FAILED
    assert node.sent == []


async def test_slippage_on_chain(make_exchange, node):
    node.landed_err = {"InstructionError": [3, {"Custom": 6001}]}
    exchange = await make_exchange(skip_preflight=True)
    with pytest.raises(SlippageExceeded):
        await exchange.place_order(_order())
    assert node.sent[0].skip_preflight is True
    state = await exchange.place_order(_order())  # the executor asking again: no second swap
    assert state.status is OrderStatus.REJECTED and exchange.signatures_made == 1


async def test_insufficient_funds(make_exchange, node):
    node.preflight_err = {"code": -32002, "message": "Transaction simulation failed: Attempt to debit an account "
                          "but found no record of a prior credit.", "data": {"err": "InsufficientFundsForFee",
                                                                            "logs": []}}
    exchange = await make_exchange()
    with pytest.raises(InsufficientFunds) as info:
        await exchange.place_order(_order())
    assert isinstance(info.value, SolanaInsufficientFunds)


async def test_rate_limited(make_exchange, node, jupiter_api):
    exchange = await make_exchange()
    jupiter_api.error = (429, {"error": "Too many requests"})
    with pytest.raises(RateLimited):
        await exchange.place_order(_order())
    node.faults["getRecentPrioritizationFees"] = ["429"]
    with pytest.raises(RateLimited):
        await exchange.place_order(_order("swap-2"))
    assert exchange.signatures_made == 0 and node.sent == []


def test_blockhash_expired_is_transient():
    assert issubclass(BlockhashExpired, TransientError)


async def test_jupiter_error_response_signs_nothing(make_exchange, node, jupiter_api):
    exchange = await make_exchange()
    jupiter_api.error = (400, {"error": "Could not find any route", "errorCode": "COULD_NOT_FIND_ANY_ROUTE"})
    with pytest.raises(SwapFailed, match="COULD_NOT_FIND_ANY_ROUTE"):
        await exchange.place_order(_order())
    assert exchange.signatures_made == 0 and node.sent == []
    assert load_swap(exchange.ctx.store, "jupiter", "swap-1") is None


@pytest.mark.parametrize("endpoint", ["quote", "swap"])
@pytest.mark.parametrize("status, body", [
    (500, {"error": "Internal Server Error"}),
    (503, {"error": "Service Unavailable"}),
    (502, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    (504, "<html><body><h1>504 Gateway Time-out</h1></body></html>"),
])
async def test_a_server_error_of_jupiter_is_transient(make_exchange, node, jupiter_api, monkeypatch, endpoint, status,
                                                      body):
    """``/quote`` and ``/swap`` change nothing on chain: an outage of the API (a 5xx, JSON or a gateway's page) is
    retried, not the order rejected for good."""
    exchange = await make_exchange()
    if endpoint == "swap":  # the quote goes through, the build of the transaction fails
        fail_next = jupiter_api._fail
        calls = iter([None, (status, body)])

        def fail_on_swap():
            jupiter_api.error = next(calls, None)
            return fail_next()

        monkeypatch.setattr(jupiter_api, "_fail", fail_on_swap)
    else:
        jupiter_api.error = (status, body)
    with pytest.raises(TransientError) as info:
        await exchange.place_order(_order())
    assert not isinstance(info.value, PermanentError)
    assert exchange.signatures_made == 0 and node.sent == []
    assert load_swap(exchange.ctx.store, "jupiter", "swap-1") is None
    if endpoint == "swap":
        assert len(jupiter_api.swaps) == 1
    state = await exchange.place_order(_order())  # the executor's retry, the API back: one swap
    assert state.status in (OrderStatus.OPEN, OrderStatus.FILLED) and exchange.signatures_made == 1


async def test_malformed_swap_transaction_signs_nothing(make_exchange, node, jupiter_api, monkeypatch):
    exchange = await make_exchange()

    async def bad_swap(request):
        from aiohttp import web

        return web.json_response({"swapTransaction": "bm90IGEgdHJhbnNhY3Rpb24=", "lastValidBlockHeight": 5})

    monkeypatch.setattr(jupiter_api, "_swap", bad_swap)
    # aiohttp bound the handler at start: swap it on the router's resource
    for route in jupiter_api._runner.app.router.routes():
        if route.resource.canonical == "/swap":
            route._handler = bad_swap
    with pytest.raises(SwapFailed, match="swapTransaction"):
        await exchange.place_order(_order())
    assert exchange.signatures_made == 0 and node.sent == []


async def test_limit_price_refuses_a_worse_quote(make_exchange, node):
    exchange = await make_exchange()
    with pytest.raises(PriceLimitExceeded):
        await exchange.place_order(_order(price="151"))  # sell at 151 or better; quote is 150
    with pytest.raises(PriceLimitExceeded):
        await exchange.place_order(_order("swap-2", side=Side.BUY, price="149"))
    assert exchange.signatures_made == 0
    assert (await exchange.place_order(_order("swap-3", price="149"))).status is OrderStatus.FILLED


async def test_balances(make_exchange, node, keypair):
    owner = str(keypair.pubkey())
    node.lamports[owner] = 2_500_000_000
    node.token_accounts[owner] = [("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 10_500_000, 6),
                                  ("So11111111111111111111111111111111111111112", 500_000_000, 9),
                                  ("MysteryMint1111111111111111111111111111111", 7, 0)]
    balances = await (await make_exchange()).balances()
    assert balances["SOL"].total == Decimal(3) and balances["USDC"].free == Decimal("10.5")
    assert balances["MysteryMint1111111111111111111111111111111"].total == 7


def test_settings_validation():
    expected = "give exactly one of keypair (a secret reference) or keypair_file"
    assert JupiterSettings().validate() == [("keypair", expected)]
    problems = JupiterSettings(keypair_file="k.json", symbols=["SOL/BONK"], tokens={"SOL": "x:9", "USDC": "y"},
                               commitment="fast").validate()
    fields = [f for f, _ in problems]
    assert fields.count("tokens") == 2 and "commitment" in fields


async def test_canary_secret_in_no_log_exception_or_row(make_exchange, node, jupiter_api, keypair, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    secret_b58, secret_json = str(keypair), json.dumps(list(bytes(keypair)))
    exchange = await make_exchange()
    await exchange.place_order(_order())
    node.preflight_err = {"code": -32002, "message": "Transaction simulation failed", "data": {
        "err": {"InstructionError": [2, {"Custom": 6001}]}, "logs": []}}
    with pytest.raises(SlippageExceeded) as info:
        await exchange.place_order(_order("swap-2"))
    texts = [caplog.text, str(info.value), repr(exchange.wallet), repr(exchange.settings)]
    with exchange.ctx.store.engine.connect() as conn:
        for table in ("jupiter_swaps",):
            texts += [repr(r) for r in conn.execute(text(f"select * from {table}"))]
    assert str(keypair.pubkey()) in caplog.text
    for blob in texts:
        assert secret_b58 not in blob and secret_json not in blob and secret_b58[:16] not in blob


async def test_a_refusal_quoting_a_known_secret_is_stored_masked(make_exchange, node, monkeypatch):
    """The node's (or Jupiter's) error text is kept in the swap's row, which the store does not mask for a plugin's
    own table: a refusal quoting a known secret (a provider echoing the request's key) is stored with it masked, as
    the order's reason is."""
    from bot.api import Secret

    key = "sk-live-jupiter-0123456789"
    monkeypatch.setenv("ARBOT_AUDIT_JUPITER_KEY", key)
    Secret("env:ARBOT_AUDIT_JUPITER_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    node.preflight_err = {"code": -32003, "message": f"Transaction refused for https://rpc.example/?api-key={key}"}
    exchange = await make_exchange()
    with pytest.raises(SwapFailed):
        await exchange.place_order(_order())
    row = load_swap(exchange.ctx.store, "jupiter", "swap-1")
    assert row.status == FAILED and "api-key=***" in row.error, row.error
    assert key not in row.error
    state = await exchange.place_order(_order())  # the executor asking again: the stored outcome, masked
    assert state.status is OrderStatus.REJECTED and key not in state.reason


async def test_a_refusal_holding_a_nul_character_is_stored_and_answered_again(make_exchange, node):
    """A node's error text is the venue's to write: one holding a NUL character (which PostgreSQL's text refuses,
    a ``DataError`` no retry cures) is stored with the store's stand-in, as an order's reason is, on both stores."""
    from bot.store import NUL_STAND_IN

    node.preflight_err = {"code": -32002, "message": "Transaction simulation failed: bad\x00data"}
    exchange = await make_exchange()
    with pytest.raises(SwapFailed):
        await exchange.place_order(_order())
    row = load_swap(exchange.ctx.store, "jupiter", "swap-1")
    assert row.status == FAILED and f"bad{NUL_STAND_IN}data" in row.error, row.error
    state = await exchange.place_order(_order())  # the executor asking again: the stored outcome
    assert state.status is OrderStatus.REJECTED and "\x00" not in state.reason
