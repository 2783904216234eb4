"""The proxy's app in this process, on a SQLite file of its own, for tests that drive it through ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from certify_proxy.app import create_app
from certify_proxy.settings import ProxySettings
from certify_proxy.store.migrate import upgrade_async


@asynccontextmanager
async def inprocess_proxy(database: Path, **settings: Any) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running: no Redis, no job workers, no balance checks unless ``settings`` say."""
    url = f"sqlite+aiosqlite:///{database}"
    await upgrade_async(url)
    defaults: dict[str, Any] = {
        "database_url": url,
        "certify_env": "test",
        "redis_url": None,
        "job_workers": 0,
        "balance_check_interval_s": 0,
    }
    application = create_app(ProxySettings(**(defaults | settings)))
    async with application.router.lifespan_context(application):
        yield application
