"""``POST /v1/certify``'s lean path (a new request without FastAPI's dependency solving) answers as FastAPI's does.

The same request is sent as ``application/json`` (the lean path) and as ``application/vnd.certify+json`` (FastAPI
parses it as JSON too, but only its own path takes it); the answers must be the same but for request ids.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, routing

from .inprocess import inprocess_proxy

pytestmark = pytest.mark.integration

DEV_KEY = "ck_lean_route_tests_key_0123456"
LEAN = "application/json"
FASTAPI = "application/vnd.certify+json"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The proxy in process, without MCP servers (a valid new request is refused 503), writes 4 a minute."""
    async with inprocess_proxy(tmp_path / "lean.db", rate_limit_writes_per_min=4, dev_api_key=DEV_KEY) as made:
        yield made


@pytest.fixture
def solved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths whose requests went through FastAPI's dependency solving."""
    calls: list[str] = []
    original = routing.solve_dependencies

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["request"].url.path)
        return await original(*args, **kwargs)

    monkeypatch.setattr(routing, "solve_dependencies", counted)
    return calls


def _body(**fields: Any) -> bytes:
    request = {"request_id": f"lean-{uuid.uuid4().hex[:10]}", "data": base64.b64encode(b"lean").decode(), **fields}
    return json.dumps(request).encode()


def _answer(response: httpx.Response) -> tuple[int, Any]:
    content = response.json()
    if isinstance(content, dict):
        content.pop("request_id", None)
    return response.status_code, content


CASES: dict[str, tuple[dict[str, str], bytes]] = {
    "no key": ({}, _body()),
    "unknown key": ({"X-API-Key": "ck_nobody"}, _body()),
    "unknown field": ({"X-API-Key": DEV_KEY}, _body(colour="blue")),
    "bad request id": ({"X-API-Key": DEV_KEY}, _body(request_id="no spaces allowed")),
    "not JSON": ({"X-API-Key": DEV_KEY}, b"{not json"),
    "not an object": ({"X-API-Key": DEV_KEY}, b"[1, 2]"),
    "empty": ({"X-API-Key": DEV_KEY}, b""),
    "nested too deep, no key": ({}, b"[" * 60_000),
    "nested too deep in a field": ({"X-API-Key": DEV_KEY}, b'{"request_id": "r", "data": ' + b"[" * 60_000),
    "no quote server": ({"X-API-Key": DEV_KEY}, _body()),
}


@pytest.fixture
def production_recursion_limit() -> Iterator[None]:
    """Python's default recursion limit, as the services run (this test session raises it): deeply nested JSON
    then stops ``json.loads`` with a ``RecursionError`` rather than a decode error."""
    raised = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(raised)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.usefixtures("production_recursion_limit")
async def test_both_paths_answer_alike(app: FastAPI, case: str) -> None:
    headers, body = CASES[case]
    answers = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http:
        for content_type in (LEAN, FASTAPI):
            response = await http.post("/v1/certify", content=body, headers={**headers, "Content-Type": content_type})
            answers.append(_answer(response))
    assert answers[0] == answers[1]
    status = answers[0][0]
    assert 400 <= status < 500 or status == 503, answers[
        0
    ]  # every case here is refused (no MCP servers run), none fails


@pytest.mark.parametrize("body", [b"[" * 60_000, b"{not json", b""])
@pytest.mark.parametrize("content_type", [None, "text/plain"])
@pytest.mark.usefixtures("production_recursion_limit")
async def test_a_paid_post_whose_body_fastapi_does_not_parse_is_refused_not_failed(
    app: FastAPI, body: bytes, content_type: str | None
) -> None:
    """Without a JSON content type FastAPI hands the body on unparsed; the write limit's check (is this the paid
    retry of a request?) parses it first and must refuse what does not parse, however deep, as FastAPI would."""
    headers = {"X-API-Key": DEV_KEY, "PAYMENT-SIGNATURE": "e30="} | (
        {"Content-Type": content_type} if content_type else {}
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http:
        response = await http.post("/v1/certify", content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"] != "internal_error"


async def test_a_new_request_skips_dependency_solving_and_counts_once(app: FastAPI, solved: list[str]) -> None:
    headers = {"X-API-Key": DEV_KEY, "Content-Type": LEAN}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http:
        valid = await http.post("/v1/certify", content=_body(), headers=headers)
        assert solved == []
        # An invalid body takes FastAPI's path, which counts it against the write limit once, as before.
        invalid = [(await http.post("/v1/certify", content=_body(x=1), headers=headers)).status_code for _ in range(3)]
        assert solved == ["/v1/certify"] * 3
        over = await http.post("/v1/certify", content=_body(), headers=headers)
        paid = await http.post("/v1/certify", content=_body(), headers={**headers, "X-PAYMENT": "e30="})
    assert valid.status_code == 503
    assert invalid == [422, 422, 422]
    assert (over.status_code, over.json()["code"]) == (429, "rate_limited")
    assert paid.status_code == 429
    assert solved == ["/v1/certify"] * 4  # a payment header always takes FastAPI's path


def test_a_real_offer_is_the_same_either_way(proxy: Any, api: Any) -> None:
    offers = []
    for content_type in (LEAN, FASTAPI):
        request_id = f"lean-{uuid.uuid4().hex[:10]}"
        body = {"request_id": request_id, "data": base64.b64encode(b"same document").decode()}
        response = httpx.post(
            proxy.url + "/v1/certify",
            content=json.dumps(body),
            headers=api(**{"Content-Type": content_type}),
            timeout=30,
        )
        assert response.status_code == 402, response.text
        required = json.loads(base64.b64decode(response.headers["PAYMENT-REQUIRED"]))
        offers.append((_shape(response.json(), request_id), _shape(required, request_id)))
    assert offers[0] == offers[1]


def _shape(value: Any, request_id: str) -> Any:
    """The offer with what differs per request (ids, links, tokens, times) replaced by their type."""
    if isinstance(value, dict):
        return {key: _shape(item, request_id) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item, request_id) for item in value]
    if isinstance(value, str) and (request_id in value or len(value) >= 20):
        return "<varies>" if request_id in value or not value.isdigit() else value
    return value
