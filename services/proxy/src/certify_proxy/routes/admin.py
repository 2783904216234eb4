"""Admin API (admin keys only, 403 otherwise): dead letters, re-queueing, stuck jobs, the balance check.

The Kubernetes operator mirrors dead letters as custom resources and re-queues through these routes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from certify_common.errors import Failure, failure
from certify_proxy import deadletters
from certify_proxy.auth import Principal
from certify_proxy.balance import check_balance
from certify_proxy.deps import PrincipalDep, RuntimeDep, SessionDep
from certify_proxy.errors import ApiError
from certify_proxy.store.db import transaction

router = APIRouter(prefix="/v1/admin", tags=["admin"])


async def require_admin(principal: PrincipalDep) -> Principal:
    """The caller, if its key is an admin key; 403 ``forbidden`` otherwise."""
    if not principal.is_admin:
        raise ApiError(failure("forbidden", "this endpoint needs an admin key"))
    return principal


Admin = Annotated[Principal, Depends(require_admin)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Most rows returned.")]


@router.get("/dead-letters", summary="Jobs that used up their attempts")
async def get_dead_letters(
    _admin: Admin,
    session: SessionDep,
    include_requeued: Annotated[bool, Query(description="Also list dead letters already re-queued.")] = False,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Dead letters, newest first, with the last error and the attempts made."""
    rows = await deadletters.list_dead_letters(session, include_requeued=include_requeued, limit=limit)
    ids = await deadletters.client_request_ids(session, [row.payload for row in rows])
    return {"dead_letters": [deadletters.dead_letter_view(row, ids) for row in rows]}


@router.post("/dead-letters/{dead_letter_id}/requeue", summary="Queue a dead letter's job again")
async def requeue_dead_letter(dead_letter_id: int, _admin: Admin, runtime: RuntimeDep) -> dict[str, Any]:
    """The job runs again with a fresh set of attempts; 404 when unknown or already re-queued."""
    async with transaction(runtime.sessions) as session:
        row = await deadletters.requeue(session, dead_letter_id)
        if row is None:
            raise ApiError(failure("not_found", "no such dead letter waiting", dead_letter_id=dead_letter_id))
        return deadletters.dead_letter_view(row, await deadletters.client_request_ids(session, [row.payload]))


@router.get("/jobs/stuck", summary="Jobs whose worker died or that are long overdue")
async def get_stuck_jobs(_admin: Admin, runtime: RuntimeDep, session: SessionDep, limit: Limit = 100) -> dict[str, Any]:
    """Running jobs past their lease and queued jobs overdue by more than ``STUCK_AFTER_S``."""
    rows = await deadletters.stuck_jobs(session, runtime.settings.stuck_after_s, limit)
    ids = await deadletters.client_request_ids(session, [row.payload for row in rows])
    return {"stuck_after_s": runtime.settings.stuck_after_s, "jobs": [deadletters.job_view(row, ids) for row in rows]}


@router.post("/balance-check", summary="Check the CIRX wallet balance now")
async def balance_check(_admin: Admin, runtime: RuntimeDep) -> dict[str, Any]:
    """Read, store and export the balance; the burn rate and time to depletion come with it."""
    report = await check_balance(runtime)
    if isinstance(report, Failure):
        raise ApiError(report)
    return report
