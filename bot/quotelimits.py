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


def place_quote_limits(comp: Any, cls: type, quotes: Mapping[str, Mapping[str, str]]) -> tuple[Any, list[ConfigIssue]]:
    """``comp`` with each plain value of its ``quote_settings`` placed in the one quote asset the strategies trade
    (``{ QUOTE = value }``), and the issues: a plain value when they trade several, a table leaving one out.

    With no strategy that says what it trades, a plain value stays plain: the component places it in the quote
    asset it first meets, and refuses the others."""
    issues: list[ConfigIssue] = []
    placed: dict[str, dict[str, str]] = {}
    traded = sorted({quote for by_quote in quotes.values() for quote in by_quote})
    for key in getattr(cls, "quote_settings", ()):
        value = getattr(comp.settings, key, None)
        if value is None:
            continue
        path = f"{comp.path}.{key}"
        if isinstance(value, dict):
            for strategy, by_quote in quotes.items():
                for quote, symbol in by_quote.items():
                    if quote not in value:
                        issues.append(ConfigIssue(path, f'strategy "{strategy}" trades {symbol}, in {quote}, which '
                                                        f'this limit does not cover (it has '
                                                        f'{", ".join(sorted(value)) or "none"}); add {quote} = '
                                                        f'"..." to it'))
        elif len(traded) == 1:
            placed[key] = {traded[0]: str(value)}
        elif traded:
            who = "; ".join(f'"{strategy}" trades {", ".join(sorted(by_quote.values()))} (in '
                            f'{", ".join(sorted(by_quote))})' for strategy, by_quote in sorted(quotes.items()))
            example = ", ".join(f'{quote} = "..."' for quote in traded)
            issues.append(ConfigIssue(path, f'"{value}" has no unit here: the strategies trade several quote assets '
                                            f'({who}), and one number would be that much of each; give a value per '
                                            f'quote asset, e.g. {key} = {{ {example} }}'))
    if placed and not issues:
        comp = dataclasses.replace(comp, settings=dataclasses.replace(comp.settings, **placed))
    return comp, issues


def place_base_limits(comp: Any, cls: type, bases: Mapping[str, Mapping[str, str]]) -> tuple[Any, list[ConfigIssue]]:
    """``comp`` with each plain value of its ``base_settings`` placed in the one base asset the strategies trade
    (``{ BASE = value }``), and the issues: a plain value when they trade several, a table (keyed by base asset or
    by symbol) covering neither a traded symbol nor its base asset.

    With no strategy that says what it trades, a plain value stays plain: the component places it in the base
    asset it first meets, and refuses the others."""
    issues: list[ConfigIssue] = []
    placed: dict[str, dict[str, str]] = {}
    traded = sorted({base for by_base in bases.values() for base in by_base})
    for key in getattr(cls, "base_settings", ()):
        value = getattr(comp.settings, key, None)
        if value is None:
            continue
        path = f"{comp.path}.{key}"
        if isinstance(value, dict):
            for strategy, by_base in bases.items():
                for base, symbol in by_base.items():
                    if base not in value and symbol not in value:
                        issues.append(ConfigIssue(path, f'strategy "{strategy}" trades {symbol}, of base asset {base}, '
                                                        f'which this limit does not cover (it has '
                                                        f'{", ".join(sorted(value)) or "none"}); add {base} = "..." '
                                                        f'(or "{symbol}" = "...") to it'))
        elif len(traded) == 1:
            placed[key] = {traded[0]: str(value)}
        elif traded:
            who = "; ".join(f'"{strategy}" trades {", ".join(sorted(by_base.values()))} (base '
                            f'{", ".join(sorted(by_base))})' for strategy, by_base in sorted(bases.items()))
            example = ", ".join(f'{base} = "..."' for base in traded)
            issues.append(ConfigIssue(path, f'"{value}" has no unit here: the strategies trade several base assets '
                                            f'({who}), and one number would be that much of each; give a value per '
                                            f'base asset (or per symbol), e.g. {key} = {{ {example} }}'))
    if placed and not issues:
        comp = dataclasses.replace(comp, settings=dataclasses.replace(comp.settings, **placed))
    return comp, issues
