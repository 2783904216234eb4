"""FastAPI dependencies: the runtime, the caller (API key or IP), rate limits, public-link tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.errors import failure
from certify_proxy.api.errors import ApiError
from certify_proxy.api_keys import Principal
from certify_proxy.certification import payments
from certify_proxy.certification.ownership import match_token
from certify_proxy.certification.payments import PaidRetry
from certify_proxy.metrics import RATE_LIMITED
from certify_proxy.runtime import Runtime
from certify_proxy.store import repositories as repo
from certify_proxy.store.models import CertificationRequest

PAYMENT_HEADERS = ("payment-signature", "x-payment")


async def get_runtime(request: Request) -> Runtime:
    """The process's runtime, set by the lifespan (async: FastAPI runs a plain function's dependency in a thread)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A read session for the request (writes use explicit transactions in the workflow)."""
    async with runtime.reads() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def client_ip(request: Request) -> str:
    """The client address: the TCP peer, or from X-Forwarded-For when the peer is in FORWARDED_ALLOW_IPS."""
    return request.client.host if request.client is not None else "unknown"


async def get_principal(
    request: Request,
    runtime: RuntimeDep,
    x_api_key: Annotated[str | None, Header(description="Your API key (not needed when AUTH_MODE=open).")] = None,
) -> Principal:
    """The caller: an active API key, or in open mode an anonymous client keyed by IP."""
    if runtime.settings.auth_mode == "open" and not x_api_key:
        return Principal(subject=f"ip:{client_ip(request)}", api_key_id=None, is_admin=False)
    if not x_api_key:
        raise ApiError(failure("missing_api_key", "send your key in the X-API-Key header"))
    principal = await runtime.keys.principal(runtime.reads, x_api_key)
    if principal is None:
        raise ApiError(failure("invalid_api_key", "unknown or revoked API key"))
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


#: Each limit's setting, and what it counts as its 429 names it.
_LIMITS = {
    "writes": ("rate_limit_writes_per_min", "writes"),
    "reads": ("rate_limit_reads_per_min", "reads"),
    "paid_retries": ("rate_limit_paid_retries_per_min", "paid retries of a request awaiting payment"),
}


async def enforce_limit(runtime: Runtime, subject: str, kind: str) -> None:
    """Count one request of ``kind`` (writes, reads or paid_retries) for ``subject``; 429 with Retry-After when over."""
    setting, counted = _LIMITS[kind]
    limit: int = getattr(runtime.settings, setting)
    decision = await runtime.limiter.hit(f"{kind}:{subject}", limit, 60.0)
    if not decision.allowed:
        RATE_LIMITED.labels(kind).inc()
        raise ApiError(
            failure(
                "rate_limited",
                f"more than {limit} {counted} per minute",
                retryable=True,
                retry_after=round(decision.retry_after_s, 3),
                limit=limit,
            )
        )


def payment_header(request: Request) -> tuple[str, str] | None:
    """(header name, value) of an x402 payment on the request, if any."""
    for name in PAYMENT_HEADERS:
        value = request.headers.get(name)
        if value:
            return name, value
    return None


async def write_limited(runtime: RuntimeDep, principal: PrincipalDep) -> Principal:
    """Writes count against the write limit (a quote always does, whatever headers it carries)."""
    await enforce_limit(runtime, principal.subject, "writes")
    return principal


async def _body_request_id(request: Request) -> str | None:
    try:
        body = await request.json()  # FastAPI has read the body already: this parses the cached bytes
    except (ValueError, RecursionError):  # not JSON, or nested too deep (the route refuses it as FastAPI does)
        return None
    request_id = body.get("request_id") if isinstance(body, dict) else None
    return request_id if isinstance(request_id, str) else None


async def certify_limited(request: Request, runtime: RuntimeDep, principal: PrincipalDep) -> Principal:
    """``POST /v1/certify`` counts against the write limit, except the paid retry of one of the caller's
    requests that awaits payment, with a payment header that decodes (paying settles it at most once): that
    counts against the paid-retry limit when x402 verifies it (:func:`paid_retry_admission`), and a replay of a
    recorded payment against none. What the check found is kept for the route (:func:`checked_paid_retry`)."""
    paid = payment_header(request)
    request_id = await _body_request_id(request) if paid is not None else None
    retry = None
    if paid is not None and request_id is not None:
        retry = await payments.exempt_paid_retry(
            runtime, request_id, paid[1], principal, request.query_params.get("token")
        )
        request.state.paid_retry = retry
    if retry is None or not retry.exempt:
        await enforce_limit(runtime, principal.subject, "writes")
    return principal


def checked_paid_retry(request: Request) -> PaidRetry | None:
    """What :func:`certify_limited` found for a paid submission (the caller's request it names, whether it awaits
    payment), if it looked."""
    found: PaidRetry | None = getattr(request.state, "paid_retry", None)
    return found


def paid_retry_admission(
    runtime: Runtime, principal: Principal, retry: PaidRetry | None
) -> Callable[[], Awaitable[None]] | None:
    """For a paid retry that skipped the write limit because its request awaits payment: what counts its
    verification against the paid-retry limit (``payments.pay`` runs it right before x402 is asked)."""
    if retry is None or not retry.awaiting:
        return None

    async def admit() -> None:
        await enforce_limit(runtime, principal.subject, "paid_retries")

    return admit


async def read_limited(runtime: RuntimeDep, principal: PrincipalDep) -> Principal:
    """Reads count against the read limit."""
    await enforce_limit(runtime, principal.subject, "reads")
    return principal


WriteCaller = Annotated[Principal, Depends(write_limited)]
CertifyCaller = Annotated[Principal, Depends(certify_limited)]
ReadCaller = Annotated[Principal, Depends(read_limited)]


async def public_request(
    request: Request,
    request_id: str,
    runtime: RuntimeDep,
    token: Annotated[str | None, Query(description="The unguessable token of the request's public links.")] = None,
) -> CertificationRequest:
    """The request a public link points at; 404 unless the token matches (no hint whether the id exists)."""
    await enforce_limit(runtime, f"ip:{client_ip(request)}", "reads")
    if not token:
        raise ApiError(failure("not_found", "no such link"))
    async with runtime.reads() as session:
        row = match_token(await repo.requests_with_id(session, request_id, keyless_only=False), token)
    if row is None:
        raise ApiError(failure("not_found", "no such link"))
    return row


PublicRequest = Annotated[CertificationRequest, Depends(public_request)]
