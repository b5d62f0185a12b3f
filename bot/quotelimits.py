"""Limits have a unit: each component's ``quote_settings`` (money) checked against the quote assets strategies trade,
its ``base_settings`` (quantities) against the base assets they trade."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .domain import split_symbol
from .settings import ConfigIssue


def _traded(strategies: Mapping[str, Any], classes: Mapping[str, type], part: int) -> dict[str, dict[str, str]]:
    """Strategy name -> {asset: a symbol it trades with it}, the asset being each symbol's base (``part`` 0) or
    quote (1), for strategies that say what they trade (:meth:`~bot.api.Strategy.symbols_at`); the others are left
    out (what they trade is known only when they trade)."""
    traded: dict[str, dict[str, str]] = {}
    for name, comp in strategies.items():
        symbols_at = getattr(classes[comp.type], "symbols_at", None)
        for symbol in (symbols_at(comp.settings) if symbols_at is not None else {}).values():
            try:
                asset = split_symbol(symbol)[part]
            except (ValueError, AttributeError):  # not BASE/QUOTE: the strategy's own settings say so
                continue
            traded.setdefault(name, {}).setdefault(asset, symbol)
    return traded


def strategy_quotes(strategies: Mapping[str, Any], classes: Mapping[str, type]) -> dict[str, dict[str, str]]:
    """Strategy name -> {quote asset: a symbol it trades in it}, for strategies that say what they trade."""
    return _traded(strategies, classes, 1)


def strategy_bases(strategies: Mapping[str, Any], classes: Mapping[str, type]) -> dict[str, dict[str, str]]:
    """Strategy name -> {base asset: a symbol it trades of it}, for strategies that say what they trade."""
    return _traded(strategies, classes, 0)


@dataclasses.dataclass(frozen=True)
class _Unit:
    """What a limit's unit is (the quote asset of money limits, the base asset of quantity limits) and how its
    config errors say so."""

    settings: str  # the component class's attribute naming its limits in this unit
    symbol_keys: bool  # whether a table may also be keyed by symbol
    trades: str  # "{symbol}, in {asset}" / "{symbol}, of base asset {asset}"
    add: str  # what a table leaving the asset out is told to add
    of: str  # "(in {assets})" / "(base {assets})"
    several: str  # "quote assets" / "base assets"
    per: str  # "quote asset" / "base asset (or per symbol)"


_QUOTE = _Unit("quote_settings", False, "{symbol}, in {asset}", '{asset} = "..."', "in", "quote assets", "quote asset")
_BASE = _Unit("base_settings", True, "{symbol}, of base asset {asset}", '{asset} = "..." (or "{symbol}" = "...")',
              "base", "base assets", "base asset (or per symbol)")


def place_quote_limits(comp: Any, cls: type, quotes: Mapping[str, Mapping[str, str]]) -> tuple[Any, list[ConfigIssue]]:
    """``comp`` with each plain value of its ``quote_settings`` placed in the one quote asset the strategies trade
    (``{ QUOTE = value }``), and the issues: a plain value when they trade several, a table leaving one out.

    With no strategy that says what it trades, a plain value stays plain: the component places it in the quote
    asset it first meets, and refuses the others."""
    return _place_limits(comp, cls, quotes, _QUOTE)


def place_base_limits(comp: Any, cls: type, bases: Mapping[str, Mapping[str, str]]) -> tuple[Any, list[ConfigIssue]]:
    """``comp`` with each plain value of its ``base_settings`` placed in the one base asset the strategies trade
    (``{ BASE = value }``), and the issues: a plain value when they trade several, a table (keyed by base asset or
    by symbol) covering neither a traded symbol nor its base asset.

    With no strategy that says what it trades, a plain value stays plain: the component places it in the base
    asset it first meets, and refuses the others."""
    return _place_limits(comp, cls, bases, _BASE)


def _place_limits(comp: Any, cls: type, by_strategy: Mapping[str, Mapping[str, str]],
                  unit: _Unit) -> tuple[Any, list[ConfigIssue]]:
    """:func:`place_quote_limits` and :func:`place_base_limits`, for the ``unit`` of each."""
    issues: list[ConfigIssue] = []
    placed: dict[str, dict[str, str]] = {}
    traded = sorted({asset for by_asset in by_strategy.values() for asset in by_asset})
    for key in getattr(cls, unit.settings, ()):
        value = getattr(comp.settings, key, None)
        if value is None:
            continue
        path = f"{comp.path}.{key}"
        if isinstance(value, dict):
            for strategy, by_asset in by_strategy.items():
                for asset, symbol in by_asset.items():
                    if asset in value or (unit.symbol_keys and symbol in value):
                        continue
                    trades = unit.trades.format(symbol=symbol, asset=asset)
                    add = unit.add.format(symbol=symbol, asset=asset)
                    issues.append(ConfigIssue(path, f'strategy "{strategy}" trades {trades}, which this limit does '
                                                    f'not cover (it has {", ".join(sorted(value)) or "none"}); add '
                                                    f'{add} to it'))
        elif len(traded) == 1:
            placed[key] = {traded[0]: str(value)}
        elif traded:
            who = "; ".join(f'"{strategy}" trades {", ".join(sorted(by_asset.values()))} ({unit.of} '
                            f'{", ".join(sorted(by_asset))})' for strategy, by_asset in sorted(by_strategy.items()))
            example = ", ".join(f'{asset} = "..."' for asset in traded)
            issues.append(ConfigIssue(path, f'"{value}" has no unit here: the strategies trade several '
                                            f'{unit.several} ({who}), and one number would be that much of each; '
                                            f'give a value per {unit.per}, e.g. {key} = {{ {example} }}'))
    if placed and not issues:
        comp = dataclasses.replace(comp, settings=dataclasses.replace(comp.settings, **placed))
    return comp, issues
