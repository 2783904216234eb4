"""Run the Alembic migrations shipped inside the package (``python -m certify_proxy`` does it at start)."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = "certify_proxy.store:migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and the given async URL."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision`` (blocking; call from a thread inside an event loop)."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """:func:`upgrade` off the event loop (Alembic drives its own loop for the async driver)."""
    await asyncio.to_thread(upgrade, database_url, revision)
