"""The in-process sliding window (the Redis one is exercised by the integration tests)."""

from __future__ import annotations

from certify_proxy.api.ratelimit import MemoryRateLimiter


async def test_requests_beyond_the_limit_wait_for_the_oldest_to_leave_the_window() -> None:
    limiter = MemoryRateLimiter()
    decisions = [await limiter.hit("writes:key:1", 3, 60.0) for _ in range(4)]
    assert [decision.allowed for decision in decisions] == [True, True, True, False]
    assert 59.0 < decisions[-1].retry_after_s <= 60.0


async def test_keys_have_separate_windows() -> None:
    limiter = MemoryRateLimiter()
    assert (await limiter.hit("a", 1, 60.0)).allowed
    assert (await limiter.hit("b", 1, 60.0)).allowed
    assert not (await limiter.hit("a", 1, 60.0)).allowed


async def test_a_zero_length_window_forgets_at_once() -> None:
    limiter = MemoryRateLimiter()
    assert all([(await limiter.hit("k", 1, 0.0)).allowed for _ in range(3)])
