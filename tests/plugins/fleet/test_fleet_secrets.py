"""Credentials: a nats-server that requires a password; the password never reaches a log line, an alert or the bus;
a known secret in an event's text (an order's reason quoting a venue's request), in a command's reply and in a
heartbeat's status is masked on the bus."""

from __future__ import annotations

import json
import logging
import os
from decimal import Decimal
from types import SimpleNamespace

import nats
import pytest

from bot.api import Caller, Secret
from bot.api.kit import REDACTOR, to_data
from bot.domain import OrderStatus, OrderUpdate
from plugins.fleet import running_link
from plugins.fleet.link import NatsFleet
from plugins.fleet.wire import command_subject, request
from tests.helpers import secret_kit
from tests.helpers.nats_server import NatsServer
from tests.helpers.secret_kit import KEY, MASKED
from tests.helpers.waiting import wait_for

PASSWORD = "Fl33tPassw0rd-xyz"


@pytest.fixture
def locked_nats(tmp_path):
    server = NatsServer(tmp_path / "locked", jetstream=False, user="arbot", password=PASSWORD)
    server.start()
    yield server
    server.close()


async def test_a_password_in_the_url_logs_in_and_is_never_shown(locked_nats, fleet_bot, monkeypatch, caplog):
    monkeypatch.setenv("FLEET_URL", f"nats://arbot:{PASSWORD}@127.0.0.1:{locked_nats.port}")
    alerts = []
    with caplog.at_level(logging.DEBUG):
        bot = await fleet_bot("grid-1", "env:FLEET_URL")
        link = running_link(bot.operator)
        link.ctx.subscribe_alerts(alerts.append)
        await wait_for(lambda: link.stats()["connected"], timeout_s=20, what="the bot logged in")
        locked_nats.kill()  # an outage: warnings and alerts name the server
        await wait_for(lambda: not link.stats()["connected"], timeout_s=20, what="the outage")
        locked_nats.start()
        await wait_for(lambda: link.stats()["connected"], timeout_s=30, what="logged in again")
    assert any(f"NATS at nats://127.0.0.1:{locked_nats.port}" in r.getMessage() for r in caplog.records
               if r.name == "arbot.fleet" and r.levelno == logging.WARNING)  # the outage, the server named
    shown = caplog.text + repr([(a.message, a.fields) for a in alerts]) + repr(link.members())
    assert PASSWORD not in shown


async def test_user_and_password_settings_and_a_wrong_password(locked_nats, fleet_bot, monkeypatch, caplog):
    monkeypatch.setenv("NATS_PASS", PASSWORD)
    bot = await fleet_bot("grid-1", locked_nats.url, fleet='user = "arbot"\npassword = "env:NATS_PASS"\n')
    await wait_for(lambda: running_link(bot.operator).stats()["connected"], timeout_s=20, what="the bot logged in")
    wrong = "Wr0ngPassw0rd-abc"
    monkeypatch.setenv("NATS_PASS_2", wrong)
    with caplog.at_level(logging.DEBUG):
        other = await fleet_bot("grid-2", locked_nats.url, fleet='user = "arbot"\npassword = "env:NATS_PASS_2"\n')
        link = running_link(other.operator)
        await wait_for(lambda: any("unreachable" in r.getMessage() for r in caplog.records), timeout_s=20,
                       what="the refusal logged")
    assert not link.stats()["connected"] and other.operator.strategy_state("grid") == "running"
    assert "Authorization" in caplog.text
    assert wrong not in caplog.text and PASSWORD not in caplog.text


async def test_a_reference_that_does_not_resolve_fails_the_service_with_its_key_not_the_bot(fleet_bot):
    bot = await fleet_bot("grid-1", "env:FLEET_URL_NOT_SET")
    assert running_link(bot.operator) is None
    errors = " ".join(bot.plugin_errors("fleet"))
    assert "plugins.fleet.nats_url" in errors and "FLEET_URL_NOT_SET" in errors
    assert bot.operator.strategy_state("grid") == "running"


def _user_seed() -> str:
    import nkeys

    return nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()


async def test_an_nkey_seed_logs_in_and_another_is_refused_and_neither_is_shown(tmp_path, fleet_bot, monkeypatch,
                                                                                caplog):
    import nkeys

    seed = _user_seed()
    server = NatsServer(tmp_path / "nkey", jetstream=False, nkey=nkeys.from_seed(seed.encode()).public_key.decode())
    server.start()
    try:
        monkeypatch.setenv("NATS_SEED", seed)
        bot = await fleet_bot("grid-1", server.url, fleet='nkey_seed = "env:NATS_SEED"\n')
        await wait_for(lambda: running_link(bot.operator).stats()["connected"], timeout_s=20, what="the NKey login")
        stranger = _user_seed()  # a valid seed the server does not know
        monkeypatch.setenv("NATS_SEED_2", stranger)
        with caplog.at_level(logging.DEBUG):
            other = await fleet_bot("grid-2", server.url, fleet='nkey_seed = "env:NATS_SEED_2"\n')
            link = running_link(other.operator)
            await wait_for(lambda: any("unreachable" in r.getMessage() for r in caplog.records), timeout_s=20,
                           what="the refusal logged")
        assert not link.stats()["connected"] and other.operator.strategy_state("grid") == "running"
        assert "Authorization" in caplog.text
        assert seed not in caplog.text and stranger not in caplog.text
    finally:
        server.close()


def test_fleet_order_event_masks_a_known_secret_in_the_reason(monkeypatch):
    """The fleet link ships an OrderUpdate to NATS (the fleet front, other bots) as ``to_data`` made it, its reason
    masked as the web console masks it."""
    key = "sk-live-fleet-0123456789"
    monkeypatch.setenv("ARBOT_AUDIT_FLEET_KEY", key)
    Secret("env:ARBOT_AUDIT_FLEET_KEY").resolve()  # known to the redactor, as every env:/file: setting is
    update = OrderUpdate(exchange="paper", symbol="BTC/USD", client_order_id="g-1", strategy="g",
                         status=OrderStatus.REJECTED, filled_qty=Decimal("0"), avg_fill_price=None, ts_ns=1,
                         reason=f"PermanentError: 401 for https://venue.example/order?apikey={key}")
    _, payload = NatsFleet._encoded(SimpleNamespace(name="vps-1"), ("order", 1, 1, update, to_data))
    assert key.encode() not in payload, payload
    assert b"apikey=***" in payload


@pytest.mark.parametrize("command", ["rejects", "strategies", "status"])
async def test_a_fleet_command_reply_on_the_wire_masks_a_known_secret(nats_server, fleet_bot, monkeypatch, command):
    """What a bot answers another bot (or ``arbot fleet``) over NATS: a plugin's command quoting an order's reason,
    and a strategy failed on it, as ``/strategies`` and ``/status`` show it. Read raw off the bus: the asking side
    is not the one that may mask it (it need not know this bot's secrets)."""
    secret_kit.know_the_key(monkeypatch)
    bot = await fleet_bot("grid-1", nats_server.url, fleet='roles = { "cli:alice" = "admin" }\n',
                          toml=secret_kit.TOML, extra=[("secret-kit", secret_kit.plugin)])
    await wait_for(lambda: running_link(bot.operator).stats()["connected"], timeout_s=20, what="the bot on NATS")
    await secret_kit.reject_an_order(bot)
    nc = await nats.connect(nats_server.url)
    try:
        answer = await nc.request(command_subject("grid-1"),
                                  request(Caller("cli", "alice", None), "cli", command, [], False), timeout=10)
    finally:
        await nc.close()
    assert json.loads(answer.data)["ok"] is True
    assert KEY.encode() not in answer.data and MASKED.encode() in answer.data, answer.data


async def test_a_bots_heartbeat_status_masks_a_known_secret(nats_server, fleet_bot, monkeypatch):
    """The status every heartbeat publishes (and the KV bucket keeps): a strategy's state quoting a venue's error."""
    secret_kit.know_the_key(monkeypatch)
    front = await fleet_bot("front", nats_server.url, toml="")
    bot = await fleet_bot("grid-1", nats_server.url, toml=secret_kit.TOML, extra=[("secret-kit", secret_kit.plugin)])
    await secret_kit.reject_an_order(bot)

    def heard() -> str:
        member = {m.name: m for m in front.operator.fleet.members()}.get("grid-1")
        return member.status.get("strategies", {}).get("s", {}).get("state", "") if member else ""

    await wait_for(lambda: heard().startswith("failed"), timeout_s=20, what="front to hear grid-1's failed strategy")
    assert KEY not in heard() and MASKED in heard(), heard()


async def test_a_relayed_alert_cut_across_a_known_secret_shows_none_of_it():
    """Another bot's alert is relayed with its message, kind, source and fields cut to their lengths, and alerts are
    masked when emitted: masked first, so a secret straddling a cut shows none of itself (the other bot masks what
    it sends, but not with our secrets)."""
    REDACTOR.add(KEY)
    heard = []
    refused: list[str] = []
    link = SimpleNamespace(name="front", counters={"relayed": 0},
                           op=SimpleNamespace(alert=lambda *args, **fields: heard.append((args, fields))),
                           _oversized=lambda msg, what: False, _relayed_before=lambda msg: False,
                           _refuse=lambda subject, what, exc: refused.append(str(exc)))
    data = {"level": "error", "kind": "k" * 60 + KEY, "source": "s" * 60 + KEY,
            "message": "m" * 1995 + KEY, "fields": {"url": "u" * 505 + KEY, "f" * 60 + KEY: "v"}}
    msg = SimpleNamespace(subject="arbot.grid-1.evt.alert", headers=None,
                          data=json.dumps({"bot": "grid-1", "data": data}).encode())
    await NatsFleet._on_remote_alert(link, msg)
    assert not refused, refused
    [(args, fields)] = heard
    shown = REDACTOR.redact(repr((args, fields)))  # as Alerts.emit masks message and fields
    assert KEY[:6] not in shown, shown
    assert args[2].startswith("[grid-1] mmm") and fields["url"].startswith("uuu")


def _shown(caplog) -> str:
    """The log lines as the handlers' filter leaves them."""
    for record in caplog.records:
        REDACTOR.filter(record)
    return "\n".join(record.getMessage() for record in caplog.records)


async def test_a_refused_alert_quoting_names_cut_across_a_known_secret_shows_none_of_it(caplog):
    """An alert whose bot is not its subject's is refused, the two names quoted cut to 64 characters, the subject
    to 200 in the debug line: masked first, so a secret straddling a cut shows none of itself."""
    REDACTOR.add(KEY)
    link = SimpleNamespace(name="front", counters={"refused": 0}, _oversized=lambda msg, what: False)
    link._refuse = lambda subject, what, exc: NatsFleet._refuse(link, subject, what, exc)
    claimed = "b" * 56 + KEY
    msg = SimpleNamespace(subject="arbot." + "g" * 188 + KEY + ".evt.alert", headers=None,
                          data=json.dumps({"bot": claimed, "data": {}}).encode())
    with caplog.at_level(logging.DEBUG, logger="arbot.fleet"):
        await NatsFleet._on_remote_alert(link, msg)
    shown = _shown(caplog)
    assert link.counters["refused"] == 1 and "refused" in shown, shown
    assert KEY[:6] not in shown, shown


def test_a_repeated_alert_id_cut_across_a_known_secret_is_logged_with_none_of_it(caplog):
    """A copy of a relayed alert is logged at debug with its id cut to 200 characters: masked first."""
    from collections import OrderedDict

    REDACTOR.add(KEY)
    msg_id = "i" * 190 + KEY
    link = SimpleNamespace(counters={"repeated": 0}, _relayed_ids=OrderedDict({msg_id: None}))
    with caplog.at_level(logging.DEBUG, logger="arbot.fleet"):
        assert NatsFleet._relayed_before(link, SimpleNamespace(headers={"Nats-Msg-Id": msg_id}))
    shown = _shown(caplog)
    assert "relayed already" in shown and KEY[:6] not in shown, shown


async def test_a_call_to_a_bot_name_cut_across_a_known_secret_answers_with_none_of_it():
    """A fleet call to a name that is no bot's answers quoting it cut to 64 characters; replies are masked after
    (``commands.masked``), so it is masked first."""
    REDACTOR.add(KEY)
    link = SimpleNamespace(name="front")
    reply = await NatsFleet.call(link, "b" * 56 + KEY, Caller("u", "admin", "test"), "status", [], confirmed=False)
    shown = REDACTOR.redact(reply.title + (reply.text or ""))
    assert not reply.ok and "not a bot name" in shown and KEY[:6] not in shown, shown
