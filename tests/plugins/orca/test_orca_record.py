"""Orca record/replay (plugins/orca/record.py): a pool recorded from the fake node's accountSubscribe replays
into exactly the pool states the live orca venue published; the commands end to end."""

from __future__ import annotations

import asyncio
import base64
import gc
import json

from arbotlib.amm.whirlpool.accounts import build_whirlpool
from bot.api.kit import RecordOptions
from bot.domain import FeedStatus, PoolUpdate
from bot.recording import frame_line, read_recording
from plugins.orca.record import OrcaRecorder, RecordedPools, header
from plugins.orca.settings import OrcaSettings
from tests.helpers.processes import arbot as arbot_command
from tests.helpers.waiting import wait_for
from tests.plugins.orca.orca_pools import (
    POSITIONS,
    WHIRLPOOL,
    pda,
    pool_updates,
    put_pool,
    tick_array_bytes,
    whirlpool_state,
    window,
)

TICK = -20_000
SIZES = (10**6, 10**9, 25 * 10**9)


def state(update: PoolUpdate) -> tuple:
    """Everything a strategy can read of a published pool: slot, tick, price, liquidity ticks, exact quotes."""
    pool = update.pool
    return (update.symbol, update.slot, pool.tick, pool.mid(), tuple(pool.ticks),
            tuple(pool.sell_units(s)[0] for s in SIZES), tuple(pool.buy_units(s)[0] for s in SIZES))


def published_count(lines: list[tuple[int, str]]) -> int:
    return sum(1 for _, raw in lines if '"published"' in raw)


async def test_a_recorded_pool_replays_into_the_states_the_live_venue_published(make_orca, node, tmp_path):
    await put_pool(node, TICK)
    settings = OrcaSettings(rpc_urls=[node.url], ws_urls=[node.ws_url], pools={"SOL/USDC": WHIRLPOOL},
                            reconnect_initial_s=0.02, reconnect_max_s=0.2, request_timeout_s=2.0, start_timeout_s=10.0)
    lines: list[tuple[int, str]] = []
    stop = asyncio.Event()
    clock = iter(range(1_763_780_000_000_000_000, 2**63, 1_000_000))
    recording = asyncio.create_task(OrcaRecorder().record(
        RecordOptions(symbols=["SOL/USDC"], settings=settings), lambda frame: lines.append((next(clock), frame)), stop))
    await wait_for(lambda: published_count(lines) == 1, 10, "the recorder's first pool")
    live = await make_orca()
    assert len(pool_updates(live)) == 1

    async def change(account: str, data: bytes, what: str) -> None:
        before, recorded = len(pool_updates(live)), published_count(lines)
        await node.set_account(account, data)
        await wait_for(lambda: len(pool_updates(live)) > before and published_count(lines) > recorded, 10, what)
        await asyncio.sleep(0.05)  # nothing else is coming: a window move also unsubscribes the old arrays

    await change(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 300)), "a move inside the window")
    start = window(TICK)[3]
    await change(pda(start), tick_array_bytes(start, [*POSITIONS, (-20096, -19968, 7 * 10**11)]), "liquidity added")
    moved = TICK + 2 * 88 * 64
    await change(WHIRLPOOL, build_whirlpool(whirlpool_state(moved)), "a move two tick arrays up")
    await wait_for(lambda: node.subscribed() == {WHIRLPOOL, *(pda(s) for s in window(moved))}, 10, "the new window")
    stop.set()
    summary = await recording
    assert "pools_published=4" in summary

    path = tmp_path / "orca.jsonl"
    path.write_text("".join(frame_line(raw, ts) for ts, raw in lines))
    entries = [json.loads(raw) for _, raw in read_recording(path)]
    assert "orca" in entries[0]  # self-contained: which account is which
    notes = [e for e in entries if "notification" in e]
    assert len(notes) == 3 and all(json.loads(e["notification"])["method"] == "accountNotification" for e in notes)
    assert any("window" in e for e in entries) and any("slot" in e and "data" in e for e in entries)

    replayed = list(OrcaRecorder().market_events(read_recording(path), RecordOptions(symbols=[])))
    pools = [e for e in replayed if isinstance(e, PoolUpdate)]
    assert [state(u) for u in pools] == [state(u) for u in pool_updates(live)]
    assert [u.pool.tick for u in pools] == [TICK, TICK + 300, TICK + 300, moved]
    assert [u.ts_ns for u in pools] == sorted(u.ts_ns for u in pools)  # receive times, in order
    assert [str(e.state) for e in replayed if isinstance(e, FeedStatus)] == ["resyncing", "live"]
    assert OrcaRecorder().replay((raw for _, raw in read_recording(path)), RecordOptions(symbols=[])).splitlines()[1] \
        .startswith(f"SOL/USDC: slot {pools[-1].slot} tick {moved} mid ")


async def test_a_long_recording_keeps_no_published_pool_in_memory(node):
    """`arbot record` counts what the venue publishes and writes it out; it keeps none of it: a recording left
    running for a day holds what it held after its first minute (the summary's counts alone)."""
    await put_pool(node, TICK)
    settings = OrcaSettings(rpc_urls=[node.url], ws_urls=[node.ws_url], pools={"SOL/USDC": WHIRLPOOL},
                            reconnect_initial_s=0.02, reconnect_max_s=0.2, request_timeout_s=2.0, start_timeout_s=10.0)
    lines: list[str] = []
    stop = asyncio.Event()
    recording = asyncio.create_task(OrcaRecorder().record(RecordOptions(symbols=["SOL/USDC"], settings=settings),
                                                          lines.append, stop))
    try:
        await wait_for(lambda: sum('"published"' in raw for raw in lines) == 1, 10, "the recorder's first pool")

        def pool_updates_alive() -> int:
            gc.collect()
            return sum(1 for o in gc.get_objects() if isinstance(o, PoolUpdate))

        before = pool_updates_alive()
        notifications = 2_000
        for k in range(1, notifications + 1):
            await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + k)))
        await wait_for(lambda: sum('"published"' in raw for raw in lines) == notifications + 1, 60,
                       "every notification's pool")
        kept = pool_updates_alive() - before
        assert kept <= 1, f"{kept} more PoolUpdates held after {notifications} notifications"
    finally:
        stop.set()
        summary = await recording
    assert f"pools_published={notifications + 1} " in summary


def test_a_replay_asked_for_a_pool_the_recording_lacks_names_what_it_has(tmp_path):
    head = json.dumps({"orca": {"pools": {"SOL/USDC": WHIRLPOOL}, "tokens": dict(OrcaSettings().tokens),
                                "tick_arrays_each_side": 3}})
    try:
        list(OrcaRecorder().market_events([(1, head)], RecordOptions(symbols=["JUP/USDC"])))
    except ValueError as exc:
        assert "JUP/USDC" in str(exc) and "SOL/USDC" in str(exc)
    else:
        raise AssertionError("no error")
    try:
        list(OrcaRecorder().market_events([(1, '{"channel": "book"}')], RecordOptions(symbols=[])))
    except ValueError as exc:
        assert "header" in str(exc)
    else:
        raise AssertionError("no error")


async def test_arbot_record_and_replay_orca_from_the_command_line(node, tmp_path):
    await put_pool(node, TICK)
    config = tmp_path / "orca.toml"
    config.write_text(f'[exchanges.pool]\ntype = "orca"\nrpc_urls = ["{node.url}"]\nws_urls = ["{node.ws_url}"]\n'
                      f'pools = {{ "SOL/USDC" = "{WHIRLPOOL}" }}\n')
    out = tmp_path / "pool.jsonl"
    proc = await asyncio.create_subprocess_exec(
        *arbot_command(), "record", "--exchange", "orca", "--config", str(config), "--symbol",
        "SOL/USDC", "--out", str(out), "--for", "60", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        def published() -> int:  # each line's raw field is JSON text inside JSON: its quotes are escaped
            return out.read_text().count('\\"published\\"') if out.exists() else 0

        await wait_for(lambda: published() == 1, 60, "the recorded first pool")
        await node.set_account(WHIRLPOOL, build_whirlpool(whirlpool_state(TICK + 300)))
        await wait_for(lambda: published() == 2, 30, "the recorded second pool")
    finally:
        proc.terminate()
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "pools_published=2" in err.decode()
    replay = await asyncio.create_subprocess_exec(
        *arbot_command(), "replay", "--exchange", "orca", str(out), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await replay.communicate()
    assert replay.returncode == 0, stderr.decode()[-2000:]
    text = stdout.decode()
    assert "pools_published=2" in text and f"SOL/USDC: slot {node.slot} tick {TICK + 300} mid " in text




def _recording_with(tmp_path, second: dict):
    head = {"orca": {"pools": {"SOL/USDC": WHIRLPOOL}, "tokens": dict(OrcaSettings().tokens),
                     "tick_arrays_each_side": 3}}
    path = tmp_path / "pool.jsonl"
    path.write_text(frame_line(json.dumps(head), 1) + "\n" + frame_line(json.dumps(second), 2))
    return path


def test_orca_replay_of_a_malformed_line_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    """A line cut short by hand editing or a bad tool: `arbot replay` names the file's line (the blank line before
    it counted) and exits 2, as for any recording it cannot replay."""
    from bot.cli import main

    for second in ({"account": WHIRLPOOL, "slot": 5},  # an account read without its "data"
                   {"window": "SOL/USDC", "arrays": [1, 2]},  # arrays not an object
                   {"account": WHIRLPOOL, "slot": 5, "data": "not base64!"},
                   {"something": "else"}):
        path = _recording_with(tmp_path, second)
        try:
            code = main(["replay", "--exchange", "orca", str(path)])
        except Exception as exc:
            raise AssertionError(f"arbot replay --exchange orca raised {exc!r} on {second}") from None
        err = capsys.readouterr().err
        assert code == 2 and "pool.jsonl" in err and "line 3" in err, (second, err)


def test_a_replayed_account_that_does_not_decode_drops_its_state_as_the_live_venue_does():
    """Replay applies bad data as the live venue does: the state held for the account is dropped (no pool built
    from a state the chain has left), and older data cannot take its place."""
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    pools = RecordedPools()
    good = build_whirlpool(whirlpool_state(TICK))
    pools.take(header(OrcaSettings(pools={"SOL/USDC": WHIRLPOOL}, tick_arrays_each_side=1)), 0)
    pools.take({"account": WHIRLPOOL, "slot": 5, "data": b64(good)}, 1)
    pools.take({"window": "SOL/USDC", "arrays": {str(s): pda(s) for s in window(TICK, 1)}}, 2)
    for s in window(TICK, 1):
        pools.take({"account": pda(s), "slot": 5, "data": b64(tick_array_bytes(s))}, 3)
    watch = pools.pools["SOL/USDC"]
    assert watch.ready
    pools.take({"account": WHIRLPOOL, "slot": 6, "data": b64(good + b"\0")}, 4)
    assert pools.bad_accounts == 1 and not watch.ready
    pools.take({"account": WHIRLPOOL, "slot": 5, "data": b64(good)}, 5)  # older than the bad data: superseded
    assert not watch.ready
    pools.take({"account": WHIRLPOOL, "slot": 7, "data": b64(good)}, 6)
    assert watch.ready and watch.model().tick == TICK
