"""The public payment page (``GET /pay/{id}``) and its callback (``POST /v1/pay/{id}``), both token-bound."""

from __future__ import annotations

import json
from html import escape
from typing import Annotated

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse

from certify_common.errors import failure
from certify_proxy import paying
from certify_proxy.deps import PublicRequest, RuntimeDep, payment_header
from certify_proxy.errors import ApiError
from certify_proxy.routes.common import prefer_wait, respond, settle_wait
from certify_proxy.schemas import PayBody

router = APIRouter(tags=["payment page"])

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pay for certification {request_id}</title></head>
<body>
<h1>Certify a document on Circular</h1>
<dl>
<dt>Request</dt><dd>{request_id}</dd>
<dt>Document</dt><dd>{file_name}</dd>
<dt>SHA-256 certified</dt><dd><code>{data_hash}</code></dd>
<dt>Price</dt><dd>{amount} USDC</dd>
<dt>Network</dt><dd>{network}</dd>
<dt>Pay to</dt><dd><code>{pay_to}</code></dd>
<dt>Status</dt><dd>{status}</dd>
</dl>
<p>Sign a gasless x402 (EIP-3009) USDC authorization with your wallet and send it to
<code>POST {callback}</code> as the <code>X-PAYMENT</code> header (or JSON <code>{{"payment": …}}</code>).
The in-page wallet button comes in a later release.</p>
</body></html>
"""


@router.get("/pay/{request_id}", response_class=HTMLResponse, summary="Payment page (token required)")
async def payment_page(request: PublicRequest, runtime: RuntimeDep) -> HTMLResponse:
    """What is being certified, for how much, on which network."""
    offer = json.loads(request.offer_json or "{}").get("x402") or {}
    base = runtime.settings.public_base_url
    page = _PAGE.format(
        request_id=escape(request.request_id),
        file_name=escape(request.file_name or "(not named)"),
        data_hash=escape(request.data_hash),
        amount=escape(str(offer.get("amount_usdc", "?"))),
        network=escape(request.network),
        pay_to=escape(str(offer.get("pay_to", "?"))),
        status=escape(request.status),
        callback=escape(f"{base}/v1/pay/{request.request_id}?token={request.public_token}"),
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.post("/v1/pay/{request_id}", summary="Payment callback of the page and wallets (token required)")
async def pay_callback(
    request: PublicRequest,
    http: Request,
    runtime: RuntimeDep,
    body: Annotated[PayBody | None, Body()] = None,
    prefer: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Same rules as the paid ``POST /v1/certify``: 202 (or 200 when final within ``Prefer: wait``)."""
    paid = payment_header(http)
    value = paid[1] if paid is not None else (body.payment if body is not None else None)
    if not value:
        raise ApiError(failure("payment_required", "send the payment as X-PAYMENT / PAYMENT-SIGNATURE or {payment}"))
    outcome = await paying.pay(runtime, request.request_id, value, None)
    return respond(
        await settle_wait(runtime, outcome, request.request_id, prefer_wait(prefer, runtime.settings.max_wait_s))
    )
