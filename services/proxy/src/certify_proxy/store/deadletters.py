"""Queries and writes on the ``dead_letters`` table (the rules are in ``certify_proxy.queue.deadletters``)."""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.store.models import DeadLetter

DEAD_LETTERS = cast(sa.Table, DeadLetter.__table__)  # type: ignore[attr-defined]


async def newest(session: AsyncSession, *, include_requeued: bool, limit: int) -> list[DeadLetter]:
    """Dead letters, newest first (without those already re-queued unless ``include_requeued``)."""
    statement = sa.select(DeadLetter).order_by(DEAD_LETTERS.c.id.desc()).limit(limit)
    if not include_requeued:
        statement = statement.where(DEAD_LETTERS.c.requeued_at.is_(None))
    return list((await session.execute(statement)).scalars())


async def lock(session: AsyncSession, dead_letter_id: int) -> DeadLetter | None:
    """A dead letter by id, locked for the rest of the transaction (PostgreSQL), if it exists."""
    statement = sa.select(DeadLetter).where(DEAD_LETTERS.c.id == dead_letter_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def waiting_by_kind(session: AsyncSession) -> dict[str, int]:
    """How many dead letters of each job kind wait for an operator (not re-queued)."""
    statement = (
        sa.select(DEAD_LETTERS.c.kind, sa.func.count())
        .where(DEAD_LETTERS.c.requeued_at.is_(None))
        .group_by(DEAD_LETTERS.c.kind)
    )
    return {str(kind): int(count) for kind, count in (await session.execute(statement)).tuples()}
