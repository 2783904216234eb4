"""Whether the database schema is the one this code was shipped with, re-checked until it is.

A proxy does not migrate the database (``certify-admin db upgrade`` does, once per deployment): it
starts, reports not ready (``/readyz`` → 503 with ``schema_at_head: false``) and keeps its workers
from claiming jobs until the database's Alembic revision equals the code's head. The check is one
small query every few seconds until it passes, then never again in this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from certify_proxy.store.migrate import current_revisions, head_revisions

logger = logging.getLogger("certify.proxy.schema")


class SchemaGate:
    """Polls the database's revision until it is at head, then runs ``on_ready`` and opens."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        interval_s: float,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.on_ready = on_ready
        self.head = head_revisions()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """True once the database was found at head (and ``on_ready`` ran)."""
        return self._ready.is_set()

    async def wait(self) -> None:
        """Return once the schema is at head."""
        await self._ready.wait()

    async def start(self) -> None:
        """Check once now (a migrated database is ready before the first request), then keep checking."""
        try:
            await self.check()
        except Exception as exc:  # noqa: BLE001 - database unreachable: not ready, the watcher checks again
            logger.warning("schema check failed", extra={"error": type(exc).__name__})
        if not self.ready:
            self._task = asyncio.create_task(self._watch(), name="schema-gate")

    async def stop(self) -> None:
        """Stop checking."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def check(self) -> bool:
        """One check: is the database at head now? (Also opens the gate when it is.)"""
        if self.ready:
            return True
        current = await current_revisions(self.engine)
        if current != self.head:
            return False
        if self.on_ready is not None:
            await self.on_ready()
        self._ready.set()
        logger.info("database schema at head", extra={"revision": sorted(self.head)})
        return True

    async def _watch(self) -> None:
        warned = False
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                if await self.check():
                    return
                if not warned:
                    logger.warning(
                        "database schema not at head; waiting for certify-admin db upgrade",
                        extra={"expected": sorted(self.head)},
                    )
                    warned = True
            except Exception as exc:  # noqa: BLE001 - database unreachable: not ready, check again later
                logger.warning("schema check failed", extra={"error": type(exc).__name__})
