"""The telegram plugin: real python-telegram-bot 22 against a fake Bot API on 127.0.0.1, in a real bot."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from bot import hookimpl
from bot.api import Caller, Command, Reply, Strategy
from bot.clock import ManualClock
from bot.config import resolve_secrets
from bot.domain import Alert, AlertLevel, OrderIntent, Side
from plugins.telegram.notifier import HELD_ALERTS
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.store_kit import audit_lines
from tests.helpers.waiting import wait_for

TOKEN = "123456:TEST-token-for-the-fake-api"
ADMIN, OPERATOR, STRANGER, OTHER_ADMIN = 1001, 1002, 6666, 1003
GROUP, ALERTS = -500, -700
SUPERGROUP = -1000000000500
"""GROUP's id once upgraded to a supergroup (Telegram gives a supergroup a new id, -100...)."""


class Idle(Strategy):
    def markets(self):
        return [("v", "BTC/USD")]


class Throwaway:
    """A strategy to pause and a dangerous command that needs a confirmation."""

    nuked: list[list[str]] = []
    title = "Nuked."

    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("idle", Idle)

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def nuke(bot, caller, args):
            Throwaway.nuked.append(args)
            return Reply(Throwaway.title, text=f"by {caller.user_id}")

        register(Command("nuke", nuke, "admin", "cancel everything", confirm=lambda bot, args: "Nuke everything?"))

        async def slow(bot, caller, args):
            Throwaway.started.set()
            await Throwaway.release.wait()  # a command waiting on a venue that answers slowly
            return Reply("Done slowly.")

        register(Command("slow", slow, "viewer", "a command that waits"))

    started = asyncio.Event()
    release = asyncio.Event()


def config(api: FakeBotAPI, extra: str = "") -> str:
    return f"""
        [exchanges.v]
        type = "scripted"
        [strategies.s]
        type = "idle"
        [notifiers.tg]
        type = "telegram"
        token = "env:ARBOT_TEST_TG_TOKEN"
        base_url = "{api.base_url}"
        users = {{ {ADMIN} = "admin", {OPERATOR} = "operator", {OTHER_ADMIN} = "admin" }}
        alert_chats = {{ {ALERTS} = "all -bot", {GROUP} = "risk" }}
        poll_timeout_s = 5
        max_retries = 2
    """ + extra


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    fake = await FakeBotAPI(TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
async def start_bot(api, make_bot, monkeypatch):
    """Like ``make_bot``, with the token resolved from the environment; stopped before the fake closes."""
    monkeypatch.setenv("ARBOT_TEST_TG_TOKEN", TOKEN)
    started = []

    async def factory(extra: str = "", clock=None):
        Throwaway.nuked.clear()
        Throwaway.title = "Nuked."
        Throwaway.started, Throwaway.release = asyncio.Event(), asyncio.Event()
        bot = await make_bot(config(api, extra), extra=[("venue", venue_plugin), ("throwaway", Throwaway)],
                             start=False, clock=clock)
        resolve_secrets(bot.config)
        await bot.start()
        started.append(bot)
        return bot

    yield factory
    for bot in started:
        await bot.stop()


def audit(bot) -> list[tuple[str, str, str, str, str]]:
    return [(a.transport, a.user_id, a.chat_id, a.command, a.outcome) for a in reversed(audit_lines(bot))]


async def test_an_admins_status_gets_an_aligned_monospace_reply(api, start_bot):
    bot = await start_bot()
    assert "tg" in bot.notifiers  # started: getMe answered with the right token
    await api.command(ADMIN, "/status")
    reply = await api.next_message(ADMIN)
    assert reply["parse_mode"] == "HTML" and reply["text"].startswith("<pre>Status\n")
    assert reply["text"].endswith("</pre>")
    lines = reply["text"].removeprefix("<pre>").removesuffix("</pre>").splitlines()
    assert lines[1].split() == ["mode", "paper"]
    assert any(line.split()[:2] == ["s", "running"] for line in lines)
    assert lines[1].index("paper") == next(line for line in lines if line.startswith("open orders")).index("0")
    assert audit(bot) == [("telegram", str(ADMIN), str(ADMIN), "status", "ok")]
    assert all(c.status != 401 for c in api.calls)


async def test_html_in_a_reply_is_escaped(api, start_bot):
    await start_bot()
    await api.command(ADMIN, "/pause <b>&x")
    reply = await api.next_message(ADMIN)
    assert "No strategy named &lt;b&gt;&amp;x." in reply["text"] and "<b>" not in reply["text"]


async def test_a_stranger_is_refused_audited_and_pauses_nothing_in_private_and_in_a_group(api, start_bot):
    bot = await start_bot()
    await api.command(STRANGER, "/pause")
    private = await api.next_message(STRANGER)
    await api.command(STRANGER, "/pause s", chat_id=GROUP)  # a group where the admin reads alerts
    await api.command(ADMIN, "/status", chat_id=GROUP)  # the admin is answered in the same group
    in_group = await api.next_message(GROUP)
    admin_in_group = await api.next_message(GROUP)
    assert private["text"] == in_group["text"] == "<pre>Not authorized.</pre>"  # one line, nothing more
    assert admin_in_group["text"].startswith("<pre>Status")
    assert not bot.strategies["s"].paused
    assert audit(bot) == [("telegram", str(STRANGER), str(STRANGER), "pause", "refused: no role"),
                          ("telegram", str(STRANGER), str(GROUP), "pause", "refused: no role"),
                          ("telegram", str(ADMIN), str(GROUP), "status", "ok")]


async def test_an_operator_pauses_and_a_command_for_another_bot_is_ignored(api, start_bot):
    bot = await start_bot()
    await api.command(OPERATOR, "/pause@some_other_bot s", chat_id=GROUP)
    await api.command(OPERATOR, "/pause@arbot_test_bot s", chat_id=GROUP)
    reply = await api.next_message(GROUP)
    assert "Paused: s" in reply["text"] and bot.strategies["s"].paused
    assert [a[3:] for a in audit(bot)] == [("pause", "ok")]


async def test_a_dangerous_command_runs_only_on_the_same_users_button(api, start_bot):
    bot = await start_bot()
    await api.command(ADMIN, "/nuke all", chat_id=GROUP)
    question = await api.next_message(GROUP)
    assert question["text"].startswith("<pre>Nuke everything?\nConfirm within 60 s.")
    [[button]] = question["reply_markup"]["inline_keyboard"]
    assert button["text"] == "Confirm" and Throwaway.nuked == []

    await api.press(OTHER_ADMIN, question)  # another admin, same group: refused
    await api.wait(lambda: len(api.answered) == 1)
    assert api.answered[0]["text"] == "Only the user who sent the command can confirm it."
    await api.press(STRANGER, question)
    await api.wait(lambda: len(api.answered) == 2)
    assert Throwaway.nuked == [] and "reply_markup" in question

    await api.press(ADMIN, question)
    await api.wait(lambda: "reply_markup" not in question)  # the question became the result
    assert question["text"] == f"<pre>Nuked.\nby {ADMIN}</pre>" and Throwaway.nuked == [["all"]]
    await api.press(ADMIN, {**question, "reply_markup": {"inline_keyboard": [[button]]}})  # replayed
    await api.wait(lambda: len(api.answered) == 4)
    assert api.answered[3]["text"] == "Already confirmed once." and Throwaway.nuked == [["all"]]
    assert [a[1:] for a in audit(bot)] == [
        (str(ADMIN), str(GROUP), "nuke", "awaiting confirmation"),
        (str(OTHER_ADMIN), str(GROUP), "nuke", "refused: confirmation of another user"),
        (str(STRANGER), str(GROUP), "nuke", "refused: no role"),
        (str(ADMIN), str(GROUP), "nuke", "confirmed: ok"),
        (str(ADMIN), str(GROUP), "nuke", "refused: confirmation already used")]


async def test_a_confirmed_result_with_a_long_emoji_title_is_shown_and_its_toast_fits(api, start_bot):
    await start_bot()
    Throwaway.title = "🚀" * 150  # 150 characters, 300 UTF-16 code units: over the toast's 200
    await api.command(ADMIN, "/nuke all")
    question = await api.next_message(ADMIN)
    await api.press(ADMIN, question)
    await api.wait(lambda: "reply_markup" not in question)  # the question became the result
    assert question["text"].startswith("<pre>🚀🚀") and Throwaway.nuked == [["all"]]
    [toast] = api.answered
    assert toast["text"].endswith("…") and len(toast["text"].encode("utf-16-le")) // 2 <= 200


async def test_a_confirmed_result_replaces_the_question_even_when_its_toast_is_refused(api, start_bot):
    await start_bot()
    await api.command(ADMIN, "/nuke all", chat_id=GROUP)
    question = await api.next_message(GROUP)
    # the press is answered too late (the command ran slowly): Telegram refuses the toast for good
    api.fail_next("answerCallbackQuery", status=400,
                  description="Bad Request: query is too old and response timeout expired or query ID is invalid")
    await api.press(ADMIN, question)
    await api.wait(lambda: "reply_markup" not in question)  # the command ran: its result, without the button
    assert question["text"] == f"<pre>Nuked.\nby {ADMIN}</pre>" and Throwaway.nuked == [["all"]]
    assert [c.status for c in api.calls if c.method == "answerCallbackQuery"] == [400]


async def test_an_expired_confirmation_does_nothing(api, start_bot):
    clock = ManualClock()
    bot = await start_bot(clock=clock)
    await api.command(ADMIN, "/nuke")
    question = await api.next_message(ADMIN)
    clock.advance(60.5)
    await api.press(ADMIN, question)
    await api.wait(lambda: len(api.answered) == 1)
    assert api.answered[0]["text"] == "Confirmation expired; send /nuke again."
    assert Throwaway.nuked == [] and "reply_markup" in question
    assert audit(bot)[-1][3:] == ("nuke", "refused: confirmation expired")


async def test_alerts_reach_the_chats_that_take_their_kind(api, start_bot):
    bot = await start_bot()
    bot.alert(AlertLevel.WARNING, "risk", "limits blocked an order", source="s", notional="1200 USD")
    bot.alert(AlertLevel.INFO, "fill", "buy 0.01 BTC/USD at 30000", source="s", fee="0.48 USD")
    risk_alert = await api.next_message(ALERTS)
    fill_alert = await api.next_message(ALERTS)
    assert risk_alert["text"] == "⚠️ [s] limits blocked an order  notional=1200 USD"
    assert fill_alert["text"] == "ℹ️ [s] buy 0.01 BTC/USD at 30000  fee=0.48 USD"
    assert (await api.next_message(GROUP))["text"] == risk_alert["text"]  # the group takes "risk" only
    assert [m["text"] for m in api.messages_to(GROUP)] == [risk_alert["text"]]
    assert not any("arbot started" in m["text"] for m in api.sent)  # "all -bot": bot alerts are off
    assert "reply_markup" not in risk_alert and risk_alert["parse_mode"] is None


async def test_a_429_is_retried_after_the_time_telegram_asked_for(api, start_bot):
    bot = await start_bot()
    api.refuse_next("sendMessage", retry_after_s=1)
    bot.alert(AlertLevel.ERROR, "risk", "feed lost", source="v")
    await api.wait(lambda: any(c.status == 429 for c in api.calls))
    # while the alert waits out retry_after, trading goes on: an order reaches the venue
    venue = bot.exchanges["v"]
    bot.executor.submit(OrderIntent("s", "v", "BTC/USD", Side.BUY, Decimal("1"), Decimal("100"), client_order_id="o1"))
    await wait_for(lambda: len(venue.received) == 1, what="the order to reach the venue")
    order_sent_at = asyncio.get_running_loop().time()
    delivered = await api.next_message(ALERTS)
    assert delivered["text"] == "❗ [v] feed lost"
    sends = [c for c in api.calls if c.method == "sendMessage" and c.params["chat_id"] == str(ALERTS)]
    assert [c.status for c in sends[:2]] == [429, 200]
    assert sends[1].at - sends[0].at >= 1.0  # waited retry_after, measured on the loop clock
    assert order_sent_at < sends[1].at


async def test_a_429_on_a_command_reply_is_retried_too(api, start_bot):
    await start_bot()
    api.refuse_next("sendMessage", retry_after_s=1)
    await api.command(ADMIN, "/help")
    reply = await api.next_message(ADMIN)
    assert "/status" in reply["text"] and "/nuke" in reply["text"]
    sends = [c for c in api.calls if c.method == "sendMessage"]
    assert [c.status for c in sends] == [429, 200] and sends[1].at - sends[0].at >= 1.0


async def test_stopping_acknowledges_updates_and_closes_cleanly(api, start_bot):
    bot = await start_bot()
    await api.command(ADMIN, "/status")
    await api.next_message(ADMIN)
    await bot.stop()
    last = [c for c in api.calls if c.method == "getUpdates"][-1]
    assert last.params["timeout"] == 0 and last.params["offset"] == 2  # update 1 acknowledged


async def test_a_wrong_token_leaves_the_notifier_out_and_names_the_plugin(api, make_bot, monkeypatch):
    from tests.fakes.venue import plugin as venue

    monkeypatch.setenv("ARBOT_TEST_TG_TOKEN", "999:wrong-token-value")
    bot = await make_bot(config(api), extra=[("venue", venue), ("throwaway", Throwaway)], start=False)
    resolve_secrets(bot.config)
    await bot.start()
    try:
        assert "tg" not in bot.notifiers
        errors = bot.plugins.infos["telegram"].errors
        assert errors == [f'notifier "tg" failed to start: BotAPIUnavailable: InvalidToken from {api.base_url}: '
                          'The token `env:ARBOT_TEST_TG_TOKEN` was rejected by the server.']
    finally:
        await bot.stop()


def test_settings_refuse_unknown_roles_and_bad_chat_ids():
    from bot.config import build_config, parse_toml
    from bot.plugins import collect, load_plugins
    from bot.settings import ConfigError

    registry = collect(load_plugins(entry_points=[], extra=[("telegram", __import__("plugins.telegram").telegram)]))
    with pytest.raises(ConfigError) as info:
        build_config(parse_toml("""
            [notifiers.tg]
            type = "telegram"
            token = "env:X"
            users = { 1 = "root", alice = "admin" }
            alert_chats = { general = "all" }
        """, "t"), registry, "t")
    assert [str(i) for i in info.value.issues] == [
        'notifiers.tg.users.1: expected one of "viewer", "operator", "admin", got "root"',
        "notifiers.tg.users.alice: expected a numeric Telegram user id as the key",
        "notifiers.tg.alert_chats.general: expected a numeric chat id (or @channelname) as the key"]


def test_alert_kinds_per_chat():
    from plugins.telegram.settings import AlertKinds

    assert AlertKinds.parse("all").wants("fill")
    assert not AlertKinds.parse("all -fill").wants("fill") and AlertKinds.parse("all -fill").wants("risk")
    assert AlertKinds.parse("risk, plugin_error").wants("plugin_error")
    assert not AlertKinds.parse("risk plugin_error").wants("fill")


def test_a_long_reply_is_cut_to_fit_one_telegram_message():
    from plugins.telegram.render import MAX_UTF16, reply_html

    rendered = reply_html(Reply("Orders", rows=[("o", "<" * 50)] * 200))
    assert rendered.startswith("<pre>Orders\n") and rendered.endswith("\n…</pre>")
    visible = rendered.removeprefix("<pre>").removesuffix("</pre>").replace("&lt;", "<")
    assert len(visible) == MAX_UTF16


async def test_kill_needs_the_same_admins_button_and_a_foreign_press_does_nothing(api, start_bot):
    bot = await start_bot()
    await api.command(ADMIN, "/kill fat finger", chat_id=GROUP)
    question = await api.next_message(GROUP)
    assert question["text"].startswith("<pre>Kill switch: pause 1 strategy and cancel 0 resting orders?")
    await api.press(OTHER_ADMIN, question)
    await api.wait(lambda: len(api.answered) == 1)
    assert not bot.strategies["s"].paused  # a foreign press does nothing
    await api.press(ADMIN, question)
    await api.wait(lambda: "reply_markup" not in question)
    assert "Kill switch:" in question["text"] and bot.strategies["s"].paused and bot.killed("s")
    assert [a[3:] for a in audit(bot)] == [("kill", "awaiting confirmation"),
                                           ("kill", "refused: confirmation of another user"),
                                           ("kill", "confirmed: ok")]


# --- hostile chats: strangers cannot slow anyone down ---------------------------------------------

FORUM = -900


async def test_a_hundred_strangers_in_a_group_do_not_hold_up_an_admins_private_kill(api, start_bot):
    bot = await start_bot()
    for n in range(100):
        await api.command(STRANGER + n, "/pause@arbot_test_bot s", chat_id=GROUP)
    loop = asyncio.get_running_loop()
    asked = loop.time()
    await api.command(ADMIN, "/kill fat finger")
    question = await api.next_message(ADMIN, timeout_s=30)
    waited_s = loop.time() - asked
    assert question["text"].startswith("<pre>Kill switch") and waited_s < 1.0, waited_s
    await api.press(ADMIN, question)
    await api.wait(lambda: "reply_markup" not in question)
    assert "Kill switch:" in question["text"] and bot.killed("s") and bot.strategies["s"].paused
    # the group got one refusal, not 100 (and never hit Telegram's 20-a-minute limit); the kill switch's alert goes
    # there too (the group takes "risk" alerts), whenever its send lane gets to it: not counted here
    assert [m["text"] for m in api.messages_to(GROUP)
            if "kill switch:" not in m["text"]] == ["<pre>Not authorized.</pre>"]
    assert all(c.status == 200 for c in api.calls if c.method == "sendMessage")
    bot.commands.flush_refusals(force=True)  # the window's count is audited when it closes (or on stop)
    in_group = [a for a in audit(bot) if a[2] == str(GROUP)]
    assert in_group == [("telegram", str(STRANGER), str(GROUP), "pause", "refused: no role"),
                        ("telegram", "", str(GROUP), "pause", "refused: no role, 99 more in this chat, not answered")]
    counted = next(r for r in audit_lines(bot) if r.outcome.startswith("refused: no role, 99"))
    assert counted.args == f"users {','.join(str(STRANGER + n) for n in range(1, 6))} and 94 more"


async def test_strangers_in_many_chats_get_at_most_the_configured_answers(api, start_bot):
    bot = await start_bot("[commands]\nstranger_replies_per_min = 3\n")
    for n in range(12):
        await api.command(STRANGER + n, "/status")  # each in their own private chat
    await api.command(ADMIN, "/status")
    assert (await api.next_message(ADMIN))["text"].startswith("<pre>Status")
    # each chat has its own send lane: the admin's answer may come before the last stranger's refusal is sent
    await api.wait(lambda: len([m for m in api.sent if m["chat"]["id"] >= STRANGER]) >= 3)
    refused = [m for m in api.sent if m["chat"]["id"] >= STRANGER]
    assert len(refused) == 3 and all(m["text"] == "<pre>Not authorized.</pre>" for m in refused)
    assert sum(a[4] == "refused: no role" for a in audit(bot)) == 12  # each chat's first refusal, answered or not


async def test_a_stranger_hammering_a_confirm_button_is_counted_not_answered(api, start_bot):
    bot = await start_bot()
    await api.command(ADMIN, "/nuke", chat_id=GROUP)
    question = await api.next_message(GROUP)
    for _ in range(10):
        await api.press(STRANGER, question)
    await api.press(ADMIN, question)
    await api.wait(lambda: "reply_markup" not in question)
    assert Throwaway.nuked == [[]] and len(api.answered) == 2  # the stranger's first press, then the admin's
    bot.commands.flush_refusals(force=True)
    assert [a[1:] for a in audit(bot)][-2:] == [
        (str(ADMIN), str(GROUP), "nuke", "confirmed: ok"),
        (str(STRANGER), str(GROUP), "nuke", "refused: no role, 9 more in this chat, not answered")]


async def test_replies_in_a_forum_topic_carry_its_message_thread_id(api, start_bot):
    await start_bot()
    await api.command(ADMIN, "/status", chat_id=FORUM, thread_id=77)
    reply = await api.next_message(FORUM)
    assert reply["text"].startswith("<pre>Status") and reply["message_thread_id"] == 77
    await api.command(ADMIN, "/nuke", chat_id=FORUM, thread_id=78)
    question = await api.next_message(FORUM)
    assert question["message_thread_id"] == 78 and "reply_markup" in question
    await api.command(ADMIN, "/status", chat_id=GROUP)  # an ordinary group: no topic
    assert "message_thread_id" not in await api.next_message(GROUP)


async def test_the_fake_refuses_a_groups_21st_message_in_a_minute_with_retry_after(api):
    import aiohttp

    async with aiohttp.ClientSession() as http:
        url = f"{api.base_url}/bot{TOKEN}/sendMessage"
        statuses = [(await http.post(url, data={"chat_id": str(GROUP), "text": "x"})).status for _ in range(21)]
        refusal = await (await http.post(url, data={"chat_id": str(GROUP), "text": "x"})).json()
        private = await http.post(url, data={"chat_id": str(ADMIN), "text": "x"})
    assert statuses == [200] * 20 + [429] and private.status == 200
    assert refusal["error_code"] == 429 and 55 <= refusal["parameters"]["retry_after"] <= 60


async def test_the_fake_refuses_over_4096_utf16_units_after_html_parsing_as_the_bot_api_does(api):
    import aiohttp

    url = f"{api.base_url}/bot{TOKEN}/sendMessage"
    cases = [("😀" * 2048, None, 200),  # 2,048 characters, 4,096 UTF-16 code units: the most there is room for
             ("😀" * 2048 + "x", None, 400),
             ("a" * 4096, None, 200), ("a" * 4097, None, 400),
             ("<pre>" + "&lt;" * 4096 + "</pre>", "HTML", 200),  # counted as shown: tags and references parsed
             ("<pre>" + "&lt;" * 4097 + "</pre>", "HTML", 400),
             ("", None, 400)]
    async with aiohttp.ClientSession() as http:
        for text, parse_mode, status in cases:
            data = {"chat_id": str(ADMIN), "text": text, **({"parse_mode": parse_mode} if parse_mode else {})}
            answer = await http.post(url, data=data)
            assert answer.status == status, (text[:20], parse_mode)
            if status == 400:
                assert (await answer.json())["description"] in ("Bad Request: message is too long",
                                                                "Bad Request: message text is empty")


async def test_a_long_alert_of_astral_characters_is_cut_to_fit_and_accepted(api, start_bot):
    bot = await start_bot()
    bot.alert(AlertLevel.ERROR, "risk", "🚀" * 3000, source="s")  # 6,000 UTF-16 code units
    sent = await api.next_message(ALERTS)
    text = sent["text"]
    assert text.startswith("❗ [s] 🚀") and text.endswith("\n…")
    assert len(text.encode("utf-16-le")) // 2 <= 4096
    assert not [c for c in api.calls if c.method == "sendMessage" and c.status != 200]


def test_a_long_reply_or_caption_is_cut_by_utf16_length_never_inside_a_reference_or_a_pair():
    from plugins.telegram.render import photo_caption, reply_html
    from tests.fakes.telegram_api import MAX_CAPTION_UTF16, MAX_TEXT_UTF16, parsed_length

    for row in ("😀" * 50, "&<😀>" * 20, "x😀" * 30):
        rendered = reply_html(Reply("Orders", rows=[("o", row)] * 200))
        assert rendered.startswith("<pre>Orders\n") and rendered.endswith("\n…</pre>")
        body = rendered.removeprefix("<pre>").removesuffix("</pre>")
        assert "<" not in body and re.fullmatch(r"([^&]|&(lt|gt|amp|quot|#x27);)*", body)  # whole references
        assert MAX_TEXT_UTF16 - 3 <= parsed_length(rendered, "HTML") <= MAX_TEXT_UTF16  # filled, not over
        caption = photo_caption(Reply("Chart", text=row * 40))
        assert parsed_length(caption, None) <= MAX_CAPTION_UTF16 and caption.endswith("…")
        caption.encode("utf-8")  # no half of a surrogate pair: a lone one does not encode


async def test_an_alert_a_chat_refuses_is_counted_and_shown_not_lost_unseen(api, start_bot):
    bot = await start_bot()
    tg = bot.notifiers["tg"]
    api.kicked.add(GROUP)  # someone removed the bot from the group: Telegram answers 403 for good
    bot.alert(AlertLevel.CRITICAL, "risk", "kill switch engaged", source="limits")  # both chats take "risk"
    await api.wait(lambda: any("kill switch" in m["text"] for m in api.messages_to(ALERTS)))
    await wait_for(lambda: tg.dropped_alerts() == 1, what="the refused alert to be counted")
    assert tg.status()["alerts refused"] == f"1 (last: {GROUP}: Forbidden: bot was kicked from the supergroup chat)"
    status = await bot.commands.dispatch(Caller("telegram", str(ADMIN), "admin"), "status", [])
    assert ("tg alerts refused", tg.status()["alerts refused"]) in status.rows


async def test_a_flood_of_alerts_to_a_group_keeps_its_limit_and_holds_up_nobody_else(api, start_bot):
    bot = await start_bot()
    for n in range(25):  # distinct messages: none coalesced
        bot.alert(AlertLevel.WARNING, "risk", f"order {n} blocked", source="s")
    await api.wait(lambda: len(api.messages_to(GROUP)) == 20)  # Telegram's 20 a minute, at once
    loop = asyncio.get_running_loop()
    asked = loop.time()
    await api.command(ADMIN, "/kill")
    question = await api.next_message(ADMIN)
    assert question["text"].startswith("<pre>Kill switch") and loop.time() - asked < 1.0
    assert all(c.status == 200 for c in api.calls if c.method == "sendMessage")  # the limit kept: no 429
    assert len(api.messages_to(GROUP)) == 20  # the other 5 wait for the window, in their lane


async def test_a_command_in_a_chat_its_alerts_flood_is_answered_before_the_alerts_queued_there(api, start_bot):
    """A trader sending /kill in the group their alerts flood waits for the next free slot, not for every alert
    queued in that group before it (here 2 messages a second in all: 12 alerts to the group and 12 to ALERTS)."""
    bot = await start_bot("max_messages_per_s = 2\ndrain_on_stop_s = 0\n")
    for n in range(12):  # distinct messages: none coalesced
        bot.alert(AlertLevel.WARNING, "risk", f"order {n} blocked", source="s")
    await api.wait(lambda: len(api.messages_to(GROUP)) >= 1)
    await api.command(ADMIN, "/kill", chat_id=GROUP)

    def asked() -> bool:
        return any(m["text"].startswith("<pre>Kill switch") for m in api.messages_to(GROUP))

    await api.wait(asked, timeout_s=15)
    sent = [m["text"] for m in api.messages_to(GROUP)]
    before = sent[:next(i for i, text in enumerate(sent) if text.startswith("<pre>Kill switch"))]
    # queued behind the group's alerts it would come after all 12 (about 12 s at 1 a second there); at the next
    # free slot it comes after the one or two sent by then, a few more on a loaded machine
    assert len(before) < 12, sent
    assert before == [f"⚠️ [s] order {n} blocked" for n in range(len(before))]  # the alerts keep their order


async def test_a_429_in_one_chat_holds_up_only_that_chat(api, start_bot):
    bot = await start_bot()
    api.refuse_next("sendMessage", retry_after_s=30, chat_id=GROUP)
    bot.alert(AlertLevel.WARNING, "risk", "limits blocked an order", source="s")  # to ALERTS and GROUP
    await api.wait(lambda: any(c.status == 429 for c in api.calls))
    await api.command(ADMIN, "/status")
    assert (await api.next_message(ADMIN))["text"].startswith("<pre>Status")
    assert (await api.next_message(ALERTS))["text"].endswith("limits blocked an order")
    assert api.messages_to(GROUP) == []  # waiting out its retry_after, alone


async def test_a_kill_its_confirmation_and_status_do_not_wait_behind_a_hung_command_in_their_chat(api, start_bot):
    bot = await start_bot()
    loop = asyncio.get_running_loop()
    await api.command(ADMIN, "/slow", chat_id=GROUP)  # waits on a slow venue, holding up its chat's order
    await api.command(ADMIN, "/strategies", chat_id=GROUP)  # an ordinary command: behind /slow
    asked = loop.time()
    await api.command(ADMIN, "/kill market crash", chat_id=GROUP)  # urgent: answered now, in the same chat
    question = await api.next_message(GROUP)
    assert question["text"].startswith("<pre>Kill switch") and loop.time() - asked < 1.0
    await api.press(ADMIN, question)  # the confirmation press of an urgent command is urgent too
    await api.wait(lambda: "reply_markup" not in question)
    assert "Kill switch: 1 strategy paused," in question["text"] and bot.strategies["s"].paused
    await api.command(OPERATOR, "/status", chat_id=GROUP)
    await api.wait(lambda: any(m["text"].startswith("<pre>Status") for m in api.messages_to(GROUP)))
    assert loop.time() - asked < 2.0
    await api.command(ADMIN, "/strategies")  # another chat's ordinary command: side by side
    assert (await api.next_message(ADMIN))["text"].startswith("<pre>Strategies")
    replies = [m["text"] for m in api.messages_to(GROUP) if m["text"].startswith("<pre>")]
    assert not any(r.startswith(("<pre>Done", "<pre>Strategies")) for r in replies)  # the group's wait their turn
    Throwaway.release.set()
    await api.wait(lambda: any(m["text"].startswith("<pre>Strategies") for m in api.messages_to(GROUP)))
    replies = [m["text"] for m in api.messages_to(GROUP) if m["text"].startswith(("<pre>Done", "<pre>Strategies"))]
    assert replies[0] == "<pre>Done slowly.</pre>" and replies[1].startswith("<pre>Strategies")  # in their order


async def test_urgent_commands_keep_their_order_in_a_chat_while_an_ordinary_one_hangs(api, start_bot):
    bot = await start_bot()
    await api.command(ADMIN, "/slow", chat_id=GROUP)
    await api.command(OPERATOR, "/pause s", chat_id=GROUP)
    await api.command(OPERATOR, "/resume s", chat_id=GROUP)  # after /pause: the trader's last word
    await api.command(OPERATOR, "/pause s", chat_id=GROUP)
    texts = [(await api.next_message(GROUP))["text"] for _ in range(3)]
    assert ["Paused: s" in texts[0], "Resumed: s" in texts[1], "Paused: s" in texts[2]] == [True] * 3
    assert bot.strategies["s"].paused and not Throwaway.release.is_set()
    Throwaway.release.set()
    assert (await api.next_message(GROUP))["text"] == "<pre>Done slowly.</pre>"


async def test_a_critical_alert_in_a_burst_of_fills_is_not_the_one_dropped(api, start_bot):
    bot = await start_bot()
    bot.alert(AlertLevel.CRITICAL, "risk", "kill switch engaged: daily loss limit", source="limits")
    for n in range(60):  # more than a chat's lane holds, all delivered in one pass: some must go
        bot.alert(AlertLevel.INFO, "fill", f"order {n} cancelled", source="s")
    first = await api.next_message(ALERTS)
    assert first["text"] == "🚨 [limits] kill switch engaged: daily loss limit"
    assert bot.notifiers["tg"].outbox.dropped == 11  # the oldest fills, counted


async def test_a_critical_repeating_a_warnings_text_is_sent_not_coalesced_into_it(api, start_bot):
    bot = await start_bot('min_level = "error"\n')  # a phone that wants only what needs action
    bot.alert(AlertLevel.WARNING, "risk", "feed v stale", source="staleness")
    bot.alert(AlertLevel.CRITICAL, "risk", "feed v stale", source="staleness")  # worse now: same words
    bot.alert(AlertLevel.WARNING, "risk", "feed v stale", source="staleness")
    assert (await api.next_message(ALERTS, timeout_s=3))["text"] == "🚨 [staleness] feed v stale"


async def test_an_alert_met_by_a_502_bad_gateway_is_sent_again(api, start_bot):
    bot = await start_bot()
    api.fail_next("sendMessage", status=502)  # Telegram's front, for a moment
    bot.alert(AlertLevel.ERROR, "risk", "order rejected by v", source="s")
    assert (await api.next_message(ALERTS))["text"] == "❗ [s] order rejected by v"
    sends = [c for c in api.calls if c.method == "sendMessage" and c.params["chat_id"] == str(ALERTS)]
    assert [c.status for c in sends] == [502, 200]


async def test_alerts_while_standing_by_are_held_and_sent_once_live_again(api, start_bot):
    bot = await start_bot()
    tg = bot.notifiers["tg"]
    await tg._stand_by()  # the lease went to another process: no polling, no sending
    await tg.send(Alert(level=AlertLevel.ERROR, kind="risk", source="limits", message="daily loss limit hit",
                        fields={}, ts_ns=1))
    await tg._go_live()  # the lease came back
    await api.wait(lambda: any("daily loss limit hit" in m["text"] for m in api.messages_to(ALERTS)))
    await api.wait(lambda: any("daily loss limit hit" in m["text"] for m in api.messages_to(GROUP)))  # "risk"
    assert tg.outbox.dropped == 0


async def test_held_alerts_are_bounded_dropping_the_oldest_least_urgent_counted(api, start_bot):
    bot = await start_bot()
    tg = bot.notifiers["tg"]
    await tg._stand_by()
    await tg.send(Alert(level=AlertLevel.CRITICAL, kind="risk", source="kill", message="kill switch", fields={},
                        ts_ns=1))
    for n in range(HELD_ALERTS + 10):  # to the one alert chat that takes fills
        await tg.send(Alert(level=AlertLevel.INFO, kind="fill", source="s", message=f"fill {n}", fields={},
                            ts_ns=2 + n))
    # the CRITICAL is held twice (both chats take "risk"): 112 lines, 12 over, the 12 oldest fills dropped
    assert tg.outbox.dropped == 12 and tg.status()["alerts dropped"] == "12"
    held = [text for _, _, text, _ in tg._held]
    assert sum("kill switch" in t for t in held) == 2 and tg.status()["alerts held"].startswith(f"{HELD_ALERTS} ")
    assert not any(t.endswith("fill 11") for t in held) and any(t.endswith("fill 12") for t in held)
    await tg._go_live()  # the oldest first (a group takes 20 a minute: the rest follow slowly)
    await api.wait(lambda: any("kill switch" in m["text"] for m in api.messages_to(ALERTS)))


async def test_an_alert_still_in_its_chats_lane_at_stop_is_counted_as_dropped(api, start_bot):
    bot = await start_bot("drain_on_stop_s = 0.2\n")
    tg = bot.notifiers["tg"]
    api.refuse_next("sendMessage", retry_after_s=60, chat_id=ALERTS)  # Telegram holds this chat back a minute
    bot.alert(AlertLevel.INFO, "fill", "buy 0.01 BTC/USD at 30000", source="s")  # to ALERTS only
    await api.wait(lambda: any(c.status == 429 for c in api.calls))
    await bot.stop()  # the line still waits out its retry_after: it reaches no chat
    assert api.messages_to(ALERTS) == []
    assert tg.dropped_alerts() == 1 and tg.status()["alerts dropped"] == "1"


async def test_a_reply_lost_at_stop_is_counted_as_a_reply_not_as_a_dropped_alert(api, start_bot):
    bot = await start_bot("drain_on_stop_s = 0.2\n")
    tg = bot.notifiers["tg"]
    api.refuse_next("sendMessage", retry_after_s=60, chat_id=ADMIN)  # the admin's own chat takes no alerts
    await api.command(ADMIN, "/status")
    await api.wait(lambda: any(c.status == 429 for c in api.calls))
    await bot.stop()  # the reply still waits out its retry_after: it reaches no chat
    assert api.messages_to(ADMIN) == []
    assert tg.dropped_alerts() == 0 and "alerts dropped" not in tg.status()
    assert tg.status()["replies dropped"] == "1"


async def test_a_reply_due_after_the_bot_stood_by_is_counted_as_dropped_not_lost_unseen(api, start_bot):
    bot = await start_bot()
    tg = bot.notifiers["tg"]
    await api.command(ADMIN, "/slow")  # handled while live, answered after the token's lease went elsewhere
    await asyncio.wait_for(Throwaway.started.wait(), 5)
    standing_by = asyncio.create_task(tg._stand_by())
    await wait_for(lambda: tg.app is None, what="the bot standing by")
    Throwaway.release.set()
    await standing_by
    await wait_for(lambda: tg.outbox.dropped_by_kind["reply"] == 1, what="the reply counted as dropped")
    assert api.messages_to(ADMIN) == [] and tg.status()["replies dropped"] == "1"
    assert tg.dropped_alerts() == 0  # a reply, not an alert


async def test_a_confirm_press_answered_after_the_bot_stood_by_is_counted_as_a_dropped_reply(api, start_bot,
                                                                                           monkeypatch):
    bot = await start_bot()
    tg = bot.notifiers["tg"]
    await api.command(ADMIN, "/nuke all")
    question = await api.next_message(ADMIN)
    confirm = bot.commands.confirm

    standing_by: list[asyncio.Task] = []

    async def confirm_then_stand_by(caller, token):  # the lease goes elsewhere while the confirmed command runs
        reply = await confirm(caller, token)
        standing_by.append(asyncio.create_task(tg._stand_by()))  # it waits for the handlers under way
        await wait_for(lambda: tg.app is None, what="the bot standing by")
        return reply

    monkeypatch.setattr(bot.commands, "confirm", confirm_then_stand_by)
    await api.press(ADMIN, question)
    await wait_for(lambda: tg.outbox.dropped_by_kind["reply"] == 1, what="the answer counted as dropped")
    await standing_by[0]
    assert Throwaway.nuked == [["all"]] and api.answered == [] and "reply_markup" in question
    assert tg.status()["replies dropped"] == "1"


async def test_an_alert_chat_upgraded_to_a_supergroup_is_followed_and_the_operator_told_once(api, start_bot):
    bot = await start_bot()
    tg = bot.notifiers["tg"]
    api.upgrade(GROUP, SUPERGROUP)  # someone made the group's history visible: Telegram upgraded it
    bot.alert(AlertLevel.WARNING, "risk", "order 1 blocked", source="s")  # to ALERTS and GROUP ("risk")
    bot.alert(AlertLevel.WARNING, "risk", "order 2 blocked", source="s")
    await api.wait(lambda: len(api.messages_to(SUPERGROUP)) == 2)
    assert [m["text"] for m in api.messages_to(SUPERGROUP)] == ["⚠️ [s] order 1 blocked", "⚠️ [s] order 2 blocked"]
    to_old = [c.status for c in api.calls if c.method == "sendMessage" and c.params["chat_id"] == str(GROUP)]
    assert to_old == [400]  # asked once: the next alert goes to the new id at once
    await api.wait(lambda: any("upgraded" in m["text"] for m in api.messages_to(ALERTS)))  # ALERTS takes "chat"
    [notice] = [m["text"] for m in api.messages_to(ALERTS) if "upgraded" in m["text"]]
    assert f'alert_chats = {{ {SUPERGROUP} = "risk" }}' in notice and str(GROUP) in notice
    assert tg.status()["chats moved"] == f"{GROUP} -> {SUPERGROUP} (update alert_chats)"
    assert tg.dropped_alerts() == 0
