"""Another fleet bot's alert, relayed here, shows in chat as "[bot] ..." once; this bot's own alerts unchanged."""

from __future__ import annotations

from bot.api import FLEET_ORIGIN, Alert, AlertLevel, alert_origin
from plugins.discord.render import alert_text as discord_text
from plugins.telegram.render import alert_text as telegram_text

OWN = Alert(AlertLevel.WARNING, "risk", "grid-1", "daily loss limit reached", {"loss": "12 USD"})
# as the fleet relay re-emits grid's alert on the front: its origin in a field, and marked in message and source
RELAYED = Alert(AlertLevel.WARNING, "risk", "grid/grid-1", "[grid] daily loss limit reached",
                {"loss": "12 USD", FLEET_ORIGIN: "grid"})


def test_the_origin_is_read_once_and_the_relay_marks_are_dropped():
    assert alert_origin(OWN, "front") == ("", OWN)
    origin, alert = alert_origin(RELAYED, "front")
    assert origin == "grid" and alert.message == "daily loss limit reached" and alert.source == "grid-1"
    assert alert.fields == {"loss": "12 USD"}
    assert alert_origin(RELAYED, "grid")[0] == ""  # on grid itself it is its own alert


def test_telegram_and_discord_show_the_bot_first():
    assert telegram_text(RELAYED, "front") == "[grid] ⚠️ [grid-1] daily loss limit reached  loss=12 USD"
    assert telegram_text(OWN, "front") == "⚠️ [grid-1] daily loss limit reached  loss=12 USD"
    assert discord_text(RELAYED, "front") == "**[grid]** **WARNING** [grid-1] daily loss limit reached  `loss=12 USD`"
    assert discord_text(OWN, "front").startswith("**WARNING** [grid-1]")
