"""API keys: generated once, stored only as SHA-256, looked up by hash; revocation is a timestamp."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession

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
    existing = (await session.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))).scalar_one_or_none()  # type: ignore[arg-type]
    if existing is None:
        await create_key(session, name, key=key)


async def revoke_key(session: AsyncSession, key_id: int) -> bool:
    """Revoke a key by id; False when no active key has that id."""
    statement = (
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))  # type: ignore[arg-type,union-attr]
        .values(revoked_at=utcnow())
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, oldest first (hashes only; the keys themselves are never stored)."""
    return list((await session.execute(select(ApiKey).order_by(ApiKey.id))).scalars())  # type: ignore[arg-type]


async def authenticate(session: AsyncSession, key: str) -> Principal | None:
    """The principal of an active key, or None."""
    statement = select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))  # type: ignore[arg-type,union-attr]
    row = (await session.execute(statement)).scalar_one_or_none()
    if row is None or row.id is None:
        return None
    return Principal(subject=f"key:{row.id}", api_key_id=row.id, is_admin=row.is_admin)
