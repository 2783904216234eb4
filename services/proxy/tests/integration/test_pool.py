"""The MCP pool: a server killed → /readyz false and fast retryable failures; restarted → ready, no proxy restart."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from certify_testkit.processes import wait_until

pytestmark = pytest.mark.integration


def _ready(proxy: Any) -> dict[str, Any]:
    return httpx.get(proxy.url + "/readyz", timeout=10).json()


def test_a_killed_server_makes_the_proxy_unready_and_calls_fail_fast_until_it_returns(
    proxy: Any, stack: Any, api: Any
) -> None:
    offer: Any = httpx.post(
        proxy.url + "/v1/certify",
        json={"request_id": f"pool-{uuid.uuid4().hex[:10]}", "data": base64.b64encode(b"pool").decode()},
        headers=api(),
        timeout=30,
    )
    assert offer.status_code == 402, offer.text
    offer = offer.json()
    qr = stack["qr"]
    qr.kill()
    try:
        wait_until(lambda: not _ready(proxy)["checks"]["mcp_qr"], 15, 0.1, "mcp_qr unready")
        answer = _ready(proxy)
        assert answer["status"] == "not_ready"
        assert answer["checks"]["database"]
        assert answer["checks"]["redis"]
        assert answer["checks"]["mcp_x402"]
        # Fail fast, not after the proxy's 30 s MCP call timeout: a client giving up at 15 s would raise here.
        failed = httpx.get(offer["qr_code_url"], timeout=15)
        body = failed.json()
        assert (failed.status_code, body["code"], body["retryable"]) == (503, "upstream_unavailable", True)
        assert body["details"]["server"] == "qr"
        assert int(failed.headers["Retry-After"]) >= 1
    finally:
        qr.start()
    wait_until(lambda: _ready(proxy)["status"] == "ready", 30, 0.2, "proxy ready again")
    assert httpx.get(offer["qr_code_url"], timeout=30).status_code == 200
