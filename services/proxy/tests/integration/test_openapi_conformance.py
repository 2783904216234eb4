"""The OpenAPI document matches what the proxy sends: every answer of full sandbox flows (quote, 402 offers
for each client type, payment by header and by the page's callback, completion, proofs, the page, admin
views, errors) is checked against the document of the process that sent it.

For each answer: its status is declared for the operation, its media type is declared for that status,
and a JSON body validates against the declared schema made strict (an object may carry no property the
document does not name, and must carry every required one). Every operation of the document must have
been answered with a success at least once, so a route cannot escape the comparison.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest
from eth_account import Account

from certify_testkit.processes import ServiceProcess, wait_until

pytestmark = pytest.mark.integration

DOCUMENT = b"Conformance sample: a short agreement certified end to end.\n"
PAYER_KEY = "0x" + "6e" * 32


def _strict(schema: Any) -> Any:
    """The schema with ``additionalProperties: false`` on every object that lists its properties."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if "properties" in strict and "additionalProperties" not in strict:
        strict["additionalProperties"] = False
    return strict


class Recorder:
    """Every answer the proxy gave in the flows, checked against its document afterwards."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = _strict(document.get("components", {}))
        self.answers: list[httpx.Response] = []
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), path) for path in document["paths"]
        ]

    def record(self, response: httpx.Response) -> None:
        response.read()
        self.answers.append(response)

    def operation(self, response: httpx.Response) -> tuple[str, dict[str, Any]]:
        path = urlsplit(str(response.request.url)).path
        method = response.request.method.lower()
        matches = [template for pattern, template in self.templates if pattern.match(path)]
        # A literal segment beats a parameter (/v1/admin/jobs/stuck over a templated sibling, if any).
        matches.sort(key=lambda template: template.count("{"))
        assert matches, f"{method.upper()} {path} is not in the document"
        return f"{method.upper()} {matches[0]}", self.document["paths"][matches[0]][method]

    def problems(self, response: httpx.Response) -> list[str]:
        label, operation = self.operation(response)
        where = f"{label} → {response.status_code}"
        declared = operation["responses"].get(str(response.status_code))
        if declared is None:
            return [f"{where}: status not declared"]
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        content = declared.get("content", {})
        if media_type not in content:
            return [f"{where}: {media_type} not declared ({sorted(content)})"]
        schema = content[media_type].get("schema")
        if media_type != "application/json":
            return []
        if not schema:
            return [f"{where}: a JSON body without a declared schema"]
        validator = jsonschema.Draft202012Validator({**_strict(schema), "components": self.components})
        return [f"{where}: {error.json_path}: {error.message}" for error in validator.iter_errors(response.json())]


@pytest.fixture(scope="module")
def recorder(worker_proxy: ServiceProcess) -> Recorder:
    return Recorder(httpx.get(f"{worker_proxy.url}/openapi.json", timeout=30).json())


@pytest.fixture(scope="module")
def admin_key(worker_proxy: ServiceProcess) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "certify_proxy.cli", "keys", "create", "conformance-admin", "--admin"],
        env=worker_proxy.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    key: str = json.loads(created.stdout.strip().splitlines()[-1])["api_key"]
    return key


@pytest.fixture
def http(worker_proxy: ServiceProcess, recorder: Recorder) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=worker_proxy.url, timeout=60, event_hooks={"response": [recorder.record]}) as client:
        yield client


def _token(offer: dict[str, Any]) -> str:
    return str(offer["payment_link"]).split("token=")[1]


def _request_key(worker_proxy: ServiceProcess, request_id: str) -> str:
    database = worker_proxy.env["DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(database) as connection:
        (row,) = connection.execute(
            "SELECT request_key FROM certification_requests WHERE request_id = ?", (request_id,)
        )
    return str(row[0])


def _dead_letter(worker_proxy: ServiceProcess, request_key: str) -> int:
    """A webhook job that used up its attempts, as the queue leaves one (re-queued, it fails again: no callback)."""
    database = worker_proxy.env["DATABASE_URL"].split("///", 1)[1]
    payload = json.dumps({"request_key": request_key, "status": "completed"})
    with sqlite3.connect(database) as connection:
        job = connection.execute(
            "INSERT INTO jobs (kind, dedupe_key, payload, status, attempts, max_attempts, run_at, created_at, "
            "updated_at, last_error) VALUES ('webhook', ?, ?, 'dead', 1, 1, datetime('now'), datetime('now'), "
            "datetime('now'), 'refused')",
            (f"webhook:{request_key}:conformance", payload),
        ).lastrowid
        letter = connection.execute(
            "INSERT INTO dead_letters (job_id, kind, payload, error, attempts, created_at) "
            "VALUES (?, 'webhook', ?, 'refused', 1, datetime('now'))",
            (job, payload),
        ).lastrowid
    assert letter is not None
    return letter


def _completed(http: httpx.Client, request_id: str, headers: dict[str, str]) -> bool:
    return bool(http.get(f"/v1/status/{request_id}", headers=headers).json()["status"] == "completed")


def test_every_answer_of_the_flows_is_what_the_document_declares(
    worker_proxy: ServiceProcess, stack: dict[str, ServiceProcess], kit: Any, recorder: Recorder, admin_key: str, http
) -> None:
    keyed = {"X-API-Key": kit.dev_key}
    admin = {"X-API-Key": admin_key}
    kit.fund(stack["sandbox"], "base-sepolia", Account.from_key(PAYER_KEY).address)
    data = base64.b64encode(DOCUMENT).decode()
    by_header, by_page = f"conf-{uuid.uuid4().hex[:12]}", f"conf-{uuid.uuid4().hex[:12]}"

    http.get("/healthz")
    http.get("/readyz")
    http.get("/health")
    assert http.post("/v1/quote", json={"data": data}, headers=keyed).status_code == 200
    body = {"request_id": by_header, "data": data, "network": "base-sepolia", "client_type": "browser"}
    offered = http.post("/v1/certify", json=body, headers=keyed)
    assert offered.status_code == 402, offered.text
    assert len(offered.json()["wallet_links"]) == 3
    assert http.post("/v1/certify", json=body, headers=keyed).json() == offered.json()
    mobile_body = {"request_id": by_page, "data": data, "network": "base-sepolia", "client_type": "mobile"}
    mobile = http.post("/v1/certify", json=mobile_body, headers=keyed).json()
    assert "qr_ascii" in mobile["mobile"]

    token = {"token": _token(mobile)}
    assert http.get(f"/pay/{by_page}", params=token).status_code == 200
    assert http.get(f"/pay/{by_page}/status", params=token).status_code == 200
    assert http.get(f"/pay/{by_page}/proof", params=token).status_code == 409
    assert http.get(f"/v1/qr/{by_page}", params={**token, "format": "ascii"}).status_code == 200
    assert http.get(f"/v1/qr/{by_page}", params={**token, "format": "svg", "size": 128}).status_code == 200

    paid = http.post(
        "/v1/certify",
        json={"request_id": by_header},
        headers={**keyed, "X-PAYMENT": kit.sign(offered.json(), key=PAYER_KEY)},
    )
    assert paid.status_code == 202, paid.text
    by_callback = http.post(
        f"/v1/pay/{by_page}", params=token, json={"payment": kit.sign(mobile, key=PAYER_KEY, version=2)}
    )
    assert by_callback.status_code == 202, by_callback.text
    wait_until(lambda: _completed(http, by_header, keyed), 120, 0.5, f"{by_header} completed")
    wait_until(lambda: _completed(http, by_page, keyed), 120, 0.5, f"{by_page} completed")

    assert http.post("/v1/certify", json=body, headers=keyed).status_code == 200
    proof = http.get(f"/v1/certificates/{by_header}/proof", headers=keyed)
    assert proof.status_code == 200
    assert http.get(f"/pay/{by_page}/proof", params=token).status_code == 200
    sha = hashlib.sha256(DOCUMENT).hexdigest()
    assert http.post("/v1/verify", json={"proof": proof.json(), "sha256": sha}, headers=keyed).json()["valid"]
    assert http.get("/v1/webhook-secret", headers=keyed).status_code == 200

    key = _request_key(worker_proxy, by_header)
    letter = _dead_letter(worker_proxy, key)
    assert http.get("/v1/admin/dead-letters", headers=admin).json()["dead_letters"][0]["id"] == letter
    assert http.post(f"/v1/admin/dead-letters/{letter}/requeue", headers=admin).json()["requeued_at"] is not None
    assert http.get("/v1/admin/dead-letters", params={"include_requeued": True}, headers=admin).status_code == 200
    assert http.post("/v1/admin/dead-letters/2147483647/requeue", headers=admin).status_code == 404
    assert http.get(f"/v1/admin/requests/{key}", headers=admin).json()["status"] == "completed"
    assert http.get("/v1/admin/jobs/stuck", headers=admin).status_code == 200
    assert http.get("/v1/admin/settlements/unresolved", headers=admin).status_code == 200
    assert http.post("/v1/admin/balance-check", headers=admin).status_code == 200

    assert http.get("/v1/status/no-such-request", headers=keyed).status_code == 404
    assert http.post("/v1/quote", json={"data": 1}, headers=keyed).status_code == 422
    assert http.get("/v1/admin/jobs/stuck", headers=keyed).status_code == 403
    assert http.get("/v1/webhook-secret", headers={"X-API-Key": "ck_wrong"}).status_code == 401

    problems = [problem for answer in recorder.answers for problem in recorder.problems(answer)]
    assert problems == []
    succeeded = {recorder.operation(answer)[0] for answer in recorder.answers if answer.status_code < 300}
    documented = {
        f"{method.upper()} {path}" for path, methods in recorder.document["paths"].items() for method in methods
    }
    assert documented - succeeded == set()
