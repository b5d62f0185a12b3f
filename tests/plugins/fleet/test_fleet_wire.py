"""The fleet's payloads and settings without a server: requests, replies, bounds, config mistakes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot.api import Caller, ConfigError, Reply
from bot.api.kit import REDACTOR, read_plugin_settings
from plugins.fleet import wire
from plugins.fleet.settings import FleetSettings


def test_a_request_carries_who_and_what_but_never_a_role():
    raw = wire.request(Caller("telegram", "123", "admin", "555"), "front", "pause", ["grid"], True)
    assert "admin" not in raw.decode() and "role" not in json.loads(raw)["caller"]
    parsed = wire.parse_request(raw, 65536)
    assert parsed.caller == Caller("telegram", "123", None, "555")
    assert (parsed.via, parsed.name, parsed.args, parsed.confirmed) == ("front", "pause", ["grid"], True)
    assert parsed.timeout_s is None  # not said: the receiver assumes its own call_timeout_s
    timed = wire.request(Caller("cli", "a", None), "cli", "pause", [], False, 2.5)
    assert wire.parse_request(timed, 65536).timeout_s == 2.5
    assert parsed.sent_ns is None
    sent = wire.request(Caller("telegram", "1", None), "front", "pause", [], False, 5.0, 1_700_000_000_123_456_789)
    assert wire.parse_request(sent, 65536).sent_ns == 1_700_000_000_123_456_789  # exact: an integer, never a float


@pytest.mark.parametrize("raw, says", [
    (b"\xff\xfe", "not JSON"),
    (b'"text"', "not a JSON object"),
    (b'{"via": "cli", "name": "status"}', '"caller" must be an object'),
    (b'{"caller": {"transport": "cli", "user_id": ""}, "via": "cli", "name": "status"}', '"user_id" must be'),
    (b'{"caller": {"transport": "cli", "user_id": "a"}, "via": "c li", "name": "status"}', '"via" has characters'),
    (b'{"caller": {"transport": "cli", "user_id": "a"}, "via": "cli", "name": "rm -rf"}', '"name" has characters'),
    (b'{"caller": {"transport": "cli", "user_id": "a"}, "via": "cli", "name": "x", "args": [1]}', '"args" must be'),
    (b'{"caller": {"transport": "cli", "user_id": "a"}, "via": "cli", "name": "x", "confirmed": "yes"}',
     '"confirmed" must be'),
    (b"[" * 100 + b"]" * 100, "not JSON"),
    (b'{"caller": {"transport": "cli", "user_id": "a"}, "via": "cli", "name": "x", "timeout_s": "5"}',
     '"timeout_s" must be'),
    (b'{"caller": {"transport": "cli", "user_id": "a"}, "via": "cli", "name": "x", "timeout_s": 0}',
     '"timeout_s" must be'),
    (b'{"caller": {"transport": "cli", "user_id": "a"}, "via": "cli", "name": "x", "timeout_s": true}',
     '"timeout_s" must be'),
    (b'{"caller": {"transport": "cli", "user_id": "a"}, "via": "cli", "name": "x", "sent_ns": 1.5}',
     '"sent_ns" must be'),
    (b'{"caller": {"transport": "cli", "user_id": "a"}, "via": "cli", "name": "x", "sent_ns": -1}',
     '"sent_ns" must be'),
])
def test_malformed_requests_are_refused_with_the_reason(raw, says):
    with pytest.raises(ValueError, match=says):
        wire.parse_request(raw, 65536)


def test_too_many_args_and_too_many_bytes_are_refused():
    many = wire.request(Caller("cli", "a", None), "cli", "pause", [f"s{n}" for n in range(wire.MAX_ARGS + 1)], False)
    with pytest.raises(ValueError, match="at most 64"):
        wire.parse_request(many, 65536)
    with pytest.raises(ValueError, match="at most 1024"):
        wire.parse_request(b" " * 1025, 1024)


def test_a_reply_round_trips_and_a_big_one_is_cut_to_fit():
    reply = Reply("Strategies", rows=[("name", "state"), ("grid", "running")], header=True, text="t", ok=False,
                  data={"summary": {"running": "1/1"}, "totals": {"net today": {"USD": Decimal("1.50")}}})
    back = wire.parse_reply(wire.reply(reply, "grid-1", 65536), "grid-1")
    assert (back.title, back.rows, back.header, back.text, back.ok) == ("Strategies", reply.rows, True, "t", False)
    assert back.data == {"summary": {"running": "1/1"}, "totals": {"net today": {"USD": "1.50"}}}  # exact, a string
    big = Reply("Orders", rows=[(f"order-{n}", "x" * 100) for n in range(400)])
    data = wire.reply(big, "grid-1", 8192)
    assert len(data) <= 8192
    cut = wire.parse_reply(data, "grid-1")
    assert 0 < len(cut.rows) < 400 and f"({400 - len(cut.rows)} more rows not sent)" in cut.text
    image = wire.parse_reply(wire.reply(Reply("Chart", image_png=b"\x89PNG"), "grid-1", 65536), "grid-1")
    assert image.ok and "an image" in image.text
    asked = wire.parse_reply(wire.reply(Reply("Kill?", confirm_token="tok"), "grid-1", 65536), "grid-1")
    assert not asked.ok and "confirmation" in asked.text and "tok" not in asked.text


def test_a_reply_whose_text_alone_is_too_big_keeps_what_fits():
    """A long report (its text, not rows) over NATS's max_payload was all lost: "(answer too large to send)", its
    figures too. The text is cut to fit, saying how much was left out; title, ok and data stay whole."""
    report = "".join(f"line {n}: realized 1.50 USD, fees 0.01 USD\n" for n in range(1000))
    big = Reply("Report", text=report, ok=True, data={"summary": {"net": "1.50"}, "totals": {"net": {"USD": "1.50"}}})
    data = wire.reply(big, "grid-1", 8192)
    assert len(data) <= 8192
    back = wire.parse_reply(data, "grid-1")
    assert back.ok and back.title == "Report" and back.data == big.data, back.render_text()[:200]
    kept = back.text.rsplit("\n(", 1)[0]
    assert report.startswith(kept) and len(kept) > 4000, back.text[-200:]
    assert back.text.endswith(f"({len(report) - len(kept)} characters not sent)"), back.text[-200:]


def test_an_error_or_garbage_answer_is_a_not_ok_reply():
    assert not wire.parse_reply(wire.error("malformed request: x"), "b").ok
    assert wire.parse_reply(wire.error("malformed request: x"), "b").title == "b: malformed request: x"
    assert not wire.parse_reply(b"garbage", "b").ok
    assert not wire.parse_reply(b'{"title": 1, "rows": []}', "b").ok


@pytest.mark.parametrize("table, key, says", [
    ('nats_url = "http://x:4222"', "nats_url", "expected nats://HOST:PORT"),
    ('password = "env:P"', "password", "needs a user"),
    ('user = "u"', "user", "needs a password"),
    ('user = "u"\npassword = "env:P"\ntoken = "env:T"', "token", "one way to log in"),
    ('tls_cert = "c.pem"', "tls_key", "go together"),
    ('roles = { "telegram" = "admin" }', "roles.telegram", "TRANSPORT:USER_ID"),
    ('roles = { "telegram:1" = "root" }', "roles.telegram:1", "expected a role"),
    ("heartbeat_s = 10\nalive_after_s = 5", "alive_after_s", "more than heartbeat_s"),
    ("buffer_max = 0", "buffer_max", ">= 1"),
])
def test_config_mistakes_name_the_key_and_the_fix(tmp_path, monkeypatch, table, key, says):
    monkeypatch.setenv("P", "pw")
    monkeypatch.setenv("T", "tk")
    path = tmp_path / "c.toml"
    path.write_text(f"[plugins.fleet]\n{table}\n")
    with pytest.raises(ConfigError) as caught:
        read_plugin_settings(path, "fleet", FleetSettings)
    assert f"plugins.fleet.{key}" in str(caught.value) and says in str(caught.value)


def test_settings_are_read_with_their_secrets_resolved(tmp_path, monkeypatch):
    monkeypatch.setenv("NATS_TOKEN", "t0ken-value")
    path = tmp_path / "c.toml"
    path.write_text('[plugins.fleet]\nnats_url = "nats://a:4222, tls://b:4443"\ntoken = "env:NATS_TOKEN"\n')
    settings = read_plugin_settings(path, "fleet", FleetSettings)
    assert settings.token.reveal() == "t0ken-value"
    from plugins.fleet.client import connect_options, shown

    options = connect_options(settings, "t")
    assert options["servers"] == ["nats://a:4222", "tls://b:4443"] and options["token"]() == "t0ken-value"
    assert shown(["nats://u:pw@h:1"]) == "nats://h:1"
    monkeypatch.delenv("NATS_TOKEN")
    with pytest.raises(ConfigError, match="NATS_TOKEN"):
        read_plugin_settings(path, "fleet", FleetSettings)


def test_every_servers_password_is_masked_one_with_a_slash_or_a_short_one_too(tmp_path):
    from bot.api.kit import REDACTOR
    from plugins.fleet.client import servers_of

    path = tmp_path / "c.toml"
    path.write_text('[plugins.fleet]\nnats_url = "nats://arbot:pa/ss9@a:4222, nats://arbot:pw@b:4222"\n')
    servers_of(read_plugin_settings(path, "fleet", FleetSettings))
    text = REDACTOR.redact("cannot reach nats://arbot:pa/ss9@a:4222 nor nats://arbot:pw@b:4222")
    assert "pa/ss9" not in text and ":pw@" not in text, text


def test_nkey_logins_say_what_they_need():
    from plugins.fleet.client import LinkConfigError, login

    try:
        import nkeys  # noqa: F401
    except ImportError:
        with pytest.raises(LinkConfigError, match="nkeys package"):
            login(FleetSettings(creds_file="/x.creds"))
    else:
        assert login(FleetSettings(creds_file="/x.creds")) == {"user_credentials": "/x.creds"}


KEY = "sk-live-fleet-wire-0123456789"


def test_another_bots_error_cut_across_a_known_secret_shows_none_of_it():
    """Another bot's error is shown cut to MAX_TEXT characters, and the reply is masked after (the command table
    masks what it returns): masked first, so a secret straddling the cut shows none of itself."""
    REDACTOR.add(KEY)
    error = "x" * (wire.MAX_TEXT - 10) + KEY
    title = REDACTOR.redact(wire.parse_reply(wire.dumps({"error": error}), "grid-1").title)
    assert KEY[:8] not in title and title.endswith("x***"), title


def test_a_refused_request_quoting_a_known_secret_cut_shows_none_of_it():
    REDACTOR.add(KEY)
    raw = wire.dumps({"caller": {"transport": "cli", "user_id": "a"}, "via": "a b" + "x" * 30 + KEY, "name": "x"})
    with pytest.raises(ValueError, match="has characters") as refused:
        wire.parse_request(raw, 65536)
    assert KEY[:5] not in REDACTOR.redact(str(refused.value)), refused.value
