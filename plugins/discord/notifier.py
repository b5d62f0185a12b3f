"""The Discord transport: discord.py 2 inside the bot's loop, slash commands in, alerts out.

Thin: a slash command ``/pause args:grid-1`` becomes ``ctx.commands.dispatch(caller, "pause",
["grid-1"])`` and the :class:`~bot.api.Reply` is shown in a code block (its image, if any, as a
file attachment); a reply waiting for confirmation gets a Confirm button whose press becomes
``ctx.commands.confirm(caller, token)``.
Roles, refusals, confirmations, rate limits and the audit are the command table's. discord.py
handles each interaction in its own task, so one slow command holds up no other; a stranger's
refusal folded into one already answered in that channel (a silent reply) is not answered at all.
Alerts go out through an :class:`~bot.api.kit.Outbox` lane, so a channel message waiting out a 429
never holds up the host's alert delivery; an alert taken while the client is not logged in (standing by) is held,
bounded, and posted once it is.

Lifecycle: ``start`` logs in (two REST calls), adds the commands to the tree, syncs them, and runs
``Client.connect`` (the gateway) as a background task; ``stop`` calls ``Client.close``. The
library never owns the loop: no ``Client.run``.

One token, one gateway session: the client logs in only while this process holds the token's
store lease (:class:`~bot.api.kit.TokenLease`); another process with the same token (a fleet's
other bot sharing the database) stands by, neither connecting nor sending, and takes over when the
holder stops.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections import deque
from collections.abc import Awaitable, Callable

import discord  # the library (absolute import)
import discord.gateway
import discord.http
from yarl import URL

from bot.api import Alert, AlertLevel, Caller, Notifier, Reply
from bot.api.kit import REDACTOR, Outbox, TokenLease, drop_least_urgent

from .client import ArbotClient, confirm_view
from .render import alert_text, reply_block
from .settings import DiscordSettings

HELD_ALERTS = 100
"""Alert lines held while the client is not logged in (standing by for another process); beyond, the oldest
least urgent is dropped and counted."""

CLOSE_WHEN_CUT_OFF_S = 0.5
"""How long a stop cut off gives the client to close (the gateway's close handshake) before it goes on without."""

REPLY_WITHIN_S = 2.0
"""Discord drops an interaction not answered within 3 s: a command still running after this long is
deferred ("arbot is thinking...") and its reply sent as a follow-up."""


class DiscordNotifier(Notifier):
    """Alerts to ``alert_channel_id``; slash commands and Confirm buttons from users in ``users``."""

    Settings = DiscordSettings

    def __init__(self, name, settings, ctx):
        super().__init__(name, settings, ctx)
        self.client: ArbotClient | None = None
        self._saved_endpoints: tuple[str, URL] | None = None
        self.outbox = Outbox(f"discord {name}", ctx.log)
        self.lease: TokenLease | None = None
        self._watch: asyncio.Task | None = None
        self._held: deque[tuple[int, str]] = deque()
        """(priority, text) of alert lines taken while the client is not logged in, posted once it is."""
        self.alerts_refused = 0
        """Alerts whose post failed (a channel that refuses the bot, Discord unreachable): lost."""
        self.last_refusal = ""
        self._stop_step = "stopping"
        """What :meth:`stop` is waiting for now, as its log line names it when the stop is cut off."""

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._point_at(self.settings.api_base, self.settings.gateway_url)
        self.lease = TokenLease(self.ctx.store, "discord", self.settings.token.reveal, go_live=self._go_live,
                                stand_by=self._stand_by, notice=self._notice, log=self.ctx.log,
                                retry_s=self.settings.lease_retry_s)
        try:
            await self.lease.start()
        except BaseException:
            self._restore_endpoints()
            raise
        self._watch = self.ctx.create_task(self.lease.watch(), "discord token lease")

    async def _go_live(self) -> None:
        self._point_at(self.settings.api_base, self.settings.gateway_url)  # another notifier may have restored them
        client, names = await self._logged_in(sync=self.settings.sync_commands)
        self.client = client
        self.ctx.log.info("logged in as %s; %d slash command(s)", client.user, len(names))
        self.ctx.create_task(client.connect(reconnect=True), "discord gateway")
        held, self._held = self._held, deque()
        for priority, text in held:
            self._queue(text, priority)

    async def _stand_by(self) -> None:
        """Another process holds the token now: close the gateway session, send nothing."""
        client, self.client = self.client, None
        if client is not None:
            await client.close()

    def _notice(self, message: str) -> None:
        self.ctx.log.warning("%s", message)
        self.ctx.alert(AlertLevel.WARNING, "chat", message)

    def status(self) -> dict[str, str]:
        facts = self.lease.status() if self.lease is not None else {}
        if self._held:
            facts["alerts held"] = f"{len(self._held)} (until the client is logged in)"
        if self.outbox.dropped:
            facts["alerts dropped"] = str(self.outbox.dropped)
        if self.alerts_refused:
            facts["alerts refused"] = f"{self.alerts_refused} (last: {self.last_refusal})"
        return facts

    def dropped_alerts(self) -> int:
        return self.outbox.dropped + self.alerts_refused

    async def _logged_in(self, *, sync: bool) -> tuple[ArbotClient, list[str]]:
        """A client logged in with the token in force, its slash commands added (and synced)."""
        client = ArbotClient(self)
        try:
            await client.login(self.settings.token.reveal())
            # Every command (an admin sees them all): Discord lists them to everyone in the guild,
            # and the command table decides, per call, who may run which.
            names = client.add_commands(self.ctx.commands.visible_to(Caller("discord", "", "admin")),
                                        self._run, self.settings.guild_ids)
            if sync:
                try:
                    await client.sync(self.settings.guild_ids)
                except discord.HTTPException as exc:  # commands still work if they were synced before
                    self.ctx.log.warning("could not sync slash commands: %s", exc)
                    self.ctx.alert(AlertLevel.WARNING, "plugin_error", f"Discord slash commands not synced: {exc}")
        except BaseException:
            await client.close()
            raise
        return client, names

    async def reload_secrets(self) -> None:
        """A new bot token: a client logged in with it takes over the gateway; queued alerts stay queued.

        A token Discord refuses raises here, and the client in force goes on."""
        old = self.client
        if old is None:
            return
        client, _ = await self._logged_in(sync=False)  # the commands were synced at start
        self.client = client
        await old.close()
        self.ctx.create_task(client.connect(reconnect=True), "discord gateway")
        self.ctx.log.info("logged in again as %s with the new token", client.user)

    async def stop(self) -> None:
        """Send what is queued, close the client, release the token's lease, put discord.py's endpoints back. A stop
        cut off (the host's ``[bot] shutdown_timeout_s``) says which step held it (only one is sending), leaves no send
        running nor the client open (:meth:`_cut_off`), and still puts the endpoints back."""
        try:
            await self._stop_steps()
        except asyncio.CancelledError:
            self.ctx.log.warning("discord: the stop was cut off while %s", self._stop_step)
            await self._cut_off()
            raise
        finally:
            self._restore_endpoints()

    def _drop_held(self) -> None:
        """On stop: the alerts held while the client was not logged in never reach a channel; counted and said."""
        if self._held:
            self.outbox.count_dropped(len(self._held))
            self.ctx.log.warning("discord: %d alert(s) held while the client was not logged in are dropped on stop",
                                 len(self._held))
            self._held.clear()

    async def _cut_off(self) -> None:
        """What a stop cut off must still do: cancel the sends still running (a wait for a 429), counting and saying
        what they did not send, and close the client (its gateway session and HTTP session), within
        :data:`CLOSE_WHEN_CUT_OFF_S`. Left as it is: the token's lease (the store's close ends it)."""
        await self.outbox.close(0)
        client, self.client = self.client, None
        if client is not None and not client.is_closed():  # (a close under way when cut off was cancelled with it)
            try:
                async with asyncio.timeout(CLOSE_WHEN_CUT_OFF_S):
                    await client.close()
            except TimeoutError:
                self.ctx.log.warning("discord: the client of a stop cut off did not close within %g s (the gateway "
                                     "did not answer): its sessions end with the process", CLOSE_WHEN_CUT_OFF_S)
        self._drop_held()

    async def _stop_steps(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self._stop_step = "sending the alerts still queued"
        await self.outbox.close(self.settings.drain_on_stop_s)
        if self.client is not None:
            self._stop_step = "closing the Discord client (its gateway session)"
            await self.client.close()
            self.client = None
        self._drop_held()
        if self.lease is not None:
            self._stop_step = ("releasing the chat token lease (the database had not answered): another process "
                               "takes over once the server frees it, when this process's session ends")
            await self.lease.release()

    def _point_at(self, api_base: str, gateway_url: str) -> None:
        # discord.py reads both endpoints from class attributes: the override is process-wide,
        # so it is undone on stop.
        if self._saved_endpoints is None:
            self._saved_endpoints = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = api_base.rstrip("/")
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = URL(gateway_url)

    def _restore_endpoints(self) -> None:
        if self._saved_endpoints is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved_endpoints
            self._saved_endpoints = None

    # --- alerts ------------------------------------------------------------------------------

    async def send(self, alert: Alert) -> None:
        """Queue the alert's line to the alert channel; held (bounded) while the client is not logged in."""
        if self.settings.alert_channel_id is None:
            return
        self._queue(alert_text(alert, self.ctx.bot_name), alert.level)

    def _queue(self, text: str, priority: int) -> None:
        """Into the channel's lane while the client is logged in; held until it is, otherwise."""
        if self.client is None:
            self._hold(text, priority)
            return
        self.outbox.put(self.settings.alert_channel_id, functools.partial(self._post, text, priority),
                        priority=priority)

    def _hold(self, text: str, priority: int) -> None:
        if len(self._held) >= HELD_ALERTS:  # the lanes' rule: the oldest least urgent goes, counted as theirs
            self.outbox.count_dropped()
            if self.outbox.dropped % 100 == 1:
                self.ctx.log.warning("discord: %d alerts held while the client is not logged in; dropped the "
                                     "oldest least urgent (%d dropped so far)", HELD_ALERTS, self.outbox.dropped)
            if not drop_least_urgent(self._held, priority, _priority):
                return
        self._held.append((priority, text))

    async def _post(self, text: str, priority: int) -> None:
        channel_id = self.settings.alert_channel_id
        if self.client is None or channel_id is None:  # it stood by after this was queued: held for when it is up
            self._hold(text, priority)
            return
        channel = self.client.get_partial_messageable(channel_id)  # the client in force (a new token)
        try:
            async with asyncio.timeout(self.settings.send_timeout_s):  # discord.py itself waits out 429s
                await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except (TimeoutError, discord.RateLimited):  # a 429 asking for longer than send_timeout_s: given up
            self.outbox.count_dropped()
            self.ctx.log.warning("discord: an alert was dropped: not sent within %g s (rate limited); "
                                 "%d dropped so far", self.settings.send_timeout_s, self.outbox.dropped)
        except Exception as exc:  # refused (403 Missing Access, 400) or the service unreachable: lost, counted
            self.alerts_refused += 1
            self.last_refusal = error_text(exc)
            self.ctx.log.warning("discord: an alert to channel %s was not sent (%d so far): %s", channel_id,
                                 self.alerts_refused, self.last_refusal)

    # --- commands ----------------------------------------------------------------------------

    def caller(self, interaction: discord.Interaction) -> Caller:
        """Who pressed or typed, with the role the settings give them *in this guild and channel*."""
        user_id = interaction.user.id
        role = self.settings.role_of(user_id, interaction.guild_id, interaction.channel_id)
        return Caller("discord", str(user_id), role, str(interaction.channel_id or ""))

    @staticmethod
    async def _in_time(command: Awaitable[Reply], defer: Callable[[], Awaitable[object]]) -> tuple[Reply, bool]:
        """(the command's reply, whether the interaction was deferred): ``defer`` is called when the command is still
        running after ``REPLY_WITHIN_S``, so Discord's 3 s never run out whatever it waits on."""
        # A task only to time the command: awaited right here, never left running (see finally).
        work = asyncio.ensure_future(command)
        try:
            done, _ = await asyncio.wait({work}, timeout=REPLY_WITHIN_S)
            if not done:
                await defer()
            return await work, not done
        finally:
            if not work.done():  # the client is closing: do not leave the command behind unawaited
                work.cancel()

    async def _run(self, interaction: discord.Interaction, name: str, args: list[str]) -> None:
        caller = self.caller(interaction)
        reply, deferred = await self._in_time(
            self.ctx.commands.dispatch(caller, name, args),
            lambda: interaction.response.defer(thinking=True, ephemeral=caller.role is None))
        if reply.silent:  # a stranger's refusal already answered in this channel: counted, not answered
            if deferred:
                await interaction.delete_original_response()
            return
        message: dict = {"content": reply_block(reply), "allowed_mentions": discord.AllowedMentions.none()}
        if reply.image_png is not None:  # a chart: attached under its title
            message["file"] = discord.File(io.BytesIO(reply.image_png), filename="chart.png")
        if reply.confirm_token:
            message["view"] = confirm_view(reply.confirm_token)
        if deferred:
            await interaction.followup.send(**message)
        else:
            # A stranger's refusal is shown to them alone; everything else to the channel.
            await interaction.response.send_message(**message, ephemeral=caller.role is None)

    async def on_confirm(self, interaction: discord.Interaction, token: str) -> None:
        """A Confirm press: run the command if the command table agrees, else tell the presser only. A confirmed
        command still running after ``REPLY_WITHIN_S`` (a kill cancelling every order on a slow venue) defers the
        press (the button shows it is loading) and edits the question into its result when done."""
        reply, deferred = await self._in_time(self.ctx.commands.confirm(self.caller(interaction), token),
                                              interaction.response.defer)
        if reply.silent:
            return
        mentions = discord.AllowedMentions.none()
        if reply.ok:  # done: the result replaces the question, and the button goes
            if deferred:
                await interaction.edit_original_response(content=reply_block(reply), view=None,
                                                         allowed_mentions=mentions)
            else:
                await interaction.response.edit_message(content=reply_block(reply), view=None)
        elif deferred:  # another user's press, expired or replayed: the question stays for its owner
            await interaction.followup.send(reply_block(reply), ephemeral=True, allowed_mentions=mentions)
        else:
            await interaction.response.send_message(reply_block(reply), ephemeral=True, allowed_mentions=mentions)


def _priority(held: tuple[int, str]) -> int:
    return held[0]


def error_text(exc: Exception) -> str:
    """``"Forbidden: 403 Forbidden (error code: 50001): Missing Access"``: class and text, known secrets masked."""
    text, kind = str(exc), type(exc).__name__
    return REDACTOR.redact(text if text.startswith(kind) else f"{kind}: {text}" if text else kind)
