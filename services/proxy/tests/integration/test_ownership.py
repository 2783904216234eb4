"""request_ids belong to their owner: an API key, or for a keyless request the holder of its token."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from certify_client.api import CertifyClient
from certify_proxy.cli import main
from certify_testkit.processes import ServiceProcess, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def open_proxy(stack: Any, pg_url: str, redis_env: dict[str, str], kit: Any) -> Iterator[ServiceProcess]:
    """A keyless (AUTH_MODE=open) proxy on the session's database and servers."""
    port = free_port()
    env = {**kit.proxy_env(stack, pg_url, redis_env, port), "AUTH_MODE": "open"}
    process = kit.start_proxy(env, port)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def other_key(pg_url: str) -> str:
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(output):
        patch.setenv("DATABASE_URL", pg_url)
        patch.setenv("CERTIFY_ENV", "test")
        assert main(["keys", "create", "ownership-other"]) == 0
    return str(json.loads(output.getvalue().strip().splitlines()[-1])["api_key"])


def _body(request_id: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "data": base64.b64encode(secrets.token_bytes(24)).decode(),
        "network": "base-sepolia",
    }


def _rid() -> str:
    return f"own-{uuid.uuid4().hex[:12]}"


def test_a_keyless_request_is_read_only_with_its_token(open_proxy: ServiceProcess) -> None:
    request_id = _rid()
    offer = httpx.post(open_proxy.url + "/v1/certify", json=_body(request_id), timeout=30)
    assert offer.status_code == 402
    token = offer.json()["payment_link"].split("token=")[1]
    assert offer.json()["status_url"] == f"{open_proxy.url}/v1/status/{request_id}?token={token}"
    reads = {
        "no token": httpx.get(f"{open_proxy.url}/v1/status/{request_id}", timeout=30),
        "wrong token": httpx.get(f"{open_proxy.url}/v1/status/{request_id}?token=guess", timeout=30),
        "unknown id": httpx.get(f"{open_proxy.url}/v1/status/{_rid()}?token={token}", timeout=30),
        "proof, no token": httpx.get(f"{open_proxy.url}/v1/certificates/{request_id}/proof", timeout=30),
    }
    assert {name: (r.status_code, r.json()["code"]) for name, r in reads.items()} == dict.fromkeys(
        reads, (404, "request_not_found")
    )
    status = httpx.get(offer.json()["status_url"], timeout=30)
    proof = httpx.get(f"{open_proxy.url}/v1/certificates/{request_id}/proof?token={token}", timeout=30)
    assert (status.status_code, status.json()["status"]) == (200, "payment_pending")
    assert status.json()["status_url"] == offer.json()["status_url"]
    assert (proof.status_code, proof.json()["code"]) == (409, "proof_not_ready")


def test_two_keyless_clients_reusing_an_id_each_get_their_own_request(open_proxy: ServiceProcess) -> None:
    request_id = _rid()
    first = httpx.post(open_proxy.url + "/v1/certify", json=_body(request_id), timeout=30)
    second = httpx.post(open_proxy.url + "/v1/certify", json=_body(request_id), timeout=30)
    assert (first.status_code, second.status_code) == (402, 402)
    assert first.json()["payment_link"] != second.json()["payment_link"]
    seen = [httpx.get(answer.json()["status_url"], timeout=30).json()["data_hash"] for answer in (first, second)]
    assert seen[0] != seen[1]


def test_one_keys_request_id_neither_blocks_nor_reveals_another_keys(
    proxy: ServiceProcess, api: Any, other_key: str, kit: Any
) -> None:
    request_id = _rid()
    mine, theirs = _body(request_id), _body(request_id)
    assert httpx.post(proxy.url + "/v1/certify", json=mine, headers=api(), timeout=30).status_code == 402
    other = {"X-API-Key": other_key}
    created = httpx.post(proxy.url + "/v1/certify", json=theirs, headers=other, timeout=30)
    assert created.status_code == 402  # not 409: the id is free in this key's namespace
    mine_status = httpx.get(f"{proxy.url}/v1/status/{request_id}", headers=api(), timeout=30).json()
    theirs_status = httpx.get(f"{proxy.url}/v1/status/{request_id}", headers=other, timeout=30).json()
    assert mine_status["data_hash"] != theirs_status["data_hash"]
    foreign = _rid()
    assert httpx.post(proxy.url + "/v1/certify", json=_body(foreign), headers=api(), timeout=30).status_code == 402
    status = httpx.get(f"{proxy.url}/v1/status/{foreign}", headers=other, timeout=30)
    paid = httpx.post(
        proxy.url + "/v1/certify",
        json={"request_id": foreign},
        headers={**other, "X-PAYMENT": kit.sign(created.json())},
        timeout=30,
    )
    assert (status.status_code, status.json()["code"]) == (404, "request_not_found")
    assert (paid.status_code, paid.json()["code"]) == (404, "request_not_found")


def test_a_keyless_paid_retry_needs_the_body_or_the_token(open_proxy: ServiceProcess, stack: Any, kit: Any) -> None:
    request_id = _rid()
    offer = httpx.post(open_proxy.url + "/v1/certify", json=_body(request_id), timeout=30).json()
    kit.fund(stack["sandbox"], "base-sepolia", kit.payer)
    payment = {"X-PAYMENT": kit.sign(offer)}
    bare = httpx.post(open_proxy.url + "/v1/certify", json={"request_id": request_id}, headers=payment, timeout=30)
    assert (bare.status_code, bare.json()["code"]) == (404, "request_not_found")
    certify_url = offer["instructions"]["manual"]["submit"].split()[1]
    assert certify_url.startswith(f"{open_proxy.url}/v1/certify?token=")
    paid = httpx.post(certify_url, json={"request_id": request_id}, headers=payment, timeout=30)
    assert (paid.status_code, paid.json()["status"]) == (202, "payment_verified")


async def test_the_client_library_reads_its_keyless_requests_with_their_token(open_proxy: ServiceProcess) -> None:
    request_id = _rid()
    async with CertifyClient(open_proxy.url) as client:
        offer = await client.request_certification(request_id, secrets.token_bytes(16), network="base-sepolia")
        status = await client.status(request_id)
    assert offer.status_code == 402
    assert (status.request_id, status.status) == (request_id, "payment_pending")
