"""A process trusts an active API key for API_KEY_CACHE_TTL_S: a revoked key is refused once that time passed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from certify_proxy.api_keys import KeyCache, create_key, revoke_key
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import create_engine, session_factory, transaction
from certify_proxy.store.migrate import upgrade_async


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    await upgrade_async(url)
    engine = create_engine(ProxySettings(database_url=url))
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    yield session_factory(engine), statements
    await engine.dispose()


async def test_a_revoked_key_is_refused_once_the_ttl_has_passed(store: Any) -> None:
    sessions, _ = store
    async with transaction(sessions) as session:
        key, row = await create_key(session, "client")
    clock = Clock()
    cache = KeyCache(5.0, clock=clock)
    principal = await cache.principal(sessions, key)
    assert principal is not None
    assert principal.api_key_id == row.id
    async with transaction(sessions) as session:
        assert row.id is not None
        assert await revoke_key(session, row.id)
    clock.now += 4.9
    assert await cache.principal(sessions, key) == principal  # still trusted within the TTL
    clock.now += 0.2
    assert await cache.principal(sessions, key) is None
    clock.now += 100
    assert await cache.principal(sessions, key) is None


async def test_a_trusted_key_costs_no_database_statement_and_unknown_keys_are_never_cached(store: Any) -> None:
    sessions, statements = store
    async with transaction(sessions) as session:
        key, _ = await create_key(session, "client")
    cache = KeyCache(5.0, clock=Clock())
    await cache.principal(sessions, key)
    before = len(statements)
    assert await cache.principal(sessions, key) is not None
    assert len(statements) == before
    assert await cache.principal(sessions, "ck_unknown") is None
    assert await cache.principal(sessions, "ck_unknown") is None
    assert len(statements) == before + 2


async def test_a_zero_ttl_asks_the_database_every_time(store: Any) -> None:
    sessions, statements = store
    async with transaction(sessions) as session:
        key, _ = await create_key(session, "client")
    cache = KeyCache(0.0, clock=Clock())
    before = len(statements)
    for _ in range(3):
        assert await cache.principal(sessions, key) is not None
    assert len(statements) == before + 3
