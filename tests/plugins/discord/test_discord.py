"""The discord transport: discord.py 2.7 against a fake Discord (REST + gateway) on 127.0.0.1.

The client logs in, syncs its slash commands and connects to the fake gateway inside a bot started
by ``make_bot``; the fake then delivers INTERACTION_CREATE dispatches as Discord does for slash
commands and button presses, and records the bot's interaction callbacks and channel messages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path

import discord.gateway
import discord.http
import pytest

from bot import hookimpl
from bot.api import FLEET_ORIGIN, Caller, Command, Reply, Strategy
from bot.config import resolve_secrets
from bot.domain import Alert, AlertLevel
from plugins.discord.render import MAX_CHARS, alert_text, reply_block
from plugins.discord.settings import PUBLIC_API_BASE, PUBLIC_GATEWAY, DiscordSettings
from tests.fakes.discord_api import ALERT_CHANNEL_ID, CHANNEL_ID, GUILD_ID, OTHER_CHANNEL_ID, FakeDiscord
from tests.fakes.venue import plugin as venue_plugin
from tests.helpers.store_kit import audit_lines
from tests.helpers.waiting import wait_for

ADMIN, VIEWER, STRANGER = 111111111111111111, 222222222222222222, 333333333333333333


class Idle(Strategy):
    def markets(self):
        return [("v", "BTC/USD")]


class Plugin:
    """A strategy to pause, and a throwaway command that must be confirmed."""

    launched: list[str] = []
    launch_s = 0.0
    """How long a launch takes (a kill switch cancelling every resting order on a slow venue)."""

    @staticmethod
    @hookimpl
    def register_strategies(register):
        register("idle", Idle)

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def launch(bot, caller, args):
            await asyncio.sleep(Plugin.launch_s)
            Plugin.launched.append(caller.user_id)
            return Reply("Launched.", text=" ".join(args))

        register(Command("launch", launch, "admin", "a dangerous test command", "[what]",
                         confirm=lambda bot, args: "Really launch?"))

        async def nap(bot, caller, args):
            await asyncio.sleep(0.2)
            return Reply("Rested.")

        register(Command("nap", nap, "viewer", "a slow test command"))

        async def hang(bot, caller, args):
            Plugin.hanging.set()
            await Plugin.release.wait()  # a venue that does not answer
            return Reply("Answered at last.")

        register(Command("hang", hang, "viewer", "a command that hangs"))

    hanging = asyncio.Event()
    release = asyncio.Event()


def config(fake: FakeDiscord, places: str = f"guild_ids = [{GUILD_ID}]\nchannel_ids = [{CHANNEL_ID}]") -> str:
    return f"""
    [exchanges.v]
    type = "scripted"
    [strategies.s]
    type = "idle"
    [notifiers.dc]
    type = "discord"
    token = "env:ARBOT_TEST_DISCORD_TOKEN"
    api_base = "{fake.api_base}"
    gateway_url = "{fake.gateway_url}"
    {places}
    alert_channel_id = {ALERT_CHANNEL_ID}
    min_level = "info"
    users = {{ "{ADMIN}" = "admin", "{VIEWER}" = "viewer" }}
    """


async def start_bot(make_bot, fake: FakeDiscord, monkeypatch, token: str = "discord-test-token", bot_keys: str = "",
                    **places):
    """A bot with the discord notifier pointed at ``fake``, started with its secrets resolved (``bot_keys``: lines of
    its ``[bot]`` table).

    make_bot does not resolve secrets (its other users have none), so this starts the bot itself;
    the caller stops it, before the fake goes away."""
    monkeypatch.setenv("ARBOT_TEST_DISCORD_TOKEN", token)
    bot = await make_bot(bot_keys + config(fake, **places),
                         extra=[("scripted", venue_plugin), ("test-discord", Plugin)], start=False)
    resolve_secrets(bot.config)
    await bot.start()
    return bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def bot(fake, make_bot, monkeypatch):
    """A started bot with the discord notifier connected to the fake; stopped before the fake is."""
    Plugin.launched.clear()
    Plugin.launch_s = 0.0
    Plugin.hanging, Plugin.release = asyncio.Event(), asyncio.Event()
    bot = await start_bot(make_bot, fake, monkeypatch)
    try:
        assert "dc" in bot.notifiers, "the discord notifier did not start"
        await wait_for(fake.ready.is_set, what="the client to identify on the fake gateway")
        yield bot
    finally:
        await bot.stop()


def audit(bot, user_id: int) -> list[tuple[str, str, str, str]]:
    return [(r.transport, r.chat_id, r.command, r.outcome) for r in audit_lines(bot) if r.user_id == str(user_id)]


async def test_login_and_slash_commands_synced_per_guild(bot, fake):
    assert ("GET", "/users/@me") in fake.requests and ("GET", "/oauth2/applications/@me") in fake.requests
    names = {c["name"] for c in fake.synced[str(GUILD_ID)]}
    assert {"status", "pause", "resume", "help", "launch"} <= names
    pause = next(c for c in fake.synced[str(GUILD_ID)] if c["name"] == "pause")
    assert pause["options"][0]["name"] == "args" and not pause["options"][0].get("required")
    assert "global" not in fake.synced
    await wait_for(lambda: fake.heartbeats >= 1, what="a heartbeat (ACKed by the fake)")
    assert fake.compression in ("zlib-stream", "zstd-stream")  # zlib-stream frames are sent compressed


async def test_admin_gets_status_in_a_code_block(bot, fake):
    callback = await fake.slash(ADMIN, "status")
    assert callback.type == 4 and not callback.ephemeral
    assert callback.content.startswith("```\n") and callback.content.endswith("\n```")
    assert "paper" in callback.content or "observe" in callback.content or "live" in callback.content
    assert ("discord", str(CHANNEL_ID), "status", "ok") in audit(bot, ADMIN)


async def test_stranger_is_refused_once_audited_and_nothing_pauses(bot, fake):
    callback = await fake.slash(STRANGER, "pause", "s")
    assert callback.ephemeral and "Not authorized." in callback.content
    assert callback.content.count("\n") == 2  # the fences and one line
    assert not bot.strategies["s"].paused
    assert ("discord", str(CHANNEL_ID), "pause", "refused: no role") in audit(bot, STRANGER)


async def test_a_slash_command_arbot_does_not_know_gets_one_private_line(bot, fake):
    callback = await fake.slash(ADMIN, "gone")  # e.g. synced by an earlier version, since removed
    assert callback.ephemeral and callback.content == "That command is not available."


async def test_a_viewer_cannot_pause_and_outside_the_channels_nobody_has_a_role(bot, fake):
    callback = await fake.slash(VIEWER, "pause", "s")
    assert "needs the operator role" in callback.content
    assert not bot.strategies["s"].paused
    # The admin outside the configured channel has no role there.
    callback = await fake.slash(ADMIN, "pause", "s", channel_id=OTHER_CHANNEL_ID)
    assert callback.ephemeral and "Not authorized." in callback.content
    assert not bot.strategies["s"].paused
    callback = await fake.slash(ADMIN, "pause", "s")
    assert bot.strategies["s"].paused and not callback.ephemeral


async def test_confirmation_needs_the_same_users_button_press(bot, fake):
    question = await fake.slash(ADMIN, "launch", "rocket")
    assert "Really launch?" in question.content and Plugin.launched == []
    [custom_id] = question.custom_ids
    assert re.fullmatch(r"arbot:confirm:[A-Za-z0-9_-]+", custom_id)

    foreign = await fake.click(question.message, VIEWER)
    assert foreign.type == 4 and foreign.ephemeral and "Only the user who sent the command" in foreign.content
    stranger = await fake.click(question.message, STRANGER)
    assert stranger.ephemeral and Plugin.launched == []

    done = await fake.click(question.message, ADMIN)
    assert done.type == 7 and "Launched." in done.content and "rocket" in done.content
    assert done.data.get("components") == []  # the button is gone
    assert Plugin.launched == [str(ADMIN)]

    replay = await fake.click(question.message, ADMIN, custom_id)  # a double tap
    assert replay.ephemeral and "Already confirmed once." in replay.content
    assert Plugin.launched == [str(ADMIN)]
    outcomes = [o for _, _, c, o in audit(bot, ADMIN) if c == "launch"]
    assert "awaiting confirmation" in outcomes and "confirmed: ok" in outcomes


async def test_a_slow_command_is_deferred_and_answered_by_a_follow_up(bot, fake, monkeypatch):
    monkeypatch.setattr("plugins.discord.notifier.REPLY_WITHIN_S", 0.05)
    callback = await fake.slash(VIEWER, "nap")
    assert callback.type == 5  # "arbot is thinking...", before Discord's 3 s are up
    await wait_for(lambda: fake.followups, what="the follow-up message")
    [followup] = fake.followups
    assert "Rested." in followup["content"]
    assert ("discord", str(CHANNEL_ID), "nap", "ok") in audit(bot, VIEWER)


async def test_a_confirmed_command_that_takes_long_is_deferred_and_its_result_replaces_the_question(bot, fake,
                                                                                                  monkeypatch):
    """Discord takes an answer to a press within 3 s; a confirmed command running longer (a kill cancelling every
    order on a slow venue) must not leave the trader with "This interaction failed" and the question still up."""
    monkeypatch.setattr("plugins.discord.notifier.REPLY_WITHIN_S", 0.05)
    fake.answer_within_s = 0.5
    Plugin.launch_s = 1.0
    question = await fake.slash(ADMIN, "launch", "rocket")
    done = await fake.click(question.message, ADMIN)
    assert done.type == 6  # "loading" on the button, within Discord's time
    await wait_for(lambda: "Launched." in fake.message_now(question.message["id"])["content"], timeout_s=5,
                   what="the question replaced by the result")
    assert fake.message_now(question.message["id"])["components"] == []  # the button is gone
    assert Plugin.launched == [str(ADMIN)] and fake.late_callbacks == 0
    # another user's press is refused at once, to them alone, as before
    foreign = await fake.click(question.message, VIEWER)
    assert foreign.type == 4 and foreign.ephemeral


async def test_the_client_resumes_after_the_gateway_drops_it(bot, fake):
    await fake.drop()
    await wait_for(fake.resumed.is_set, what="the client to resume its session")
    assert fake.identifies == 1 and fake.resumes == 1
    assert (await fake.slash(ADMIN, "status")).type == 4


async def test_a_refused_token_leaves_the_notifier_out_and_the_bot_running(fake, make_bot, monkeypatch):
    bot = await start_bot(make_bot, fake, monkeypatch, token="not-the-token")
    try:
        assert "dc" not in bot.notifiers and "s" in bot.strategies
        assert fake.requests == [("GET", "/users/@me")] and fake.identifies == 0
        assert discord.http.Route.BASE == PUBLIC_API_BASE  # the override did not outlive the failure
        assert any("LoginFailure" in e for e in bot.plugins.infos["discord"].errors)
    finally:
        await bot.stop()


async def test_without_guild_ids_commands_are_global_and_work_in_a_dm(fake, make_bot, monkeypatch):
    bot = await start_bot(make_bot, fake, monkeypatch, places="")
    try:
        assert "status" in {c["name"] for c in fake.synced["global"]}
        await wait_for(fake.ready.is_set, what="the client to identify")
        callback = await fake.slash(VIEWER, "status", guild_id=None, channel_id=555)
        assert callback.type == 4 and "```" in callback.content and not callback.ephemeral
        refused = await fake.slash(STRANGER, "status", guild_id=None, channel_id=556)
        assert refused.ephemeral and "Not authorized." in refused.content
        assert ("discord", "555", "status", "ok") in audit(bot, VIEWER)
    finally:
        await bot.stop()


async def test_a_refused_sync_is_alerted_and_the_rest_still_runs(fake, make_bot, monkeypatch):
    fake.refuse_sync = True
    bot = await start_bot(make_bot, fake, monkeypatch)
    try:
        assert "dc" in bot.notifiers
        await fake.wait_channel_message(ALERT_CHANNEL_ID, "Discord slash commands not synced")
    finally:
        await bot.stop()


async def test_alerts_post_to_the_alert_channel(bot, fake):
    bot.alert(AlertLevel.WARNING, "feed", "kraken feed reconnected", source="kraken", gaps="2")
    message = await fake.wait_channel_message(ALERT_CHANNEL_ID, "kraken feed reconnected")
    assert message["content"] == "**WARNING** [kraken] kraken feed reconnected  `gaps=2`"
    assert all(m["channel_id"] == str(ALERT_CHANNEL_ID) for m in fake.channel_messages)


async def test_an_alert_refused_with_429_is_sent_after_retry_after(bot, fake):
    await fake.wait_channel_message(ALERT_CHANNEL_ID, "arbot started")  # nothing else in flight
    fake.rate_limits = [0.2]
    bot.alert(AlertLevel.ERROR, "risk", "daily loss limit exceeded", source="limits")
    await fake.wait_channel_message(ALERT_CHANNEL_ID, "daily loss limit exceeded")
    (refused_at, refused), (sent_at, sent) = fake.message_times[-2:]
    assert (refused, sent) == (429, 200) and sent_at - refused_at >= 0.2


async def test_endpoints_are_restored_after_stop(fake, make_bot, monkeypatch):
    bot = await start_bot(make_bot, fake, monkeypatch)
    try:
        assert discord.http.Route.BASE == fake.api_base
    finally:
        await bot.stop()
    assert discord.http.Route.BASE == PUBLIC_API_BASE
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == PUBLIC_GATEWAY


def test_reply_block_and_alert_text_fit_discord():
    long = Reply("t", rows=[("x" * 50,)] * 100)
    assert len(reply_block(long)) <= MAX_CHARS and reply_block(long).endswith("\n```")
    assert "```" not in reply_block(Reply("a ``` b"))[3:-3]
    alert = Alert(AlertLevel.ERROR, "risk", "limits", "x" * 3000, ts_ns=0)
    assert len(alert_text(alert)) <= MAX_CHARS


def test_data_in_an_alert_is_markdown_escaped_and_the_bots_own_formatting_is_not():
    alert = Alert(AlertLevel.ERROR, "risk", "grid_1", "order *big* rejected: ~x~ |y| `z` _a_\n> quoted",
                  fields={"reason": "post_only*"}, ts_ns=0)
    assert alert_text(alert) == ("**ERROR** [grid\\_1] order \\*big\\* rejected: \\~x\\~ \\|y\\| \\`z\\` \\_a\\_\n"
                                 "\\> quoted  `reason=post_only*`")  # a code span shows its text as it is
    relayed = Alert(AlertLevel.WARNING, "risk", "s", "m", fields={FLEET_ORIGIN: "bot_2"}, ts_ns=0)
    assert alert_text(relayed, "front").startswith("**[bot\\_2]** **WARNING** [s] m")


def test_a_long_escaped_alert_is_cut_to_discords_limit_keeping_its_formatting_and_figures():
    for message in ("*" * 3000, "a*" * 1500, "x" * 1997 + "_" * 10, "\\" * 2500):
        alert = Alert(AlertLevel.ERROR, "risk", "limits", message, fields={"loss": "12 USD"}, ts_ns=0)
        text = alert_text(alert)
        assert len(text) <= MAX_CHARS and text.startswith("**ERROR** [limits] ")
        assert text.endswith("…  `loss=12 USD`"), text[-40:]
        head = text.removeprefix("**ERROR** [limits] ").removesuffix("…  `loss=12 USD`").rstrip("\n")
        assert (len(head) - len(head.rstrip("\\"))) % 2 == 0  # no escape cut from the character it escapes
    huge = Alert(AlertLevel.ERROR, "risk", "limits", "m", fields={"k": "v" * 5000}, ts_ns=0)
    assert len(alert_text(huge)) <= MAX_CHARS and alert_text(huge).endswith("…`")


async def test_an_alert_of_markdown_characters_longer_than_discord_takes_is_accepted(bot, fake):
    await fake.wait_channel_message(ALERT_CHANNEL_ID, "arbot started")
    bot.alert(AlertLevel.ERROR, "risk", "~" * 1990 + " limit", source="limits", loss="12 USD")
    message = await fake.wait_channel_message(ALERT_CHANNEL_ID, "loss=12 USD")
    assert len(message["content"]) <= 2000 and message["content"].startswith("**ERROR** [limits] \\~\\~")
    assert 400 not in [status for _, status in fake.message_times]


def test_settings_reject_bad_roles():
    """(The URLs are the host's validator's: tests/plugins/discord/test_discord_settings.py.)"""
    from bot.settings import Secret

    settings = DiscordSettings(token=Secret("env:X"), users={"12": "root", "bob": "admin"})
    problems = dict(settings.validate())
    assert set(problems) == {"users.12", "users.bob"}


def test_config_example_documents_every_discord_key_and_is_valid_uncommented():
    import dataclasses
    import tomllib

    from bot.settings import parse_settings

    text = (Path(__file__).resolve().parents[3] / "config.example.toml").read_text()
    block = text[text.index("# [notifiers.discord]"):].split("\n\n")[0]
    lines = [line[2:] for line in block.splitlines() if line.startswith("# ") and not line.startswith("#  ")]
    table = tomllib.loads("\n".join(lines))["notifiers"]["discord"]
    assert set(table) == {f.name for f in dataclasses.fields(DiscordSettings)}
    issues: list = []
    assert parse_settings(DiscordSettings, table, "notifiers.discord", issues) is not None, issues


async def test_a_command_name_discord_cannot_take_is_left_out_not_fatal(caplog):
    from plugins.discord.client import ArbotClient

    async def handler(bot, caller, args):
        return Reply("x")

    client = ArbotClient(transport=None)
    try:
        names = client.add_commands([Command("ok-name", handler, "viewer", "fine"),
                                     Command("n" * 40, handler, "viewer", "too long for Discord")],
                                    run=None, guild_ids=[])
        assert names == ["ok-name"]
        assert "is not offered on Discord" in caplog.text
    finally:
        await client.close()


async def test_a_hundred_strangers_do_not_hold_up_an_admins_kill(bot, fake):
    ids = [await fake.slash_later(STRANGER + n, "pause", "s") for n in range(100)]
    loop = asyncio.get_running_loop()
    asked = loop.time()
    question = await fake.slash(ADMIN, "kill", "fat finger", timeout_s=30)
    waited_s = loop.time() - asked
    assert "Kill switch: pause 1 strategy and" in question.content and question.custom_ids, question.content
    assert waited_s < 1.0, waited_s
    done = await fake.click(question.message, ADMIN)
    assert done.type == 7 and "Kill switch:" in done.content and bot.killed("s") and bot.strategies["s"].paused
    await wait_for(lambda: any(c.interaction_id == ids[0] for c in fake.callbacks), what="the first refusal")
    answered = [c for c in fake.callbacks if c.interaction_id in ids]
    assert len(answered) == 1 and answered[0].ephemeral and "Not authorized." in answered[0].content
    bot.commands.flush_refusals(force=True)
    rows = [(r.chat_id, r.command, r.outcome) for r in audit_lines(bot) if r.outcome.startswith("refused")]
    assert sorted(rows) == [(str(CHANNEL_ID), "pause", "refused: no role"),
                            (str(CHANNEL_ID), "pause", "refused: no role, 99 more in this chat, not answered")]



async def test_a_hung_command_does_not_hold_up_a_kill_its_confirmation_or_status_in_its_channel(bot, fake):
    """Discord hands each interaction to its own task: an urgent command needs no lane of its own here."""
    hung = await fake.slash_later(ADMIN, "hang")
    await asyncio.wait_for(Plugin.hanging.wait(), 5)
    loop = asyncio.get_running_loop()
    asked = loop.time()
    question = await fake.slash(ADMIN, "kill", "venue stuck")  # the same channel, the same user
    assert "Kill switch: pause 1 strategy and" in question.content and loop.time() - asked < 1.0
    done = await fake.click(question.message, ADMIN)
    assert done.type == 7 and "Kill switch:" in done.content and bot.killed("s")
    status = await fake.slash(VIEWER, "status")
    assert status.type == 4 and "paused" in status.content and loop.time() - asked < 2.0
    assert not any(c.interaction_id == hung and "Answered" in c.content for c in fake.callbacks)
    Plugin.release.set()
    await wait_for(lambda: any("Answered at last." in str(m.get("content")) for m in fake.followups)
                   or any(c.interaction_id == hung and "Answered" in c.content for c in fake.callbacks),
                   what="the hung command's answer")


async def test_a_rotated_token_is_used_without_a_restart(bot, fake, monkeypatch):
    notifier, identified = bot.notifiers["dc"], fake.identifies
    fake.token = "rotated-discord-token"  # reset in the developer portal: the old one is refused from now on
    monkeypatch.setenv("ARBOT_TEST_DISCORD_TOKEN", "rotated-discord-token")
    lines = await bot.reload_secrets(by="test")
    assert "dc: new value of notifiers.dc.token in use" in lines
    await wait_for(lambda: fake.identifies == identified + 1, what="the new client on the gateway")
    assert (await fake.slash(ADMIN, "status")).type == 4
    bot.alert(AlertLevel.WARNING, "risk", "after the rotation", source="v")
    await fake.wait_channel_message(ALERT_CHANNEL_ID, "after the rotation")
    assert bot.notifiers["dc"] is notifier


async def test_stopping_with_alerts_held_back_by_a_429_is_bounded(bot, fake):
    fake.rate_limits.extend([30.0] * 5)  # Discord holds every channel message back for 30 s
    for n in range(5):
        bot.alert(AlertLevel.WARNING, "risk", f"order {n} blocked", source="s")
    await wait_for(lambda: any(status == 429 for _, status in fake.message_times), what="the first 429")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bot.stop()
    assert loop.time() - started < bot.config.bot.shutdown_timeout_s


async def test_alerts_still_in_the_channels_lane_at_stop_are_counted_as_dropped(bot, fake):
    await fake.wait_channel_message(ALERT_CHANNEL_ID, "arbot started")  # nothing else in flight
    notifier = bot.notifiers["dc"]
    notifier.settings = dataclasses.replace(notifier.settings, drain_on_stop_s=0.2)
    fake.rate_limits = [30.0]  # Discord holds the channel back for 30 s
    bot.alert(AlertLevel.ERROR, "risk", "daily loss limit exceeded", source="limits")
    await wait_for(lambda: any(status == 429 for _, status in fake.message_times), what="the 429")
    await bot.stop()  # that alert waits out its 429, "arbot stopped" behind it: neither reaches the channel
    assert notifier.dropped_alerts() == 2 and notifier.status()["alerts dropped"] == "2"


async def test_an_alert_given_up_on_a_429_longer_than_send_timeout_is_counted_dropped(bot, fake):
    await fake.wait_channel_message(ALERT_CHANNEL_ID, "arbot started")  # nothing else in flight
    notifier = bot.notifiers["dc"]
    notifier.settings = dataclasses.replace(notifier.settings, send_timeout_s=0.2)
    fake.rate_limits = [30.0]  # Discord asks for a wait far past send_timeout_s
    bot.alert(AlertLevel.ERROR, "risk", "daily loss limit exceeded", source="limits")
    await wait_for(lambda: notifier.outbox.pending() == 0 and notifier.outbox.dropped + notifier.outbox.failed > 0,
                   what="the alert to be given up on")
    assert (notifier.outbox.dropped, notifier.outbox.failed) == (1, 0)
    assert notifier.status()["alerts dropped"] == "1"


async def test_an_alert_the_channel_refuses_is_counted_and_shown_not_lost_unseen(bot, fake):
    await fake.wait_channel_message(ALERT_CHANNEL_ID, "arbot started")
    notifier = bot.notifiers["dc"]
    fake.forbidden_channels.add(ALERT_CHANNEL_ID)  # the bot's role lost the right to post there
    bot.alert(AlertLevel.CRITICAL, "risk", "kill switch engaged", source="limits")
    await wait_for(lambda: notifier.dropped_alerts() >= 1, what="the refused alert to be counted")
    refused = notifier.alerts_refused
    assert refused == notifier.dropped_alerts() - notifier.outbox.dropped
    assert notifier.status()["alerts refused"].startswith(f"{refused} (last: Forbidden: 403 Forbidden (error code: "
                                                          "50001)")
    status = await bot.commands.dispatch(Caller("discord", str(ADMIN), "admin"), "status", [])
    assert ("dc alerts refused", notifier.status()["alerts refused"]) in status.rows


async def test_alerts_while_standing_by_are_held_and_posted_once_live_again(bot, fake):
    await fake.wait_channel_message(ALERT_CHANNEL_ID, "arbot started")
    notifier = bot.notifiers["dc"]
    await notifier._stand_by()  # the lease went to another process: no gateway session, no posting
    await notifier.send(Alert(level=AlertLevel.ERROR, kind="risk", source="limits", message="daily loss limit hit",
                              fields={}, ts_ns=1))
    assert notifier.status()["alerts held"].startswith("1 ")
    await notifier._go_live()  # the lease came back
    await fake.wait_channel_message(ALERT_CHANNEL_ID, "daily loss limit hit")
    assert notifier.dropped_alerts() == 0 and "alerts held" not in notifier.status()


async def test_held_alerts_are_bounded_dropping_the_oldest_least_urgent_counted(bot, fake):
    from plugins.discord.notifier import HELD_ALERTS

    await fake.wait_channel_message(ALERT_CHANNEL_ID, "arbot started")
    notifier = bot.notifiers["dc"]
    await notifier._stand_by()
    await notifier.send(Alert(level=AlertLevel.CRITICAL, kind="risk", source="kill", message="kill switch",
                              fields={}, ts_ns=1))
    for n in range(HELD_ALERTS + 5):
        await notifier.send(Alert(level=AlertLevel.INFO, kind="fill", source="s", message=f"fill {n}", fields={},
                                  ts_ns=2 + n))
    assert notifier.outbox.dropped == 6 and notifier.status()["alerts dropped"] == "6"
    await notifier.stop()  # never up again: what is held reaches no chat, and is counted
    assert notifier.dropped_alerts() == 6 + HELD_ALERTS
