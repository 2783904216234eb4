"""AUTH_MODE=open in process, on SQLite, with no MCP server up: keyless calls, per-IP write limits."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from certify_testkit.processes import eventually, free_port

from .inprocess import inprocess_proxy

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    dead = {f"mcp_{name}_url": f"http://127.0.0.1:{free_port()}/mcp" for name in ("x402", "circular", "quote", "qr")}
    async with inprocess_proxy(tmp_path / "open.db", auth_mode="open", rate_limit_writes_per_min=3, **dead) as app:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            yield http


async def test_open_mode_needs_no_key_and_limits_writes_per_ip(client: httpx.AsyncClient) -> None:
    body = {"data": base64.b64encode(b"open").decode()}
    answers = [await client.post("/v1/quote", json=body) for _ in range(4)]
    # No quote server: keyless calls get through authentication and fail fast as retryable outages.
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(503, "upstream_unavailable")] * 3 + [
        (429, "rate_limited")
    ]
    assert answers[0].json()["retryable"] is True
    assert int(answers[-1].headers["Retry-After"]) >= 1


async def test_readiness_names_each_missing_server(client: httpx.AsyncClient) -> None:
    async def database_answered() -> httpx.Response | None:
        # A probe bounds each check by 2 s: on a loaded machine one SQLite ping may miss it and the next pass.
        answer = await client.get("/readyz")
        return answer if answer.json()["checks"]["database"] else None

    answer = await eventually(database_answered, timeout_s=60, what="the database check to pass")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {
        "database": True,
        "schema_at_head": True,
        "mcp_x402": False,
        "mcp_circular": False,
        "mcp_quote": False,
        "mcp_qr": False,
    }
    assert (await client.get("/healthz")).status_code == 200


async def test_the_openapi_document_lists_the_api(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {
        "/v1/quote",
        "/v1/certify",
        "/v1/status/{request_id}",
        "/v1/qr/{request_id}",
        "/pay/{request_id}",
        "/v1/pay/{request_id}",
    } <= set(paths)


async def test_cors_admits_only_the_allow_list(tmp_path: Path) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-API-Key, PAYMENT-SIGNATURE",
    }
    async with inprocess_proxy(tmp_path / "cors.db", cors_origins="https://app.example.com") as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            allowed = await http.options("/v1/certify", headers={"Origin": "https://app.example.com", **preflight})
            refused = await http.options("/v1/certify", headers={"Origin": "https://evil.example.net", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in refused.headers


async def test_a_streamed_body_over_the_limit_is_refused_while_reading(tmp_path: Path) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"data": "'
        for _ in range(100):
            yield b"A" * 1024
        yield b'"}'

    async with inprocess_proxy(tmp_path / "stream.db", auth_mode="open", max_data_bytes=1000) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            answer = await http.post("/v1/quote", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["code"] == "body_too_large"
