"""The loss limits' transfer costs (:mod:`plugins.limits.costs`): the rule of docs/architecture.md, "Accounting", and
what is kept between ticks (how each cost counts) against what is read at each (the mid a cost converts at)."""

from __future__ import annotations

from decimal import Decimal

from plugins.limits.costs import DAILY, DRAWDOWN, TransferCosts

D = Decimal


def test_a_cost_counts_in_its_own_quote_only_and_another_asset_at_the_mid_read_at_each_ask():
    watched = {DAILY: ["USD", "USDC"], DRAWDOWN: ["USD", "USDC"]}
    mids = {"SOL/USD": D("150")}
    costs = TransferCosts(lambda key: watched[key], mids.get)
    assert costs.update({"USDC": D("1")}, {"SOL": D("0.002"), "USD": D("0.5"), "USDC": D("1")})
    assert not costs.update({"USDC": D("1")}, {"SOL": D("0.002"), "USD": D("0.5"), "USDC": D("1")})  # unchanged
    assert costs.loss(DRAWDOWN, "USD") == D("0.5") + D("0.002") * 150  # the USDC fee is USDC's, not USD's
    assert costs.loss(DAILY, "USD") == 0 and costs.loss(DAILY, "USDC") == 1  # the day's: the USDC fee only
    mids["SOL/USD"] = D("200")  # the mid moved: read again, the plan kept
    assert costs.loss(DRAWDOWN, "USD") == D("0.5") + D("0.002") * 200
    assert costs.words(DRAWDOWN, "USDC") == (D("1"), ["1.00 USDC"], ["0.002 SOL not counted (no SOL/USDC price)"])
    assert costs.words(DRAWDOWN, "USD")[1] == ["0.002 SOL at 200.00 USD", "0.50 USD"]  # in the assets' order


def test_a_quote_first_traded_is_no_longer_converted_once_the_plans_are_forgotten():
    watched = {DAILY: ["USD"], DRAWDOWN: ["USD"]}
    costs = TransferCosts(lambda key: watched[key], {"USDC/USD": D("0.999")}.get)
    costs.update({}, {"USDC": D("1")})
    assert costs.loss(DRAWDOWN, "USD") == D("0.999")  # USDC is no quote of the limit: converted
    watched[DRAWDOWN] = ["USD", "USDC"]  # USDC first traded: its costs are its own
    assert costs.loss(DRAWDOWN, "USD") == D("0.999")  # (kept until told)
    costs.forget_plans()
    assert costs.loss(DRAWDOWN, "USD") == 0 and costs.loss(DRAWDOWN, "USDC") == 1
    costs.new_day()
    assert costs.today == {} and costs.all_time == {"USDC": D("1")}
