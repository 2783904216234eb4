"""Fixtures of the workflow tests: their own database, a funded Circular wallet, worker-enabled proxies,
a scripted webhook receiver, and helpers to pay for requests and wait for their outcome.

Every interval is scaled down (the schedule 5/10/20/40/60 s becomes 0.1/0.2/0.4/0.8/1.2 s) so the
whole retry schedule runs in seconds.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import types
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from certify_testkit.processes import ServiceProcess, free_port, wait_until

RETRY_DELAYS_S = [0.1, 0.2, 0.4, 0.8, 1.2]
DOCUMENT_PREFIX = b"Workflow test document "


@pytest.fixture(scope="session")
def wf_db(databases: Callable[..., types.SimpleNamespace]) -> types.SimpleNamespace:
    """The database of the workflow tests (the proxy tests' queue stays out of their counts)."""
    return databases("workflow")


@pytest.fixture(scope="session")
def wf_env(
    stack: dict[str, ServiceProcess],
    wf_db: types.SimpleNamespace,
    redis_env: dict[str, str],
    kit: types.SimpleNamespace,
) -> Callable[..., tuple[dict[str, str], int]]:
    """(environment, port) of a worker-enabled proxy on the workflow database, with overrides."""

    def make(database_url: str | None = None, **overrides: str) -> tuple[dict[str, str], int]:
        port = free_port()
        env = kit.proxy_env(stack, database_url or wf_db.url, redis_env, port)
        env.update(
            {
                "JOB_WORKERS": "2",
                "JOB_POLL_INTERVAL_S": "0.1",
                "JOB_LEASE_S": "3",
                "JOB_RETRY_DELAYS_S": ",".join(str(delay) for delay in RETRY_DELAYS_S),
                "CERTIFY_POLL_INTERVAL_S": "0.2",
                "CERTIFY_DEADLINE_S": "2",
                "CERTIFY_NOT_FOUND_GRACE_S": "3",
                "WEBHOOK_RETRY_DELAYS_S": "0.2,0.4",
                "BALANCE_CHECK_INTERVAL_S": "0",
                "RATE_LIMIT_READS_PER_MIN": "1000000",
                "ALLOW_HTTP_CALLBACKS": "true",
                # The webhook receivers of these tests listen on loopback.
                "WEBHOOK_ALLOW_PRIVATE": "true",
            }
        )
        env.update(overrides)
        return env, port

    return make


@pytest.fixture(scope="session")
def wf_proxy(
    wf_env: Callable[..., tuple[dict[str, str], int]], funded_wallet: None, kit: types.SimpleNamespace
) -> Iterator[ServiceProcess]:
    """A worker-enabled proxy that also checks the balance every 0.5 s with a warning threshold it is under."""
    env, port = wf_env(BALANCE_CHECK_INTERVAL_S="0.5", BALANCE_WARNING_CIRX="1000000000")
    process = kit.start_proxy(env, port)
    try:
        yield process
    finally:
        process.stop()


def admin_key(database_url: str, admin: bool) -> str:
    """A new API key (admin or not) created with the certify-admin CLI on a database."""
    env = {**os.environ, "DATABASE_URL": database_url}
    args = [sys.executable, "-m", "certify_proxy.cli", "keys", "create", f"key-{uuid.uuid4().hex[:6]}"]
    answer = subprocess.run(
        [*args, "--admin"] if admin else args, env=env, check=True, capture_output=True, timeout=60, text=True
    )
    return str(json.loads(answer.stdout.strip().splitlines()[-1])["api_key"])


@pytest.fixture(scope="session")
def keys(wf_proxy: ServiceProcess, wf_db: types.SimpleNamespace) -> types.SimpleNamespace:
    """An admin key and a plain key on the workflow database."""
    return types.SimpleNamespace(admin=admin_key(wf_db.url, True), plain=admin_key(wf_db.url, False), create=admin_key)


class Receiver:
    """A webhook receiver on loopback answering a scripted list of statuses (then 200), recording each call."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[[list[int]], Receiver]]:
    """Make receivers; all are closed after the test."""
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for item in made:
        item.close()


@pytest.fixture(scope="session")
def flow(kit: types.SimpleNamespace, stack: dict[str, ServiceProcess]) -> types.SimpleNamespace:
    """Pay for requests and wait for them, through the public API."""

    def document() -> bytes:
        return DOCUMENT_PREFIX + uuid.uuid4().hex.encode()

    def pay(proxy: ServiceProcess, data: bytes, **extra: Any) -> tuple[str, httpx.Response]:
        request_id = f"wf-{uuid.uuid4().hex[:16]}"
        body = {"request_id": request_id, "data": base64.b64encode(data).decode(), "network": "base-sepolia", **extra}
        headers = {"X-API-Key": kit.dev_key}
        with httpx.Client(base_url=proxy.url, timeout=60) as client:
            offered = client.post("/v1/certify", json=body, headers=headers)
            assert offered.status_code == 402, offered.text
            paid = client.post(
                "/v1/certify",
                json={"request_id": request_id},
                headers={**headers, "X-PAYMENT": kit.sign(offered.json())},
            )
        return request_id, paid

    def status(proxy: ServiceProcess, request_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{proxy.url}/v1/status/{request_id}", headers={"X-API-Key": kit.dev_key}, timeout=30)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def wait_status(proxy: ServiceProcess, request_id: str, wanted: str, timeout_s: float = 60) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def reached() -> bool:
            seen.update(status(proxy, request_id))
            return seen["status"] == wanted

        wait_until(reached, timeout_s, 0.2, f"{request_id} {wanted} (last: {seen.get('status')})")
        return seen

    def nag_transactions() -> list[dict[str, str]]:
        rows: list[dict[str, str]] = httpx.get(f"{stack['sandbox'].url}/_control/nag/transactions", timeout=10).json()
        return rows

    def calls() -> dict[str, int]:
        counts: dict[str, int] = httpx.get(f"{stack['sandbox'].url}/_control/calls", timeout=10).json()
        return counts

    def nag_plan(**plan: Any) -> None:
        httpx.put(f"{stack['sandbox'].url}/_control/nag/plan", json=plan, timeout=10).raise_for_status()

    def faults(target: str, **plan: Any) -> None:
        url = f"{stack['sandbox'].url}/_control/faults/{target}"
        (httpx.put(url, json=plan, timeout=10) if plan else httpx.delete(url, timeout=10)).raise_for_status()

    def log_lines(proxy: ServiceProcess, message: str) -> list[dict[str, Any]]:
        lines = []
        for line in proxy.logs().splitlines():
            if message in line:
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
        return [line for line in lines if line.get("message") == message]

    return types.SimpleNamespace(
        document=document,
        pay=pay,
        status=status,
        wait_status=wait_status,
        nag_transactions=nag_transactions,
        calls=calls,
        nag_plan=nag_plan,
        faults=faults,
        log_lines=log_lines,
    )
