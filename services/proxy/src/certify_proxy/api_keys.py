"""API keys: generated once, stored only as SHA-256, looked up by hash; revocation is a timestamp.

A process trusts a key it found active for ``API_KEY_CACHE_TTL_S`` (5 s by default): a revoked key is
refused within that time by every process, and the hot path makes no key lookup per request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.store import keys
from certify_proxy.store.db import retry_dropped
from certify_proxy.store.models import ApiKey, utcnow

KEY_PREFIX = "ck_"


def hash_key(key: str) -> str:
    """The stored form of a key (keys are 256-bit random, so a plain SHA-256 is enough)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random key: ``ck_`` + 43 URL-safe characters."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key (id, admin flag) or, in open mode, an anonymous client identified by IP."""

    subject: str
    api_key_id: int | None
    is_admin: bool


async def create_key(
    session: AsyncSession, name: str, *, is_admin: bool = False, key: str | None = None
) -> tuple[str, ApiKey]:
    """Store a new key (or the given one) and return it in clear once, with its row."""
    clear = key or new_key()
    row = ApiKey(
        name=name,
        prefix=clear[:10],
        key_hash=hash_key(clear),
        is_admin=is_admin,
        webhook_secret=secrets.token_urlsafe(32),
        created_at=utcnow(),
        revoked_at=None,
    )
    session.add(row)
    await session.flush()
    return clear, row


async def ensure_key(session: AsyncSession, name: str, key: str) -> None:
    """Register ``key`` unless it already exists (the development key of ``make run``)."""
    if await keys.by_hash(session, hash_key(key)) is None:
        await create_key(session, name, key=key)


async def revoke_key(session: AsyncSession, key_id: int) -> bool:
    """Revoke a key by id; False when no active key has that id."""
    return await keys.revoke(session, key_id, utcnow())


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, oldest first (hashes only; the keys themselves are never stored)."""
    return await keys.all_keys(session)


async def authenticate(session: AsyncSession, key: str) -> Principal | None:
    """The principal of an active key, or None."""
    return await _by_hash(session, hash_key(key))


async def _by_hash(session: AsyncSession, key_hash: str) -> Principal | None:
    row = await keys.active_by_hash(session, key_hash)
    if row is None:
        return None
    return Principal(subject=f"key:{row.id}", api_key_id=row.id, is_admin=bool(row.is_admin))


class KeyCache:
    """Active keys' principals, trusted for ``ttl_s`` seconds in this process (unknown keys are never cached).

    A dict with expiry times rather than a caching library: the few lines below need no new pinned dependency,
    and the clock is injectable for tests. At most ``max_entries`` keys are held (the oldest goes first).
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}

    async def principal(self, sessions: async_sessionmaker[AsyncSession], key: str) -> Principal | None:
        """The principal of an active key (from the cache while fresh), or None."""
        digest = hash_key(key)
        now = self.clock()
        cached = self._entries.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]

        async def lookup() -> Principal | None:
            async with sessions() as session:
                return await _by_hash(session, digest)

        principal = await retry_dropped(lookup)
        self._entries.pop(digest, None)
        if principal is not None and self.ttl_s > 0:
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[digest] = (principal, now + self.ttl_s)
        return principal
