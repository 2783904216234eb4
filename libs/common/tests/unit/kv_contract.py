"""One behavioural contract for every KeyValue implementation."""

import asyncio

import pytest

from certify_common.kv import KeyValue, LockLostError, LockTimeoutError
from certify_testkit.processes import eventually


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

    async def expired() -> bool:
        return await kv.get("short") is None

    await eventually(expired, 2, "the ttl to expire", 0.01)
    assert await kv.next_in_sequence("seq", 10) == 10
    assert await kv.next_in_sequence("seq", 3) == 11
    assert await kv.next_in_sequence("seq", 20) == 20
    order: list[str] = []

    async def worker(name: str) -> None:
        async with kv.lock("l", ttl_s=5, wait_s=5):
            order.append(f"{name}-in")
            await asyncio.sleep(0)  # yield while holding: the other worker tries to enter now
            order.append(f"{name}-out")

    await asyncio.gather(worker("a"), worker("b"))
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])
    assert await kv.ping()


async def check_renewed_lock_outlasts_its_ttl(kv: KeyValue) -> None:
    """A holder renewing its lock keeps it past the TTL: a second acquirer waiting 3 TTLs gets nothing."""
    async with kv.lock("renewed", ttl_s=0.3, wait_s=1, renew_every_s=0.1) as held:
        with pytest.raises(LockTimeoutError):
            async with kv.lock("renewed", ttl_s=0.3, wait_s=0.9):
                pass
        assert not held.lost
        held.ensure()
    async with kv.lock("renewed", ttl_s=0.3, wait_s=0.5):  # released at exit: free at once
        pass


async def check_lost_lock_is_reported(kv: KeyValue) -> None:
    """When the key ran out and another holder took the lock, the renewing first holder learns it lost it."""
    async with kv.lock("stolen", ttl_s=5, wait_s=1, renew_every_s=0.05) as first:
        await kv.delete("lock:stolen")  # as if the TTL had run out
        async with kv.lock("stolen", ttl_s=5, wait_s=1) as second:
            await eventually(lambda: first.lost, 10, "the first holder saw its lock lost", 0.01)
            with pytest.raises(LockLostError):
                first.ensure()
            assert not second.lost


async def check_release_by_a_non_owner_does_nothing(kv: KeyValue) -> None:
    """The old holder leaving its section (after its lock ran out) does not free the new holder's lock."""
    new = kv.lock("again", ttl_s=5, wait_s=1)
    async with kv.lock("again", ttl_s=5, wait_s=1):
        await kv.delete("lock:again")  # as if the TTL had run out
        await new.__aenter__()
    try:
        with pytest.raises(LockTimeoutError):
            async with kv.lock("again", ttl_s=5, wait_s=0.2):
                pass
    finally:
        await new.__aexit__(None, None, None)
    async with kv.lock("again", ttl_s=5, wait_s=1):
        pass


def check_renewal_must_fit_the_ttl(kv: KeyValue) -> None:
    """A renewal interval longer than half the TTL is refused before anything is taken."""
    with pytest.raises(ValueError, match="renew_every_s"):
        kv.lock("bad", ttl_s=1, wait_s=1, renew_every_s=0.9)
