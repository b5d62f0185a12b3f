"""A limit and its unit: a money limit's value per quote asset, a position limit's per base asset (or symbol), never
one number meant in every asset."""

from __future__ import annotations

from decimal import Decimal

from bot.api import split_symbol
from bot.api.ledger import money


class QuoteLimit:
    """One money limit (``key`` names its setting): a value per quote asset, or one value not placed by the config
    (no strategy said what it trades), which is in the first quote asset it meets and in no other."""

    def __init__(self, key: str, value: Decimal | dict[str, str], *, strategy: str = ""):
        self.key = key
        self.strategy = strategy
        """The strategy a per-strategy limit is of: its one value is in the quote asset that strategy trades."""
        self.per_quote = isinstance(value, dict)
        self._values = {quote: Decimal(text) for quote, text in value.items()} if isinstance(value, dict) else {}
        self._plain = None if isinstance(value, dict) else Decimal(value)

    def of(self, quote: str) -> Decimal | None:
        """The limit in ``quote``, None when it sets none there; a plain value not placed yet is placed there."""
        if self._plain is not None and not self._values:
            self._values[quote] = self._plain
        return self._values.get(quote)

    def refuses(self, quote: str) -> str | None:
        """Why an order in ``quote`` is refused (this limit sets none there: it would be unlimited), or None."""
        if self.of(quote) is not None:
            return None
        have = ", ".join(sorted(self._values))
        if self.per_quote:
            return f'{self.key} sets no limit in {quote} (it has {have}): add {quote} = "..." to it'
        if self.strategy:
            return (f"{self.key} sets no limit in {quote} (it has {have}): a strategy's limit is in the one quote "
                    f"asset it trades, and {self.strategy} traded {have} first")
        return (f"{self.key} sets no limit in {quote} (it has {have}): one value is in the one quote asset the bot "
                f'trades, here the first met; give a value per quote asset, e.g. {{ {have} = "...", {quote} = "..." }}')

    def placed(self) -> dict[str, Decimal]:
        """Quote asset -> the limit there, for those it is placed in (without placing a plain value)."""
        return dict(sorted(self._values.items()))

    def unplaced(self) -> Decimal | None:
        """The plain value while it is in no quote asset yet."""
        return self._plain if self._plain is not None and not self._values else None

    def text(self) -> list[tuple[str, str]]:
        """(quote asset or "", the limit with its unit) for ``/risk``."""
        if (plain := self.unplaced()) is not None:
            unit = f"the quote asset {self.strategy} trades" if self.strategy else "the quote asset first traded"
            return [("", f"{plain} ({unit})")]
        return [(quote, money(limit, quote)) for quote, limit in self.placed().items()]


class BaseLimit:
    """One quantity limit (``key`` names its setting) in the base asset of each symbol: a value per base asset or per
    symbol (a symbol's entry wins over its base asset's), or one value not placed by the config (no strategy said
    what it trades), which is of the first base asset it meets and of no other."""

    def __init__(self, key: str, value: Decimal | dict[str, str]):
        self.key = key
        self.per_asset = isinstance(value, dict)
        self._values = {name: Decimal(text) for name, text in value.items()} if isinstance(value, dict) else {}
        self._plain = None if isinstance(value, dict) else Decimal(value)

    def of(self, symbol: str) -> Decimal | None:
        """The limit of ``symbol``'s position, in its base asset; None when it sets none there. A plain value not
        placed yet is placed in that base asset."""
        base = split_symbol(symbol)[0]
        if self._plain is not None and not self._values:
            self._values[base] = self._plain
        limit = self._values.get(symbol)
        return limit if limit is not None else self._values.get(base)

    def refuses(self, symbol: str) -> str | None:
        """Why an order in ``symbol`` is refused (this limit sets none there: it would be unlimited), or None."""
        if self.of(symbol) is not None:
            return None
        base = split_symbol(symbol)[0]
        have = ", ".join(sorted(self._values))
        if self.per_asset:
            return (f'{self.key} sets no limit for {symbol} (it has {have}): add {base} = "..." or "{symbol}" = "..." '
                    f'to it')
        return (f"{self.key} sets no limit for {symbol} (it has {have}): one value is of the one base asset the bot "
                f'trades, here the first met; give a value per base asset, e.g. {{ {have} = "...", {base} = "..." }}')

    def text(self) -> list[tuple[str, str]]:
        """(base asset or symbol, or "", the limit with its unit) for ``/risk``."""
        if self._plain is not None and not self._values:
            return [("", f"{self._plain} (the base asset first traded)")]
        return [(name, f"{limit} {split_symbol(name)[0] if '/' in name else name}")
                for name, limit in sorted(self._values.items())]
