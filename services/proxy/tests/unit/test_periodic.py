"""A background loop keeps ticking through failures, waits for its precondition, and is off at interval 0."""

from __future__ import annotations

import asyncio

import pytest

from certify_proxy.tasks.periodic import Periodic


async def test_a_failing_tick_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    ticks: list[int] = []
    third = asyncio.Event()

    async def tick() -> None:
        ticks.append(len(ticks))
        if len(ticks) == 1:
            raise ConnectionError("database down")
        if len(ticks) == 3:
            third.set()

    loop = Periodic("test-loop", 0.001, tick)
    loop.start()
    await asyncio.wait_for(third.wait(), 10)
    await loop.stop()

    assert ticks[:3] == [0, 1, 2]
    [record] = [r for r in caplog.records if r.getMessage() == "periodic task failed"]
    assert (record.task, record.error) == ("test-loop", "ConnectionError")  # type: ignore[attr-defined]


async def test_the_first_tick_waits_for_the_precondition() -> None:
    order: list[str] = []
    ticked = asyncio.Event()
    ready = asyncio.Event()

    async def before() -> None:
        await ready.wait()
        order.append("before")

    async def tick() -> None:
        order.append("tick")
        ticked.set()

    loop = Periodic("test-loop", 60, tick, before=before)
    loop.start()
    await asyncio.sleep(0)
    assert order == []
    ready.set()
    await asyncio.wait_for(ticked.wait(), 10)
    await loop.stop()
    assert order == ["before", "tick"]


async def test_an_interval_of_zero_starts_nothing() -> None:
    called = False

    async def tick() -> None:
        nonlocal called
        called = True

    loop = Periodic("off", 0, tick)
    loop.start()
    await loop.stop()
    assert loop._task is None
    assert not called
