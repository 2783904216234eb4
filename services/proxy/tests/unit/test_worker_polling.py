"""Idle workers of one process send one queue check per JOB_POLL_INTERVAL_S between them (not one each), and a
burst of due jobs still runs on every worker at once: a claim wakes a waiting sibling, which claims the next."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from certify_proxy.queue import jobs, runner
from certify_proxy.queue.payloads import CertifyPayload
from certify_proxy.queue.worker import Done, JobContext, Outcome, Workers
from certify_proxy.runtime import Runtime
from certify_proxy.store.db import transaction
from certify_proxy.store.models import JobKind

from .queue_stand import queue_runtime

WORKERS = 8
POLL_S = 0.1


class Gate:
    """A handler whose attempts all wait until released; it records how many ran at the same time."""

    def __init__(self) -> None:
        self.retry_delays_s = [5.0]
        self.running = 0
        self.most = 0
        self.release = asyncio.Event()

    async def run(self, context: JobContext) -> Outcome:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await self.release.wait()
        finally:
            self.running -= 1
        return Done()

    async def dead_lettered(self, *args: Any) -> None:
        raise AssertionError("never dead-lettered here")


@pytest.fixture
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    """Workers' runtime on SQLite; the poll interval is POLL_S unless the test parametrises it (indirect)."""
    poll_s = float(getattr(request, "param", POLL_S))
    async with queue_runtime(tmp_path, job_workers=WORKERS, job_poll_interval_s=poll_s, job_lease_s=300) as runtime:
        yield runtime


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every claim the workers make: True when it found a job."""
    made: list[bool] = []
    claim = runner.claim

    async def counted(*args: Any, **kwargs: Any) -> runner.ClaimedJob | None:
        job = await claim(*args, **kwargs)
        made.append(job is not None)
        return job

    monkeypatch.setattr(runner, "claim", counted)
    return made


async def _enqueue(runtime: Runtime, count: int) -> None:
    async with transaction(runtime.sessions) as session:
        for number in range(count):
            key = f"burst-{number}"
            await jobs.enqueue(session, JobKind.CERTIFY, key, CertifyPayload(request_key=key), max_attempts=3)


async def test_an_idle_process_checks_the_queue_once_per_interval_whatever_its_worker_count(
    runtime: Runtime, claims: list[bool]
) -> None:
    workers = Workers(runtime, {JobKind.CERTIFY: Gate()})
    workers.start()
    try:
        await asyncio.sleep(0.3)  # the start: every worker claims once, finds nothing, and all but one wait
        claims.clear()
        await asyncio.sleep(20 * POLL_S)
        idle = len(claims)
    finally:
        await workers.stop()
    # One poller: about 20 checks in 20 intervals (each also spends a claim's time); 8 polling workers made ~160.
    assert 10 <= idle <= 21, idle
    assert not any(claims)


LONG_POLL_S = 2.0


@pytest.mark.parametrize("runtime", [LONG_POLL_S], indirect=True)
async def test_a_burst_of_due_jobs_runs_on_every_worker_at_once(runtime: Runtime, claims: list[bool]) -> None:
    """The poller finds the burst (within one interval); each claim wakes a sibling, so every worker is busy at
    once, and the jobs left run as workers come free: none of it waits for another poll."""
    handler = Gate()
    workers = Workers(runtime, {JobKind.CERTIFY: handler})
    workers.start()
    try:
        await asyncio.sleep(0.3)  # idle: one worker polls, the others wait
        await _enqueue(runtime, WORKERS + 3)

        async def all_busy() -> None:
            while handler.running < WORKERS:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(all_busy(), LONG_POLL_S + 5)
        assert handler.most == WORKERS  # never more than the workers
        handler.release.set()
        released_at = asyncio.get_running_loop().time()

        async def drained() -> None:
            while sum(claims) < WORKERS + 3 or handler.running:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(drained(), LONG_POLL_S + 5)
        assert asyncio.get_running_loop().time() - released_at < LONG_POLL_S / 2  # no poll waited for
    finally:
        await workers.stop()
