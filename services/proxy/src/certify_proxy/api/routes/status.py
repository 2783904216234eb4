"""``GET /v1/status/{request_id}``: where a request stands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from certify_proxy.api.deps import ReadCaller, RuntimeDep, SessionDep
from certify_proxy.api.responses import READ, errors
from certify_proxy.api.schemas import StatusDocument
from certify_proxy.certification.ownership import owned_request
from certify_proxy.certification.status import status_view

router = APIRouter(tags=["status"])


@router.get(
    "/v1/status/{request_id}",
    summary="State, quote, payment, proof or error of a request",
    responses=errors(READ, 404),
)
async def get_status(
    request_id: str,
    runtime: RuntimeDep,
    caller: ReadCaller,
    session: SessionDep,
    token: Annotated[str | None, Query(description="A keyless request's token (in its status_url).")] = None,
) -> StatusDocument:
    """The status document; 404 for unknown ids, other clients' requests and keyless ones without their token."""
    request = await owned_request(session, caller, request_id, token)
    return await status_view(session, request, runtime.settings.public_base_url)
