"""``discord`` notifier: discord.py 2 in the bot's loop: slash commands, Confirm buttons, alerts.

The package is ``plugins.discord``; inside it ``import discord`` is an absolute import and finds
the discord.py library, never this package.
"""

from __future__ import annotations

from bot.api import hookimpl


@hookimpl
def register_notifiers(register) -> None:
    register("discord", "plugins.discord.notifier:DiscordNotifier")
