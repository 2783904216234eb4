"""The public payment page (``GET /pay/{id}``, see ``routes/page.py``) and its callback (``POST /v1/pay/{id}``).

Both are bound to the request's unguessable public token: without it, 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import Response

from certify_common.errors import failure
from certify_proxy.api.deps import PublicRequest, RuntimeDep, payment_header
from certify_proxy.api.errors import ApiError
from certify_proxy.api.responses import ANSWERED, PUBLIC, UPSTREAM, errors
from certify_proxy.api.routes import page
from certify_proxy.api.routes.common import prefer_wait, respond, settle_wait
from certify_proxy.api.schemas import PayBody
from certify_proxy.certification import payments

router = APIRouter(tags=["payment page"])
router.include_router(page.router)


@router.post(
    "/v1/pay/{request_id}",
    summary="Payment callback of the page and wallets (token required)",
    responses={
        **ANSWERED,
        **errors(PUBLIC, UPSTREAM, 402, 409, 413),
    },
)
async def pay_callback(
    request: PublicRequest,
    http: Request,
    runtime: RuntimeDep,
    body: Annotated[PayBody | None, Body()] = None,
    prefer: Annotated[str | None, Header()] = None,
) -> Response:
    """Same rules as the paid ``POST /v1/certify``: 202 (or 200 when final within ``Prefer: wait``)."""
    paid = payment_header(http)
    value = paid[1] if paid is not None else (body.payment if body is not None else None)
    if not value:
        raise ApiError(failure("payment_required", "send the payment as X-PAYMENT / PAYMENT-SIGNATURE or {payment}"))
    outcome = await payments.pay(runtime, request, value)
    return respond(
        await settle_wait(runtime, outcome, request.request_key, prefer_wait(prefer, runtime.settings.max_wait_s))
    )
