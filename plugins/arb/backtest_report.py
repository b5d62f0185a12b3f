"""The arb plugin's part of the backtest report: opportunities and executions -> its figures and section.

The host hands over what the bus carried (:class:`~bot.backtest.contract.BacktestRun`);
:class:`BacktestCollector` keeps the ``Opportunity`` and ``ExecutionResult`` events (no strategy
internals), so it reports on any strategy that publishes them. :func:`summarize` turns them into
:class:`BacktestFigures`; :func:`report_section` into the report's "Arbitrage" section. Money stays
Decimal throughout (strings in JSON). Fills, fees and PnL per strategy are the host's part.

Definitions, also written into the report:

* an **opportunity** is one ``opportunity_id`` (a strategy publishes an episode once per change,
  so several events may share an id); **taken** when any of its events says ``acted`` or an
  ``ExecutionResult`` names it, **missed** otherwise, with the reason of its latest event put in a
  category (:func:`reason_category`);
* **tradable**: taken, or missed with a positive predicted net PnL for a reason of execution
  rather than of the edge (stale input, observe mode, paused, cooldown, risk veto, inventory; see
  ``TRADABLE_MISSES``): the trades a perfect executor would have made;
* **captured PnL** = the sum of the realized PnL of the ``ExecutionResult``s: each execution's own
  figure (:data:`plugins.arb.records.CAPTURED`), a residual it left valued at the CEX mid when it finished and a
  fee in a third asset (a DEX's SOL network fee on JUP/USDC) at the SOL price its opportunity was priced with.
  Not the ledger's net realized PnL of the strategy (the host's table, and a sweep's "net realized PnL"),
  which realizes a residual at the fills that open and close it and leaves a third-asset fee out of the net: the
  section shows that net next to it, with the difference, and a sweep shows each under its own name;
* **capture rate** = captured PnL / the sum of
  predicted net PnL of the tradable opportunities (a taken one counts with the prediction its
  ``ExecutionResult`` carries, a missed one with the best prediction of its episode);
* **prediction error** per execution = realized - predicted PnL, the prediction scaled to what filled when the
  result gives ``size`` and ``filled`` (``predicted_pnl * filled / size``, :func:`bot.api.ledger.prediction_error`,
  the ``prediction`` risk check's rule: a partial fill that earned what was predicted for its part is no miss); its
  absolute value in quote and in bps of the opportunity's buy-leg notional (buy price x size, of what filled),
  mean / p50 / p95.

Every figure is in one quote asset: when the strategies trade pairs of several quotes (SOL/USDC and
ETH/EUR), each quote's opportunities and executions are summarized on their own
(:func:`summarize_by_quote`) and the section reports each quote apart; PnL in different assets is
never added.
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from bot.api import BPS, ExecutionResult, Opportunity, split_symbol
from bot.api.backtest import BacktestRun, ReportSection, exact
from bot.api.ledger import EXACT_DIGITS, money, prediction_error

from .records import CAPTURED

ZERO = Decimal(0)

# (category, phrases any of which in a reason puts it there), first match wins: a stale book is
# reported as stale even if the sentence also names the edge it would have had. The phrases are
# those of the arb strategy and its pricer; another strategy's reasons land in "other".
REASON_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("stale input", ("stale", "older than", "not live")),
    ("observe mode", ("observe",)),
    ("paused", ("paused",)),
    ("execution in progress", ("in progress", "in flight", "busy")),
    ("cooldown", ("cooldown", "cool-down")),
    ("already executed", ("already executed",)),
    ("risk veto", ("veto", "risk")),
    ("below min edge", ("<= min", "min_edge", "below")),
    ("inventory", ("wallet has", "account has", "inventory", "balance", "insufficient")),
    ("size caps", ("max_notional", "of the touch", "impact", "cannot fill", "smallest size", "cannot be priced")),
    ("no edge", ("no edge", "has no asks", "has no bids")),
)
TRADABLE_MISSES = frozenset({"stale input", "observe mode", "paused", "cooldown", "risk veto", "inventory"})
"""Miss categories of a trade a perfect executor would have made (when its predicted net PnL is > 0).

Not "execution in progress": while the legs are in flight the strategy sees the very gap it is
trading (the pool has not moved yet), so counting it again would count one opportunity twice.
After the execution ("cooldown") the gap left is a new one, priced on the markets our legs moved."""


def reason_category(reason: str, net_pnl: Decimal | None = None) -> str:
    """The report's category of a miss reason (a strategy's one-sentence explanation).

    A miss for the minimum edge whose predicted net PnL is not positive is "unprofitable after
    costs": the costs, not the threshold, stopped it.
    """
    text = reason.lower()
    if not text.strip():
        return "not acted (no reason given)"
    for category, phrases in REASON_CATEGORIES:
        if any(p in text for p in phrases):
            if category == "below min edge" and net_pnl is not None and net_pnl <= 0:
                return "unprofitable after costs"
            return category
    return "other"


@dataclass
class Episode:
    """Everything the bus said about one opportunity id."""

    opportunity_id: str
    strategy: str
    first_ns: int
    last: Opportunity
    events: int = 1
    acted: bool = False
    best_net_pnl: Decimal | None = None


@dataclass
class BacktestCollector:
    """Opportunities (grouped in episodes) and execution results, in arrival order."""

    episodes: dict[str, Episode] = field(default_factory=dict)
    results: list[ExecutionResult] = field(default_factory=list)
    opportunity_events: int = 0

    @classmethod
    def of_run(cls, run: BacktestRun) -> BacktestCollector:
        collector = cls()
        for opportunity in run.opportunities:
            collector.on_opportunity(opportunity)
        for result in run.executions:
            collector.on_execution(result)
        return collector

    def on_opportunity(self, o: Opportunity) -> None:
        self.opportunity_events += 1
        key = o.opportunity_id or f"{o.strategy}@{o.ts_ns}"
        episode = self.episodes.get(key)
        if episode is None:
            episode = self.episodes[key] = Episode(key, o.strategy, o.ts_ns, o)
        else:
            episode.events += 1
            episode.last = o
        episode.acted = episode.acted or o.acted
        if o.net_pnl is not None and (episode.best_net_pnl is None or o.net_pnl > episode.best_net_pnl):
            episode.best_net_pnl = o.net_pnl

    def on_execution(self, result: ExecutionResult) -> None:
        if result.corrects:  # a late fill changed a finished execution's figure: this one replaces the first
            key = (result.strategy, result.opportunity_id)
            self.results = [r for r in self.results if (r.strategy, r.opportunity_id) != key]
        self.results.append(result)

    def quotes(self) -> list[str]:
        """The quote assets of what it saw (an opportunity's symbol's, an execution result's), sorted."""
        return sorted({_quote_of(e) for e in self.episodes.values()} | {r.quote for r in self.results})

    def in_quote(self, quote: str) -> BacktestCollector:
        """What it saw in ``quote`` alone, in the same order."""
        episodes = {key: e for key, e in self.episodes.items() if _quote_of(e) == quote}
        return BacktestCollector(episodes, [r for r in self.results if r.quote == quote],
                                 sum(e.events for e in episodes.values()))


def _quote_of(episode: Episode) -> str:
    return split_symbol(episode.last.symbol)[1]


@dataclass(frozen=True)
class Marker:
    """One opportunity on the chart: whose, when it was first seen, and whether it was taken."""

    ts_ns: int
    taken: bool
    predicted_pnl: Decimal
    tradable: bool = False
    strategy: str = ""
    quote: str = ""


@dataclass(frozen=True)
class ErrorStats:
    count: int
    mean: Decimal | None
    p50: Decimal | None
    p95: Decimal | None

    def as_json(self) -> dict[str, Any]:
        return {"count": self.count, "mean": _s(self.mean), "p50": _s(self.p50), "p95": _s(self.p95)}


@dataclass(frozen=True)
class BacktestFigures:
    """The report's figures (see the module docstring for the definitions)."""

    quote: str
    seen: int
    taken: int
    missed: int
    missed_by_reason: dict[str, int]
    tradable: int
    tradable_predicted_pnl: Decimal
    captured_pnl: Decimal
    capture_rate: Decimal | None
    executions: int
    predicted_pnl: Decimal
    """Sum of the predictions of the executed opportunities."""
    error_quote: ErrorStats
    error_bps: ErrorStats
    mean_error_quote: Decimal | None
    """Signed mean of realized - predicted (negative: the strategy is optimistic)."""
    pnl_curve: list[tuple[int, Decimal]]
    """(ts_ns, cumulative realized PnL) after each ExecutionResult, in arrival order."""
    markers: list[Marker]
    missed_examples: dict[str, str]
    """One reason sentence per category, as the strategy wrote it."""

    def as_json(self) -> dict[str, Any]:
        return {
            "quote": self.quote,
            "opportunities": {"seen": self.seen, "taken": self.taken, "missed": self.missed,
                              "missed_by_reason": dict(self.missed_by_reason),
                              "missed_examples": dict(self.missed_examples),
                              "tradable": self.tradable, "tradable_predicted_pnl": exact(self.tradable_predicted_pnl)},
            "pnl": {"captured": exact(self.captured_pnl), "predicted_of_executed": exact(self.predicted_pnl),
                    "capture_rate": _s(self.capture_rate)},
            "executions": self.executions,
            "prediction_error": {"abs_quote": self.error_quote.as_json(), "abs_bps": self.error_bps.as_json(),
                                 "mean_signed_quote": _s(self.mean_error_quote)},
            "pnl_curve": [[ts, exact(v)] for ts, v in self.pnl_curve],
        }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else exact(value)


def _stats(values: list[Decimal], places: Decimal) -> ErrorStats:
    """Mean, p50, p95 (nearest rank) of ``values``, rounded to ``places``."""
    if not values:
        return ErrorStats(0, None, None, None)
    ordered = sorted(values)
    n = len(ordered)

    def rank(q: float) -> Decimal:
        return ordered[max(0, math.ceil(q * n) - 1)].quantize(places)

    return ErrorStats(n, (sum(ordered, ZERO) / n).quantize(places), rank(0.50), rank(0.95))


def summarize(collector: BacktestCollector, quote: str = "") -> BacktestFigures:
    """The report's figures from what the collector saw, summed exactly (at the ledger's precision).

    ``quote``: the figures of what was in that quote asset alone. Without it, the collector's one quote;
    ValueError when it saw several (PnL in different assets is never added: :func:`summarize_by_quote`).
    """
    quotes = collector.quotes()
    if len(quotes) > 1:
        if not quote:
            raise ValueError(f"opportunities and executions in {len(quotes)} quote assets ({', '.join(quotes)}): "
                             "their PnL cannot be added; summarize each quote (summarize_by_quote)")
        collector = collector.in_quote(quote)
    with localcontext(prec=EXACT_DIGITS):
        return _summarize(collector, quote)


def summarize_by_quote(collector: BacktestCollector) -> dict[str, BacktestFigures]:
    """Each quote asset's figures (:func:`summarize` of what was in it alone), by quote, sorted."""
    return {quote: summarize(collector, quote) for quote in collector.quotes()}


def _summarize(collector: BacktestCollector, quote: str) -> BacktestFigures:
    results_by_id: dict[str, list[ExecutionResult]] = {}
    for result in collector.results:
        results_by_id.setdefault(result.opportunity_id, []).append(result)
    if not quote:
        quote = collector.results[0].quote if collector.results else next(
            (split_symbol(e.last.symbol)[1] for e in collector.episodes.values()), "")

    missed_by_reason: Counter[str] = Counter()
    examples: dict[str, str] = {}
    markers: list[Marker] = []
    taken = tradable = 0
    tradable_pnl = ZERO
    for episode in collector.episodes.values():
        results = results_by_id.get(episode.opportunity_id, [])
        is_taken = episode.acted or bool(results)
        predicted = (sum((r.predicted_pnl for r in results), ZERO) if results
                     else episode.best_net_pnl if episode.best_net_pnl is not None else ZERO)
        if is_taken:
            markers.append(Marker(episode.first_ns, True, predicted, True, episode.strategy,
                                  split_symbol(episode.last.symbol)[1]))
            taken += 1
            tradable += 1
            tradable_pnl += predicted
            continue
        category = reason_category(episode.last.reason, episode.last.net_pnl)
        missed_by_reason[category] += 1
        examples.setdefault(category, episode.last.reason)
        could = predicted > 0 and category in TRADABLE_MISSES
        markers.append(Marker(episode.first_ns, False, predicted, could, episode.strategy,
                              split_symbol(episode.last.symbol)[1]))
        if could:
            tradable += 1
            tradable_pnl += predicted

    captured = sum((r.realized_pnl for r in collector.results), ZERO)
    predicted_executed = sum((r.predicted_pnl for r in collector.results), ZERO)
    errors_quote: list[Decimal] = []
    errors_bps: list[Decimal] = []
    signed: list[Decimal] = []
    for result in collector.results:
        # like with like: a partial fill against its prediction for what filled, the prediction check's rule
        error = prediction_error(result)
        signed.append(error)
        errors_quote.append(abs(error))
        seen = collector.episodes.get(result.opportunity_id)
        if seen is not None:
            notional = seen.last.buy_price * seen.last.qty
            if result.size is not None and result.filled is not None:  # the buy leg of what filled
                notional = notional * result.filled / result.size
            if notional > 0:
                errors_bps.append(abs(error) / notional * BPS)
    curve: list[tuple[int, Decimal]] = []
    running = ZERO
    for result in collector.results:
        running += result.realized_pnl
        curve.append((result.ts_ns, running))
    cents = Decimal("0.000001")
    return BacktestFigures(
        quote=quote, seen=len(collector.episodes), taken=taken, missed=len(collector.episodes) - taken,
        missed_by_reason=dict(sorted(missed_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
        tradable=tradable, tradable_predicted_pnl=tradable_pnl, captured_pnl=captured,
        capture_rate=(captured / tradable_pnl).quantize(Decimal("0.0001")) if tradable_pnl > 0 else None,
        executions=len(collector.results), predicted_pnl=predicted_executed,
        error_quote=_stats(errors_quote, cents), error_bps=_stats(errors_bps, Decimal("0.01")),
        mean_error_quote=(sum(signed, ZERO) / len(signed)).quantize(cents) if signed else None,
        pnl_curve=curve, markers=sorted(markers, key=lambda m: m.ts_ns),
        missed_examples=examples,
    )


# --- the section --------------------------------------------------------------------------


def report_section(run: BacktestRun) -> ReportSection | None:
    """The report's "Arbitrage" section; None when no strategy published an opportunity or a result.

    One quote asset: its figures (``data`` is :meth:`BacktestFigures.as_json`). Several: each quote's
    figures apart under ``data["quotes"]``, the counts (which add up) at the top, ``data["quote"]`` null
    and ``data["pnl"]`` each quote's captured PnL and capture rate by quote; never a sum across quotes.
    """
    collector = BacktestCollector.of_run(run)
    if not collector.episodes and not collector.results:
        return None
    by_quote = summarize_by_quote(collector)
    if len(by_quote) == 1:
        [f] = by_quote.values()
        summary: tuple[str, ...] = (_opportunities_line(f.seen, f.taken, f.missed, f.missed_by_reason),
                                    _captured_line(f))
        data = {**f.as_json(), "opportunity_events": collector.opportunity_events}
        return ReportSection("arb", "Arbitrage", render_markdown(f, run, collector), data, summary)
    figures = list(by_quote.values())
    missed: Counter[str] = Counter()
    for f in figures:
        missed.update(f.missed_by_reason)
    seen, taken = sum(f.seen for f in figures), sum(f.taken for f in figures)
    reasons = dict(sorted(missed.items(), key=lambda kv: (-kv[1], kv[0])))
    summary = (_opportunities_line(seen, taken, seen - taken, reasons),
               *(_captured_line(f, f" in {f.quote}") for f in figures))
    data = {
        "quote": None,
        "quotes": {q: f.as_json() for q, f in by_quote.items()},
        "opportunities": {"seen": seen, "taken": taken, "missed": seen - taken, "missed_by_reason": reasons,
                          "tradable": sum(f.tradable for f in figures)},
        "executions": sum(f.executions for f in figures),
        "pnl": {"captured": {q: exact(f.captured_pnl) for q, f in by_quote.items()},
                "capture_rate": {q: _s(f.capture_rate) for q, f in by_quote.items()}},
        "opportunity_events": collector.opportunity_events,
    }
    return ReportSection("arb", "Arbitrage", render_markdown_by_quote(by_quote, run, collector), data, summary)


def _opportunities_line(seen: int, taken: int, missed: int, reasons: dict[str, int]) -> str:
    return (f"opportunities: {seen} seen, {taken} taken, {missed} missed"
            + (" (" + ", ".join(f"{k}: {v}" for k, v in reasons.items()) + ")" if reasons else ""))


def _captured_line(f: BacktestFigures, where: str = "") -> str:
    rate = f"{f.capture_rate:.2%}" if f.capture_rate is not None else "n/a"
    return f"captured PnL{where}: {money(f.captured_pnl, f.quote)} over {f.executions} executions; capture rate {rate}"


def render_markdown(f: BacktestFigures, run: BacktestRun, collector: BacktestCollector | None = None) -> str:
    """The section's body for arbitrage in one quote asset (``collector``: what it was summarized from, whose
    strategies' net PnL the ledger's curves give next to the captured PnL)."""
    net = ledger_net(run, collector, f.quote) if collector is not None else None
    return "\n".join([*_opportunities_markdown(f, "###"), *_stale_markdown(run), *_pnl_markdown(f, "###", net),
                      *DEFINITIONS])


def render_markdown_by_quote(by_quote: dict[str, BacktestFigures], run: BacktestRun,
                             collector: BacktestCollector | None = None) -> str:
    """The section's body for arbitrage in several quote assets: each quote apart, under its own heading."""
    lines = [f"Arbitrage in {len(by_quote)} quote assets ({', '.join(by_quote)}): each is reported on its own; "
             "PnL in different assets is never added.", "", *_stale_markdown(run)]
    for quote, f in by_quote.items():
        net = ledger_net(run, collector, quote) if collector is not None else None
        lines += [f"### In {quote}", "", *_opportunities_markdown(f, "####"), *_pnl_markdown(f, "####", net)]
    return "\n".join([*lines, *DEFINITIONS])


def ledger_net(run: BacktestRun, collector: BacktestCollector, quote: str) -> Decimal | None:
    """The ledger's net realized PnL in ``quote`` at the end of the run (the host's table: the last point of each
    curve) of the strategies whose opportunities or executions the collector saw in it; None when none of them has
    a curve in it (it traded nothing there, or the run carries no curves)."""
    names = {e.strategy for e in collector.episodes.values() if _quote_of(e) == quote}
    names |= {r.strategy for r in collector.results if r.quote == quote}
    curves = [curve for name in sorted(names) if (curve := run.pnl_curves.get(name, {}).get(quote))]
    if not curves:
        return None
    with localcontext(prec=EXACT_DIGITS):
        return sum((curve[-1][1] for curve in curves), ZERO)


def _opportunities_markdown(f: BacktestFigures, heading: str) -> list[str]:
    lines = [
        f"{heading} Opportunities",
        "",
        "| seen | taken | missed | tradable |",
        "| ---: | ---: | ---: | ---: |",
        f"| {f.seen} | {f.taken} | {f.missed} | {f.tradable} |",
        "",
    ]
    if f.missed_by_reason:
        lines += ["Missed, by reason:", "", "| reason | count | example |", "| --- | ---: | --- |"]
        for reason, count in f.missed_by_reason.items():
            example = f.missed_examples.get(reason, "").replace("|", "/")
            lines.append(f"| {reason} | {count} | {example} |")
        lines.append("")
    return lines


def _stale_markdown(run: BacktestRun) -> list[str]:
    from .strategy import STALE_INPUTS_FACT

    stale = {name: status[STALE_INPUTS_FACT] for name, status in run.status.items() if STALE_INPUTS_FACT in status}
    if not stale:  # a decision skipped for a stale book or pool publishes no opportunity: the strategy counts them
        return []
    return ["Decisions skipped for stale input (never an opportunity): "
            + ", ".join(f"{name} {n}" for name, n in stale.items()) + ".", ""]


def _pnl_markdown(f: BacktestFigures, heading: str, net: Decimal | None = None) -> list[str]:
    q = f.quote

    def stats_row(name: str, s: ErrorStats, unit: str) -> str:
        if not s.count:
            return f"| {name} | - | - | - |"
        if unit == q:  # money, as `arbot report`'s arbitrage table and a sweep's table show the same figure
            return f"| {name} | " + " | ".join("-" if v is None else money(v, q) for v in (s.mean, s.p50, s.p95)) + " |"
        return f"| {name} | {s.mean} {unit} | {s.p50} {unit} | {s.p95} {unit} |"

    rate = f"{(f.capture_rate * 100).quantize(Decimal('0.01'))} %" if f.capture_rate is not None else "n/a"
    return [
        f"{heading} Captured PnL",
        "",
        f"- captured (the executions' own PnL, their residuals at the mid: not the ledger's net): "
        f"**{money(f.captured_pnl, q)}** over {f.executions} executions",
        *([] if net is None else [
            f"- the ledger's net PnL of these strategies (the table above): {money(net, q)}; captured - net: "
            f"{exact(f.captured_pnl - net)} {q}"]),
        f"- predicted for those executions: {money(f.predicted_pnl, q)}",
        f"- predicted for every tradable opportunity: {money(f.tradable_predicted_pnl, q)}",
        f"- capture rate: **{rate}**",
        "",
        f"{heading} Predicted vs realized (per execution, absolute)",
        "",
        "| | mean | p50 | p95 |",
        "| --- | ---: | ---: | ---: |",
        stats_row("quote", f.error_quote, q),
        stats_row("bps of the buy leg", f.error_bps, "bps"),
        "",
        "Signed mean (realized - predicted): "
        + (money(f.mean_error_quote, q) if f.mean_error_quote is not None else f"n/a {q}") + ".",
        "",
    ]


DEFINITIONS = (
    "An opportunity is one opportunity id; taken when acted on (or executed), missed otherwise, with the",
    "reason of its latest event. Tradable: taken, or missed with a positive predicted net PnL for a reason",
    "of execution rather than of the edge (" + ", ".join(sorted(TRADABLE_MISSES)) + ").",
    *textwrap.wrap(CAPTURED, 110, break_on_hyphens=False),
    "Capture rate = captured PnL / the predicted net PnL of the tradable opportunities.",
    "Prediction error = realized - predicted PnL of each execution, a partial fill's prediction scaled to what",
    "filled (predicted x filled / size), in bps of the buy leg of what filled.",
)
