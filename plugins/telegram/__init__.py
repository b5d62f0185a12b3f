"""``telegram`` plugin: alerts to Telegram chats and the command layer over python-telegram-bot 22.

See :mod:`plugins.telegram.notifier`. Configure it as ``[notifiers.NAME]`` with ``type = "telegram"``.
"""

from __future__ import annotations

from bot.api import hookimpl


@hookimpl
def register_notifiers(register) -> None:
    register("telegram", "plugins.telegram.notifier:TelegramNotifier")
