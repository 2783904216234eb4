"""Smoke test of a deployed certify: ``/readyz`` answers 200 and an unpaid ``POST /v1/certify`` answers 402.

Run after each deployment (``.github/workflows/deploy.yaml``) with ``CERTIFY_URL`` (the public base URL) and
``CERTIFY_API_KEY`` (a key of that deployment; unset for AUTH_MODE=open). Standard library only, so it runs on
a bare CI runner. Exit status 0 when both answers are right, 1 otherwise (each check printed).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid


def _call(method: str, url: str, body: bytes | None, headers: dict[str, str], timeout_s: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - our own URL
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def check(base_url: str, api_key: str | None, timeout_s: float = 30.0, ready_wait_s: float = 120.0) -> list[str]:
    """The failed checks (empty when the deployment answers as it should)."""
    failures: list[str] = []
    deadline = time.monotonic() + ready_wait_s
    while True:
        try:
            status, _ = _call("GET", f"{base_url}/readyz", None, {}, timeout_s)
        except OSError as error:
            status, _ = 0, str(error).encode()
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(2)
    if status != 200:
        failures.append(f"GET /readyz answered {status}, expected 200")
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["X-API-Key"] = api_key
    document = f"certify smoke test {uuid.uuid4()}".encode()
    body = json.dumps(
        {"request_id": f"smoke-{uuid.uuid4()}", "data": base64.b64encode(document).decode(), "client_type": "agent"}
    ).encode()
    status, answer = _call("POST", f"{base_url}/v1/certify", body, headers, timeout_s)
    if status != 402:
        failures.append(f"POST /v1/certify answered {status}, expected 402: {answer[:300]!r}")
    elif "accepts" not in json.loads(answer or b"{}"):
        failures.append("the 402 answer carries no x402 `accepts` list")
    return failures


def main() -> int:
    """Entry point: reads CERTIFY_URL and CERTIFY_API_KEY."""
    base_url = os.environ["CERTIFY_URL"].rstrip("/")
    failures = check(base_url, os.environ.get("CERTIFY_API_KEY") or None)
    for failure in failures:
        print(f"FAILED: {failure}")
    if not failures:
        print(f"smoke test passed: {base_url} is ready and asks for payment")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
