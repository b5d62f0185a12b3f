"""discord.py glue: the client, one slash command per arbot command, and the Confirm button.

Everything here turns Discord objects into calls on the transport (:class:`~.notifier.DiscordNotifier`)
and back; no rule of arbot's lives here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord  # the library: this module is plugins.discord.client, an absolute import finds discord.py
from discord import app_commands

from bot.api import Command

if TYPE_CHECKING:
    from .notifier import DiscordNotifier

log = logging.getLogger("arbot.notifier.discord")

CONFIRM_PREFIX = "arbot:confirm:"
MAX_COMMANDS = 100
"""Discord's limit of slash commands per guild (and of global ones)."""

Run = Callable[[discord.Interaction, str, list[str]], Awaitable[None]]


class ConfirmButton(discord.ui.DynamicItem[discord.ui.Button], template=r"arbot:confirm:(?P<token>[A-Za-z0-9_-]+)"):
    """The Confirm button of a command waiting for confirmation; its custom_id carries the token.

    A dynamic item matches by custom_id alone, so a press is handled whatever message it is on;
    whether the press counts (same user, in time, once) is the command table's decision.
    """

    def __init__(self, token: str):
        super().__init__(discord.ui.Button(label="Confirm", style=discord.ButtonStyle.danger,
                                           custom_id=CONFIRM_PREFIX + token))
        self.token = token

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ConfirmButton:
        return cls(match["token"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        if isinstance(client, ArbotClient):  # the only client this item is registered with
            await client.transport.on_confirm(interaction, self.token)


def confirm_view(token: str) -> discord.ui.View:
    """A message's button row: one Confirm button for ``token``."""
    view = discord.ui.View(timeout=None)
    view.add_item(ConfirmButton(token))
    return view


def slash_command(command: Command, run: Run) -> app_commands.Command:
    """``/name args:<text>`` for one arbot command; the text is split on spaces into its arguments."""

    async def callback(interaction: discord.Interaction, args: str = "") -> None:
        await run(interaction, command.name, args.split())

    hint = f"arguments: {command.usage}" if command.usage else "arguments (none needed)"
    app_commands.describe(args=hint[:100])(callback)
    return app_commands.Command(name=command.name, description=(command.help or command.name)[:100],
                                callback=callback)


class ArbotClient(discord.Client):
    """A discord.py client that knows its transport; composed with ``login``/``connect``/``close``."""

    def __init__(self, transport: DiscordNotifier):
        # Slash commands and buttons arrive as interactions, which need no privileged intent.
        super().__init__(intents=discord.Intents(guilds=True), max_messages=None, chunk_guilds_at_startup=False)
        self.transport = transport
        self.tree = app_commands.CommandTree(self)
        self.tree.error(self._on_tree_error)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ConfirmButton)

    def add_commands(self, commands: list[Command], run: Run, guild_ids: list[int]) -> list[str]:
        """Mirror the command table in the tree (per guild, or global); returns the names added."""
        guilds = [discord.Object(g) for g in guild_ids]
        added = []
        for command in commands[:MAX_COMMANDS]:
            try:
                if guilds:
                    self.tree.add_command(slash_command(command, run), guilds=guilds)
                else:  # global
                    self.tree.add_command(slash_command(command, run))
            except (ValueError, app_commands.AppCommandError) as exc:  # a name or help Discord cannot take
                log.warning("command /%s is not offered on Discord: %s", command.name, exc)
                continue
            added.append(command.name)
        if len(commands) > MAX_COMMANDS:
            log.warning("Discord takes %d slash commands; /%s and later are not offered",
                        MAX_COMMANDS, commands[MAX_COMMANDS].name)
        return added

    async def sync(self, guild_ids: list[int]) -> None:
        """Overwrite the application's commands with the tree (one PUT per guild, or one global)."""
        if guild_ids:
            for guild_id in guild_ids:
                await self.tree.sync(guild=discord.Object(guild_id))
        else:
            await self.tree.sync()

    async def _on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CommandNotFound):  # synced earlier, no longer registered
            log.warning("Discord slash command %s is not registered here", error.name)
        else:
            log.error("Discord interaction /%s failed: %s", getattr(interaction.command, "name", "?"), error,
                      exc_info=error)
        if not interaction.response.is_done():
            await interaction.response.send_message("That command is not available.", ephemeral=True)
