"""The Telegram transport: python-telegram-bot 22 inside the bot's loop, commands in, alerts out.

Thin: a ``/cmd args`` message becomes ``ctx.commands.dispatch(caller, cmd, args)`` and the
:class:`~bot.api.Reply` becomes a ``<pre>`` block (a reply with an image: a photo via sendPhoto, the
reply's text as caption); a "Confirm" button press becomes
``ctx.commands.confirm(caller, token)``. Roles, refusals, confirmations, rate limits and the audit
all live in the command layer. The caller's role comes from ``users`` by *user* id only, so a
group chat grants nothing by itself.

Nothing is sent from inside update handling: replies and alerts go into an
:class:`~bot.api.kit.Outbox` lane per chat, and Telegram's limits are kept per chat
(:mod:`.limits`), so a group held back by its 20-a-minute limit (or a 429) delays only that
group, never an admin's private ``/kill``. Updates are handled in order within a chat and side by
side across chats (:mod:`.updates`): a slow command holds up only the ordinary commands of its own chat; an
urgent one (:attr:`bot.api.Command.urgent`: ``/kill``, its Confirm press, ``/pause``, ``/resume``, ``/status``) goes
in the chat's urgent lane beside them and never waits behind it. A reply to a message in a forum topic goes to that
topic (``message_thread_id``).

One token, one poller: the bot polls only while it holds the token's store lease
(:class:`~bot.api.kit.TokenLease`); another process configured with the same token (a fleet's
other bot sharing the database) stands by, neither polling nor sending, and takes over when the
holder stops. A 409 Conflict from getUpdates (a poller outside the lease: another database, another
program) is alerted once and retried with PTB's backoff (up to 30 s), never a crash loop.

Each update of a user with a role is handled once: its ``update_id`` is recorded in the store under the
bot's id (the part of the token before ``:``, the bot's own user id, which a new token of the same bot keeps;
:meth:`~bot.api.kit.TokenLease.handled`) before its handlers run. Telegram forgets an update only when the next
getUpdates confirms it, so a holder killed in between leaves it to be handed out again: the process taking
over reads the last id recorded for its bot and skips every update at or below it. Update ids are numbered
per bot: another bot's record never skips, nor confirms, this one's updates.

That record is a store write, and a database that stops answering (a PostgreSQL server stopped with ``kill -STOP``)
must not hold the kill switch. A command waits for its update's record a bounded time, then runs (logged once: after
a crash it may run again, as when the store fails): an urgent one (:attr:`bot.api.Command.urgent`) and its Confirm
press :data:`URGENT_HANDLED_WAIT_S`, a store that answers writes it well within that; any other command
:data:`HANDLED_WAIT_S`. An urgent update whose record is not written when a crash comes is handed out again and runs
twice: harmless for these (a second kill or pause finds the strategies paused, a second resume finds them running, a
second ``/status`` answers twice, a Confirm press after a restart finds its question gone and says so). One write at a
time, always of the highest id asked for, so a higher id is never overwritten by a lower one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bot.api import FLEET_ORIGIN, Alert, AlertLevel, Caller, Notifier, Reply
from bot.api.kit import REDACTOR, Outbox, TokenLease, add_url, drop_least_urgent

from .render import alert_text, photo_caption, reply_html, toast_text
from .settings import AlertKinds, TelegramSettings

if TYPE_CHECKING:
    from telegram import Update
    from telegram.error import TelegramError
    from telegram.ext import Application, ContextTypes

TRANSPORT = "telegram"
REPLY_PRIORITY = AlertLevel.CRITICAL
"""A reply answers someone waiting for it (a ``/kill``'s question): a burst of alerts must not push it out."""
UPDATES_KEPT_S = 24 * 3600
"""Telegram keeps an update it has not had confirmed for 24 hours at most: only within that long after an update
was handled can it be handed out again. Past it the record is not used (after a week without updates Telegram
numbers the next ones from a random id, which may be lower)."""
HANDLED_WAIT_S = 2.0
"""How long an ordinary (not urgent) command waits for its update's "handled" record before it runs anyway."""
URGENT_HANDLED_WAIT_S = 0.25
"""How long an urgent command (the kill switch, its Confirm press) waits for that record: a store that stopped
answering delays a kill this long at most."""
CLOSE_WHEN_CUT_OFF_S = 0.5
"""How long a stop cut off gives the updates still being handled to end (PTB's stop waits for them) before they are
cancelled and the Bot API session is closed: nothing of it waits on the Bot API server."""
HELD_ALERTS = 100
"""Alert lines held while the bot is not up (before it is, standing by, after a failed start); beyond, the
oldest least urgent is dropped and counted."""

Held = tuple[int, "int | str", str, "float | None"]
"""An alert line held while the bot is not up: (priority, chat, text, relayed_from). ``relayed_from`` is the loop
time it was held at when the fleet's relay carries it to the chat through the live front meanwhile (it stood by
in a fleet), else None."""


class BotAPIUnavailable(Exception):
    """The Bot API server refused the token or could not be reached at start."""


def parse_command(text: str, bot_username: str) -> tuple[str, list[str]] | None:
    """``"/pause@arbot_bot grid-1"`` -> ``("pause", ["grid-1"])``; None if addressed to another bot."""
    head, *args = text.split()
    name, _, mention = head[1:].partition("@")
    if mention and mention.lower() != bot_username.lower():
        return None
    return name, args


class TelegramNotifier(Notifier):
    """Alerts to ``alert_chats``; commands and confirmation buttons from users in ``users``."""

    Settings = TelegramSettings

    def __init__(self, name: str, settings: TelegramSettings, ctx: Any):
        super().__init__(name, settings, ctx)
        self.alert_chats = {chat: AlertKinds.parse(spec) for chat, spec in settings.alert_chats.items()}
        self.app: Application | None = None
        self.outbox = Outbox(f"telegram {name}", ctx.log)
        self._held: deque[Held] = deque()
        """Alert lines queued while the bot is not up, sent once it is (but what the live front relayed)."""
        self._holder_seen: float | None = None
        """The loop time of the last standby round that found the token's lease held by the live front."""
        self._bot_id = ""
        """The id of the bot whose Application is in force (:func:`bot_id` of its token)."""
        self._last_update_id: dict[str, int] = {}
        """Per bot id, the last update id seen: each Telegram bot numbers its updates on its own."""
        self._handled_before: tuple[str, int] | None = None
        """(bot id, the last update id handled by that bot when this process went live or changed to it, by any
        process of the database within ``UPDATES_KEPT_S``): its updates at or below it were handled already and are
        skipped."""
        self._skip_until = 0.0
        """The loop time past which ``_handled_before`` is dropped: no update handed out again can come later."""
        self._to_record: dict[str, int] = {}
        """Per bot id, the highest update id to record as handled that no write has taken yet."""
        self._recorded_waits: list[tuple[str, int, asyncio.Future[None]]] = []
        """Commands waiting for their update's record: (bot id, update id, done once it is written or failed)."""
        self._recorder: asyncio.Task[None] | None = None
        """The task writing ``_to_record`` (one write at a time), None when nothing is to be written."""
        self._record_failed = False
        self._record_slow = False
        """An ordinary command ran before its record was written (logged once until a record is written again)."""
        self.lease: TokenLease | None = None
        self._watch: Any = None
        self._conflict = ""
        """Set while getUpdates answers 409 Conflict: another poller outside the lease."""
        self.alerts_refused = 0
        """Alert lines whose send failed for good (a chat that refuses the bot, retries used up): lost."""
        self.last_refusal = ""
        self._moved: dict[str, int] = {}
        """An alert chat (its ``alert_chats`` key) -> the supergroup Telegram upgraded it to, for this run."""
        self._stop_step = "stopping"
        """What :meth:`stop` is waiting for now, as its log line names it when the stop is cut off."""

    # --- lifecycle: composed with the host's loop, never run_polling --------------------------

    def _build(self) -> Application:
        # imported here: keeps `arbot plugins` and config checks fast when Telegram is not used
        from telegram.ext import ApplicationBuilder, CallbackQueryHandler, MessageHandler, TypeHandler, filters

        from .limits import ChatRateLimiter
        from .updates import PerChatOrder

        s = self.settings
        base = s.base_url.rstrip("/")
        limiter = ChatRateLimiter(per_s=s.max_messages_per_s, group_per_min=s.max_group_messages_per_min,
                                  max_retries=s.max_retries)
        app = (ApplicationBuilder().token(s.token.reveal())
               .base_url(f"{base}/bot").base_file_url(f"{base}/file/bot").local_mode(s.local_mode)
               .job_queue(None).rate_limiter(limiter).concurrent_updates(PerChatOrder(self._urgent)).build())
        app.add_handler(TypeHandler(object, self._seen), group=-1)
        app.add_handler(MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, self._on_command))
        app.add_handler(CallbackQueryHandler(self._on_button))
        app.add_error_handler(self._on_error)
        return app

    async def start(self) -> None:
        # a local Bot API server behind a proxy may be reached as http://user:PASSWORD@host: the URL is logged when
        # polling starts and named when the server fails, its password masked everywhere from now on
        add_url(self.settings.base_url)
        self.lease = TokenLease(self.ctx.store, TRANSPORT, self.settings.token.reveal, go_live=self._go_live,
                                stand_by=self._stand_by, notice=self._notice, log=self.ctx.log,
                                retry_s=self.settings.lease_retry_s, held_elsewhere=self._front_live)
        await self.lease.start()
        self._watch = self.ctx.create_task(self.lease.watch(), "telegram token lease")

    async def _go_live(self) -> None:
        app = await self._initialized()
        await self._skip_handled(self._bot_id)
        self.app = app  # before polling: the first update's reply is sent with it
        try:
            await self._poll(app)
        except BaseException:
            self.app = None
            raise
        self.ctx.log.info("telegram bot @%s polling %s", app.bot.username, self.settings.base_url)
        held, self._held = self._held, deque()
        self._holder_seen = None
        for priority, chat, text, _ in held:
            self._queue(chat, text, priority)

    async def _stand_by(self) -> None:
        """Another process holds the token now: stop polling and sending (queued messages wait)."""
        app, self.app = self.app, None
        if app is not None:
            with _quiet("telegram.ext.Updater"):
                await self._close(app)

    def _front_live(self, round_began: float) -> None:
        """A standby round found the live front holding the token: the lines the fleet relays that were held a
        whole round before (the front was live since, and relayed them) are the front's to send, not ours."""
        before, self._holder_seen = self._holder_seen, round_began
        if before is None or not self._held:
            return
        self._held = deque(line for line in self._held if line[3] is None or line[3] >= before)

    def _notice(self, message: str) -> None:
        self.ctx.log.warning("%s", message)
        self.ctx.alert(AlertLevel.WARNING, "chat", message)

    def status(self) -> dict[str, str]:
        facts = self.lease.status() if self.lease is not None else {}
        if self._conflict:
            facts["conflict"] = self._conflict
        if self._held:
            facts["alerts held"] = f"{len(self._held)} (until the bot is up)"
        if alerts_dropped := self.outbox.dropped_by_kind["alert"]:
            facts["alerts dropped"] = str(alerts_dropped)
        if replies_dropped := self.outbox.dropped_by_kind["reply"]:
            facts["replies dropped"] = str(replies_dropped)
        if self.alerts_refused:
            facts["alerts refused"] = f"{self.alerts_refused} (last: {self.last_refusal})"
        if self._moved:
            facts["chats moved"] = ", ".join(f"{old} -> {new}" for old, new in self._moved.items()) + \
                " (update alert_chats)"
        return facts

    def dropped_alerts(self) -> int:
        return self.outbox.dropped_by_kind["alert"] + self.alerts_refused

    async def _initialized(self) -> Application:
        """A new Application with the token in force, initialized (getMe answered); ``_bot_id`` is its bot's."""
        token = self.settings.token
        new_bot = bot_id(token.reveal())
        if new_bot is None:  # said before any request: PTB would quote the token in its error
            raise BotAPIUnavailable(f"notifiers.{self.name}.token: {token.reference} is not a Telegram bot token "
                                    "(BOT_ID:SECRET, as @BotFather gives it); write the whole token there")
        app = self._build()
        try:
            await app.initialize()  # getMe: a wrong token or an unreachable server fails here
        except Exception as exc:
            await app.bot.shutdown()  # the HTTP clients were opened before getMe failed
            # PTB's InvalidToken quotes the token itself: say what failed without it
            text = str(exc).replace(self.settings.token.reveal(), self.settings.token.reference)
            raise BotAPIUnavailable(f"{type(exc).__name__} from {self.settings.base_url}: {text}") from None
        self._bot_id = new_bot
        return app

    async def _poll(self, app: Application) -> None:
        try:
            await app.start()
            if app.updater is None:  # the builder above always makes one
                raise RuntimeError("telegram: the Application has no Updater to poll with")
            await app.updater.start_polling(timeout=dt.timedelta(seconds=self.settings.poll_timeout_s),
                                            error_callback=self._poll_error)
        except BaseException:
            await self._close(app)
            raise

    async def reload_secrets(self) -> None:
        """A new token: a new Application takes over, from the update after the last one handled.

        The outbox keeps its queued replies and alerts (they are sent with whichever bot is in force);
        a token the Bot API refuses raises here and the old Application goes on.
        """
        old, old_bot = self.app, self._bot_id
        if old is None:
            return
        new = await self._initialized()  # getMe with the new token first: a bad one changes nothing
        self.app = new  # the outbox sends with the new token from now on
        try:
            with _quiet("telegram.ext.Updater"):  # its last acknowledgement may use a token already revoked
                await self._close(old)
        except Exception as exc:  # the old token was revoked before the reload: its polling already ended
            self.ctx.log.info("the session with the old token ended with %s", type(exc).__name__)
        last = self._last_update_id.get(self._bot_id)
        if self._bot_id != old_bot:  # another bot: its updates are numbered on their own, maybe handled elsewhere
            await self._skip_handled(self._bot_id)
        elif last is not None:  # the same bot: confirm what the old token handled, so nothing runs twice
            await new.bot.get_updates(offset=last + 1, timeout=0)
        await self._poll(new)
        self.ctx.log.info("telegram bot @%s polling with its new token", new.bot.username)

    def _poll_error(self, exc: TelegramError) -> None:
        """A failed getUpdates (PTB retries it, waiting 1 s, then 1.5 times longer each time, up to 30 s)."""
        from telegram.error import Conflict

        if not isinstance(exc, Conflict):
            self.ctx.log.warning("telegram: getUpdates failed: %s: %s", type(exc).__name__, exc)
            return
        first = not self._conflict
        self._conflict = ("409 Conflict from getUpdates: another program polls this token outside arbot's lease; "
                          "retrying with backoff")
        self.ctx.log.warning("telegram: %s", exc)
        if first:
            self.ctx.alert(AlertLevel.ERROR, "chat", "telegram: 409 Conflict: another program or a bot on another "
                           "database polls this bot token (only one poller per token); retrying with backoff up "
                           "to 30 s. Stop the other poller, or point both bots at one database.")

    async def stop(self) -> None:
        """Stop polling, send what is queued, store the last handled update id, release the token's lease. A stop
        cut off (the host's ``[bot] shutdown_timeout_s``) says which of these held it (only one is sending), and
        leaves nothing running: see :meth:`_cut_off`."""
        app = self.app
        try:
            await self._stop_steps(app)
        except asyncio.CancelledError:
            self.ctx.log.warning("telegram: the stop was cut off while %s", self._stop_step)
            await self._cut_off(app)
            raise

    def _drop_held(self) -> None:
        """On stop: the alert lines held while the bot was not up never reach a chat; counted and said."""
        if self._held:
            self.outbox.count_dropped(len(self._held))
            self.ctx.log.warning("telegram: %d alert line(s) held while the bot was not up are dropped on stop",
                                 len(self._held))
            self._held.clear()

    async def _cut_off(self, app: Application | None) -> None:
        """What a stop cut off must still do, without waiting on the Bot API server: cancel the sends still running
        (a wait for a 429's ``retry_after``), counting and saying what they did not send, and close the Application
        and its Bot API session (HTTP clients), the updates still being handled given :data:`CLOSE_WHEN_CUT_OFF_S`.
        Left as they are: a handled update id still being written (each is asked for before its command runs, so
        the next start skips every update whose command ran; only one a database that does not answer never wrote
        may run again, as the module doc says) and the token's lease (the store's close ends it)."""
        self.app = None
        await self.outbox.close(0)
        if app is not None:
            try:
                async with asyncio.timeout(CLOSE_WHEN_CUT_OFF_S):
                    await self._close(app)  # (cancelled, it still shuts the session down: see _close)
            except TimeoutError:
                self.ctx.log.warning("telegram: updates still being handled when the stop was cut off were cancelled "
                                     "after %g s", CLOSE_WHEN_CUT_OFF_S)
        self._drop_held()

    async def _stop_steps(self, app: Application | None) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if app is not None:
            if app.updater is not None and app.updater.running:
                self._stop_step = "stopping getUpdates (acknowledging the last updates to the Bot API server)"
                await app.updater.stop()  # no new updates while the outbox drains
            self._stop_step = "sending the replies and alerts still queued"
            await self.outbox.close(self.settings.drain_on_stop_s)  # with the bot still in force to send them
            self.app = None
            self._stop_step = "closing the Bot API session"
            await self._close(app)
        else:
            await self.outbox.close(0)
        self._drop_held()
        if self.lease is not None:
            self._stop_step = ("storing the last handled update id (the database had not answered): the process "
                               "taking over may run that update again")
            try:  # the last handled id before the lease goes: the process taking over skips it
                await asyncio.wait_for(self.recorded(), HANDLED_WAIT_S)
            except TimeoutError:
                self.ctx.log.warning("telegram: the last handled update id was not stored on stop: the process "
                                     "taking over may run it again")
            self._stop_step = ("releasing the chat token lease (the database had not answered): another process "
                               "takes over once the server frees it, when this process's session ends")
            await self.lease.release()

    @staticmethod
    async def _close(app: Application) -> None:
        """Stop polling, then the Application, then shut its Bot API session down: even when an earlier step fails
        or is cancelled (PTB's stop waits for the updates being handled)."""
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()  # acknowledges the last updates with getUpdates(offset, timeout=0)
        finally:  # a polling loop that ended on an error re-raises it here: still stop and shut down
            try:
                if app.running:
                    await app.stop()
            finally:
                await app.shutdown()

    async def _skip_handled(self, bot: str) -> None:
        """Skip, for a day, the updates of ``bot`` at or below the last one recorded as handled (none recorded, or
        the store cannot tell: the updates Telegram hands out are all run)."""
        self._handled_before = None
        self._skip_until = asyncio.get_running_loop().time() + UPDATES_KEPT_S
        if self.lease is None:
            return
        try:
            # the store's own read threads, never the default executor (whose threads hold the process's exit)
            last = await self.lease.read_last_handled(sequence=bot, max_age_s=UPDATES_KEPT_S)
        except Exception as exc:
            self.ctx.log.warning("telegram: the last handled update could not be read: %s", error_text(exc))
            return
        if last is not None:
            self._handled_before = (bot, last)

    async def _seen(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every update, before the handlers: skipped when handled already (by a process that died before
        Telegram had it confirmed), else recorded as handled, and kept as the last one for a token change."""
        from telegram.ext import ApplicationHandlerStop

        update_id = getattr(update, "update_id", None)
        if not isinstance(update_id, int):
            return
        bot = bot_id(context.bot.token) or ""  # the bot that received it (a token change may be under way)
        self._conflict = ""  # updates arrive again: the other poller is gone
        if self._handled_before is not None and asyncio.get_running_loop().time() > self._skip_until:
            self._handled_before = None  # a day live: ids may start again lower after a silent week
        if self._handled_before is not None and self._handled_before[0] == bot \
                and update_id <= self._handled_before[1]:
            self.ctx.log.warning("telegram: update %d handled already (before a crash or a take-over); skipped",
                                 update_id)
            raise ApplicationHandlerStop
        self._last_update_id[bot] = max(update_id, self._last_update_id.get(bot, 0))
        user = getattr(update, "effective_user", None)
        if user is not None and self.settings.role_of(user.id) is not None:
            # only what a user with a role sends can act: a stranger's flood makes no store write (it would
            # hold its chat up one write per message), and run again it is one more refusal
            from telegram import Update

            await self._record_handled(bot, update_id, urgent=isinstance(update, Update) and self._urgent(update))

    async def _record_handled(self, bot: str, update_id: int, *, urgent: bool) -> None:
        """Record ``bot``'s update ``update_id`` as handled in the store before its command runs, waiting
        :data:`URGENT_HANDLED_WAIT_S` (``urgent``) or :data:`HANDLED_WAIT_S` at most (see the module doc). A
        failing store is logged once and holds no command up: a crash then may run an update twice, as before."""
        if self.lease is None or not bot:
            return
        self._to_record[bot] = max(update_id, self._to_record.get(bot, update_id))
        if self._recorder is None:
            self._recorder = self.ctx.create_task(self._record_each(), "telegram handled updates")
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._recorded_waits.append((bot, update_id, written))
        wait_s = URGENT_HANDLED_WAIT_S if urgent else HANDLED_WAIT_S
        try:
            await asyncio.wait_for(asyncio.shield(written), wait_s)
        except TimeoutError:
            if not self._record_slow:
                self.ctx.log.warning("telegram: the handled update id was not stored within %.2f s: the command "
                                     "runs anyway (after a crash it may run again)", wait_s)
            self._record_slow = True

    async def _record_each(self) -> None:
        """Write the ids waiting in ``_to_record``, one write at a time, each the highest asked for its bot."""
        lease = self.lease
        try:
            while self._to_record and lease is not None:
                bot = next(iter(self._to_record))
                last = self._to_record.pop(bot)
                try:
                    await lease.record_handled(last, sequence=bot)  # a daemon thread: see TokenLease
                except Exception as exc:
                    if not self._record_failed:
                        self.ctx.log.warning("telegram: the handled update id could not be stored (%s): after a "
                                             "crash an update may be run again", error_text(exc))
                    self._record_failed = True
                else:
                    self._record_failed = self._record_slow = False
                self._release_waits(bot, last)
        finally:
            self._recorder = None

    def _release_waits(self, bot: str, last: int) -> None:
        """The commands of ``bot``'s updates up to ``last`` run: their record is written (or failed)."""
        waiting = []
        for entry in self._recorded_waits:
            if entry[0] == bot and entry[1] <= last:
                if not entry[2].done():
                    entry[2].set_result(None)
            else:
                waiting.append(entry)
        self._recorded_waits = waiting

    async def recorded(self) -> None:
        """Return once every update id asked to be recorded as handled so far has been written (or failed)."""
        while (recorder := self._recorder) is not None:
            await asyncio.wait({recorder})  # (a recorder cancelled on stop ends this too, raising nothing here)

    def _bot(self) -> Any:
        """The bot of the Application in force (a token change replaces it), or None once stopped."""
        return None if self.app is None else self.app.bot

    # --- alerts ------------------------------------------------------------------------------

    async def send(self, alert: Alert) -> None:
        """Queue one line to every alert chat that takes this kind (a 429 waits ``retry_after`` and retries).

        Each chat's lane sends in order; a chat that is slow or unreachable holds up only itself.
        """
        text = alert_text(alert, self.ctx.bot_name)
        for chat, kinds in self.alert_chats.items():
            if kinds.wants(alert.kind):
                self._queue(chat, text, alert.level, relayed=self._relayed(alert))

    def _relayed(self, alert: Alert) -> bool:
        """Whether, standing by, the live front delivers this alert through the fleet's relay: another bot's alert
        (it reached the front from the bus as it reached us), or this bot's own when it is on the fleet bus."""
        if self.lease is None or self.lease.state != "standby":
            return False
        return FLEET_ORIGIN in alert.fields or self.ctx.operator.fleet is not None

    def _queue(self, chat: int | str, text: str, priority: int, *, relayed: bool = False) -> None:
        """Into the chat's lane while the bot is up; held (bounded) until it is, otherwise."""
        if self.app is None:
            self._hold(chat, text, priority, relayed=relayed)
            return
        self.outbox.put(str(chat), functools.partial(self._send_text, chat, text, priority), priority=priority)

    def _hold(self, chat: int | str, text: str, priority: int, *, relayed: bool = False) -> None:
        if len(self._held) >= HELD_ALERTS:  # the lanes' rule: the oldest least urgent goes, counted as theirs
            self.outbox.count_dropped()
            if self.outbox.dropped % 100 == 1:
                self.ctx.log.warning("telegram: %d alert lines held while the bot is not up; dropped the oldest "
                                     "least urgent (%d dropped so far)", HELD_ALERTS, self.outbox.dropped)
            if not drop_least_urgent(self._held, priority, _priority):
                return
        self._held.append((priority, chat, text, asyncio.get_running_loop().time() if relayed else None))

    async def _send_text(self, chat: int | str, text: str, priority: int) -> None:
        bot = self._bot()
        if bot is None:  # it stood by after this was queued: held for when it is up again
            self._hold(chat, text, priority)
            return
        from telegram.error import ChatMigrated

        try:
            try:
                await bot.send_message(self._moved.get(str(chat), chat), text)
            except ChatMigrated as exc:  # the group became a supergroup: same chat, new id (nothing was sent)
                self._chat_moved(chat, exc.new_chat_id)
                await bot.send_message(exc.new_chat_id, text)
        except Exception as exc:  # refused for good (403 kicked or blocked, 400), or retried out: lost, so counted
            self._refused(chat, exc)

    def _chat_moved(self, chat: int | str, new_id: int) -> None:
        """Follow an alert chat upgraded to a supergroup for this run, and tell the operator once what to change:
        the next start sends to the old id again (Telegram keeps answering with the new one)."""
        key = str(chat)
        if self._moved.get(key) == new_id:
            return
        self._moved[key] = new_id
        kinds = self.settings.alert_chats.get(key, "all")
        message = (f"telegram: alert chat {chat} was upgraded to a supergroup with the new id {new_id}; its alerts go "
                   f"there for this run. In [notifiers.{self.name}], replace {chat} in alert_chats by the new id: "
                   f'alert_chats = {{ {new_id} = "{kinds}" }}')
        self.ctx.log.warning("%s", message)
        self.ctx.alert(AlertLevel.WARNING, "chat", message)

    def _refused(self, chat: int | str, exc: Exception) -> None:
        """An alert line Telegram did not take after the rate limiter's retries: counted and shown in ``/status``,
        never only logged (a trader reads silence as calm)."""
        self.alerts_refused += 1
        self.last_refusal = f"{chat}: {error_text(exc)}"
        self.ctx.log.warning("telegram: an alert to chat %s was not sent (%d so far): %s", chat,
                             self.alerts_refused, self.last_refusal)

    # --- commands ----------------------------------------------------------------------------

    def _urgent(self, update: Update) -> bool:
        """Whether an update goes in its chat's urgent lane (:mod:`.updates`): an urgent command
        (:attr:`bot.api.Command.urgent`: the kill switch, ``/pause``, ``/resume``, ``/status``), or the press of
        its Confirm button. The command table says which; this only reads the command's name."""
        query = update.callback_query
        if query is not None:
            return self.ctx.commands.urgent_confirmation(query.data or "")
        message = update.message
        if message is None or not message.text or not message.text.startswith("/"):
            return False
        name = message.text.split(maxsplit=1)[0][1:].partition("@")[0]
        return self.ctx.commands.urgent(name)

    def _caller(self, user_id: int, chat_id: int | str) -> Caller:
        return Caller(TRANSPORT, str(user_id), self.settings.role_of(user_id), str(chat_id))

    async def _reply(self, chat_id: int, reply: Reply, thread_id: int | None) -> None:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup
        from telegram.constants import ParseMode

        bot = self._bot()
        if bot is None:  # it stood by since the command came: the live process will not answer it either
            self._reply_lost(chat_id)
            return
        markup = None
        if reply.confirm_token:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("Confirm", callback_data=reply.confirm_token)]])
        if reply.image_png is not None:  # a chart: the picture is the answer, its title the caption
            await bot.send_photo(chat_id, reply.image_png, caption=photo_caption(reply), filename="chart.png",
                                 reply_markup=markup, message_thread_id=thread_id)
            return
        await bot.send_message(chat_id, reply_html(reply), parse_mode=ParseMode.HTML, reply_markup=markup,
                               message_thread_id=thread_id)

    def _reply_lost(self, chat: int | str) -> None:
        """A reply due while no bot is in force (this process stood by after it took the update): counted as a
        dropped reply, shown in ``/status``, never lost unseen. Not held for later: the process live now recorded the
        update as handled and will not answer it, and a question held until this one is live again would come after
        its confirmation expired, if ever."""
        self.outbox.count_dropped(kind="reply")
        self.ctx.log.warning("telegram: a reply to chat %s was not sent: the bot stood by (another process holds the "
                             "token) before it was sent (%d replies dropped so far)", chat,
                             self.outbox.dropped_by_kind["reply"])

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.text:
            return
        parsed = parse_command(message.text, context.bot.username)
        if parsed is None:
            return
        name, args = parsed
        reply = await self.ctx.commands.dispatch(self._caller(user.id, message.chat_id), name, args)
        if reply.silent:  # a stranger's refusal already answered in this chat: counted, not sent
            return
        thread_id = message.message_thread_id if message.is_topic_message else None  # answer in the topic
        self.outbox.put(reply_lane(message.chat_id), functools.partial(self._reply, message.chat_id, reply, thread_id),
                        priority=REPLY_PRIORITY, kind="reply")

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A "Confirm" press: the *pressing* user is the caller; the command layer checks the rest."""
        from telegram.constants import ParseMode

        query = update.callback_query
        if query is None:  # the handler is a CallbackQueryHandler: only callback updates reach it
            return
        chat_id = query.message.chat.id if query.message is not None else ""
        reply = await self.ctx.commands.confirm(self._caller(query.from_user.id, chat_id), query.data or "")
        if reply.silent:
            return

        async def answer() -> None:
            bot = self._bot()
            if bot is None:  # it stood by since the press came: the live process will not answer it either
                self._reply_lost(chat_id)
                return
            try:
                await bot.answer_callback_query(query.id, text=toast_text(reply))  # a refusal: a toast to the presser
            except Exception as exc:  # a press answered late (400 query too old), a timeout: the command still ran
                self.ctx.log.warning("telegram: the answer to a button press in chat %s failed: %s", chat_id,
                                     error_text(exc))
            if reply.ok and query.message is not None:  # the question becomes the result, without its button
                await bot.edit_message_text(reply_html(reply), chat_id=query.message.chat.id,
                                            message_id=query.message.message_id, parse_mode=ParseMode.HTML)

        self.outbox.put(reply_lane(chat_id), answer, priority=REPLY_PRIORITY, kind="reply")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.ctx.log.error("telegram: %s: %s", type(context.error).__name__, context.error,
                           exc_info=context.error)


def reply_lane(chat: int | str) -> tuple[str, str]:
    """The outbox lane of the replies to one chat, beside its alerts' lane (``str(chat)``): a trader's ``/kill`` in a
    chat that alerts flood goes out with the chat's next free slot (its rate limit is the chat's, shared), not
    behind every alert queued there. Replies keep their order, alerts theirs."""
    return str(chat), "replies"


def bot_id(token: str) -> str | None:
    """A bot token's bot id: the digits before ``:`` (the bot's own user id, public; never the secret after it), or
    None for a text that is no bot token."""
    head, sep, _ = token.partition(":")
    return head if sep and head.isdigit() and len(head) <= 20 else None


def error_text(exc: Exception) -> str:
    """``"Forbidden: bot was blocked by the user"``: the error's class once, its text, known secrets masked."""
    text, kind = str(exc), type(exc).__name__
    return REDACTOR.redact(text if text.startswith(kind) else f"{kind}: {text}" if text else kind)


def _priority(held: Held) -> int:
    return held[0]


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence one library logger for a moment (an expected failure it would log with a traceback)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)
