"""The steppable-venue contract: any strategy on any venue that keeps it; everything else refused by name.

The host never reads a venue's settings: each venue class converts its own (``prepare_for_backtest``).
So a paper setting renamed without its conversion fails the backtest loudly, naming the venue, instead
of silently running a venue that steps itself on wall time or writes its state file.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import pytest

from bot import hookimpl
from bot.api import Context
from bot.backtest.contract import BacktestPlan, ReportSection, Steppable
from bot.backtest.driver import BacktestError, run_backtest
from bot.settings import ConfigError
from plugins.paper.exchange import PaperExchange
from plugins.paper.settings import PaperSettings
from tests.backtest.backtest_kit import arb_plugins, png_chunks, write_config, write_kraken_recording

GRID = """
mode = "paper"
[plugins]
disabled = ["arb"]

[exchanges.paper]
symbols = ["BTC/USD"]
start_price = "30000"
volatility_bps = "4"
tick_interval_ms = 100
state_file = "must-not-be-written.db"

[strategies.btc-grid]
type = "grid"
exchange = "paper"
symbol = "BTC/USD"
lower = "28500"
upper = "31500"
levels = 21
order_size = "0.01"
out_of_range = "shift"
"""


def extra_exchange(type_name: str, cls: type) -> tuple[str, object]:
    class plugin:
        @staticmethod
        @hookimpl
        def register_exchanges(register):
            register(type_name, cls)

    return (f"test-{type_name}", plugin)


def grid_config(tmp_path: Path, venue_type: str = "paper") -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(GRID.replace("[exchanges.paper]\n", f'[exchanges.paper]\ntype = "{venue_type}"\n'))
    return path


def bare_venue_config(tmp_path: Path, venue_type: str) -> Path:
    """The grid on an exchange table holding its type alone (a venue without settings)."""
    text = GRID
    table = text[text.index("[exchanges.paper]"):text.index("[strategies.btc-grid]")]
    path = tmp_path / "bare.toml"
    path.write_text(text.replace(table, f'[exchanges.paper]\ntype = "{venue_type}"\n\n'))
    return path


def test_the_grid_alone_runs_through_the_host_driver_with_the_arb_plugin_disabled(tmp_path):
    result = run_backtest(grid_config(tmp_path), tmp_path / "out", 3000)
    report = json.loads(result.report_json.read_text())
    grid = report["strategies"]["btc-grid"]
    assert report["scenario"]["input"] == "paper: synthetic paper seed 42"
    assert Decimal(report["scenario"]["simulated_s"]) == Decimal("299.9")  # tick_interval_ms = 100, as configured
    assert grid["fills"] == report["fills"]["count"] > 0 and Decimal(grid["fees"]["USD"]) > 0
    assert report["sections"] == {}  # arb disabled: no plugin section, the host's report stands alone
    curve = report["pnl_curves"]["btc-grid"]["USD"]  # the chart's curve ends on the table's net PnL
    assert curve and Decimal(curve[-1][1]) == Decimal(grid["net"]["USD"])
    assert "| btc-grid | grid |" in result.report_md.read_text()
    assert png_chunks((tmp_path / "out" / "pnl.png").read_bytes())[0][0] == b"IHDR"
    assert not list(tmp_path.rglob("must-not-be-written.db"))  # the venue's state stayed in memory


def _renamed_paper_settings() -> type:
    """PaperSettings with ``tick_interval_ms`` renamed ``tick_ms``, as a refactoring would leave it."""
    fields = []
    for f in dataclasses.fields(PaperSettings):
        default = {"default": f.default} if f.default is not dataclasses.MISSING else \
            {"default_factory": f.default_factory}
        name = "tick_ms" if f.name == "tick_interval_ms" else f.name
        fields.append((name, PaperSettings.__annotations__[f.name], dataclasses.field(**default, metadata=f.metadata)))
    methods = {name: getattr(PaperSettings, name) for name in
               ("validate", "_validate_source", "recording_path", "source_symbols", "start_price_of")}
    renamed = dataclasses.make_dataclass("PaperSettings", fields, namespace=methods, frozen=True)
    renamed.__module__ = PaperSettings.__module__  # its annotations resolve where the original's do
    return renamed


def test_a_renamed_paper_setting_fails_the_backtest_loudly_naming_the_venue(tmp_path):
    class RenamedPaper(PaperExchange):
        Settings = _renamed_paper_settings()

    config = grid_config(tmp_path, "renamed-paper")
    config.write_text(config.read_text().replace("tick_interval_ms = 100", "tick_ms = 100"))
    with pytest.raises(BacktestError) as info:
        run_backtest(config, tmp_path / "out", 10,
                     extra_plugins=[extra_exchange("renamed-paper", RenamedPaper)])
    message = str(info.value)
    assert 'exchange "paper" (type "renamed-paper"' in message
    assert "prepare_for_backtest failed" in message and "tick_interval_ms" in message
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_conversion_that_returns_the_wrong_settings_is_refused(tmp_path):
    class Careless(PaperExchange):
        @classmethod
        def prepare_for_backtest(cls, settings):
            return BacktestPlan(dataclasses.asdict(settings), "synthetic", pace_ns=100_000_000)

    class Negative(PaperExchange):
        @classmethod
        def prepare_for_backtest(cls, settings):
            return BacktestPlan(dataclasses.replace(settings, tick_interval_ms=0), "synthetic", pace_ns=0)

    class Invalid(PaperExchange):
        @classmethod
        def prepare_for_backtest(cls, settings):
            return BacktestPlan(dataclasses.replace(settings, min_qty=Decimal("0.000015")), "synthetic",
                                pace_ns=100_000_000)

    for cls, expected in ((Careless, "settings of type dict, not PaperSettings"),
                          (Negative, "pace_ns 0"),
                          (Invalid, "its backtest settings are invalid: min_qty")):
        with pytest.raises(BacktestError, match=expected) as info:
            run_backtest(grid_config(tmp_path, "odd-paper"), tmp_path / "out", 10,
                         extra_plugins=[extra_exchange("odd-paper", cls)])
        assert 'exchange "paper" (type "odd-paper"' in str(info.value)


def test_a_simulated_venue_without_the_contract_is_refused_naming_it(tmp_path):
    from tests.fakes.venue import ScriptedVenue

    with pytest.raises(ConfigError) as info:
        run_backtest(bare_venue_config(tmp_path, "scripted"), tmp_path / "out", 10,
                     extra_plugins=[extra_exchange("scripted", ScriptedVenue)])
    assert 'exchanges.paper.type: exchange type "scripted"' in str(info.value)
    assert "does not implement the steppable-venue contract" in str(info.value)


def test_a_venue_keeping_half_the_contract_is_refused_before_it_runs(tmp_path):
    from tests.fakes.venue import ScriptedVenue

    class HalfSteppable(ScriptedVenue, Steppable):
        def step(self) -> bool:
            return True

    with pytest.raises(ConfigError) as info:  # as check-config and arbot run refuse it: the class is abstract
        run_backtest(bare_venue_config(tmp_path, "half"), tmp_path / "out", 10,
                     extra_plugins=[extra_exchange("half", HalfSteppable)])
    assert ('exchanges.paper: plugin "test-half": exchange "half" could not be loaded: HalfSteppable does not '
            "implement prepare_for_backtest") in str(info.value)
    assert not (tmp_path / "out" / "backtest.db").exists()


def test_a_real_venue_is_refused_with_its_key_and_the_way_to_replay_it(tmp_path):
    bad = tmp_path / "real.toml"
    bad.write_text(GRID + '\n[exchanges.coinbase]\nsymbols = ["BTC/USD"]\n')
    with pytest.raises(ConfigError) as info:
        run_backtest(bad, tmp_path / "out", 10)
    text = str(info.value)
    assert 'exchanges.coinbase.type: "coinbase" is a real venue' in text
    assert 'recording_exchange = "coinbase"' in text


def _recorded_config(tmp_path: Path, disabled: str) -> Path:
    write_kraken_recording(tmp_path / "sol.jsonl", 50)
    text = write_config(tmp_path).read_text()
    cex = text[text.index("[exchanges.sol-cex]"):text.index("[exchanges.sol-pool]")]
    text = text.replace(cex, '''[exchanges.sol-cex]
type = "paper"
symbols = ["SOL/USDC"]
market = "recording"
recording = "sol.jsonl"
recording_exchange = "kraken"
tick_size = "0.01"
lot_size = "0.00000001"
min_qty = "0.01"
initial_balances = { SOL = "100", USDC = "15000" }

''')
    path = tmp_path / "recorded.toml"
    path.write_text(text + f"\n[plugins]\ndisabled = [{disabled}]\n")
    return path


def test_the_recorder_of_a_recording_comes_from_the_bots_own_plugins(tmp_path, monkeypatch):
    """[plugins] disabled = ["kraken"]: the recording venue does not find the kraken recorder behind the
    config's back; with kraken enabled the same recording plays."""
    monkeypatch.chdir(tmp_path)  # recording paths are relative to the working directory
    with pytest.raises(ConfigError) as info:  # before anything runs, naming the key
        run_backtest(_recorded_config(tmp_path, '"kraken"'), tmp_path / "off", None, extra_plugins=arb_plugins())
    assert 'exchanges.sol-cex.recording_exchange: exchange type "kraken" cannot record' in str(info.value)

    result = run_backtest(_recorded_config(tmp_path, ""), tmp_path / "on", None, extra_plugins=arb_plugins())
    assert "sol-cex: recording sol.jsonl (kraken)" in json.loads(result.report_json.read_text())["scenario"]["input"]


def test_context_recorder_reads_the_bots_registry(tmp_path):
    from bot.app import Bot
    from bot.config import build_config, parse_toml
    from bot.plugins import collect, load_plugins

    def bot_with(disabled: list[str]) -> Bot:
        plugins = load_plugins(disabled=disabled)
        registry = collect(plugins)
        config = build_config(parse_toml(f'[bot]\ndata_dir = "{tmp_path}"\ncontrol_socket = ""\n', "t"), registry,
                              "t")
        return Bot(config, plugins, registry)

    from plugins.kraken.exchange import KrakenExchange

    assert Context(bot_with([]), "exchange", "x").recorder("kraken") is KrakenExchange.recorder
    with pytest.raises(ValueError, match=r'"kraken" cannot record; these can: coinbase, orca$'):
        Context(bot_with(["kraken"]), "exchange", "x").recorder("kraken")


def test_every_paper_venue_type_keeps_the_contract():
    """The first-party simulated venues are steppable, and their conversion accepts their defaults."""
    from plugins.paper.dex import PaperDexExchange
    from plugins.paper.dex_settings import PaperDexSettings

    for cls, settings in ((PaperExchange, PaperSettings()), (PaperDexExchange, PaperDexSettings())):
        assert issubclass(cls, Steppable) and not getattr(cls, "__abstractmethods__", None)
        plan = cls.prepare_for_backtest(settings)
        assert plan.settings.state_file == "" and plan.settings.tick_interval_ms == 0
        assert plan.pace_ns == settings.tick_interval_ms * 1_000_000 and not plan.recorded

    recorded = dataclasses.replace(PaperSettings(), market="recording", recording="sol.jsonl",
                                   recording_exchange="kraken")
    plan = PaperExchange.prepare_for_backtest(recorded)
    assert plan.recorded and plan.settings.playback_speed == 0  # no playback task: the backtest plays it
    assert plan.input == "recording sol.jsonl (kraken)"
    mirror = PaperExchange.prepare_for_backtest(dataclasses.replace(PaperSettings(), market="mirror", source="x"))
    assert mirror.pace_ns is None and not mirror.recorded  # moves with its source
    assert PaperExchange.prepare_for_backtest(dataclasses.replace(PaperSettings(), tick_interval_ms=0)).pace_ns == \
        100_000_000  # stepped only by hand in the config: the backtest steps it every 100 ms


def _documented_report_plugin(tmp_path: Path) -> object:
    """The backtest report plugin of docs/plugins.md, as written there, imported as a module."""
    import importlib.util
    import re

    docs = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text(encoding="utf-8")
    [code] = re.findall(r"```python\n(# my_plugin/backtest\.py.*?)```", docs, re.S)
    path = tmp_path / "documented_backtest_plugin.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("documented_backtest_plugin", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_report_plugin_adds_its_section(tmp_path):
    result = run_backtest(grid_config(tmp_path), tmp_path / "out", 600,
                          extra_plugins=[("fill-counts", _documented_report_plugin(tmp_path))])
    report = json.loads(result.report_json.read_text())
    fills = report["strategies"]["btc-grid"]["fills"]
    assert fills > 0 and report["sections"] == {"fill-counts": {"btc-grid": fills}}
    assert f"## Fills per strategy\n\n- btc-grid: {fills} fills" in result.report_md.read_text()
    assert [s.summary for s in result.sections] == [(f"fills per strategy: {{'btc-grid': {fills}}}",)]


def test_a_plugin_adds_its_section_and_draws_on_the_chart(tmp_path):
    """The docs' backtest report plugin, for the grid: its section in both files and on the terminal, its
    layer on the chart, and the host leaves out the curve of the strategy the plugin says it drew."""
    seen: dict[str, object] = {}

    class plugin:
        @staticmethod
        @hookimpl
        def backtest_report_sections(run):
            mine = [name for name, type_ in run.strategies.items() if type_ == "grid"]
            fills = sum(1 for strategy, _ in run.fills if strategy in mine)
            seen["run"] = run
            return [ReportSection(key="grid-extra", title="Grid extra", markdown=f"{fills} grid fills.",
                                  data={"fills": fills}, summary=(f"grid extra: {fills} fills",))]

        @staticmethod
        @hookimpl
        def backtest_chart(axes, run):
            axes.axvline(run.seconds(run.end_ns), color="grey", label="end of the run")
            seen["axes"] = axes
            return ["btc-grid"]

    result = run_backtest(grid_config(tmp_path), tmp_path / "out", 600, extra_plugins=[("grid-extra", plugin)])
    report = json.loads(result.report_json.read_text())
    fills = report["strategies"]["btc-grid"]["fills"]
    assert fills > 0 and report["sections"] == {"grid-extra": {"fills": fills}}
    assert f"## Grid extra\n\n{fills} grid fills." in result.report_md.read_text()
    assert [s.summary for s in result.sections] == [(f"grid extra: {fills} fills",)]
    run = seen["run"]
    assert run.strategies == {"btc-grid": "grid"} and len(run.fills) == fills and run.end_ns > run.start_ns
    labels = [line.get_label() for line in seen["axes"].get_lines()]
    assert "end of the run" in labels and not any(label.startswith("btc-grid") for label in labels)


def test_a_backtest_starts_no_service_and_no_notifier(tmp_path):
    from bot.backtest.driver import backtest_config
    from bot.plugins import collect, load_plugins

    assert collect(load_plugins(report=lambda info, message: None)).services  # the installed plugins have some
    _, registry, config, _ = backtest_config(None, tmp_path, tmp_path / "backtest.db")
    assert registry.services == {} and config.of_kind("notifier") == {}


class _Backwards:
    """A recorded venue breaking the contract: its events are due at 0 s, 10 s, then 5 s."""

    def __init__(self) -> None:
        self.due = [0, 10 * 10**9, 5 * 10**9, 20 * 10**9]
        self.played = 0

    def recording_start_ns(self) -> int:
        return 1_700_000_000 * 10**9

    def next_event_ns(self) -> int | None:
        return self.due[self.played] if self.played < len(self.due) else None

    def step(self) -> bool:
        self.played += 1
        return True


def test_a_recorded_venue_whose_next_event_goes_back_stops_the_backtest_naming_it():
    """Played at the current time, the events after a step back would squash that much market into one
    instant unseen (the host's own recordings count such steps and take them as no time passing)."""
    from bot.backtest.clock import BacktestClock, run_simulated
    from bot.backtest.driver import Progress, Venue, drive

    venue = _Backwards()
    clock = BacktestClock()
    plan = BacktestPlan({}, "recorded: tape.jsonl", recorded=True)
    with pytest.raises(BacktestError) as info:
        run_simulated(drive([Venue("tape", venue, plan)], clock, None, Progress(4, enabled=False)), clock)
    assert str(info.value) == ('exchange "tape" (recorded: tape.jsonl): its next event is due 5.0 s before the '
                               "one it just played (Steppable.next_event_ns must not go back)")
    assert venue.played == 2
