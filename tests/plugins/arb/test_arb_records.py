"""The arbitrage's rows as stored: the opportunity's costs column is exactly ``json.dumps`` of its costs."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from plugins.arb.records import costs_json

_names = st.sampled_from(["cex_fee", "dex_fee", "network", "slippage", "é\"\\\n", ""]) | st.text(max_size=8)
_amounts = st.decimals(allow_nan=False, allow_infinity=False) | st.sampled_from([Decimal("-0E-8"), Decimal("1E+3")])


@given(st.lists(st.tuples(_names, _amounts), max_size=6))
def test_costs_json_is_json_dumps_character_for_character(costs: list[tuple[str, Decimal]]) -> None:
    assert costs_json(costs) == json.dumps({name: str(value) for name, value in costs})
