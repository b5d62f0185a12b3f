"""An opportunity's id is the first 20 hex characters of the sha256 of its decision written as text
(``strategy|direction|size|cex limit|dex limit|net PnL|book ts|pool ts|now``, each as ``str`` writes it).

The ids are stored (``arb_executions``, ``arb_opportunities``) and the legs' client order ids derive from
them, so the same decision must give the same id in every run and after a restart: the text is pinned
here against its definition, for any Decimal the figures may be (any exponent, sign, negative zero).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from plugins.arb.execution import opportunity_id
from plugins.arb.pricing import Direction

figures = st.decimals(allow_nan=False, allow_infinity=False, places=None) | st.sampled_from(
    [Decimal("-0"), Decimal("0E-8"), Decimal("1E+2"), Decimal("1.0"), Decimal("1.00"), Decimal("-0.0000001")])
stamps = st.integers(min_value=0, max_value=2**63 - 1)


def defined(strategy: str, e, book_ts_ns: int, pool_ts_ns: int, now_ns: int) -> str:
    text = (f"{strategy}|{e.direction}|{e.size}|{e.cex_limit_price}|{e.dex_limit_price}|{e.net_pnl}|"
            f"{book_ts_ns}|{pool_ts_ns}|{now_ns}")
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@given(st.text(min_size=1, max_size=20), st.sampled_from(list(Direction)), figures, figures, figures, figures,
       stamps, stamps, stamps)
def test_the_id_is_the_hash_of_the_decision_as_defined(strategy, direction, size, cex, dex, net, book_ts, pool_ts,
                                                        now) -> None:
    e = SimpleNamespace(direction=direction, size=size, cex_limit_price=cex, dex_limit_price=dex, net_pnl=net)
    oid = opportunity_id(strategy, e, book_ts, pool_ts, now)  # type: ignore[arg-type]
    assert oid == defined(strategy, e, book_ts, pool_ts, now)
    assert len(oid) == 20


def test_an_id_written_by_hand() -> None:
    """A decision written out by hand: its id is the hash of exactly this text."""
    e = SimpleNamespace(direction=Direction.BUY_CEX_SELL_DEX, size=Decimal("10.0"), cex_limit_price=Decimal("149.32"),
                        dex_limit_price=Decimal("149.969672"), net_pnl=Decimal("-0.10"))
    text = b"sol-arb|buy-cex-sell-dex|10.0|149.32|149.969672|-0.10|1|2|3"
    oid = opportunity_id("sol-arb", e, 1, 2, 3)  # type: ignore[arg-type]
    assert oid == hashlib.sha256(text).hexdigest()[:20]
