"""The console's REST API over real HTTP on 127.0.0.1 against the running demo: roles, verbs, CSV, PnL, input."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import io
import json
import subprocess
from decimal import Decimal

import aiohttp
import pytest

from bot import hookimpl
from bot.api import ROLE_RANK, Caller, Secret
from bot.api.ledger import moneys
from bot.api.testing import wait_for
from bot.ledger import Ledger, totals
from plugins.web import running_server
from tests.helpers.processes import arbot

from .conftest import TOKENS, wait_for_fills

pytestmark = pytest.mark.asyncio(loop_scope="module")

USERS_BY_ROLE = {role: next(u for u, (r, _) in TOKENS.items() if r == role) for role in ROLE_RANK}


def routes(console):
    return running_server(console.bot.operator).routes


async def test_every_read_endpoint_answers_each_role_by_rank_and_refuses_no_token(console):
    data_dir = console.bot.data_dir
    report = data_dir / "bt-1"
    report.mkdir(exist_ok=True)
    (report / "report.json").write_text(json.dumps({"summary": {"net": "1.5"}}))
    (report / "report.md").write_text("# backtest\n")
    (report / "pnl.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    gets = [r for r in routes(console) if r.method == "GET" and not r.path.endswith("/events")]
    assert len(gets) >= 17
    for route in gets:
        path = route.path.replace("{name}", "bt-1")
        async with await console.get(path) as response:
            assert response.status == 401, path
            assert response.headers["WWW-Authenticate"] == "Bearer"
        async with await console.get(path, headers={"Authorization": "Bearer not-a-token"}) as response:
            assert response.status == 401, path
        for role, user in USERS_BY_ROLE.items():
            async with await console.get(path, user) as response:
                allowed = ROLE_RANK[role] >= ROLE_RANK[route.role]
                assert response.status == (200 if allowed else 403), (path, role, await response.text())
                if allowed and route.content == "application/json":
                    assert isinstance(await response.json(), dict)
                elif not allowed:
                    assert f"needs the {route.role} role" in (await response.json())["error"]
    async with await console.get("/api/v1/backtests/bt-1/chart", "vera") as response:
        assert response.content_type == "image/png" and (await response.read()).startswith(b"\x89PNG")
    for bad in ("..", "nope", "bt-1%2F..%2F.."):
        async with await console.get(f"/api/v1/backtests/{bad}", "vera") as response:
            assert response.status == 404, bad


async def test_status_and_views_show_the_demo(console):
    status = await console.json("/api/v1/status", "vera")
    assert status["mode"] == "paper" and status["user"] == {"name": "vera", "role": "viewer"}
    assert {s["name"] for s in status["strategies"]} == {"btc-grid", "sol-arb"}
    await wait_for_fills(console, "sol-arb")
    feeds = (await console.json("/api/v1/feeds", "vera"))["items"]
    assert {(f["exchange"], f["symbol"]) for f in feeds} >= {("paper", "BTC/USD"), ("sol-cex", "SOL/USDC")}
    assert all(f["state"] == "live" and f["age_ms"] is not None for f in feeds)
    balances = (await console.json("/api/v1/balances", "vera"))["balances"]
    assert set(balances) == {"paper", "sol-cex", "sol-pool"} and "USDC" in balances["sol-cex"]
    opportunities = (await console.json("/api/v1/opportunities?limit=5&strategy=sol-arb", "vera"))["items"]
    assert opportunities and all(o["strategy"] == "sol-arb" for o in opportunities)
    costs = opportunities[0]["costs"]
    assert costs and {"name", "amount"} <= set(costs[0])
    assert Decimal(opportunities[0]["net_pnl"]) and Decimal(opportunities[0]["edge_bps"])
    await wait_for(lambda: console.bot.operator.executions(), timeout_s=120, what="an arbitrage execution")
    executions = (await console.json("/api/v1/arb/executions?strategy=sol-arb", "vera"))["items"]
    leg = executions[0]["legs"][0]
    assert {"role", "exchange", "submitted_ns", "final_ns", "latency_ms"} <= set(leg)
    assert "predicted_pnl" in executions[0] and "realized_pnl" in executions[0]
    plugins = {p["name"] for p in (await console.json("/api/v1/plugins", "vera"))["items"]}
    assert {"web", "arb", "paper"} <= plugins
    risk = await console.json("/api/v1/risk", "vera")
    assert [c["name"] for c in risk["checks"]] == ["limits"] and risk["killed"] == []


async def test_an_error_quoting_a_known_secret_is_served_masked(console, monkeypatch):
    """Every JSON body is served through the secret redactor, as log lines and alerts are: here a venue's balance
    error quoting its request with the key (GET /api/v1/balances serves each venue's error text)."""
    key = "sk-live-web-0123456789"
    monkeypatch.setenv("ARBOT_WEB_TEST_VENUE_KEY", key)
    Secret("env:ARBOT_WEB_TEST_VENUE_KEY").resolve()  # known to the redactor, as every env:/file: setting is

    async def failing():
        raise RuntimeError(f"403 Forbidden for https://venue.example/balance?apikey={key}")

    monkeypatch.setattr(console.bot.operator.exchanges["paper"], "balances", failing)
    async with await console.get("/api/v1/balances", "vera") as response:
        body = await response.text()
    assert key not in body and "venue.example/balance?apikey=***" in body, body
    frame = running_server(console.bot.operator).events.frame(1, "orders", f'{{"reason": "{key}"}}')  # live events
    assert key not in frame and '"reason": "***"' in frame


@pytest.mark.parametrize("key", ['pa"ss-0123456789', "pa\\ss-0123456789", "pässwörd-0123456789"])
async def test_a_known_secret_that_json_escapes_is_served_masked(console, monkeypatch, key):
    """A secret with a character JSON writes escaped (a quote, a backslash, a letter beyond ASCII) is masked in a
    JSON body and a live event too: the body is masked as text, after encoding, where it reads ``pa\\"ss``."""
    monkeypatch.setenv("ARBOT_WEB_TEST_ODD_KEY", key)
    Secret("env:ARBOT_WEB_TEST_ODD_KEY").resolve()  # known to the redactor, as every env:/file: setting is

    async def failing():
        raise RuntimeError(f"403 Forbidden: password {key} refused")

    monkeypatch.setattr(console.bot.operator.exchanges["paper"], "balances", failing)
    async with await console.get("/api/v1/balances", "vera") as response:
        body = await response.text()
    served = json.dumps(json.loads(body), ensure_ascii=False)  # what a client reads, decoded
    assert key not in served and "password *** refused" in served, body
    frame = running_server(console.bot.operator).events.frame(1, "orders", json.dumps({"reason": key}))
    assert key not in json.dumps(json.loads(frame.split("data: ", 1)[1]), ensure_ascii=False), frame


@pytest.mark.parametrize("key", ['pa"ss-0123456789', "pa\\ss-0123456789", "pässwörd-0123456789"])
async def test_a_csv_export_masks_a_known_secret_that_csv_escapes(console, monkeypatch, key):
    """A stored order's reason (written before the store masked it) quoting a secret with a quote in it: CSV writes
    the quote doubled (``pa""ss``), so the export is masked cell by cell before it is encoded, never as its text."""
    monkeypatch.setenv("ARBOT_WEB_TEST_CSV_KEY", key)
    Secret("env:ARBOT_WEB_TEST_CSV_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    await wait_for_fills(console, "sol-arb", 1)
    op = console.bot.operator
    history = op.order_history

    def old_rows(**kwargs):
        return [dataclasses.replace(order, reason=f"rejected: password {key} refused") for order in history(**kwargs)]

    monkeypatch.setattr(op, "order_history", old_rows)
    async with await console.get("/api/v1/orders?format=csv", "vera") as response:
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert rows and all(row["reason"] == "rejected: password *** refused" for row in rows), rows
    assert key not in repr(rows)


async def test_a_long_error_cut_across_a_known_secret_shows_none_of_it(console, monkeypatch):
    """A venue's balance error is served cut to 300 characters: cut where it holds a known secret, not even the
    secret's first characters are served (the body is masked as a whole, after the cut)."""
    key = "sk-live-web-cut-0123456789abcdef"
    monkeypatch.setenv("ARBOT_WEB_TEST_CUT_KEY", key)
    Secret("env:ARBOT_WEB_TEST_CUT_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    request = "https://venue.example/api/v3/account?recvWindow=5000&timestamp=1796620000000&apikey="

    async def failing():  # as a ccxt error reads: the request's URL with its key, then the venue's answer
        raise RuntimeError(f"binance GET {request + '0' * (300 - 40 - len(request))}{key} 401 Unauthorized")

    monkeypatch.setattr(console.bot.operator.exchanges["paper"], "balances", failing)
    async with await console.get("/api/v1/balances", "vera") as response:
        error = json.loads(await response.text())["balances"]["paper"]["error"]
    assert key[:10] not in error and key not in error, error
    assert error.startswith("RuntimeError: binance GET https://venue.example/api/v3/account"), error


async def test_an_audited_query_cut_across_a_known_secret_stores_none_of_it(console, monkeypatch):
    """A request's query string is audited cut to 500 characters, and the store masks what it writes: masked
    first, so a secret straddling the cut is not stored by its first half."""
    key = "sk-live-web-audit-0123456789abcdef"
    monkeypatch.setenv("ARBOT_WEB_TEST_AUDIT_KEY", key)
    Secret("env:ARBOT_WEB_TEST_AUDIT_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    query = "strategy=" + "x" * (485 - len("strategy=")) + "&exchange=" + key  # a parameter /orders takes: quoted
    async with await console.get("/api/v1/orders?" + query, "vera") as response:
        assert response.status in (200, 400)
    await wait_for(lambda: any(e.args.startswith("strategy=xxx") for e in console.bot.operator.audit_log(2000)),
                   timeout_s=10, what="this request's audit line")  # not an earlier GET /api/v1/orders line
    [line] = [e for e in console.bot.operator.audit_log(2000) if e.args.startswith("strategy=xxx")]
    assert key[:5] not in line.args and line.args.endswith("&exchange=***"), line.args


@pytest.mark.parametrize("param, before", [("limit", 30), ("since", 30), ("format", 30), ("state", 50)])
async def test_a_refused_parameter_quoted_cut_across_a_known_secret_shows_none_of_it(console, monkeypatch, param,
                                                                                    before):
    """A wrong query parameter is quoted cut short in the 400 answer, and in the audit line that stores it: masked
    first, so a secret straddling the cut shows none of itself in either."""
    key = "sk-live-web-param-0123456789abcdef"
    monkeypatch.setenv("ARBOT_WEB_TEST_PARAM_KEY", key)
    Secret("env:ARBOT_WEB_TEST_PARAM_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    async with await console.get(f"/api/v1/orders?{param}={'z' * before}{key}", "vera") as response:
        error = (await response.json())["error"]
    assert response.status == 400 and error.startswith(param) and key[:5] not in error, error
    await _audited(console, "vera", "GET /api/v1/orders", f"refused: 400 {param}")
    refused = f"refused: 400 {param}"
    outcomes = [e.outcome for e in console.bot.operator.audit_log(2000) if e.outcome.startswith(refused)]
    assert outcomes and not any(key[:5] in outcome for outcome in outcomes), outcomes


async def test_a_missing_backtest_named_across_a_known_secret_shows_none_of_it(console, monkeypatch):
    """A backtest report that is not there is named cut to 80 characters in the 404 answer: masked first, so a
    secret straddling the cut shows none of itself (the answer is masked as a whole after the cut)."""
    key = "sk-live-web-report-0123456789abcdef"
    monkeypatch.setenv("ARBOT_WEB_TEST_REPORT_KEY", key)
    Secret("env:ARBOT_WEB_TEST_REPORT_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    async with await console.get(f"/api/v1/backtests/{'z' * 70}{key}", "vera") as response:
        error = (await response.json())["error"]
    assert response.status == 404 and error.startswith("no backtest report 'zzz"), error
    assert key[:5] not in error, error


async def test_a_path_holding_a_known_secret_is_audited_masked(console, monkeypatch):
    """A call is audited as its method and path: a known secret in the path (a report's name) is stored masked,
    as the query string and the outcome are."""
    key = "sk-live-web-path-0123456789abcdef"
    monkeypatch.setenv("ARBOT_WEB_TEST_PATH_KEY", key)
    Secret("env:ARBOT_WEB_TEST_PATH_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    async with await console.get(f"/api/v1/backtests/report-{key}", "vera") as response:
        assert response.status == 404
    await wait_for(lambda: any(e.user_id == "vera" and e.command.startswith("GET /api/v1/backtests/report-")
                               for e in console.bot.operator.audit_log(2000)), timeout_s=10, what="the audit line")
    lines = [e for e in console.bot.operator.audit_log(2000) if e.command.startswith("GET /api/v1/backtests/report-")]
    assert lines and not any(key[:5] in e.command for e in lines), [e.command for e in lines]
    assert lines[0].command == "GET /api/v1/backtests/report-***", lines[0].command


async def test_orders_filter_and_page(console):
    # The demo keeps trading: page a set that cannot grow, the orders created before the newest stored one
    # (orders are stored in the order they are created, so every earlier one is stored too).
    def older_than_newest() -> int:
        created = [o.created_ns for o in console.bot.store.orders()]
        return sum(c < created[-1] for c in created) if created else 0

    await wait_for(lambda: older_than_newest() >= 4, timeout_s=60, what="four orders before the newest")
    until = console.bot.store.orders(limit=1)[0].created_ns
    first = await console.json(f"/api/v1/orders?limit=2&until={until}", "vera")
    assert len(first["items"]) == 2 and first["next_offset"] == 2
    second = await console.json(f"/api/v1/orders?limit=2&offset=2&until={until}", "vera")
    assert len(second["items"]) == 2
    assert not {o["client_order_id"] for o in first["items"]} & {o["client_order_id"] for o in second["items"]}
    created = [o["created_ns"] for o in first["items"] + second["items"]]
    assert created == sorted(created, reverse=True)
    grid = (await console.json("/api/v1/orders?strategy=btc-grid&exchange=paper", "vera"))["items"]
    assert grid and {(o["strategy"], o["exchange"]) for o in grid} == {("btc-grid", "paper")}
    resting = (await console.json("/api/v1/orders?state=open,pending", "vera"))["items"]
    assert all(o["status"] in ("open", "pending") for o in resting)
    newest = first["items"][0]["created_ns"]
    assert (await console.json(f"/api/v1/orders?since={newest + 1}&until={until}", "vera"))["items"] == []
    assert (await console.json("/api/v1/orders?until=2000-01-01", "vera"))["items"] == []


async def test_viewer_pause_is_refused_and_nothing_pauses(console):
    op = console.bot.operator
    async with await console.post("/api/v1/strategies/btc-grid/pause", "vera") as response:
        assert response.status == 403
        assert "needs the operator role; vera is viewer" in (await response.json())["error"]
    assert op.strategy_state("btc-grid") == "running"
    await _audited(console, "vera", "POST /api/v1/strategies/btc-grid/pause", "refused: 403")


async def _audited(console, user: str, command: str, outcome: str) -> bool:
    await wait_for(lambda: any(e.user_id == user and e.command == command and e.outcome.startswith(outcome)
                               for e in console.bot.operator.audit_log(2000)), timeout_s=10,
                   what=f"audit line {user} {command} {outcome}")
    return True


async def test_operator_pause_pauses_and_chat_status_agrees_then_resume(console):
    op = console.bot.operator
    async with await console.post("/api/v1/strategies/btc-grid/pause", "otto") as response:
        body = await response.json()
        assert response.status == 200, body
    assert body["paused"] is True and body["state"] == "paused by web:otto"
    assert op.strategy_state("btc-grid") == "paused by web:otto"
    reply = await console.bot.commands.dispatch(Caller("telegram", "1", "viewer"), "status", [])
    [row] = [r for r in reply.rows if r[0] == "btc-grid"]
    assert row[1].startswith("paused by web:otto")
    await _audited(console, "otto", "POST /api/v1/strategies/btc-grid/pause", "ok")
    async with await console.post("/api/v1/strategies/btc-grid/resume", "otto") as response:
        assert response.status == 200 and (await response.json())["state"] == "running"
    reply = await console.bot.commands.dispatch(Caller("telegram", "1", "viewer"), "status", [])
    assert [r for r in reply.rows if r[0] == "btc-grid"][0][1].startswith("running")
    async with await console.post("/api/v1/strategies/nope/pause", "otto") as response:
        assert response.status == 404 and "no strategy named 'nope'" in (await response.json())["error"]


async def test_admin_verbs_are_refused_below_admin(console):
    op = console.bot.operator
    for user in ("vera", "otto"):
        async with await console.post("/api/v1/observe", user, json={"on": True}) as response:
            assert response.status == 403
        async with await console.post("/api/v1/kill", user, json={"reason": "x"}) as response:
            assert response.status == 403
        async with await console.get("/api/v1/audit", user) as response:
            assert response.status == 403
    assert op.mode == "paper" and not any(op.killed(n) for n in op.strategies)


async def test_observe_on_at_once_and_off_in_two_steps_as_in_chat(console):
    """Leaving observe mode sends orders again: confirmed by the same user, once, as /observe off in chat."""
    op = console.bot.operator
    async with await console.post("/api/v1/observe", "ada", json={"on": True}) as response:
        assert response.status == 200 and (await response.json())["mode"] == "observe"
    assert op.mode == "observe"
    chat = await console.bot.commands.dispatch(Caller("telegram", "1", "admin"), "observe", ["off"])
    async with await console.post("/api/v1/observe", "ada", json={"on": False}) as response:
        asked = await response.json()
        assert response.status == 202 and asked["question"] == chat.title, asked
    assert op.mode == "observe" and asked["question"] == "Leave observe mode and send orders again (paper mode)?"
    confirm = {"on": False, "confirm_token": asked["confirm_token"]}
    async with await console.post("/api/v1/observe", "alan", json=confirm) as response:  # another admin
        assert response.status == 409 and "Only the user who sent the command" in (await response.json())["error"]
    assert op.mode == "observe"
    async with await console.post("/api/v1/observe", "ada", json=confirm) as response:
        assert response.status == 200 and (await response.json())["mode"] == "paper"
    assert op.mode == "paper"
    async with await console.post("/api/v1/observe", "ada", json=confirm) as response:
        assert response.status == 409 and (await response.json())["error"] == "Already confirmed once."
    await _audited(console, "ada", "observe", "confirmed: ok")


async def test_resume_after_the_kill_switch_is_confirmed_in_two_steps_as_in_chat(console):
    op = console.bot.operator
    op.kill("web resume test", Caller("test", "x", "admin"))
    assert op.killed("btc-grid") and op.killed("sol-arb")
    chat = await console.bot.commands.dispatch(Caller("telegram", "1", "operator"), "resume", ["btc-grid"])
    assert chat.title == "Resume btc-grid after the kill switch?"
    for name in ("btc-grid", "sol-arb"):
        path = f"/api/v1/strategies/{name}/resume"
        async with await console.post(path, "otto") as response:
            asked = await response.json()
            assert response.status == 202 and asked["question"] == f"Resume {name} after the kill switch?", asked
        assert op.killed(name)
        async with await console.post(path, "otto", json={"confirm_token": asked["confirm_token"]}) as response:
            body = await response.json()
            assert response.status == 200 and body["state"] == "running" and not body["killed"], body
    assert not any(op.killed(n) for n in op.strategies)
    await _audited(console, "otto", "resume", "confirmed: ok")


async def test_csv_of_the_demos_fills_parses_and_matches_the_store(console):
    await wait_for_fills(console, "sol-arb", 2)
    today = dt.datetime.now(dt.UTC).date()
    span = f"since={today.isoformat()}&until={(today + dt.timedelta(days=1)).isoformat()}"
    async with await console.get(f"/api/v1/fills?format=csv&{span}", "vera") as response:
        assert response.status == 200 and response.content_type == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    # read after the export: the demo keeps trading, and a fill stored between the two reads is in the export
    stored = {(f.exchange, f.trade_id): (s, f) for s, f in console.bot.store.fills()}
    by_key = {(r["exchange"], r["trade_id"]): r for r in rows}
    assert set(by_key) <= set(stored) and len(by_key) >= 2
    assert len(set(stored) - set(by_key)) <= 5  # fills stored after the export was read
    for key, row in by_key.items():
        strategy, fill = stored[key]
        assert row["strategy"] == strategy
        assert (Decimal(row["price"]), Decimal(row["qty"]), Decimal(row["fee"])) == (fill.price, fill.qty, fill.fee)
        assert (row["side"], int(row["ts_ns"]), row["client_order_id"]) == (fill.side.value, fill.ts_ns,
                                                                         fill.client_order_id)
    async with await console.get("/api/v1/fills", "vera", headers={"Accept": "text/csv"}) as response:
        assert response.content_type == "text/csv"
    for path in ("/api/v1/orders", "/api/v1/arb/executions"):
        async with await console.get(f"{path}?format=csv", "vera") as response:
            rows = list(csv.DictReader(io.StringIO(await response.text())))
            assert response.status == 200 and rows, path
    async with await console.get("/api/v1/fills?format=csv&since=2030-01-01&until=2029-01-01", "vera") as response:
        assert response.status == 400 and "until must be after since" in (await response.json())["error"]


async def test_kill_needs_the_same_users_confirmation_in_time(console):
    op = console.bot.operator
    async with await console.post("/api/v1/kill", "ada", json={"reason": "test kill"}) as response:
        assert response.status == 202
        first = await response.json()
    assert not any(op.killed(n) for n in op.strategies)
    async with await console.post("/api/v1/kill", "alan", json={"confirm_token": first["confirm_token"]}) as response:
        assert response.status == 403 and "only the user who asked" in (await response.json())["error"]
    assert not any(op.killed(n) for n in op.strategies)
    await asyncio.sleep(first["expires_in_s"] + 0.2)  # past the token's deadline ([plugins.web] confirm_ttl_s = 1)
    async with await console.post("/api/v1/kill", "ada", json={"confirm_token": first["confirm_token"]}) as response:
        assert response.status == 410 and "expired" in (await response.json())["error"]
    assert not any(op.killed(n) for n in op.strategies)
    async with await console.post("/api/v1/kill", "ada", json={"confirm_token": "made-up"}) as response:
        assert response.status == 404
    async with await console.post("/api/v1/kill", "ada", json={"reason": "now"}) as response:
        token = (await response.json())["confirm_token"]
    async with await console.post("/api/v1/kill", "ada", json={"confirm_token": token}) as response:
        body = await response.json()
        assert response.status == 200 and body["paused"] == 2, body
    assert all(op.killed(n) for n in op.strategies)
    async with await console.post("/api/v1/kill", "ada", json={"confirm_token": token}) as response:
        assert response.status == 409
    await _audited(console, "ada", "POST /api/v1/kill", "ok")
    for name in op.strategies:  # resuming after a kill asks first
        path = f"/api/v1/strategies/{name}/resume"
        async with await console.post(path, "ada") as response:
            assert response.status == 202
            token = (await response.json())["confirm_token"]
        async with await console.post(path, "ada", json={"confirm_token": token}) as response:
            assert response.status == 200
    assert not any(op.killed(n) for n in op.strategies)


async def test_api_pnl_equals_arbot_reports_figures(console, tmp_path):
    await wait_for_fills(console, "sol-arb", 2)
    op, store = console.bot.operator, console.bot.store
    admin = Caller("test", "t", "admin")
    op.kill("hold still while the figures are compared", admin)  # no order rests, no new fill lands
    try:
        await wait_for(lambda: not op.open_orders() and not op.unknown_orders(), timeout_s=30,
                       what="every order final after the kill")
        api = await console.json("/api/v1/pnl?period=all", "vera")
        report = Ledger(store).report()  # what `arbot report` computes
        out = subprocess.run(arbot("report", "--db", store.url), capture_output=True, text=True, timeout=120,
                             cwd=tmp_path)
    finally:
        op.resume([], admin)
    traded = {name: fig for name, fig in report.items() if fig.fills}  # the report also lists strategies without
    assert set(api["strategies"]) == set(traded) and "sol-arb" in traded  # fills (the grid's orders may rest yet)
    for name, fig in traded.items():
        got = api["strategies"][name]
        assert got["fills"] == fig.fills and got["round_trips"] == fig.round_trips
        for key in ("realized", "fees", "net"):
            assert {a: Decimal(v) for a, v in got[key].items()} == getattr(fig, key), (name, key)
    # and `arbot report` itself prints the API's figures, rounded for display the same way
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for name, got in api["strategies"].items():
        line = next(line for line in lines if line.startswith(name + " "))  # the host's table comes first
        for key in ("realized", "net"):
            assert moneys({a: Decimal(v) for a, v in got[key].items()}, got["quotes"]) in line, (name, key, line)
    # the equity curve ends on the total net figure, per quote asset, and never goes back in time
    total_net = totals(traded.values()).net
    assert {q: Decimal(points[-1][1]) for q, points in api["curve"].items()} == {q: v for q, v in total_net.items()
                                                                                  if v}
    assert all([p[0] for p in points] == sorted(p[0] for p in points) for points in api["curve"].values())
    day = await console.json("/api/v1/pnl", "vera")
    assert day["period"] == "day" and day["since_ns"] == op.period_start_ns("day")
    assert all(points[0] == [day["since_ns"], "0"] for points in day["curve"].values())


async def test_audit_log_lists_web_calls_for_admins(console):
    await console.json("/api/v1/status", "vera")
    await _audited(console, "vera", "GET /api/v1/status", "ok")
    audit = await console.json("/api/v1/audit?limit=1000", "ada")
    assert any(e["transport"] == "web" and e["user_id"] == "vera" and e["command"] == "GET /api/v1/status"
               for e in audit["items"])
    assert all(TOKENS[u][1] not in json.dumps(audit) for u in TOKENS)


async def test_openapi_describes_every_route(console):
    async with await console.get("/api/openapi.json") as response:
        doc = await response.json()
    assert doc["openapi"].startswith("3.")
    for route in routes(console):
        operation = doc["paths"][route.path][route.method.lower()]
        assert operation["summary"] and "200" in operation["responses"]
        if route.role is not None:
            assert operation["x-arbot-role"] == route.role and "401" in operation["responses"]
    assert doc["paths"]["/api/v1/orders"]["get"]["parameters"][0]["name"] == "strategy"
    page = doc["paths"]["/api/v1/fills"]["get"]["responses"]["200"]["content"]
    assert set(page) == {"application/json", "text/csv"}
    assert page["application/json"]["schema"]["required"] == ["items", "limit", "offset", "next_offset"]


async def test_docs_web_md_lists_every_route(console):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "web.md").read_text()
    missing = [f"{r.method} {r.path}" for r in routes(console) if f"`{r.method} {r.path}" not in text]
    assert not missing, f"docs/web.md does not list: {missing}"


async def test_identical_reads_at_once_share_one_store_query(console, monkeypatch):
    op = running_server(console.bot.operator).endpoints.op
    calls = []
    real = op.order_history

    def counting(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(op, "order_history", counting)
    path = "/api/v1/orders?limit=7&strategy=btc-grid"
    pages = await asyncio.gather(*(console.json(path, user) for user in ("vera", "otto", "ada") * 4))
    assert len(calls) == 1 and all(page == pages[0] for page in pages)
    await console.json("/api/v1/orders?limit=8&strategy=btc-grid", "vera")  # another query reads
    assert len(calls) == 2
    async with await console.get(path + "&format=csv", "vera") as response:  # an export always reads
        assert response.status == 200
    assert len(calls) == 3



class _PaperThatWillNotStart:
    """A paper venue whose start() raises (its connection refused)."""

    @staticmethod
    @hookimpl
    def register_exchanges(register):
        from plugins.paper.exchange import PaperExchange

        class Down(PaperExchange):
            async def start(self) -> None:
                raise ConnectionError("venue down")

        register("paper-down", Down)


async def test_a_strategy_left_out_at_start_is_listed_failed_and_its_verbs_say_why(tmp_path, monkeypatch):
    """One whose venue did not start is in the console's list as failed, and resuming it answers that only a
    restart starts it, not "no strategy named"."""
    from bot.api.testing import build_bot

    from .conftest import users_toml, web_plugins

    monkeypatch.setenv("ARBOT_WEB_TEST_VERA", TOKENS["vera"][1])
    monkeypatch.setenv("ARBOT_WEB_TEST_ADA", TOKENS["ada"][1])
    toml = ('[exchanges.down]\ntype = "paper-down"\n[strategies.g]\ntype = "grid"\nexchange = "down"\n'
            'symbol = "BTC/USD"\nlower = "28500"\nupper = "31500"\nlevels = 3\norder_size = "0.01"\n'
            f"[plugins.web]\nenabled = true\nport = 0\n{users_toml(tmp_path)}\n")
    under_test = build_bot(toml, data_dir=tmp_path, extra=[*web_plugins(), ("down", _PaperThatWillNotStart)])
    under_test.resolve_secrets()
    await under_test.start()
    try:
        server = running_server(under_test.operator)
        assert server is not None
        url = f"http://127.0.0.1:{server.port}/api/v1/strategies"
        async with aiohttp.ClientSession() as http:
            async with http.get(url, headers={"Authorization": f"Bearer {TOKENS['vera'][1]}"}) as response:
                listed = {s["name"]: s for s in (await response.json())["items"]}
            assert listed["g"]["failed"] is True and listed["g"]["state"].startswith("failed (not started: "), listed
            async with http.post(f"{url}/g/resume", headers={"Authorization": f"Bearer {TOKENS['otto'][1]}"}
                                 ) as response:
                body = await response.json()
            assert response.status == 409 and "was not started" in body["error"], body
            assert "restart" in body["error"], body
    finally:
        await under_test.stop()
