"""One behavioural contract for every KeyValue implementation."""

import asyncio

from certify_common.kv import KeyValue


async def check_contract(kv: KeyValue) -> None:
    assert await kv.get("missing") is None
    assert await kv.set("a", "1")
    assert await kv.get("a") == "1"
    assert not await kv.set("a", "2", only_if_absent=True)
    assert await kv.get("a") == "1"
    assert await kv.set("a", "3")
    assert await kv.get("a") == "3"
    await kv.delete("a")
    assert await kv.get("a") is None
    assert await kv.set("short", "x", ttl_s=0.05)
    deadline = asyncio.get_running_loop().time() + 2
    while await kv.get("short") is not None:
        assert asyncio.get_running_loop().time() < deadline, "ttl never expired"
        await asyncio.sleep(0.01)
    assert await kv.next_in_sequence("seq", 10) == 10
    assert await kv.next_in_sequence("seq", 3) == 11
    assert await kv.next_in_sequence("seq", 20) == 20
    order: list[str] = []

    async def worker(name: str) -> None:
        async with kv.lock("l", ttl_s=5, wait_s=5):
            order.append(f"{name}-in")
            await asyncio.sleep(0.01)
            order.append(f"{name}-out")

    await asyncio.gather(worker("a"), worker("b"))
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])
    assert await kv.ping()
