"""Queries on ``wallet_balances``, the stored readings of the service's wallet."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.store.models import WalletBalance

_BALANCES = cast(sa.Table, WalletBalance.__table__)  # type: ignore[attr-defined]


async def readings_since(session: AsyncSession, asset: str, since: datetime) -> list[WalletBalance]:
    """The readings of ``asset`` taken at or after ``since``, oldest first."""
    statement = (
        sa.select(WalletBalance)
        .where(_BALANCES.c.asset == asset, _BALANCES.c.checked_at >= since)
        .order_by(_BALANCES.c.checked_at)
    )
    return list((await session.execute(statement)).scalars())
