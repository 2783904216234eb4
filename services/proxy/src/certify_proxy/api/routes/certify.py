"""``POST /v1/certify``: a new request gets a 402 offer; the paid retry settles and queues the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from certify_proxy.api.deps import CertifyCaller, RuntimeDep, payment_header
from certify_proxy.api.responses import ANSWERED, UPSTREAM, WRITE, errors
from certify_proxy.api.routes.common import prefer_wait, respond, settle_wait
from certify_proxy.api.schemas import CertifyBody
from certify_proxy.certification import intake, payments
from certify_proxy.certification.ownership import paid_request

router = APIRouter(tags=["certify"])


@router.post(
    "/v1/certify",
    summary="Request a certification (402 with the offer) or pay for it (X-PAYMENT / PAYMENT-SIGNATURE)",
    responses={
        **ANSWERED,
        **errors(WRITE, UPSTREAM, 402, 404, 409),
    },
)
async def post_certify(
    body: CertifyBody,
    request: Request,
    runtime: RuntimeDep,
    caller: CertifyCaller,
    prefer: Annotated[str | None, Header(description="wait=N: answer 200 if final within N seconds (N ≤ 60).")] = None,
    token: Annotated[str | None, Query(description="A keyless request's token (paid retry without the body).")] = None,
) -> Response:
    """New request → 402; the same request_id with a payment header → 202 (or 200 when final in time)."""
    paid = payment_header(request)
    if paid is None:
        return respond(await intake.new_request(runtime, body, caller))
    # A paid retry that repeats the whole body (as x402 clients do) must describe the same request.
    target = await paid_request(runtime, body, caller, token)
    outcome = await payments.pay(runtime, target, paid[1])
    return respond(
        await settle_wait(runtime, outcome, target.request_key, prefer_wait(prefer, runtime.settings.max_wait_s))
    )
