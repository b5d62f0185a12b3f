"""The cyclic garbage collector while the bot runs: what starting made is frozen out of its passes (``gc.freeze()`` at
the end of :meth:`Bot.start`) and given back at the stop; cyclic garbage made while the bot runs is still freed, at
the latest by the next young pass (the freeze is not ``gc.disable()``: a long run does not grow by it)."""

from __future__ import annotations

import gc


async def test_a_running_bot_has_frozen_what_its_start_made_and_gives_it_back_at_the_stop(make_bot):
    gc.unfreeze()  # whatever an earlier test's bot left frozen: this bot's start is what freezes
    bot = await make_bot("")
    assert gc.get_freeze_count() > 0  # the start's modules, settings, store metadata, plugins: out of every pass
    assert gc.isenabled()
    await bot.stop()
    assert gc.get_freeze_count() == 0


class _Cycle:
    """An object that references itself: only the cyclic collector frees it."""

    alive = 0

    def __init__(self) -> None:
        _Cycle.alive += 1
        self.me = self

    def __del__(self) -> None:
        _Cycle.alive -= 1


async def test_cyclic_garbage_made_while_the_bot_runs_is_freed_by_the_next_young_pass(make_bot):
    await make_bot("")
    young_pass_every = gc.get_threshold()[0]
    most = 0
    for _ in range(5 * young_pass_every):  # garbage as soon as it is made: five young passes' worth
        _Cycle()
        most = max(most, _Cycle.alive)
    # about one young pass's allocations waiting at most: what the other threads free meanwhile (the store writer's)
    # lowers the young generation's count and can put a pass off a little (CI: 703 of 700), never by a pass; the
    # collector off (or the cycles frozen) would hold all five passes' worth
    assert most < 2 * young_pass_every, most
