"""A transfer's amount is shown exactly on every surface (``/status``, ``/rebalance``, ``arbot report``, ``arbot fleet
transfers``): what is sent, every digit, no padding zeros, no rounding."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from bot.api import Transfer, TransferStatus
from bot.api.ledger import exact_amount, exact_money
from bot.report import transfer_text


def sent(amount: str, asset: str = "SOL", fee: str = "0.01") -> Transfer:
    return Transfer("rb-1", asset, Decimal(amount), "kraken", "jupiter", "WaLLet", Decimal(fee), Decimal(0),
                    TransferStatus.SENT, 0, 0, "FTQ1")


def test_a_transfer_text_shows_the_amount_sent_exactly_not_to_six_digits():
    text = transfer_text(sent("30.061728"), 1)
    assert text.startswith("sent 30.061728 SOL kraken -> jupiter (fee 0.01 SOL, ref FTQ1), "), text


def test_a_transfer_text_trims_padding_zeros_and_keeps_a_stablecoin_in_cents():
    assert transfer_text(sent("4.020000"), 1).startswith("sent 4.02 SOL ")
    assert transfer_text(sent("25.5", "USDC", fee="0"), 1).startswith(
        "sent 25.50 USDC kraken -> jupiter (fee 0.00 USDC")
    assert transfer_text(sent("25.505", "USDC", fee="0.0012345678"), 1).startswith(
        "sent 25.505 USDC kraken -> jupiter (fee 0.0012345678 USDC")


def test_the_exact_helper_rounds_nothing_and_writes_no_exponent():
    assert exact_amount(Decimal("123456789.123456789123456789123456789"), "SOL") == \
        "123456789.123456789123456789123456789"
    assert exact_amount(Decimal("1E+3"), "SOL") == "1000"
    assert exact_amount(Decimal("0E-9"), "SOL") == "0"
    assert exact_amount(Decimal("0.000000001"), "SOL") == "0.000000001"
    assert exact_money(Decimal("4.020000"), "SOL") == "4.02 SOL"


def test_the_rebalance_plugin_words_amounts_with_the_one_helper():
    from plugins.rebalance import planner, service

    assert service.money_text is exact_money and planner.amount_text is exact_amount


def test_a_fleet_status_carries_a_transfers_amount_without_padding_zeros():
    from plugins.fleet.link import NatsFleet

    carried = NatsFleet._transfers(SimpleNamespace(), [sent("4.020000")], 1)  # type: ignore[arg-type]
    assert carried["transfers"][0]["amount"] == "4.02"
    assert Decimal(carried["transfers"][0]["amount"]) == Decimal("4.020000")


def test_fleet_transfers_shows_the_amount_as_the_other_surfaces_do_even_from_an_older_bot():
    from plugins.fleet.cli import transfer_lines

    status = {"transfers": [
        {"id": "a", "asset": "SOL", "amount": "4.020000", "source": "kraken", "destination": "jupiter",
         "status": "sent", "age_ms": 1000},
        {"id": "b", "asset": "SOL", "amount": "30.061728", "source": "kraken", "destination": "jupiter",
         "status": "sent", "age_ms": 1000},
        {"id": "c", "asset": "USDC", "amount": "7", "source": "kraken", "destination": "jupiter",
         "status": "sent", "age_ms": 1000},
        {"id": "d", "asset": "SOL", "amount": "lots", "source": "kraken", "destination": "jupiter",
         "status": "sent", "age_ms": 1000}]}
    lines, _ = transfer_lines(status, heard_ago_ns=0)
    assert lines[0] == "a: sent 4.02 SOL kraken -> jupiter, 1.0s old"
    assert lines[1] == "b: sent 30.061728 SOL kraken -> jupiter, 1.0s old"
    assert lines[2] == "c: sent 7.00 USDC kraken -> jupiter, 1.0s old"
    assert lines[3] == "d: sent lots SOL kraken -> jupiter, 1.0s old"  # not a number: as the bot sent it


def test_fleet_transfers_shows_an_amount_out_of_any_range_as_it_came_and_does_not_fail():
    from plugins.fleet.cli import transfer_lines

    status = {"transfers": [{"id": "a", "asset": "SOL", "amount": amount, "source": "kraken",
                             "destination": "jupiter", "status": "sent", "age_ms": 1000}
                            for amount in ("1E+30", "1E+5000", "1E-5000", "1E+3")]}
    lines, _ = transfer_lines(status, heard_ago_ns=0)
    assert [line.split()[2] for line in lines] == ["1E+30", "1E+5000", "1E-5000", "1000"]
    assert exact_amount(Decimal("1E+30"), "SOL") == "1" + "0" * 30  # past what money() can round: every digit
