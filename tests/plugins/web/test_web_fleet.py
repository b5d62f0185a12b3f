"""The console's fleet API over real HTTP: members, and actions through the command layer on other bots."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from plugins.web import running_server
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.fleet_kit import start_fleet, stop_fleet
from tests.helpers.risk_kit import plugin as kit_plugin

TOKENS = {"ada": ("admin", "ada-admin-token-for-fleet-tests"), "bea": ("admin", "bea-admin-token-for-fleet-tests"),
          "otto": ("operator", "otto-operator-token-for-fleet"),
          "val": ("viewer", "val-viewer-token-for-fleet-tests")}
WEB = "[plugins.web]\nenabled = true\nport = 0\nusers = { " + ", ".join(
    f'{n} = {{ role = "{r}", token = "env:ARBOT_WEB_FLEET_{n.upper()}" }}' for n, (r, _) in TOKENS.items()) + " }\n"
TRADER = """
[exchanges.v]
type = "scripted"
[strategies.s]
type = "recorder"
"""


@pytest.fixture
async def api(tmp_path, monkeypatch):
    for name, (_, token) in TOKENS.items():
        monkeypatch.setenv(f"ARBOT_WEB_FLEET_{name.upper()}", token)
    fleet = await start_fleet(tmp_path, {"front": WEB, "grid": TRADER, "arb": TRADER},
                              extra=[("venue", venue_plugin), ("kit", kit_plugin)],
                              roles={n: r for n, (r, _) in TOKENS.items()}, timeout_s=1.0)
    server = running_server(fleet.bots["front"].operator)
    base = f"http://127.0.0.1:{server.port}/api/v1"
    async with aiohttp.ClientSession() as http:

        async def call(method: str, path: str, user: str, body: dict | None = None) -> tuple[int, dict]:
            headers = {"Authorization": f"Bearer {TOKENS[user][1]}"}
            async with http.request(method, base + path, headers=headers, json=body) as response:
                return response.status, await response.json()

        yield fleet, call
    await stop_fleet(fleet)


async def test_members_with_their_status(api):
    fleet, call = api
    status, answer = await call("GET", "/fleet", "val")
    assert status == 200 and answer["bot"] == "front" and answer["linked"] is True
    members = {m["name"]: m for m in answer["members"]}
    assert list(members) == ["arb", "front", "grid"] and members["front"]["self"]
    assert members["grid"]["alive"] and members["grid"]["status"]["strategies"]["s"]["state"] == "running"
    fleet.gone.add("arb")
    _, answer = await call("GET", "/fleet", "val")
    assert [m["alive"] for m in answer["members"]] == [False, True, True]


async def test_actions_go_through_the_command_layer(api):
    fleet, call = api
    grid, arb = fleet.bots["grid"], fleet.bots["arb"]
    assert (await call("POST", "/fleet/nope/strategies/s/pause", "otto", {}))[0] == 404
    assert (await call("POST", "/fleet/grid/strategies/s/pause", "val", {}))[0] == 403
    status, answer = await call("POST", "/fleet/grid/strategies/s/pause", "otto", {})
    assert status == 200 and answer["ok"] and answer["bots"]["grid"]["answer"] == "ok"
    assert grid.strategies["s"].paused and not arb.strategies["s"].paused
    audit = grid.store.audit_log()[0]
    assert (audit.transport, audit.user_id, audit.command, audit.args) == ("web@front", "otto", "pause", "s")
    # kill on one bot: two steps, and only the user who asked may confirm
    assert (await call("POST", "/fleet/kill", "otto", {"bot": "grid"}))[0] == 403
    status, asked = await call("POST", "/fleet/kill", "ada", {"bot": "grid", "reason": "drill: venue down"})
    assert status == 202 and asked["question"] == "/kill on 1 bot (grid)?" and not grid.killed("s")
    # another admin may not confirm ada's question
    status, refused = await call("POST", "/fleet/kill", "bea", {"bot": "grid", "confirm_token": asked["confirm_token"]})
    assert status == 409 and "Only the user who sent the command" in refused["error"]
    status, answer = await call("POST", "/fleet/kill", "ada", {"bot": "grid", "confirm_token": asked["confirm_token"]})
    assert status == 200 and answer["title"] == "/kill on 1 bot: 1 ok"
    assert grid.killed("s") and not arb.killed("s")
    assert grid.store.audit_log()[0].args == "drill venue down"
    # this bot alone: its own confirmation and answer
    status, asked = await call("POST", "/fleet/kill", "ada", {"bot": "front"})
    assert status == 202, asked
    assert asked["question"].startswith("Kill switch: pause 0 strategies and cancel 0 resting orders?"), asked
    confirm = {"bot": "front", "confirm_token": asked["confirm_token"]}
    status, answer = await call("POST", "/fleet/kill", "ada", confirm)
    assert status == 200 and list(answer["bots"]) == ["front"] and answer["bots"]["front"]["answer"] == "ok"
    assert "Kill switch" in answer["bots"]["front"]["text"]
    assert (await call("POST", "/fleet/kill", "ada", confirm))[0] == 409  # once


async def test_a_kill_reason_saying_all_kills_only_the_bot_named(api):
    """``bot`` names the target; the reason is free text. "all" in it must not turn a kill of one bot into a kill of
    every bot (the command layer reads a lone "all" argument as the fleet target)."""
    fleet, call = api
    grid, arb = fleet.bots["grid"], fleet.bots["arb"]
    status, asked = await call("POST", "/fleet/kill", "ada", {"bot": "grid", "reason": "pull ALL quotes"})
    assert status == 202 and asked["question"] == "/kill on 1 bot (grid)?", asked
    status, answer = await call("POST", "/fleet/kill", "ada", {"bot": "grid", "confirm_token": asked["confirm_token"]})
    assert status == 200 and answer["title"] == "/kill on 1 bot: 1 ok", answer
    assert grid.killed("s") and not arb.killed("s") and not fleet.bots["front"].killed("s")
    assert grid.store.audit_log()[0].args == "pull ALL quotes"
    status, refused = await call("POST", "/fleet/kill", "ada", {"bot": "arb", "reason": " All "})
    assert status == 400 and "every bot" in refused["error"] and not arb.killed("s")


NOT_NAMES = ["<img src=x onerror=alert(1)>", "a\"b'c", "x\n== arb: ok\nPaused s.", "a\x1b[31mred", "a\u202eb", "\x00",
             "s s", "grid:s", "x" * 65]
"""Strategy names no strategy can have (the host's component-name rule): markup, quotes, a line break that would
forge another bot's answer, a terminal escape, a right-to-left override, NUL, a space, a target, too long."""


def control_characters(text: str) -> list[str]:
    return [ch for ch in text if not ch.isprintable()]


async def test_a_fleet_pause_of_a_name_no_strategy_can_have_is_refused_at_the_console_and_quoted_escaped(api):
    """Before, the name went to the other bot's command layer, and came back raw in the answer ("No strategy named
    x\\n== arb: ok\\nPaused s.", a terminal escape, NUL) and in both bots' audit lines. Now the console refuses it
    (400) before any bot is asked, quoting it escaped, and its audit line has no control character either."""
    fleet, call = api
    grid, front = fleet.bots["grid"], fleet.bots["front"]
    audited_before = len(grid.store.audit_log())
    for name in NOT_NAMES:
        for verb in ("pause", "resume"):
            status, answer = await call("POST", f"/fleet/grid/strategies/{quote(name, safe='')}/{verb}", "otto", {})
            assert status == 400, (name, status, answer)
            error = answer["error"]
            assert error.startswith(repr(name[:64])) and "is not a strategy name" in error, error
            assert not control_characters(error), error
    assert len(grid.store.audit_log()) == audited_before  # no bot was asked
    await running_server(front.operator)._flush_audit()
    lines = [f"{e.command} {e.args} {e.outcome}" for e in front.operator.audit_log(100) if e.transport == "web"]
    assert len(lines) == 2 * len(NOT_NAMES) and all("refused: 400" in line for line in lines), lines
    assert not [line for line in lines if control_characters(line)], lines


async def test_a_fleet_pause_of_an_unknown_strategy_is_refused_by_its_bot_naming_the_ones_it_has(api):
    fleet, call = api
    status, answer = await call("POST", "/fleet/grid/strategies/nope/pause", "otto", {})
    assert status == 200 and not answer["ok"], answer
    assert answer["bots"] == {"grid": {"answer": "refused", "text": "No strategy named nope. Strategies: s."}}


def test_the_console_puts_what_the_server_sends_in_as_text_never_as_markup():
    """The console's answer to a name (a toast, a dialog, a table cell) is text: no script of it parses markup."""
    static = Path(__file__).resolve().parents[3] / "plugins" / "web" / "static"
    scripts = sorted(static.rglob("*.js"))
    assert len(scripts) > 5
    markup = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment")
    comments = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)  # (dom.js says it builds nodes "without innerHTML")
    found = [f"{path.relative_to(static)}: {match.group()}" for path in scripts
             for match in markup.finditer(comments.sub("", path.read_text(encoding="utf-8")))]
    assert not found, found


def test_the_consoles_strategy_name_rule_is_the_hosts():
    from bot.conflicts import NAME_PATTERN
    from plugins.web.api import STRATEGY_NAME

    assert STRATEGY_NAME.pattern == NAME_PATTERN.pattern
