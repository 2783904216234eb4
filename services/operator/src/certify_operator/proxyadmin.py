"""The proxy's admin API, as the operator uses it: the balance check, dead letters, re-queueing, requests.

One client per (URL, key); every call has a timeout and is made once (the timers call again on their
next tick). Answers other than 2xx become ``Failure`` values with the proxy's own error code.
"""

from __future__ import annotations

from typing import Any

import httpx

from certify_common.errors import Failure, failure


class ProxyAdmin:
    """Calls to ``/v1/admin`` with an admin key."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, headers={"X-API-Key": api_key}, timeout=timeout_s)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _call(self, method: str, path: str, **params: Any) -> dict[str, Any] | Failure:
        try:
            response = await self._http.request(method, "/v1/admin" + path, params=params or None)
        except httpx.HTTPError as exc:
            return failure(
                "proxy_unavailable", f"the proxy admin API did not answer: {type(exc).__name__}", retryable=True
            )
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            return failure(
                str(body.get("code") or f"http_{response.status_code}"),
                str(body.get("message") or response.text[:200]),
                retryable=response.status_code >= 500,
                status=response.status_code,
            )
        return body

    async def balance_check(self) -> dict[str, Any] | Failure:
        """Read the wallet balance now (the proxy stores the reading; burn rate and days left come with it)."""
        return await self._call("POST", "/balance-check")

    async def dead_letters(self) -> list[dict[str, Any]] | Failure:
        """Every dead letter the proxy keeps (re-queued ones too), newest first, up to 1000."""
        answer = await self._call("GET", "/dead-letters", include_requeued="true", limit=1000)
        if isinstance(answer, Failure):
            return answer
        return list(answer["dead_letters"])

    async def requeue(self, dead_letter_id: int) -> dict[str, Any] | Failure:
        """Queue a dead letter's job again; ``not_found`` when unknown or already re-queued."""
        return await self._call("POST", f"/dead-letters/{dead_letter_id}/requeue")

    async def request(self, request_key: str) -> dict[str, Any] | Failure:
        """Any request's status document."""
        return await self._call("GET", f"/requests/{request_key}")
