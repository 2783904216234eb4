"""Leased locks over a KeyValue: an owner token, a TTL, optional renewal while held, safe release.

A lock is a key holding a random owner token with a TTL (a crashed holder frees it). Every change
after taking it is a compare-and-act on the token, atomic in the backend (a Lua script on Redis,
one event-loop step in process): renewal extends the TTL only while the key still holds this
holder's token, release deletes it only then. A holder whose section may outlast the TTL asks for
renewal (``renew_every_s``); if a renewal finds the lock gone or taken, or none succeeds before the
TTL runs out, the :class:`HeldLock` reports it lost and :meth:`HeldLock.ensure` raises, so the
holder stops before acting on what the lock protected.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

logger = logging.getLogger("certify.locks")


class LockTimeoutError(TimeoutError):
    """The lock could not be taken within the wait."""


class LockLostError(Exception):
    """The lock ran out or passed to another holder while this one still worked under it."""


class LeaseBackend(Protocol):
    """The three atomic steps a lock needs from its store (keys are the store's full keys)."""

    async def try_acquire(self, key: str, token: str, ttl_s: float) -> bool:
        """Set ``key`` to ``token`` with a TTL unless the key exists."""
        ...

    async def extend(self, key: str, token: str, ttl_s: float) -> bool:
        """Reset the TTL if ``key`` still holds ``token``; False otherwise."""
        ...

    async def release(self, key: str, token: str) -> bool:
        """Delete ``key`` if it still holds ``token``; False otherwise."""
        ...


class HeldLock:
    """A lock this holder took: whether it still holds it, as far as it can know."""

    def __init__(self, name: str, ttl_s: float) -> None:
        self.name = name
        self._valid_until = time.monotonic() + ttl_s
        self._lost = False

    def renewed(self, ttl_s: float, at: float) -> None:
        """A renewal that started at monotonic time ``at`` succeeded."""
        self._valid_until = at + ttl_s

    def mark_lost(self) -> None:
        """A renewal found the lock gone or owned by someone else."""
        self._lost = True

    @property
    def lost(self) -> bool:
        """True once the lock was taken by another holder or its TTL ran out without renewal."""
        return self._lost or time.monotonic() >= self._valid_until

    def ensure(self) -> None:
        """Raise :class:`LockLostError` unless the lock is still held (call before acting under it)."""
        if self.lost:
            raise LockLostError(f"lock {self.name} was lost")


def check_renewal(ttl_s: float, renew_every_s: float | None) -> None:
    """Refuse a TTL that does not cover two renewal intervals (one failed renewal must not lose the lock)."""
    if ttl_s <= 0:
        raise ValueError("a lock's ttl_s must be positive")
    if renew_every_s is not None and not 0 < renew_every_s <= ttl_s / 2:
        raise ValueError(f"renew_every_s={renew_every_s} must be positive and at most half of ttl_s={ttl_s}")


async def _renew(backend: LeaseBackend, key: str, token: str, ttl_s: float, every_s: float, held: HeldLock) -> None:
    while True:
        await asyncio.sleep(every_s)
        started = time.monotonic()
        try:
            still_ours = await backend.extend(key, token, ttl_s)
        except Exception as exc:  # noqa: BLE001 - any backend outage: retry next interval; the TTL bounds it
            # ``held.lost`` turns true on its own once the TTL runs out without a successful renewal.
            logger.warning("lock renewal failed", extra={"lock": held.name, "error": type(exc).__name__})
            continue
        if not still_ours:
            logger.warning("lock lost", extra={"lock": held.name})
            held.mark_lost()
            return
        held.renewed(ttl_s, started)


def hold(
    backend: LeaseBackend, key: str, name: str, *, ttl_s: float, wait_s: float, renew_every_s: float | None
) -> AbstractAsyncContextManager[HeldLock]:
    """Take the lock (polling with backoff up to ``wait_s``), renew it while held if asked, release it.

    A renewal interval that does not fit the TTL (see :func:`check_renewal`) raises ``ValueError`` here.
    """
    check_renewal(ttl_s, renew_every_s)
    return _held(backend, key, name, ttl_s, wait_s, renew_every_s)


@asynccontextmanager
async def _held(
    backend: LeaseBackend, key: str, name: str, ttl_s: float, wait_s: float, renew_every_s: float | None
) -> AsyncIterator[HeldLock]:
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait_s
    delay = 0.005
    while True:
        started = time.monotonic()
        if await backend.try_acquire(key, token, ttl_s):
            break
        if time.monotonic() >= deadline:
            raise LockTimeoutError(f"lock {name} busy")
        await asyncio.sleep(min(delay, max(deadline - time.monotonic(), 0.0)))
        delay = min(delay * 2, 0.1)
    held = HeldLock(name, ttl_s)
    held.renewed(ttl_s, started)
    renewer = None
    if renew_every_s is not None:
        renewer = asyncio.create_task(_renew(backend, key, token, ttl_s, renew_every_s, held), name=f"lock-{name}")
    try:
        yield held
    finally:
        if renewer is not None:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        await _release(backend, key, token, name)


async def _release(backend: LeaseBackend, key: str, token: str, name: str) -> None:
    """Release after the work under the lock is over: an outage of the store now must not replace the work's
    outcome (a payment recorded would read as failed), and the TTL frees the lock anyway."""
    try:
        await backend.release(key, token)
    except Exception as exc:  # noqa: BLE001 - any backend outage: the lock expires with its TTL
        logger.warning("lock release failed", extra={"lock": name, "error": type(exc).__name__})
