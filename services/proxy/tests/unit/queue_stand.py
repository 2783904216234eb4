"""A runtime for the job workers alone: the proxy's settings on a migrated SQLite file, no MCP servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from certify_proxy.runtime import Runtime
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import create_engine, session_factory
from certify_proxy.store.migrate import upgrade_async


@asynccontextmanager
async def queue_runtime(folder: Path, **settings: Any) -> AsyncIterator[Runtime]:
    """What ``Workers`` reads of a runtime, with these settings (``job_workers``, intervals, lease)."""
    url = f"sqlite+aiosqlite:///{folder / 'queue.db'}"
    await upgrade_async(url)
    values = ProxySettings(database_url=url, **settings)
    engine: AsyncEngine = create_engine(values)
    fake = SimpleNamespace(
        settings=values, engine=engine, sessions=session_factory(engine), pool=SimpleNamespace(servers={})
    )
    try:
        yield cast(Runtime, fake)
    finally:
        await engine.dispose()
