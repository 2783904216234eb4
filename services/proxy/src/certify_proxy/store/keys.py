"""Queries and writes on ``api_keys`` (hashing, caching and the rules are in ``certify_proxy.api_keys``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.store.models import ApiKey

_KEYS = cast(sa.Table, ApiKey.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ActiveKey:
    """The two columns the hot path needs of an active (not revoked) key."""

    id: int
    is_admin: bool


async def by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The key stored under ``key_hash``, revoked or not."""
    return (await session.execute(sa.select(ApiKey).where(_KEYS.c.key_hash == key_hash))).scalar_one_or_none()


async def by_id(session: AsyncSession, key_id: int) -> ApiKey | None:
    """The key with id ``key_id``, revoked or not."""
    return (await session.execute(sa.select(ApiKey).where(_KEYS.c.id == key_id))).scalar_one_or_none()


async def active_by_hash(session: AsyncSession, key_hash: str) -> ActiveKey | None:
    """The id and admin flag of the active key stored under ``key_hash`` (one narrow row), if any."""
    statement = sa.select(_KEYS.c.id, _KEYS.c.is_admin).where(
        _KEYS.c.key_hash == key_hash, _KEYS.c.revoked_at.is_(None)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else ActiveKey(id=int(row.id), is_admin=bool(row.is_admin))


async def revoke(session: AsyncSession, key_id: int, at: datetime) -> bool:
    """Mark the active key ``key_id`` revoked at ``at``; False when no active key has that id."""
    statement = sa.update(_KEYS).where(_KEYS.c.id == key_id, _KEYS.c.revoked_at.is_(None)).values(revoked_at=at)
    return bool(cast(sa.CursorResult[Any], await session.execute(statement)).rowcount)


async def all_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, oldest first."""
    return list((await session.execute(sa.select(ApiKey).order_by(_KEYS.c.id))).scalars())
