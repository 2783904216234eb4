"""A background loop of one process: do something now, then every interval, until stopped.

The queue gauges, the settlement gauges and the CIRX balance check are each one of these. A tick that raises
(a database or upstream outage) is logged and the next tick tries again: an outage never ends the loop.
An interval of 0 means the loop is off in this process (another process, or the operator, does it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("certify.proxy.tasks")


class Periodic:
    """``tick`` right away (after ``before``, if given), then every ``interval_s`` seconds."""

    def __init__(
        self,
        name: str,
        interval_s: float,
        tick: Callable[[], Awaitable[object]],
        *,
        before: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self.tick = tick
        self.before = before
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop (nothing when the interval is 0)."""
        if self.interval_s > 0:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Stop the loop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        if self.before is not None:
            await self.before()
        while True:
            try:
                await self.tick()
            except Exception as exc:  # noqa: BLE001 - an outage must not end the loop; the next tick retries
                logger.warning("periodic task failed", extra={"task": self.name, "error": type(exc).__name__})
            await asyncio.sleep(self.interval_s)
