"""After a restart the arb strategy's facts say what they count: ``/status`` counts this run (and says so) where
``arbot report`` counts everything stored, and ``/opportunities`` shows the stored rows, not "none yet"."""

from __future__ import annotations

from bot.api import Caller
from plugins.arb.records import executions, opportunities
from tests.helpers.waiting import wait_for
from tests.plugins.arb.arb_kit import config, extra

VIEWER = Caller("test", "eye", "viewer")


async def test_after_a_restart_status_counts_this_run_by_name_and_opportunities_shows_the_stored_rows(make_bot):
    first = await make_bot(config(), extra=extra())
    await wait_for(lambda: any(r.state == "done" for r in executions(first.store, "sol-arb")), timeout_s=10,
                   what="an execution")
    facts = first.strategies["sol-arb"].status()
    assert facts["executed this run"] == "1" and int(facts["opportunities this run"]) >= 1
    await first.stop()

    # the same store; the venue's edge is gone (the pool sits at the CEX mid), so this run sees nothing new
    second = await make_bot(config(dex='reserve_quote = "1500000"'), extra=extra())
    # read through the running bot's store: the first one's is closed (on PostgreSQL a read there would open a
    # pooled connection that nothing closes)
    stored = opportunities(second.store, "sol-arb", limit=1_000)
    assert stored
    facts = second.strategies["sol-arb"].status()
    assert "executed" not in facts and "opportunities" not in facts  # unlabelled, they read as every one stored
    assert facts["executed this run"] == "0" and facts["opportunities this run"] == "0"

    reply = await second.commands.dispatch(VIEWER, "opportunities", [])
    assert reply.ok and "none yet" not in reply.title, reply.title
    assert reply.rows and len(reply.rows) - 1 == min(len(stored), 10)
    assert second.operator.opportunities(1)[0].opportunity_id == stored[0].opportunity_id  # the newest stored
