"""Workers: asyncio tasks inside every proxy process that run the durable queue's jobs.

Each worker claims a due job (any replica may take any job), renews its lease while the job runs
(every third of the lease), cancels the attempt as soon as the lease is lost (another worker may
hold the job by then), and records the outcome: done, retried after the schedule's next delay, or —
once the job used up its attempts — moved to the dead-letter queue together with the handler's own
bookkeeping (the request's state), in one transaction. A job whose worker died is taken over when its lease expires.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.logs import bound
from certify_common.tracing import linked_root_span, untraced
from certify_proxy.queue import runner
from certify_proxy.queue.metrics import JOB_RUNS
from certify_proxy.queue.payloads import JobPayload, request_key_of
from certify_proxy.queue.runner import ClaimedJob, LeaseLostError
from certify_proxy.queue.settings import retry_delay_s
from certify_proxy.runtime import Runtime
from certify_proxy.store.db import transaction
from certify_proxy.store.models import utcnow

logger = logging.getLogger("certify.proxy.worker")
P = TypeVar("P", bound=JobPayload)

#: How long workers wait at start for the MCP sessions before claiming jobs anyway.
STARTUP_WAIT_S = 10.0


@dataclass(frozen=True)
class Done:
    """The handler finished the job itself (``runner.finish`` inside its result's transaction)."""


@dataclass(frozen=True)
class Retry:
    """This attempt failed; run again after the schedule's delay (or dead-letter when attempts are used up)."""

    error: str
    progress: JobPayload | None = None


Outcome = Done | Retry


class JobContext:
    """What a handler gets: the runtime, the claimed job, and writes guarded by this worker's lease."""

    def __init__(self, runtime: Runtime, job: ClaimedJob, worker_id: str) -> None:
        self.runtime = runtime
        self.job = job
        self.worker_id = worker_id

    def payload(self, model: type[P]) -> P:
        """The job's payload read through its kind's model (``ValidationError`` when the row does not fit)."""
        return model.model_validate_json(self.job.payload)

    async def save(self, payload: JobPayload) -> None:
        """Persist progress now (committed), so a crash after this point resumes from it."""
        async with transaction(self.runtime.sessions) as session:
            await runner.save_payload(session, self.job.id, self.worker_id, payload)

    async def save_in(self, session: AsyncSession, payload: JobPayload) -> None:
        """Persist progress inside the caller's transaction."""
        await runner.save_payload(session, self.job.id, self.worker_id, payload)

    async def finish(self, session: AsyncSession) -> None:
        """Mark the job done inside the caller's transaction (with the work's result)."""
        await runner.finish(session, self.job.id, self.worker_id)


class JobHandler(Protocol):
    """One kind of job, with its own retry schedule (seconds before each retry, the last repeating)."""

    retry_delays_s: list[float]

    async def run(self, context: JobContext) -> Outcome:
        """Make one attempt."""

    async def dead_lettered(self, runtime: Runtime, session: AsyncSession, job: ClaimedJob, error: str) -> None:
        """Bookkeeping when the job goes to the dead-letter queue (same transaction)."""


class Workers:
    """``job_workers`` tasks claiming and running jobs until stopped."""

    def __init__(self, runtime: Runtime, handlers: dict[str, JobHandler]) -> None:
        self.runtime = runtime
        self.handlers = handlers
        self.node = f"{os.uname().nodename}:{os.getpid()}:{secrets.token_hex(3)}"
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Idle workers: one polls the queue every JOB_POLL_INTERVAL_S, the others wait for a claim to wake them.
        self._polling = False
        self._claimed = asyncio.Condition()

    def start(self) -> None:
        """Start the worker tasks (none when ``JOB_WORKERS=0``)."""
        for index in range(self.runtime.settings.job_workers):
            with untraced():  # idle polling is no trace; each claimed job starts its own (see _loop)
                self._tasks.append(asyncio.create_task(self._loop(f"{self.node}:{index}"), name=f"job-worker-{index}"))

    async def stop(self) -> None:
        """Stop claiming; cancel running attempts (their jobs are taken over after the lease)."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _idle(self) -> None:
        """Wait before claiming again. One idle worker polls (every ``JOB_POLL_INTERVAL_S``); the others wait until
        a claim wakes them, so an idle process sends one claim per interval whatever ``JOB_WORKERS`` is."""
        if self._polling:
            async with self._claimed:
                await self._claimed.wait()
            return
        self._polling = True
        try:
            await asyncio.wait_for(self._stopping.wait(), self.runtime.settings.job_poll_interval_s)
        except TimeoutError:
            return
        finally:
            self._polling = False

    async def _wake_one(self) -> None:
        """A job was claimed: more may be due, and this worker no longer polls; one waiting sibling claims next
        (and wakes another if it finds a job too, or becomes the poller if it finds none)."""
        async with self._claimed:
            self._claimed.notify(1)

    async def _loop(self, worker_id: str) -> None:
        settings = self.runtime.settings
        postgres = self.runtime.engine.dialect.name == "postgresql"
        # Right after start the MCP sessions are still connecting: an attempt now would fail for nothing.
        await asyncio.gather(*(server.wait_connected(STARTUP_WAIT_S) for server in self.runtime.pool.servers.values()))
        while not self._stopping.is_set():
            try:
                job = await runner.claim(self.runtime.sessions, worker_id, settings.job_lease_s, postgres=postgres)
            except Exception as exc:  # noqa: BLE001 - a database outage must not end the worker; it retries
                logger.warning("job claim failed", extra={"error": type(exc).__name__})
                await self._idle()
                continue
            if job is None:
                await self._idle()
                continue
            await self._wake_one()
            request_key = request_key_of(job.payload)
            attributes: dict[str, str | int] = {
                "certify.job.kind": job.kind,
                "certify.job.id": job.id,
                "certify.job.attempt": job.attempts,
            }
            with bound(request_id=request_key), linked_root_span(f"job {job.kind}", job.trace_context, attributes):
                await self._run(job, worker_id)

    async def _heartbeat(self, job: ClaimedJob, worker_id: str, attempt: asyncio.Task[Outcome]) -> bool:
        """Renew the lease every third of it; cancel the attempt once the lease is lost. True when lost.

        Lost means the row names another worker (or is gone), or no renewal succeeded before the lease
        ran out (the database was unreachable): either way another worker may hold the job now.
        """
        lease_s = self.runtime.settings.job_lease_s
        loop = asyncio.get_running_loop()
        expires_at = loop.time() + lease_s
        while True:
            await asyncio.sleep(lease_s / 3)
            try:
                held = await runner.renew(self.runtime.sessions, job.id, worker_id, lease_s)
            except Exception as exc:  # noqa: BLE001 - an outage: keep trying while the lease still runs
                held = loop.time() < expires_at
                logger.warning("job lease renewal failed", extra={"job_id": job.id, "error": type(exc).__name__})
            else:
                expires_at = loop.time() + lease_s
            if not held:
                logger.warning("job lease lost; attempt cancelled", extra={"job_id": job.id, "kind": job.kind})
                attempt.cancel()
                return True

    async def _attempt(self, handler: JobHandler | None, job: ClaimedJob, worker_id: str) -> Outcome:
        if handler is None:
            return Retry(f"no handler for job kind {job.kind!r}")
        if runner.exhausted(job.attempts - 1, job.max_attempts):
            return Retry("the last attempt's worker died")
        return await handler.run(JobContext(self.runtime, job, worker_id))

    async def _run(self, job: ClaimedJob, worker_id: str) -> None:
        handler = self.handlers.get(job.kind)
        logger.info(
            "job attempt",
            extra={"job_id": job.id, "kind": job.kind, "attempt": job.attempts, "started_at": utcnow().isoformat()},
        )
        attempt = asyncio.create_task(self._attempt(handler, job, worker_id), name=f"job-{job.id}")
        heartbeat = asyncio.create_task(self._heartbeat(job, worker_id, attempt))
        try:
            outcome: Outcome = await attempt
        except LeaseLostError:
            JOB_RUNS.labels(job.kind, "lease_lost").inc()
            logger.warning("job lease lost", extra={"job_id": job.id, "kind": job.kind})
            return
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling() == 0 and attempt.cancelled():
                # The heartbeat cancelled the attempt (lease lost); this worker goes on with other jobs.
                JOB_RUNS.labels(job.kind, "lease_lost").inc()
                return
            # Shutting down: hand the job back now rather than after the lease (a rolling deploy is no outage).
            await asyncio.shield(self._release(job, worker_id))
            raise
        except Exception as exc:
            logger.warning("job attempt raised", extra={"job_id": job.id, "kind": job.kind}, exc_info=exc)
            outcome = Retry(f"{type(exc).__name__} during the attempt")
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        try:
            await self._record(job, worker_id, handler, outcome)
        except LeaseLostError:
            JOB_RUNS.labels(job.kind, "lease_lost").inc()
            logger.warning("job lease lost before its outcome was stored", extra={"job_id": job.id})
        except Exception as exc:
            logger.error("job outcome not stored", extra={"job_id": job.id}, exc_info=exc)

    async def _release(self, job: ClaimedJob, worker_id: str) -> None:
        try:
            async with asyncio.timeout(3):
                released = await runner.release(self.runtime.sessions, job.id, worker_id)
        except Exception as exc:  # noqa: BLE001 - the lease expires anyway; the job is taken over then
            logger.warning("job not released", extra={"job_id": job.id, "error": type(exc).__name__})
            return
        logger.info("job released at shutdown", extra={"job_id": job.id, "released": released})

    async def _record(self, job: ClaimedJob, worker_id: str, handler: JobHandler | None, outcome: Outcome) -> None:
        if isinstance(outcome, Done):
            JOB_RUNS.labels(job.kind, "done").inc()
            return
        settings = self.runtime.settings
        async with transaction(self.runtime.sessions) as session:
            if outcome.progress is not None:
                await runner.save_payload(session, job.id, worker_id, outcome.progress)
                job = replace(job, payload=outcome.progress.to_json())
            if runner.exhausted(job.attempts, job.max_attempts):
                dead = await runner.dead_letter(session, job, worker_id, outcome.error)
                if handler is not None:
                    await handler.dead_lettered(self.runtime, session, job, outcome.error)
                JOB_RUNS.labels(job.kind, "dead_lettered").inc()
                logger.error(
                    "job dead-lettered",
                    extra={"job_id": job.id, "kind": job.kind, "dead_letter_id": dead.id, "error": outcome.error},
                )
                return
            delays = handler.retry_delays_s if handler is not None else settings.job_retry_delays_s
            run_at = await runner.reschedule(
                session, job.id, worker_id, retry_delay_s(delays, job.attempts), outcome.error
            )
        JOB_RUNS.labels(job.kind, "retried").inc()
        logger.info(
            "job retry scheduled",
            extra={"job_id": job.id, "kind": job.kind, "run_at": run_at.isoformat(), "error": outcome.error},
        )
