"""Webhooks: the final status and proof POSTed to a request's ``callback_url``, signed, retried, recorded.

The body is JSON; ``X-Certify-Signature: sha256=<hex>`` is HMAC-SHA256, keyed with the API key's
webhook secret, over ``<X-Certify-Timestamp> + "." + <raw body>`` (README.md shows how to check it).
Delivery is a durable job (``webhook``): ``WEBHOOK_MAX_ATTEMPTS`` attempts with the
``WEBHOOK_RETRY_DELAYS_S`` backoff, every attempt stored in ``webhook_deliveries``; a 2xx answer
ends it. Redirects are not followed, and each attempt connects to the address it has just checked
(``callback_targets.py``: no loopback, private, link-local… unless ``WEBHOOK_ALLOW_PRIVATE``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import urlsplit

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_client.models import WebhookEvent, wire
from certify_client.proof import CircularProof
from certify_common.errors import Failure
from certify_proxy.certification.callback_targets import Resolver, check_target, system_resolve
from certify_proxy.certification.status import status_view
from certify_proxy.queue import jobs
from certify_proxy.queue.metrics import WEBHOOK_DELIVERIES
from certify_proxy.queue.payloads import WebhookPayload
from certify_proxy.queue.runner import ClaimedJob
from certify_proxy.queue.settings import WorkflowSettings
from certify_proxy.queue.worker import Done, JobContext, Outcome, Retry
from certify_proxy.runtime import Runtime
from certify_proxy.store import keys
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import transaction
from certify_proxy.store.models import CertificationRequest, JobKind, WebhookDelivery, utcnow

logger = logging.getLogger("certify.proxy.webhooks")

TIMESTAMP_HEADER = "X-Certify-Timestamp"
SIGNATURE_HEADER = "X-Certify-Signature"
EVENT_HEADER = "X-Certify-Event"
DELIVERY_HEADER = "X-Certify-Delivery"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``timestamp + "." + body`` under ``secret``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def enqueue_webhook(session: AsyncSession, request: CertificationRequest, settings: WorkflowSettings) -> None:
    """Queue the delivery of the request's current (final) status, when it has a callback URL."""
    if not request.callback_url:
        return
    await jobs.enqueue(
        session,
        JobKind.WEBHOOK,
        f"{JobKind.WEBHOOK}:{request.request_key}:{request.status}:{utcnow().timestamp():.0f}",
        WebhookPayload(request_key=request.request_key, status=request.status),
        max_attempts=settings.webhook_max_attempts,
    )


async def _secret(session: AsyncSession, request: CertificationRequest, fallback: str | None) -> str | None:
    if request.api_key_id is None:
        return fallback
    key = await keys.by_id(session, request.api_key_id)
    return key.webhook_secret if key is not None else fallback


async def event(runtime: Runtime, session: AsyncSession, request: CertificationRequest) -> WebhookEvent:
    """The webhook body of the request as it is now: its status document, and its proof once completed."""
    proof = await repo.certification_for_request(session, request.request_key)
    return WebhookEvent(
        event=f"certification.{request.status}",
        status=await status_view(session, request, runtime.settings.public_base_url),
        proof=CircularProof.model_validate_json(proof.proof_json) if proof is not None else None,
    )


def body_of(event: WebhookEvent) -> bytes:
    """The bytes POSTed (and signed): compact JSON of the event as the API sends it."""
    return json.dumps(wire(event), separators=(",", ":")).encode()


async def deliver(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_s: float,
    allow_private: bool,
    resolve: Resolver = system_resolve,
) -> tuple[int | None, str | None]:
    """POST ``body`` to the checked address of ``url`` (Host and TLS SNI stay the name); (status, error).

    The host is resolved and checked again here, and the connection goes to that address, never to a
    second resolution; a redirect is an answer like any other non-2xx, never followed.
    """
    target = await check_target(url, allow_private=allow_private, resolve=resolve)
    if isinstance(target, Failure):
        return None, target.code
    original = httpx.URL(url)
    pinned = original.copy_with(host=target.address)
    extensions = {"sni_hostname": target.host} if original.scheme == "https" else {}
    try:
        answer = await http.post(
            pinned,
            content=body,
            headers={**headers, "Host": original.netloc.decode("ascii")},
            timeout=timeout_s,
            follow_redirects=False,
            extensions=extensions,
        )
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__} while posting"
    if not 200 <= answer.status_code < 300:
        return answer.status_code, f"the receiver answered {answer.status_code}"
    return answer.status_code, None


class WebhookJob:
    """Handler of ``webhook`` jobs (payload: :class:`WebhookPayload`)."""

    def __init__(self, retry_delays_s: list[float], resolve: Resolver = system_resolve) -> None:
        self.retry_delays_s = retry_delays_s
        self.resolve = resolve

    async def run(self, context: JobContext) -> Outcome:
        runtime = context.runtime
        payload = context.payload(WebhookPayload)
        request_key = payload.request_key
        async with runtime.reads() as session:
            request = await repo.get_request(session, request_key)
            if request is None or not request.callback_url:
                return Retry(f"request {request_key} has no callback URL")
            body = body_of(await event(runtime, session, request))
            secret = await _secret(session, request, runtime.settings.webhook_secret)
        url = request.callback_url
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            EVENT_HEADER: f"certification.{payload.status}",
            DELIVERY_HEADER: f"{context.job.id}-{context.job.attempts}",
            "User-Agent": "certify-webhooks/0.1",
        }
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
        status_code, error = await deliver(
            runtime.http,
            url,
            body,
            headers,
            timeout_s=runtime.settings.webhook_timeout_s,
            allow_private=runtime.settings.webhooks_private_allowed,
            resolve=self.resolve,
        )
        delivered = error is None
        WEBHOOK_DELIVERIES.labels("delivered" if delivered else "failed").inc()
        logger.info(
            "webhook attempt",
            extra={"host": urlsplit(url).hostname, "attempt": context.job.attempts, "status_code": status_code},
        )
        async with transaction(runtime.sessions) as session:
            session.add(
                WebhookDelivery(
                    request_key=request_key,
                    url=url,
                    attempt=context.job.attempts,
                    status_code=status_code,
                    error=error,
                    delivered=delivered,
                    created_at=utcnow(),
                )
            )
            if delivered:
                await context.finish(session)
        return Done() if error is None else Retry(error)

    async def dead_lettered(self, runtime: Runtime, session: AsyncSession, job: ClaimedJob, error: str) -> None:
        logger.error("webhook undeliverable", extra={"attempts": job.attempts, "error": error})
