"""HTTP client of an x402 facilitator (``/verify``, ``/settle``), per network, with timeouts.

Answers are returned as the spec's JSON objects; transport failures become retryable
:class:`Failure` values carrying ``retry_after``. The request body is exactly
``{"x402Version", "paymentPayload", "paymentRequirements"}`` (specs/x402.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx

from certify_common.errors import Failure, failure
from certify_common.evm import UsdcNetwork
from certify_common.metrics import upstream_call
from certify_x402.settings import X402Settings

Endpoint = Literal["verify", "settle"]


def request_body(payment: Mapping[str, Any], requirements: dict[str, Any]) -> dict[str, Any]:
    """The facilitator request body for a decoded payment and the requirements it answers."""
    return {
        "x402Version": payment.get("x402Version"),
        "paymentPayload": dict(payment),
        "paymentRequirements": requirements,
    }


class Facilitator:
    """One long-lived HTTP client for every facilitator this service talks to."""

    def __init__(self, settings: X402Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client

    def _retryable(self, code: str, message: str, **details: Any) -> Failure:
        return failure(code, message, retryable=True, retry_after=self.settings.x402_retry_after_s, **details)

    async def post(self, network: UsdcNetwork, endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any] | Failure:
        """POST one body; the JSON answer, or a failure saying whether to retry."""
        url = f"{self.settings.facilitator_url(network)}/{endpoint}"
        headers = self.settings.facilitator_headers(network)
        with upstream_call("x402", f"facilitator_{endpoint}") as outcome:
            try:
                response = await self.client.post(
                    url, json=body, headers=headers, timeout=self.settings.x402_facilitator_timeout_s
                )
            except httpx.TimeoutException:
                outcome["outcome"] = "timeout"
                return self._retryable("facilitator_timeout", f"the facilitator did not answer /{endpoint} in time")
            except httpx.HTTPError as exc:
                return self._retryable(
                    "facilitator_unavailable", f"the facilitator is unreachable ({type(exc).__name__})"
                )
            if response.status_code >= 500 or response.status_code == 429:
                return self._retryable(
                    "facilitator_unavailable",
                    f"the facilitator answered {response.status_code}",
                    status=response.status_code,
                )
            try:
                answer = response.json()
            except ValueError:
                return self._retryable("facilitator_bad_answer", "the facilitator answered something that is not JSON")
            expected = "isValid" if endpoint == "verify" else "success"
            if not isinstance(answer, dict) or not isinstance(answer.get(expected), bool):
                message = f"the facilitator's /{endpoint} answer has no {expected}"
                if endpoint == "settle":
                    # The outcome is unknown (money may have moved): retryable, so it gets reconciled.
                    return self._retryable("facilitator_bad_answer", message, status=response.status_code)
                return failure("facilitator_bad_answer", message, status=response.status_code)
            outcome["outcome"] = "ok"
            return answer
