"""Services as real processes on loopback, for tests: the development stack's runner under the test kit's name,
and :func:`eventually`, the asynchronous :func:`wait_until`."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from certify_devstack.processes import ServiceProcess, free_port, log_dir, wait_until

__all__ = ["ServiceProcess", "eventually", "free_port", "log_dir", "wait_until"]


async def eventually(
    check: Callable[[], Any], timeout_s: float = 60, what: str = "condition", interval_s: float = 0.1
) -> Any:
    """Poll ``check()`` (plain or async) until it gives something truthy, which is returned; ``TimeoutError`` at
    the deadline. The asynchronous :func:`wait_until`: a test waits on a condition, never for a fixed time."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(interval_s)
