"""The in-process KeyValue honours the same contract as the Redis one (see the integration twin)."""

import asyncio

import pytest
from kv_contract import check_contract

from certify_common.kv import LockTimeoutError, MemoryKeyValue


async def test_memory_store_meets_the_contract() -> None:
    await check_contract(MemoryKeyValue("t"))


async def test_memory_lock_times_out_when_held() -> None:
    kv = MemoryKeyValue("t")
    async with kv.lock("busy", ttl_s=5, wait_s=1):
        with pytest.raises(LockTimeoutError):
            async with kv.lock("busy", ttl_s=5, wait_s=0.05):
                pass


async def test_memory_sequence_is_gapless_under_concurrency() -> None:
    kv = MemoryKeyValue("t")
    values = await asyncio.gather(*(kv.next_in_sequence("n", 5) for _ in range(50)))
    assert sorted(values) == list(range(5, 55))
