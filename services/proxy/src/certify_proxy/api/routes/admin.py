"""Admin API (admin keys only, 403 otherwise): dead letters, re-queueing, any request's status,
stuck jobs, the balance check.

The Kubernetes operator mirrors dead letters as custom resources and re-queues through these routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from certify_common.errors import Failure, failure
from certify_proxy.api.deps import PrincipalDep, RuntimeDep, SessionDep
from certify_proxy.api.errors import ApiError
from certify_proxy.api.responses import AUTH, UPSTREAM, errors
from certify_proxy.api.schemas import (
    BalanceReport,
    DeadLetters,
    DeadLetterView,
    StatusDocument,
    StuckJobs,
    UnresolvedSettlements,
)
from certify_proxy.api_keys import Principal
from certify_proxy.certification.status import status_view
from certify_proxy.queue import deadletters
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import transaction
from certify_proxy.tasks import reconciliation
from certify_proxy.tasks.balance import check_balance

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=errors(AUTH, 403, 422))


async def require_admin(principal: PrincipalDep) -> Principal:
    """The caller, if its key is an admin key; 403 ``forbidden`` otherwise."""
    if not principal.is_admin:
        raise ApiError(failure("forbidden", "this endpoint needs an admin key"))
    return principal


Admin = Annotated[Principal, Depends(require_admin)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Most rows returned.")]
#: Row ids are PostgreSQL ``integer``s: anything outside is refused before it reaches the database.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The dead letter's id.")]


@router.get("/dead-letters", summary="Jobs that used up their attempts")
async def get_dead_letters(
    _admin: Admin,
    session: SessionDep,
    include_requeued: Annotated[bool, Query(description="Also list dead letters already re-queued.")] = False,
    limit: Limit = 100,
) -> DeadLetters:
    """Dead letters, newest first, with the last error and the attempts made."""
    rows = await deadletters.list_dead_letters(session, include_requeued=include_requeued, limit=limit)
    ids = await deadletters.client_request_ids(session, [row.payload for row in rows])
    return DeadLetters(dead_letters=[deadletters.dead_letter_view(row, ids) for row in rows])


@router.post("/dead-letters/{dead_letter_id}/requeue", summary="Queue a dead letter's job again", responses=errors(404))
async def requeue_dead_letter(dead_letter_id: RowId, _admin: Admin, runtime: RuntimeDep) -> DeadLetterView:
    """The job runs again with a fresh set of attempts; 404 when unknown or already re-queued."""
    async with transaction(runtime.sessions) as session:
        row = await deadletters.requeue(session, dead_letter_id)
        if row is None:
            raise ApiError(failure("not_found", "no such dead letter waiting", dead_letter_id=dead_letter_id))
        return deadletters.dead_letter_view(row, await deadletters.client_request_ids(session, [row.payload]))


@router.get(
    "/requests/{request_key}",
    summary="Any client's request (by its request_key), as its status document",
    responses=errors(404),
)
async def get_request_status(
    request_key: str, _admin: Admin, runtime: RuntimeDep, session: SessionDep
) -> StatusDocument:
    """What ``GET /v1/status`` shows its owner; ``request_key`` is the one dead letters and job views name
    (the operator follows re-queued dead letters with it)."""
    request = await repo.get_request(session, request_key)
    if request is None:
        raise ApiError(failure("request_not_found", "no such request", request_key=request_key))
    return await status_view(session, request, runtime.settings.public_base_url)


@router.get("/jobs/stuck", summary="Jobs whose worker died or that are long overdue")
async def get_stuck_jobs(_admin: Admin, runtime: RuntimeDep, session: SessionDep, limit: Limit = 100) -> StuckJobs:
    """Running jobs past their lease and queued jobs overdue by more than ``STUCK_AFTER_S``."""
    rows = await deadletters.stuck_jobs(session, runtime.settings.stuck_after_s, limit)
    ids = await deadletters.client_request_ids(session, [row.payload for row in rows])
    return StuckJobs(
        stuck_after_s=runtime.settings.stuck_after_s, jobs=[deadletters.job_view(row, ids) for row in rows]
    )


@router.get("/settlements/unresolved", summary="Paid requests whose settlement is not recorded yet")
async def get_unresolved_settlements(_admin: Admin, session: SessionDep, limit: Limit = 100) -> UnresolvedSettlements:
    """Payments reserved for settlement and not concluded, oldest first, with their age and the reconciliation
    job's attempts, next attempt and last error. They are retried without limit; a long-waiting one needs a look
    (an RPC or facilitator outage)."""
    rows = await reconciliation.unresolved(session, limit)
    count, oldest_age_s = await reconciliation.refresh_gauges(session)
    return UnresolvedSettlements(count=count, oldest_age_s=oldest_age_s, settlements=rows)


@router.post("/balance-check", summary="Check the CIRX wallet balance now", responses=errors(UPSTREAM))
async def balance_check(_admin: Admin, runtime: RuntimeDep) -> BalanceReport:
    """Read and store the balance; the burn rate and time to depletion come with it.

    Not exported as a metric here: the caller (the Kubernetes operator) exports it, once per cluster.
    """
    report = await check_balance(runtime)
    if isinstance(report, Failure):
        raise ApiError(report)
    return report
