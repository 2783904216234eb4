"""The in-process KeyValue honours the same contract as the Redis one (see the integration twin)."""

import asyncio

import pytest
from kv_contract import (
    check_contract,
    check_lost_lock_is_reported,
    check_release_by_a_non_owner_does_nothing,
    check_renewal_must_fit_the_ttl,
    check_renewed_lock_outlasts_its_ttl,
)

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


async def test_memory_lock_renewed_while_held_outlasts_its_ttl() -> None:
    await check_renewed_lock_outlasts_its_ttl(MemoryKeyValue("t"))


async def test_memory_lock_taken_over_is_reported_lost_to_its_first_holder() -> None:
    await check_lost_lock_is_reported(MemoryKeyValue("t"))


async def test_memory_lock_release_by_a_non_owner_does_nothing() -> None:
    await check_release_by_a_non_owner_does_nothing(MemoryKeyValue("t"))


def test_memory_lock_refuses_a_renewal_interval_longer_than_half_its_ttl() -> None:
    check_renewal_must_fit_the_ttl(MemoryKeyValue("t"))


class _ReleaseFails(MemoryKeyValue):
    """A store that goes down once the work under a lock is done (its release raises)."""

    async def release(self, key: str, token: str) -> bool:
        raise ConnectionError("the store went away")


async def test_a_release_the_store_fails_keeps_the_outcome_of_the_work_and_the_lock_expires(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _ReleaseFails()
    async with store.lock("work", ttl_s=0.2, wait_s=0.0):
        outcome = "recorded"
    assert outcome == "recorded"
    assert "lock release failed" in caplog.text
    with pytest.raises(ValueError, match="the work failed"):
        async with store.lock("failing", ttl_s=0.2, wait_s=0.0):
            raise ValueError("the work failed")  # the work's own error is what the caller sees
    await asyncio.sleep(0.3)
    async with store.lock("work", ttl_s=0.2, wait_s=0.0):  # the TTL freed it
        pass
