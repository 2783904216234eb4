"""A small typed client of certify's REST API (async, one long-lived httpx client).

Every answer is validated into the model the proxy builds it from (``certify_client.models``).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from certify_client.models import PaymentRequiredBody, QuoteAnswer, StatusDocument
from certify_client.payment import SignedPayment, decode_offer
from certify_client.proof import Proof
from certify_client.verify import Verdict

M = TypeVar("M", bound=BaseModel)

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT_S = 30.0
FINAL_STATES = ("completed", "failed")
#: Longest pause honoured when the API answers 429 with a retry_after.
MAX_RATE_LIMIT_PAUSE_S = 30.0


class CertifyApiError(Exception):
    """The API answered with an error body ``{code, message, retryable, details}``."""

    def __init__(self, status_code: int, code: str, message: str, retryable: bool, details: dict[str, Any]) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.retryable = retryable
        self.details = details


@dataclass(frozen=True)
class Offer:
    """The answer to a new certification request: a 402 offer, or the status document of a known request
    (200 final, 202 under way)."""

    status_code: int
    body: PaymentRequiredBody | StatusDocument
    payment_required: dict[str, Any] | None

    @property
    def needs_payment(self) -> bool:
        """True for a 402 (the request waits for its payment)."""
        return self.status_code == 402


def _error(response: httpx.Response) -> CertifyApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    details = body.get("details")
    return CertifyApiError(
        response.status_code,
        str(body.get("code", "http_error")),
        str(body.get("message", response.reason_phrase)),
        bool(body.get("retryable", response.status_code >= 500)),
        details if isinstance(details, dict) else {},
    )


def _json(response: httpx.Response, *expected: int) -> dict[str, Any]:
    if response.status_code not in expected:
        raise _error(response)
    body = response.json()
    if not isinstance(body, dict):
        raise CertifyApiError(response.status_code, "bad_response", "the answer is not a JSON object", False, {})
    return body


def _model(model: type[M], response: httpx.Response, *expected: int) -> M:
    """The answer as ``model``; ``bad_response`` when it is not that document."""
    body = _json(response, *expected)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        message = f"the answer is not a {model.__name__}: {exc.error_count()} problems"
        raise CertifyApiError(response.status_code, "bad_response", message, False, {}) from exc


class CertifyClient:
    """``quote``, ``request_certification``, ``pay``, ``status``, ``wait``, ``proof`` and ``verify``."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        # Keyless requests are read and paid with their token (from the offer's status_url).
        self._tokens: dict[str, str] = {}

    def _scope(self, request_id: str, token: str | None) -> dict[str, str]:
        chosen = token or self._tokens.get(request_id)
        return {"token": chosen} if chosen else {}

    async def __aenter__(self) -> CertifyClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def quote(self, data: bytes) -> QuoteAnswer:
        """``POST /v1/quote``: the price of certifying ``data`` now."""
        response = await self.http.post("/v1/quote", json={"data": base64.b64encode(data).decode("ascii")})
        return _model(QuoteAnswer, response, 200)

    async def request_certification(
        self,
        request_id: str,
        data: bytes,
        *,
        network: str | None = None,
        file_name: str | None = None,
        client_type: str | None = None,
    ) -> Offer:
        """``POST /v1/certify`` without payment: a 402 offer (or the state of an already paid request)."""
        body: dict[str, Any] = {"request_id": request_id, "data": base64.b64encode(data).decode("ascii")}
        optional = {"network": network, "file_name": file_name, "client_type": client_type}
        body.update({key: value for key, value in optional.items() if value is not None})
        response = await self.http.post("/v1/certify", json=body)
        answer: PaymentRequiredBody | StatusDocument
        if response.status_code == 402:
            answer = _model(PaymentRequiredBody, response, 402)
        else:
            answer = _model(StatusDocument, response, 200, 202)
        token = parse_qs(urlsplit(answer.status_url).query).get("token")
        if token:
            self._tokens[request_id] = token[0]
        header = response.headers.get("PAYMENT-REQUIRED")
        offer = decode_offer(header) if response.status_code == 402 and header else None
        return Offer(response.status_code, answer, offer)

    async def pay(
        self, request_id: str, payment: SignedPayment, *, wait_s: int = 0, token: str | None = None
    ) -> StatusDocument:
        """The paid retry of ``POST /v1/certify``: 202 (queued) or 200 (final within ``wait_s``).

        Keyless (no API key), the request's ``token`` goes along: given, or remembered from its offer.
        """
        headers = {payment.header_name: payment.header_value}
        if wait_s > 0:
            headers["Prefer"] = f"wait={wait_s}"
        response = await self.http.post(
            "/v1/certify", json={"request_id": request_id}, headers=headers, params=self._scope(request_id, token)
        )
        return _model(StatusDocument, response, 200, 202)

    async def status(self, request_id: str, *, token: str | None = None) -> StatusDocument:
        """``GET /v1/status/{id}`` (keyless: with the request's token, given or remembered)."""
        for _ in range(5):
            response = await self.http.get(f"/v1/status/{request_id}", params=self._scope(request_id, token))
            if response.status_code != 429:
                return _model(StatusDocument, response, 200)
            await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")), MAX_RATE_LIMIT_PAUSE_S))
        raise _error(response)

    async def wait(
        self,
        request_id: str,
        *,
        timeout_s: float = 300.0,
        interval_s: float = 2.0,
        until: tuple[str, ...] = FINAL_STATES,
        on_change: Callable[[StatusDocument], Awaitable[None] | None] | None = None,
    ) -> StatusDocument:
        """Poll the status until it reaches one of ``until`` or ``timeout_s`` passes (then the last status)."""
        deadline = time.monotonic() + timeout_s
        last: str | None = None
        while True:
            current = await self.status(request_id)
            if current.status != last and on_change is not None:
                maybe = on_change(current)
                if maybe is not None:
                    await maybe
            last = current.status
            if last in until or time.monotonic() >= deadline:
                return current
            await asyncio.sleep(min(interval_s, max(deadline - time.monotonic(), 0.0)))

    async def proof(self, request_id: str, *, token: str | None = None) -> Proof:
        """``GET /v1/certificates/{id}/proof``: the portable proof of a completed request."""
        response = await self.http.get(f"/v1/certificates/{request_id}/proof", params=self._scope(request_id, token))
        return Proof.model_validate(_json(response, 200))

    async def verify(self, proof: Proof, sha256_hex: str) -> Verdict:
        """``POST /v1/verify``: the service's own verdict (``certify verify`` does not need it)."""
        body = {"proof": proof.model_dump(mode="json", by_alias=True), "sha256": sha256_hex}
        return _model(Verdict, await self.http.post("/v1/verify", json=body), 200)
