"""Numbers for people: money, prices and quantities rounded for display (stored values keep full precision).

- A price or quantity of a market whose rules are known is shown on its grid: the tick size for
  prices, the lot size for quantities (:class:`~bot.domain.MarketInfo`).
- Money in a fiat currency or a USD stablecoin is shown to the cent (zero as ``0.00``); an amount below
  one cent that is not zero (a tiny fee) to :data:`SIGNIFICANT` significant digits.
- Anything else to :data:`SIGNIFICANT` significant digits (a price: :data:`PRICE_DIGITS`), never
  more than :data:`MAX_PLACES` decimals, without exponent notation or trailing zeros.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal

SIGNIFICANT = 6
MAX_PLACES = 8
CENTS = Decimal("0.01")
FIAT = frozenset({"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "USDC", "USDT", "DAI", "PYUSD", "FDUSD", "TUSD",
                  "BUSD", "USDP", "EURC"})
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Never rounds: display rounding is done by ``quantize`` alone, at any width (the default context's 28 digits
would refuse, or round, a figure wider than that; ``Decimal.normalize`` alone rounds to 28 digits)."""


def _plain(value: Decimal) -> str:
    """Without exponent notation or trailing zeros; "0" for any zero."""
    if not value:
        return "0"
    return format(value.normalize(_EXACT), "f")


def significant(value: Decimal, digits: int = SIGNIFICANT, max_places: int = MAX_PLACES) -> str:
    """``value`` to ``digits`` significant digits (at most ``max_places`` decimals), trailing zeros dropped."""
    if not value or not value.is_finite():
        return _plain(value) if value.is_finite() else str(value)
    places = min(max(digits - value.adjusted() - 1, 0), max_places)
    return _plain(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN, context=_EXACT))


def on_grid(value: Decimal, step: Decimal) -> str:
    """``value`` rounded to the nearest multiple of ``step``, written with the step's decimals."""
    if not step:
        return significant(value)
    if not value.is_finite():
        return str(value)
    # Whole steps and what is left, both exact at any width (a quotient in a 28-digit context is not).
    whole, rest = _EXACT.divmod(value, step)  # whole toward zero; rest has value's sign
    twice, size = _EXACT.multiply(abs(rest), 2), abs(step)
    if twice > size or (twice == size and _EXACT.remainder(whole, 2)):
        whole = _EXACT.add(whole, 1 if (value < 0) == (step < 0) else -1)
    rounded = _EXACT.multiply(whole, step)
    exponent = step.normalize(_EXACT).as_tuple().exponent
    places = min(exponent, 0) if isinstance(exponent, int) else 0
    return format(rounded.quantize(Decimal(1).scaleb(places), context=_EXACT), "f")


def amount(value: Decimal, asset: str = "") -> str:
    """A sum of money in ``asset`` without its unit: cents for fiat and stablecoins, else significant digits."""
    if asset.upper() in FIAT and not value:
        return "0.00"
    if asset.upper() in FIAT and abs(value) >= CENTS:
        return format(value.quantize(CENTS, rounding=ROUND_HALF_EVEN, context=_EXACT), "f")
    return significant(value)


def money(value: Decimal, asset: str) -> str:
    """A sum of money with its unit: ``12.35 USD``, ``0.0000455 SOL``."""
    return f"{amount(value, asset)} {asset}"


def exact(value: Decimal) -> str:
    """Every digit of ``value``, without exponent notation or trailing zeros ("0" for any zero)."""
    if not value.is_finite():
        return str(value)
    return format(value.normalize(_EXACT), "f") if value else "0"


def exact_amount(value: Decimal, asset: str) -> str:
    """An amount that is sent (a transfer): as :func:`amount` shows it when that is exact (``4.02``, ``25.50``
    USDC), else every digit of it (``30.061728``): what a trader reads is what moves."""
    shown = amount(value, asset)
    return shown if value.is_finite() and Decimal(shown) == value else exact(value)


def exact_money(value: Decimal, asset: str) -> str:
    """:func:`exact_amount` with its unit: ``4.02 SOL``."""
    return f"{exact_amount(value, asset)} {asset}"


def signed_money(value: Decimal, asset: str) -> str:
    """Money with an explicit sign for gains: ``+1.10 USD``, ``-2.78 USD``."""
    text = money(value, asset)
    return text if text.startswith("-") or not value else f"+{text}"


PRICE_DIGITS = 8


def price(value: Decimal, tick: Decimal | None = None) -> str:
    """A price on the market's tick grid when known, else to :data:`PRICE_DIGITS` significant digits."""
    return on_grid(value, tick) if tick else significant(value, PRICE_DIGITS)


def qty(value: Decimal, lot: Decimal | None = None) -> str:
    """A quantity on the market's lot grid when known, else to significant digits."""
    return on_grid(value, lot) if lot else significant(value)


def moneys(amounts: dict[str, Decimal], assets: list[str] | None = None) -> str:
    """Several sums, one per asset: ``1.10 USD, 0.0000455 SOL`` (``assets`` fixes which and their order)."""
    keys = assets if assets is not None else sorted(amounts)
    return ", ".join(money(amounts.get(a, Decimal(0)), a) for a in keys) or "0"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 strategy``, ``3 strategies``, ``0 orders``: a count with its noun agreeing (``plural``: when adding "s" or
    turning "y" into "ies" is not its plural)."""
    if n == 1:
        return f"{n} {noun}"
    if plural is None:
        plural = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{n} {plural}"


def span(seconds: float) -> str:
    """A duration in a log line or an alert: seconds below 90, minutes below 90, then hours (``45 s``, ``12 min``,
    ``2.5 h``)."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
