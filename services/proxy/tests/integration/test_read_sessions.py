"""Read sessions (``store.db.read_factory``): no transaction round trips on PostgreSQL, and no writes anywhere."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.settings import ProxySettings
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import ReadSessionWriteError, create_engine, read_factory, session_factory, transaction
from certify_proxy.store.migrate import upgrade_async
from certify_proxy.store.models import ApiKey

pytestmark = pytest.mark.integration


async def _engine(url: str) -> AsyncEngine:
    await upgrade_async(url)
    return create_engine(ProxySettings(database_url=url, certify_env="test"))


@pytest.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = await _engine(pg_url)
    yield engine
    await engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
async def engine(request: pytest.FixtureRequest, pg_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await _engine(pg_url if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}")
    yield engine
    await engine.dispose()


async def _one_transaction(factory: async_sessionmaker[AsyncSession]) -> bool:
    """Whether two statements of one session ran in one transaction block (they share its id)."""
    async with factory() as session:
        assert await repo.get_request(session, "no-such-key") is None
        first, second = [(await session.execute(sa.text("SELECT txid_current()"))).scalar_one() for _ in "ab"]
    return bool(first == second)


async def test_a_read_on_postgresql_runs_outside_a_transaction_block(pg_engine: AsyncEngine) -> None:
    assert await _one_transaction(session_factory(pg_engine))  # a default session opens a transaction block
    assert not await _one_transaction(
        read_factory(pg_engine, autocommit=True)
    )  # a read session sends no BEGIN (nor ROLLBACK)


async def test_a_read_session_refuses_every_write(engine: AsyncEngine) -> None:
    reads = read_factory(engine, autocommit=True)
    name = f"k-{uuid.uuid4().hex[:8]}"
    async with reads() as session:
        session.add(ApiKey(name=name, prefix="ck_x", key_hash=uuid.uuid4().hex, is_admin=False, webhook_secret="s"))
        with pytest.raises(ReadSessionWriteError):
            await session.flush()
    async with reads() as session:
        with pytest.raises(ReadSessionWriteError):
            await session.execute(sa.update(ApiKey).where(ApiKey.name == "nobody").values(name="renamed"))  # type: ignore[arg-type]
        with pytest.raises(ReadSessionWriteError):
            await session.execute(sa.delete(ApiKey).where(ApiKey.name == "nobody"))  # type: ignore[arg-type]
    async with transaction(session_factory(engine)) as session:
        named = sa.select(sa.func.count()).select_from(ApiKey).where(ApiKey.name == name)  # type: ignore[arg-type]
        assert (await session.execute(named)).scalar_one() == 0
        renamed = sa.select(sa.func.count()).select_from(ApiKey).where(ApiKey.name == "renamed")  # type: ignore[arg-type]
        assert (await session.execute(renamed)).scalar_one() == 0
