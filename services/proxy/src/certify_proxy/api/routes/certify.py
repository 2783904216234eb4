"""``POST /v1/certify``: a new request gets a 402 offer; the paid retry settles and queues the work."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from certify_proxy.api.deps import (
    CertifyCaller,
    RuntimeDep,
    checked_paid_retry,
    enforce_limit,
    get_principal,
    paid_retry_admission,
    payment_header,
)
from certify_proxy.api.responses import ANSWERED, UPSTREAM, WRITE, errors
from certify_proxy.api.routes.common import prefer_wait, respond, settle_wait
from certify_proxy.api.schemas import CertifyBody
from certify_proxy.certification import intake, payments
from certify_proxy.certification.ownership import paid_request


class CertifyRoute(APIRoute):
    """``POST /v1/certify`` with a lean path for the hot case, a new request (the 402).

    A request without a payment header whose ``application/json`` body parses and validates as FastAPI would
    parse and validate it is answered by the same functions the dependencies call (caller, write limit,
    ``new_request``), without FastAPI's dependency solving: a fifth of a 402's CPU (bench/, issue 14). Anything
    else (a payment, another content type, a body FastAPI would refuse) takes FastAPI's own path, so its
    errors and their order are FastAPI's; the lean path has counted nothing by then.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        full = super().get_route_handler()

        async def handler(request: Request) -> Response:
            body = None if payment_header(request) is not None else await _new_request_body(request)
            if body is None:
                return await full(request)
            runtime = request.app.state.runtime
            caller = await get_principal(request, runtime, request.headers.get("x-api-key"))
            await enforce_limit(runtime, caller.subject, "writes")
            return respond(await intake.new_request(runtime, body, caller))

        return handler


async def _new_request_body(request: Request) -> CertifyBody | None:
    """The body as FastAPI would give it to ``post_certify`` (``json.loads``, then the model), else None."""
    if request.headers.get("content-type") != "application/json":
        return None
    raw = await request.body()
    try:
        return CertifyBody.model_validate(json.loads(raw)) if raw else None
    except (ValueError, ValidationError, RecursionError):  # FastAPI's path answers 422 or 400 in its own words
        return None  # (RecursionError: deeply nested JSON, which FastAPI refuses with a 400)


router = APIRouter(tags=["certify"], route_class=CertifyRoute)


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
    retry = checked_paid_retry(request)
    target = await paid_request(runtime, body, caller, token, None if retry is None else retry.request)
    outcome = await payments.pay(runtime, target, paid[1], paid_retry_admission(runtime, caller, retry))
    return respond(
        await settle_wait(runtime, outcome, target.request_key, prefer_wait(prefer, runtime.settings.max_wait_s))
    )
