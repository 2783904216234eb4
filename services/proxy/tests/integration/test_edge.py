"""The HTTP edge of the proxy in process: bounded metric labels, bodies read only after the key, client address."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from certify_proxy.app import create_app
from certify_proxy.settings import ProxySettings
from certify_proxy.store.migrate import upgrade_async
from certify_testkit.processes import ServiceProcess, free_port

from .inprocess import inprocess_proxy

pytestmark = pytest.mark.integration

DEV_KEY = "ck_edge_tests_key_0123456789"
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) ")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with inprocess_proxy(tmp_path / "edge.db", rate_limit_reads_per_min=100_000, dev_api_key=DEV_KEY) as made:
        yield made


def _series(exposition: str) -> set[str]:
    """Every sample's name and labels, without its value."""
    return {match.group(1) for line in exposition.splitlines() if (match := _SAMPLE.match(line))}


async def test_three_thousand_distinct_unmatched_paths_add_no_metric_series(app: FastAPI) -> None:
    shapes = ("/v1/status/{}/", "/nowhere/{}", "/v1/qr/{}/extra")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http:
        for shape in shapes:  # one of each, so every label the flood can produce exists already
            assert (await http.get(shape.format("warm-up"))).status_code == 404
        await http.get("/metrics")
        before = (await http.get("/metrics")).text
        for index in range(3000):
            answer = await http.get(shapes[index % 3].format(f"flood-{index:04d}"))
            assert answer.status_code == 404
        after = (await http.get("/metrics")).text
    assert _series(after) == _series(before)
    assert abs(len(after) - len(before)) < 1024  # only sample values changed
    assert "flood-" not in after
    assert 'certify_http_request_duration_seconds_count{method="GET",path="unmatched",status="404"}' in after


def _open_env(database_url: str) -> dict[str, str]:
    dead = {
        f"MCP_{name.upper()}_URL": f"http://127.0.0.1:{free_port()}/mcp" for name in ("x402", "circular", "quote", "qr")
    }
    return {
        **dead,
        "DATABASE_URL": database_url,
        "AUTH_MODE": "open",
        "RATE_LIMIT_WRITES_PER_MIN": "3",
        "CERTIFY_ENV": "test",
        "REDIS_URL": "",
        "JOB_WORKERS": "0",
        "BALANCE_CHECK_INTERVAL_S": "0",
    }


async def _quotes_with_rotating_forwarded_for(
    base_url: str, transport: httpx.AsyncBaseTransport | None = None
) -> list[int]:
    body = {"data": base64.b64encode(b"edge").decode()}
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30) as http:
        answers = [
            await http.post("/v1/quote", json=body, headers={"X-Forwarded-For": f"198.51.100.{index}"})
            for index in range(4)
        ]
    return [answer.status_code for answer in answers]


async def test_a_loopback_peer_rotating_x_forwarded_for_still_shares_one_write_limit(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'xff.db'}"
    await upgrade_async(url)
    with ServiceProcess("certify_proxy", env=_open_env(url)).start(ready_path="/healthz", timeout_s=90) as process:
        statuses = await _quotes_with_rotating_forwarded_for(process.url)
    # No quote server: the three admitted quotes fail fast (503); the fourth is over the peer's limit.
    assert statuses == [503, 503, 503, 429]


async def test_x_forwarded_for_names_the_client_when_the_peer_is_a_trusted_proxy(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'trusted.db'}"
    await upgrade_async(url)
    env = {key.lower(): value for key, value in _open_env(url).items() if key != "REDIS_URL"}
    settings = ProxySettings(**env, redis_url=None, forwarded_allow_ips="10.0.0.0/8")  # type: ignore[arg-type]
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        trusted = httpx.ASGITransport(app=application, client=("10.1.2.3", 5000))
        untrusted = httpx.ASGITransport(app=application, client=("192.0.2.9", 5000))
        assert await _quotes_with_rotating_forwarded_for("http://127.0.0.1:8080", trusted) == [503] * 4
        assert await _quotes_with_rotating_forwarded_for("http://127.0.0.1:8080", untrusted) == [503, 503, 503, 429]


@pytest.mark.parametrize(
    "callback_url",
    [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://10.0.0.1/hook",
        "https://localhost./hook",
        "https://localhost/hook",
        "https://0x7f000001/hook",
        "https://2130706433/hook",
        "https://[::ffff:169.254.169.254]/hook",
    ],
)
async def test_a_callback_to_an_internal_address_is_refused_at_submission_and_stores_nothing(
    app: FastAPI, callback_url: str
) -> None:
    body = {"request_id": "ssrf-probe", "data_hash": "ab" * 32, "data_size_bytes": 10, "callback_url": callback_url}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http:
        answer = await http.post("/v1/certify", json=body, headers={"X-API-Key": DEV_KEY})
        status = await http.get("/v1/status/ssrf-probe", headers={"X-API-Key": DEV_KEY})
    assert (answer.status_code, answer.json()["code"], answer.json()["retryable"]) == (
        400,
        "callback_url_forbidden",
        False,
    )
    assert status.status_code == 404


class _CountingApp:
    """Counts the body bytes the proxy pulls from the client (what a server would have to receive)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.received = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


async def _five_megabytes() -> AsyncIterator[bytes]:
    yield b'{"data": "'
    for _ in range(80):
        yield b"A" * 65536
    yield b'"}'


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "missing_api_key"), ({"X-API-Key": "ck_not_a_key"}, "invalid_api_key")],
    ids=["no key", "wrong key"],
)
async def test_a_large_body_without_a_valid_key_is_refused_before_it_is_read(
    app: FastAPI, headers: dict[str, str], code: str
) -> None:
    counting = _CountingApp(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=counting), base_url="http://127.0.0.1:8080") as http:
        answer = await http.post(
            "/v1/quote", content=_five_megabytes(), headers={**headers, "Content-Type": "application/json"}
        )
    assert (answer.status_code, answer.json()["code"]) == (401, code)
    assert counting.received <= 2 * 65536  # of 5 MiB sent


async def test_a_large_body_with_a_valid_key_is_read_whole(app: FastAPI) -> None:
    counting = _CountingApp(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=counting), base_url="http://127.0.0.1:8080") as http:
        answer = await http.post(
            "/v1/quote", content=_five_megabytes(), headers={"X-API-Key": DEV_KEY, "Content-Type": "application/json"}
        )
    # Read whole and handled by the route (no quote server here: a retryable 503), not refused at the edge.
    assert (answer.status_code, answer.json()["code"]) == (503, "upstream_unavailable")
    assert counting.received == 80 * 65536 + len(b'{"data": "') + len(b'"}')
