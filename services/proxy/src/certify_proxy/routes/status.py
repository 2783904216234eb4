"""``GET /v1/status/{request_id}``: where a request stands."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from certify_common.errors import failure
from certify_proxy.deps import ReadCaller, RuntimeDep, SessionDep
from certify_proxy.errors import ApiError
from certify_proxy.responses import READ, errors
from certify_proxy.store import repositories as repo
from certify_proxy.views import status_view

router = APIRouter(tags=["status"])


@router.get(
    "/v1/status/{request_id}",
    summary="State, quote, payment, proof or error of a request",
    responses=errors(READ, 404),
)
async def get_status(request_id: str, runtime: RuntimeDep, caller: ReadCaller, session: SessionDep) -> dict[str, Any]:
    """The status document; 404 for unknown ids and for other clients' requests."""
    request = await repo.get_request(session, request_id)
    if request is None or request.api_key_id != caller.api_key_id:
        raise ApiError(failure("request_not_found", "no such request", request_id=request_id))
    return await status_view(session, request, runtime.settings.public_base_url)
