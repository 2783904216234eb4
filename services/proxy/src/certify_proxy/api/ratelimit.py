"""Sliding-window rate limits: atomic in Redis (a Lua script on a sorted set), in process otherwise.

Every replica shares the Redis window, and the script reads the clock of the Redis server, so
replicas with skewed clocks still agree. Without Redis each process keeps its own window.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis

# KEYS[1] window key; ARGV[1] window ms, ARGV[2] limit, ARGV[3] unique member.
# Returns {allowed (0/1), retry_after_ms}.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local retry = tonumber(oldest[2]) + window - now
if retry < 1 then retry = 1 end
return {0, retry}
"""


@dataclass(frozen=True)
class Decision:
    """Whether one more request fits, and if not, how long until it would."""

    allowed: bool
    retry_after_s: float


class RateLimiter(Protocol):
    """``hit(key, limit, window_s)`` counts one request if it fits the window."""

    async def hit(self, key: str, limit: int, window_s: float) -> Decision: ...


class RedisRateLimiter:
    """Shared by every process using the same Redis and prefix."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_SLIDING_WINDOW)

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        allowed, retry_ms = await self._script(
            keys=[f"{self._prefix}:ratelimit:{key}"], args=[int(window_s * 1000), limit, uuid.uuid4().hex]
        )
        return Decision(bool(int(allowed)), int(retry_ms) / 1000)


class MemoryRateLimiter:
    """One process only (development without Redis)."""

    def __init__(self) -> None:
        self._windows: dict[str, deque[float]] = {}

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        now = time.monotonic()
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - window_s:
            window.popleft()
        if len(window) < limit:
            window.append(now)
            return Decision(True, 0.0)
        return Decision(False, max(window[0] + window_s - now, 0.001))
