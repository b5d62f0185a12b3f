"""A NATS connection that keeps dropping and coming back is alerted once as lost, once as back, once as flapping and
once when it holds again: not a lost/back pair per drop (the flap rule of :class:`bot.api.kit.Flapping`)."""

from __future__ import annotations

from plugins.fleet import running_link
from tests.helpers.waiting import wait_for


def fleet_alerts(heard):
    return [a.message for a in heard if a.kind == "fleet"]


async def test_a_flapping_nats_connection_is_alerted_once_and_once_when_it_holds(nats_server, fleet_bot):
    bot = await fleet_bot("grid-1", nats_server.url)
    link = running_link(bot.operator)
    heard: list = []
    link.ctx.subscribe_alerts(heard.append)
    await wait_for(lambda: link.stats()["connected"] and link._back is None, timeout_s=20, what="the bot on NATS")
    link.flap.window_s = 120.0  # every drop below comes well within it
    for n in range(4):  # four drops and returns
        nats_server.stop()
        await wait_for(lambda: not link.stats()["connected"], timeout_s=20, what=f"drop {n} seen")
        if n == 3:
            link.flap.window_s = 0.3  # the last return holds: said once it has held this long
        nats_server.start()
        await wait_for(lambda: link.stats()["connected"] and link._back is None, timeout_s=20,
                       what=f"return {n} announced")
    await wait_for(lambda: any("holds again" in m for m in fleet_alerts(heard)), timeout_s=10,
                   what="the note that it holds again")
    messages = fleet_alerts(heard)
    assert len(messages) == 4, messages  # lost, back, flapping (the second drop), holds again
    assert "lost the NATS connection" in messages[0] and "back" in messages[1], messages
    assert "flapping" in messages[2], messages
    assert "holds again" in messages[3] and "3 losses" in messages[3], messages


async def test_a_reset_reported_before_the_disconnection_is_a_lost_connection_said_once(nats_server, fleet_bot):
    """nats-py can report a dropped connection's reset (error callback) before the disconnection itself: the bot
    was on NATS, so the alert says the connection was lost, not that NATS is unreachable, and says it once."""
    from nats.aio.client import Client

    bot = await fleet_bot("grid-1", nats_server.url)
    link = running_link(bot.operator)
    heard: list = []
    link.ctx.subscribe_alerts(heard.append)
    await wait_for(lambda: link.stats()["connected"] and link._back is None, timeout_s=20, what="the bot on NATS")
    nc = link.nc
    status = nc._status
    nc._status = Client.RECONNECTING  # as nats-py has it when its reader hits the reset
    try:
        await nc._error_cb(ConnectionResetError("Connection lost"))
    finally:
        nc._status = status
    nats_server.stop()  # the disconnection that follows: the same outage
    await wait_for(lambda: not link.stats()["connected"], timeout_s=20, what="the drop seen")
    nats_server.start()
    await wait_for(lambda: link.stats()["connected"] and link._back is None, timeout_s=20, what="the return")
    messages = fleet_alerts(heard)
    assert len(messages) == 2, messages
    assert "lost the NATS connection" in messages[0] and "back" in messages[1], messages
