"""A real proxy on the sandbox (as processes, on PostgreSQL and Redis) for the operator, and an emulated
Kubernetes API (kmock) with the operator's CRDs and kopf's peering resource declared.

The proxy dead-letters a certification after one attempt (JOB_MAX_ATTEMPTS=1), so a NAG fault plan
makes a dead letter in seconds; its own balance task is off (the operator is the gauge's source).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import types
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import kmock
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from certify_client.api import CertifyClient
from certify_client.payment import payer_address, sign_payment
from certify_operator.app import operator_task
from certify_operator.resources import DEAD_LETTER_KIND, DEAD_LETTERS, GROUP, VERSION, WALLET_KIND, WALLETS
from certify_operator.settings import OperatorSettings
from certify_testkit.processes import ServiceProcess, eventually, free_port
from certify_testkit.servers import mcp_servers

DEV_KEY = "ck_test_" + secrets.token_urlsafe(24)
NAMESPACE = "certify"
WALLETS_PATH = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{WALLETS}"
DEAD_LETTERS_PATH = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{DEAD_LETTERS}"
NONCE_ENDPOINT = "Circular_GetWalletNonce_"


@pytest.fixture(scope="session")
def stack(redis_env: dict[str, str], databases: Callable[..., Any]) -> Iterator[dict[str, Any]]:
    """sandbox, x402, quote, qr, circular and a worker-enabled proxy on a database of its own (its workers
    would otherwise take, and dead-letter, the jobs other modules queue); the wallet funded; an admin key."""
    pg_url = databases("operator").url
    with mcp_servers(redis_env, chain_reads=False) as mcp:
        servers: dict[str, Any] = dict(mcp)
        yield from _with_proxy(servers, redis_env, pg_url)


def _with_proxy(servers: dict[str, Any], redis_env: dict[str, str], pg_url: str) -> Iterator[dict[str, Any]]:
    """The funded wallet, a worker-enabled proxy on ``pg_url`` and an admin key, on the MCP servers."""
    common = {**redis_env, "CERTIFY_ENV": "test"}
    try:
        funded = subprocess.run(
            [sys.executable, "-m", "certify_circular.devwallet", "--fund", "100000"],
            env=servers["circular"].env,
            check=True,
            capture_output=True,
            timeout=60,
            text=True,
        )
        port = free_port()
        env = {
            **common,
            "DATABASE_URL": pg_url,
            "DEV_API_KEY": DEV_KEY,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "MCP_X402_URL": servers["x402"].mcp_url,
            "MCP_QUOTE_URL": servers["quote"].mcp_url,
            "MCP_QR_URL": servers["qr"].mcp_url,
            "MCP_CIRCULAR_URL": servers["circular"].mcp_url,
            "MCP_RECONNECT_MAX_BACKOFF_S": "1",
            "RATE_LIMIT_WRITES_PER_MIN": "10000",
            "RATE_LIMIT_PAID_RETRIES_PER_MIN": "10000",
            "RATE_LIMIT_READS_PER_MIN": "1000000",
            "JOB_WORKERS": "2",
            "JOB_POLL_INTERVAL_S": "0.1",
            "JOB_MAX_ATTEMPTS": "1",
            "JOB_RETRY_DELAYS_S": "0.1",
            "CERTIFY_POLL_INTERVAL_S": "0.2",
            "CERTIFY_DEADLINE_S": "2",
            "QUEUE_METRICS_INTERVAL_S": "0.5",
            "BALANCE_CHECK_INTERVAL_S": "0",
        }
        # As a deployment's hook Job does before its proxies start: they wait, not ready, for the schema.
        subprocess.run(
            [sys.executable, "-m", "certify_proxy.cli", "db", "upgrade"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=240,
        )
        servers["proxy"] = ServiceProcess("certify_proxy", env=env, port=port).start(
            ready_path="/readyz", timeout_s=240
        )
        made = subprocess.run(
            [sys.executable, "-m", "certify_proxy.cli", "keys", "create", "operator", "--admin"],
            env={**os.environ, "DATABASE_URL": pg_url},
            check=True,
            capture_output=True,
            timeout=60,
            text=True,
        )
        servers["dev_key"] = DEV_KEY
        servers["database_url"] = pg_url
        servers["admin_key"] = json.loads(made.stdout.strip().splitlines()[-1])["api_key"]
        servers["wallet_address"] = funded.stdout.strip().splitlines()[-1].split()[0]
        yield servers
    finally:
        if "proxy" in servers:
            servers["proxy"].stop()


class ApiServer(kmock.KubernetesEmulator):  # type: ignore[misc]
    """kmock's emulator, plus what a real API server adds to a created object (uid, resourceVersion)."""

    async def _handle(self, request: Any) -> Any:
        if request.action == kmock.action.CREATE and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("resourceVersion", "1")
            meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        return await super()._handle(request)


def declare_resources(k8s: kmock.KubernetesEmulator) -> None:
    """The operator's CRDs and kopf's peering resource, as the API server would discover them."""
    verbs = {"get", "list", "watch", "create", "update", "patch", "delete"}
    k8s.resources[f"{GROUP}/{VERSION}/{WALLETS}"] = kmock.ResourceInfo(
        kind=WALLET_KIND, namespaced=True, subresources={"status"}, verbs=verbs, shortnames={"cw"}
    )
    k8s.resources[f"{GROUP}/{VERSION}/{DEAD_LETTERS}"] = kmock.ResourceInfo(
        kind=DEAD_LETTER_KIND, namespaced=True, subresources={"status"}, verbs=verbs, shortnames={"dl"}
    )
    k8s.resources["kopf.dev/v1/kopfpeerings"] = kmock.ResourceInfo(kind="KopfPeering", namespaced=True, verbs=verbs)
    k8s.resources["v1/events"] = kmock.ResourceInfo(kind="Event", namespaced=True, verbs=verbs)
    k8s.resources["v1/secrets"] = kmock.ResourceInfo(kind="Secret", namespaced=True, verbs=verbs)
    # kopf's backbone: it waits for these to be discoverable before it starts any watcher.
    k8s.resources["v1/namespaces"] = kmock.ResourceInfo(kind="Namespace", namespaced=False, verbs=verbs)
    k8s.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = kmock.ResourceInfo(
        kind="CustomResourceDefinition", namespaced=False, verbs=verbs
    )


@pytest_asyncio.fixture
async def k8s(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[kmock.KubernetesEmulator]:
    """An emulated Kubernetes API on loopback, a kubeconfig pointing at it, and the peering object."""
    async with ApiServer() as emulator, kmock.Server(emulator) as server:
        declare_resources(emulator)
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "kmock", "cluster": {"server": str(server.url).rstrip("/")}}],
                    "users": [{"name": "kmock", "user": {}}],
                    "contexts": [
                        {"name": "kmock", "context": {"cluster": "kmock", "user": "kmock", "namespace": NAMESPACE}}
                    ],
                    "current-context": "kmock",
                }
            )
        )
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        async with httpx.AsyncClient(base_url=str(server.url)) as http:
            peering = {
                "apiVersion": "kopf.dev/v1",
                "kind": "KopfPeering",
                "metadata": {"name": "certify-operator", "namespace": NAMESPACE},
                "status": {},
            }
            answer = await http.post(f"/apis/kopf.dev/v1/namespaces/{NAMESPACE}/kopfpeerings", json=peering)
            assert answer.status_code < 300, answer.text
        yield emulator


# Helpers of the operator tests (conftest functions are not importable under --import-mode=importlib).


@contextlib.asynccontextmanager
async def running_operator(stack: dict[str, Any]) -> AsyncIterator[None]:
    """One operator instance with fast timers, stopped (and awaited) on the way out."""
    settings = OperatorSettings(
        proxy_admin_url=stack["proxy"].url,
        proxy_admin_key=stack["admin_key"],
        watch_namespace=NAMESPACE,
        tick_s=0.2,
        dead_letter_sync_interval_s=0.3,
        dead_letter_ttl_s=3600,
    )

    def configure(options: Any) -> None:
        options.scanning.disabled = True
        options.posting.level = 20

    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(operator_task(settings, stop_flag=stop, ready_flag=ready, configure=configure))
    await eventually(lambda: asyncio.sleep(0, ready.is_set() or task.done()), 30, "the operator to start")
    if task.done():
        task.result()
    try:
        yield
    finally:
        stop.set()
        # kopf unregisters from the peering object and waits for its timers; slow on a loaded machine.
        await asyncio.wait_for(task, 120)


def api(k8s: kmock.KubernetesEmulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=str(k8s.url), timeout=10)


async def create_wallet(k8s: kmock.KubernetesEmulator, name: str, **spec: Any) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CertifyWallet",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": secrets.token_hex(8)},
        "spec": {"network": "testnet", "warningThresholdCirx": "100", "checkIntervalSeconds": 1, **spec},
    }
    async with api(k8s) as http:
        answer = await http.post(WALLETS_PATH, json=body)
        assert answer.status_code < 300, answer.text


async def get(k8s: kmock.KubernetesEmulator, path: str) -> dict[str, Any]:
    async with api(k8s) as http:
        answer = await http.get(path)
        return answer.json() if answer.status_code == 200 else {}


async def set_wallet_balance(stack: dict[str, Any], balance: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.put(
            f"{stack['sandbox'].url}/_control/nag/balance",
            json={"address": stack["wallet_address"], "balance": balance},
        )
        answer.raise_for_status()


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def paid_request(stack: dict[str, Any]) -> str:
    """Pay for a new request through the public API; its request_id."""
    key = "0x" + secrets.token_hex(32)
    async with httpx.AsyncClient(timeout=30) as http:
        funded = await http.post(
            f"{stack['sandbox'].url}/faucet/usdc",
            json={"network": "base-sepolia", "address": payer_address(key), "amount_atomic": 10_000_000},
        )
        funded.raise_for_status()
    request_id = f"op-{secrets.token_hex(8)}"
    async with CertifyClient(stack["proxy"].url, stack["dev_key"], timeout_s=30) as client:
        offer = await client.request_certification(request_id, secrets.token_bytes(64), network="base-sepolia")
        assert offer.payment_required is not None
        await client.pay(request_id, sign_payment(offer.payment_required, key))
    return request_id


async def dead_lettered_request(stack: dict[str, Any]) -> str:
    """A paid request whose only certification attempt fails (the NAG refuses the nonce call): dead-lettered."""
    sandbox = stack["sandbox"].url
    async with httpx.AsyncClient(timeout=10) as http:
        plan = {"fail_next": 1000, "fail_status": 503, "only_endpoint": NONCE_ENDPOINT}
        (await http.put(f"{sandbox}/_control/faults/nag", json=plan)).raise_for_status()
        try:
            request_id = await paid_request(stack)
            await eventually(lambda: request_status(stack, request_id, "failed"), 60, f"{request_id} failed")
        finally:
            (await http.delete(f"{sandbox}/_control/faults/nag")).raise_for_status()
    return request_id


async def request_status(stack: dict[str, Any], request_id: str, wanted: str) -> dict[str, Any] | None:
    """The request's status document as its owner (the development key that paid for it) reads it."""
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"{stack['proxy'].url}/v1/status/{request_id}", headers={"X-API-Key": stack["dev_key"]})
    body: dict[str, Any] = answer.json()
    return body if body.get("status") == wanted else None


async def dead_letter_resources(k8s: kmock.KubernetesEmulator, request_id: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await get(k8s, DEAD_LETTERS_PATH)).get("items") or []
    return [item for item in items if request_id is None or item["spec"]["requestId"] == request_id]


async def delete_dead_letter_row(stack: dict[str, Any], dead_letter_id: int) -> None:
    connection = await asyncpg.connect(stack["database_url"].replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("DELETE FROM dead_letters WHERE id = $1", dead_letter_id)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def flow() -> types.SimpleNamespace:
    """The helpers above, for the test modules."""
    return types.SimpleNamespace(
        WALLETS_PATH=WALLETS_PATH,
        DEAD_LETTERS_PATH=DEAD_LETTERS_PATH,
        eventually=eventually,
        running_operator=running_operator,
        api=api,
        create_wallet=create_wallet,
        get=get,
        set_wallet_balance=set_wallet_balance,
        gauge=gauge,
        paid_request=paid_request,
        dead_lettered_request=dead_lettered_request,
        request_status=request_status,
        dead_letter_resources=dead_letter_resources,
        delete_dead_letter_row=delete_dead_letter_row,
    )
