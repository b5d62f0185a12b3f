"""The loss limits breached today, kept across restarts in the store's ``bot_state`` (key ``risk:NAME``).

A breach runs the action and is stored and alerted once a day. The day's loss itself is rebuilt from the stored
fills at start, so the vetoes hold after a restart whatever is kept here; what is kept is that the breach was
already acted on: a restart the same day does not pause, kill or flatten again, nor record and alert the same trip a
second time. Kept with the start of the day it is of: a restart on a later day (or with another ``daily_reset_at``)
starts with none. Written at a trip (rare: at most one write per limit and day), as ``breaker`` writes its circuits,
after the action was taken: a limit kept here was acted on. Where a commit is a round trip (PostgreSQL) the write goes
to the store writer's thread (the check never waits on the database on the loop), after the trip's record and the
host's pause; each write holds every limit breached that day, so the last one handed over is the one kept. One past
at start that is not kept here (its write failed, or the bot died before it) is acted on and alerted at start
(:meth:`~plugins.limits.check.Limits.start`).
"""

from __future__ import annotations

import json

from bot.api.storage import Store


def state_key(check_name: str) -> str:
    return f"risk:{check_name}"


def save_tripped(store: Store, check_name: str, day_start_ns: int, tripped: set[tuple[str, ...]],
                 now_ns: int) -> None:
    """Keep ``tripped`` (the limits breached in the day that began at ``day_start_ns``)."""
    value = {"day_start_ns": day_start_ns, "tripped": sorted(list(t) for t in tripped)}
    store.set_state(state_key(check_name), json.dumps(value, sort_keys=True), now_ns)


def load_tripped(store: Store, check_name: str, day_start_ns: int) -> set[tuple[str, ...]]:
    """The limits kept as breached in the day that began at ``day_start_ns`` (none kept, or of another day: none).
    Raises ValueError when what is kept cannot be read."""
    text = store.get_state(state_key(check_name))
    if not text:
        return set()
    try:
        value = json.loads(text)
        kept_day = value["day_start_ns"]
        tripped = value["tripped"]
        if type(kept_day) is not int or not isinstance(tripped, list) \
                or not all(isinstance(t, list) and t and all(isinstance(p, str) for p in t) for t in tripped):
            raise TypeError("not a day's start and a list of limits")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{text!r}: {exc}") from exc
    return {tuple(t) for t in tripped} if kept_day == day_start_ns else set()
