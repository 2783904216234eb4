"""The payment page (``GET /pay/{id}``), the JSON it polls, its proof download and its assets.

Every page route but the assets needs the request's public token (404 without it).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from certify_client.proof import Proof
from certify_common.errors import failure
from certify_proxy.api import paypage
from certify_proxy.api.deps import PublicRequest, RuntimeDep
from certify_proxy.api.errors import ApiError
from certify_proxy.api.paypage import PageView
from certify_proxy.api.responses import PUBLIC, errors
from certify_proxy.api.routes.certificates import portable_proof
from certify_proxy.certification.status import status_view
from certify_proxy.runtime import Runtime
from certify_proxy.store import repositories as repo
from certify_proxy.store.models import CertificationRequest, utcnow

router = APIRouter(tags=["payment page"])


async def _view(runtime: Runtime, request: CertificationRequest) -> PageView:
    async with runtime.reads() as session:
        status = await status_view(session, request, runtime.settings.public_base_url)
    return paypage.page_view(request, status, utcnow())


@router.get(
    "/pay/{request_id}",
    summary="Payment page (token required)",
    # The page is HTML, its errors are JSON like every other route's: the plain response class declares no
    # body of its own, so the document lists exactly the media types below.
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "The page."}, **errors(PUBLIC)},
)
async def payment_page(request: PublicRequest, runtime: RuntimeDep) -> HTMLResponse:
    """What is being certified, for how much, on which network; the wallet button pays it."""
    view = await _view(runtime, request)
    return HTMLResponse(paypage.render_page(view), headers=paypage.PAGE_HEADERS)


@router.get(
    "/pay/{request_id}/status", summary="What the payment page shows (token required)", responses=errors(PUBLIC)
)
async def payment_page_status(request: PublicRequest, runtime: RuntimeDep, response: Response) -> PageView:
    """The offer, the EIP-712 typed data to sign, and where the request stands — nothing more."""
    response.headers["Cache-Control"] = "no-store"
    return await _view(runtime, request)


@router.get(
    "/pay/{request_id}/proof",
    summary="The portable proof, as a download of the page (token required)",
    response_class=Response,
    responses={200: {"model": Proof, "description": "The proof, as an attachment."}, **errors(PUBLIC, 409)},
)
async def payment_page_proof(request: PublicRequest, runtime: RuntimeDep) -> Response:
    """The certify-proof (version 1) of a completed request, as ``GET /v1/certificates/{id}/proof`` gives it."""
    async with runtime.reads() as session:
        stored = await repo.certification_for_request(session, request.request_key)
    proof = portable_proof(request, stored)
    return Response(
        proof.to_json(),
        media_type="application/json",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="certify-proof-{request.request_id}.json"',
        },
    )


@router.get(paypage.ASSET_PREFIX + "/{name}", include_in_schema=False)
async def payment_page_asset(name: str) -> Response:
    """The page's script and style sheet."""
    found = paypage.asset(name)
    if found is None:
        raise ApiError(failure("not_found", "no such asset"))
    content, media_type = found
    return Response(
        content,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
