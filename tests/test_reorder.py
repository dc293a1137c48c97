"""The reorder buffer: records reach the dedup stage in intake order, whatever order the
extraction pool finishes them in, so replays decide identically."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

from daemon.reorder import ReorderBuffer
from tests.conftest import CORPORA
from tests.test_e2e import newsd

L3S_WARC = CORPORA / "l3s-gn1-reconstructed-warc" / "L3S-GN1-subset-reconstructed.warc.gz"


async def test_records_leave_in_ticket_order_whatever_order_they_arrive() -> None:
    """Outcomes handed in shuffled, with some records ended early (None), come out in ticket
    order without the ended ones."""
    buffer: ReorderBuffer[str] = ReorderBuffer(100)
    tickets = [await buffer.ticket() for _ in range(20)]
    arrival = tickets[:]
    random.Random(3).shuffle(arrival)
    for seq in arrival:
        buffer.put(seq, None if seq % 5 == 0 else f"r{seq}")
    out = []
    for _ in range(16):
        out.append(await buffer.get())
        buffer.task_done()
    assert out == [f"r{i}" for i in range(20) if i % 5]
    await asyncio.wait_for(buffer.join(), 1)


async def let_others_run() -> None:
    """Yield to the event loop until every ready task has run as far as it can."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_record_waits_for_its_predecessor() -> None:
    """A later record that finished first is not released before the earlier one arrives."""
    buffer: ReorderBuffer[str] = ReorderBuffer(10)
    first, second = await buffer.ticket(), await buffer.ticket()
    buffer.put(second, "second")
    getter = asyncio.create_task(buffer.get())
    await let_others_run()
    assert not getter.done()
    buffer.put(first, "first")
    assert await asyncio.wait_for(getter, 1) == "first"
    assert await asyncio.wait_for(buffer.get(), 1) == "second"


async def test_intake_waits_while_the_window_is_full() -> None:
    """With a window of 2, a third ticket is handed out only once the first record left."""
    buffer: ReorderBuffer[str] = ReorderBuffer(2)
    first = await buffer.ticket()
    await buffer.ticket()
    third = asyncio.create_task(buffer.ticket())
    await let_others_run()
    assert not third.done()
    buffer.put(first, "a")
    assert await asyncio.wait_for(buffer.get(), 1) == "a"
    assert await asyncio.wait_for(third, 1) == 2


async def test_unordered_mode_releases_in_arrival_order() -> None:
    """`ordered=False` (pipeline.ordered = false) keeps the old first-finished-first behaviour."""
    buffer: ReorderBuffer[str] = ReorderBuffer(10, ordered=False)
    first, second = await buffer.ticket(), await buffer.ticket()
    buffer.put(second, "second")
    buffer.put(first, "first")
    assert [await buffer.get(), await buffer.get()] == ["second", "first"]


def test_two_replays_of_a_warc_give_byte_identical_events_in_identical_order(tmp_path: Path):
    """The 40 L3S-GN1 news pages replayed twice with fresh state and two extraction workers:
    identical event bodies, keys and channels, line by line, in the same order."""
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.jsonl"
        env = {"NEWSD_EXTRACT__WORKERS": "2"}
        result = newsd("replay", str(L3S_WARC), "--fresh-state", "--sink", f"jsonl:{out}", env=env)
        assert result.returncode == 0, result.stderr[-2000:]
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        outputs.append([(x["channel"], x["key"], json.dumps(x["event"])) for x in lines])
    assert len(outputs[0]) >= 30
    assert outputs[0] == outputs[1]
