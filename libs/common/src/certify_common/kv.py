"""Shared state for every service: Redis when ``REDIS_URL`` is set, an in-process fallback otherwise.

Anything several workers or replicas must agree on (price cache, replay guards, settlement results,
nonce allocation, idempotency keys, rate limits) goes through a :class:`KeyValue`. Both
implementations give the same atomic guarantees within their scope: Redis across processes, the
memory one within one process (enough for a single-process development stack).
"""

from __future__ import annotations

import time
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import redis.asyncio as aioredis

from certify_common.locks import HeldLock, LockLostError, LockTimeoutError, hold

__all__ = [
    "HeldLock",
    "KeyValue",
    "LockLostError",
    "LockTimeoutError",
    "MemoryKeyValue",
    "RedisKeyValue",
    "create_kv",
]

# KEYS[1] = sequence key; ARGV[1] = floor. Sets the key to max(current + 1, floor) and returns it.
_NEXT_IN_SEQUENCE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local floor = tonumber(ARGV[1])
local nextval = current + 1
if floor > nextval then nextval = floor end
redis.call('SET', KEYS[1], nextval)
return nextval
"""
# KEYS[1] = lock key; ARGV[1] = token. Deletes the key only if this holder still owns it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS[1] = lock key; ARGV[1] = token, ARGV[2] = TTL in ms. Extends the TTL only if this holder still owns it.
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class KeyValue(Protocol):
    """The operations certify needs from shared state. Keys are namespaced by the prefix."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False) -> bool:
        """Store ``value``; with ``only_if_absent`` nothing changes (and False returns) if the key exists."""
        ...

    async def delete(self, key: str) -> None: ...

    async def next_in_sequence(self, key: str, floor: int) -> int:
        """Atomically set the key to ``max(current + 1, floor)`` (current = -1 when unset) and return it."""
        ...

    def lock(
        self, name: str, *, ttl_s: float, wait_s: float, renew_every_s: float | None = None
    ) -> AbstractAsyncContextManager[HeldLock]:
        """A mutual-exclusion lock; raise :class:`LockTimeoutError` after ``wait_s``.

        Without ``renew_every_s`` it is held at most ``ttl_s``; with it, the TTL is extended every
        ``renew_every_s`` (at most half the TTL) while the holder runs, and the yielded
        :class:`HeldLock` tells (``lost``, ``ensure()``) whether the holder still owns it.
        Release only ever deletes the holder's own lock.
        """
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class MemoryKeyValue:
    """In-process implementation: correct for one process only."""

    def __init__(self, prefix: str = "certify") -> None:
        self.prefix = prefix
        self._data: dict[str, tuple[str, float | None]] = {}

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires_at = item
        if expires_at is not None and time.monotonic() >= expires_at:
            del self._data[key]
            return None
        return value

    async def get(self, key: str) -> str | None:
        return self._live(self._key(key))

    async def set(self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False) -> bool:
        full = self._key(key)
        if only_if_absent and self._live(full) is not None:
            return False
        self._data[full] = (value, time.monotonic() + ttl_s if ttl_s else None)
        return True

    async def delete(self, key: str) -> None:
        self._data.pop(self._key(key), None)

    async def next_in_sequence(self, key: str, floor: int) -> int:
        full = self._key(key)
        current = self._live(full)
        value = max(int(current) + 1 if current is not None else 0, floor)
        self._data[full] = (str(value), None)
        return value

    async def try_acquire(self, key: str, token: str, ttl_s: float) -> bool:
        if self._live(key) is not None:
            return False
        self._data[key] = (token, time.monotonic() + ttl_s)
        return True

    async def extend(self, key: str, token: str, ttl_s: float) -> bool:
        if self._live(key) != token:
            return False
        self._data[key] = (token, time.monotonic() + ttl_s)
        return True

    async def release(self, key: str, token: str) -> bool:
        if self._live(key) != token:
            return False
        del self._data[key]
        return True

    def lock(
        self, name: str, *, ttl_s: float, wait_s: float, renew_every_s: float | None = None
    ) -> AbstractAsyncContextManager[HeldLock]:
        key = self._key(f"lock:{name}")
        return hold(self, key, name, ttl_s=ttl_s, wait_s=wait_s, renew_every_s=renew_every_s)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class RedisKeyValue:
    """Redis implementation, shared by every worker and replica. Every command has a timeout."""

    def __init__(self, url: str, prefix: str = "certify", timeout_s: float = 2.0) -> None:
        self.prefix = prefix
        self.client: aioredis.Redis = aioredis.from_url(
            url, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._next_script = self.client.register_script(_NEXT_IN_SEQUENCE)
        self._release_script = self.client.register_script(_RELEASE)
        self._extend_script = self.client.register_script(_EXTEND)

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def get(self, key: str) -> str | None:
        value = await self.client.get(self._key(key))
        return None if value is None else str(value)

    async def set(self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False) -> bool:
        px = int(ttl_s * 1000) if ttl_s else None
        result = await self.client.set(self._key(key), value, px=px, nx=only_if_absent)
        return bool(result)

    async def delete(self, key: str) -> None:
        await self.client.delete(self._key(key))

    async def next_in_sequence(self, key: str, floor: int) -> int:
        return int(await self._next_script(keys=[self._key(key)], args=[floor]))

    async def try_acquire(self, key: str, token: str, ttl_s: float) -> bool:
        return bool(await self.client.set(key, token, px=max(1, int(ttl_s * 1000)), nx=True))

    async def extend(self, key: str, token: str, ttl_s: float) -> bool:
        return bool(await self._extend_script(keys=[key], args=[token, max(1, int(ttl_s * 1000))]))

    async def release(self, key: str, token: str) -> bool:
        return bool(await self._release_script(keys=[key], args=[token]))

    def lock(
        self, name: str, *, ttl_s: float, wait_s: float, renew_every_s: float | None = None
    ) -> AbstractAsyncContextManager[HeldLock]:
        key = self._key(f"lock:{name}")
        return hold(self, key, name, ttl_s=ttl_s, wait_s=wait_s, renew_every_s=renew_every_s)

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def close(self) -> None:
        await self.client.aclose()


def create_kv(redis_url: str | None, prefix: str = "certify") -> KeyValue:
    """Redis when a URL is given, else the in-process fallback."""
    if redis_url:
        return RedisKeyValue(redis_url, prefix)
    return MemoryKeyValue(prefix)
