"""The whole operator (kopf, a fresh registry) against an emulated Kubernetes API and a real proxy on the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import kmock
import pytest
from prometheus_client import REGISTRY

from certify_client.api import CertifyClient
from certify_client.payment import payer_address, sign_payment
from certify_operator.app import operator_task
from certify_operator.resources import DEAD_LETTERS, GROUP, VERSION, WALLETS
from certify_operator.settings import OperatorSettings

pytestmark = pytest.mark.integration

NAMESPACE = "certify"
WALLETS_PATH = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{WALLETS}"
DEAD_LETTERS_PATH = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{DEAD_LETTERS}"
NONCE_ENDPOINT = "Circular_GetWalletNonce_"


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 60, what: str = "condition") -> Any:
    """Poll an async check until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.1)


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
        await asyncio.wait_for(task, 30)


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


async def test_a_wallet_resource_gets_its_status_from_the_sandbox_wallet_and_a_drained_wallet_is_low_with_an_event(
    stack: dict[str, Any], k8s: kmock.KubernetesEmulator
) -> None:
    await set_wallet_balance(stack, "100000")
    await create_wallet(k8s, "main")
    async with running_operator(stack):

        async def read(wanted: str) -> dict[str, Any] | None:
            status = (await get(k8s, f"{WALLETS_PATH}/main")).get("status") or {}
            return status if status.get("balance") == wanted else None

        status = await eventually(lambda: read("100000"), 60, "the wallet's balance in its status")
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["Ready"]["status"] == "True"
        assert conditions["Low"]["status"] == "False"
        assert status["address"] == stack["wallet_address"].lower().removeprefix("0x")
        assert status["level"] == "ok"
        assert gauge("certify_cirx_wallet_balance", namespace=NAMESPACE, wallet="main", network="testnet") == 100000

        await set_wallet_balance(stack, "12.5")
        status = await eventually(lambda: read("12.5"), 60, "the drained balance")
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["Low"]["status"] == "True"
        assert status["level"] == "warning"
        assert gauge("certify_cirx_wallet_balance", namespace=NAMESPACE, wallet="main", network="testnet") == 12.5

        async def low_event() -> list[dict[str, Any]]:
            items = (await get(k8s, f"/api/v1/namespaces/{NAMESPACE}/events")).get("items") or []
            return [item for item in items if item.get("reason") == "BalanceLow"]

        events = await eventually(low_event, 30, "a BalanceLow event")
        assert events[0]["type"] == "Warning"
        assert events[0]["involvedObject"]["name"] == "main"
    await set_wallet_balance(stack, "100000")


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
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(
            f"{stack['proxy'].url}/v1/admin/requests/{request_id}", headers={"X-API-Key": stack["admin_key"]}
        )
    body: dict[str, Any] = answer.json()
    return body if body.get("status") == wanted else None


async def dead_letter_resources(k8s: kmock.KubernetesEmulator, request_id: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await get(k8s, DEAD_LETTERS_PATH)).get("items") or []
    return [item for item in items if request_id is None or item["spec"]["requestId"] == request_id]


async def test_a_dead_letter_appears_as_a_resource_and_action_retry_completes_its_request(
    stack: dict[str, Any], k8s: kmock.KubernetesEmulator
) -> None:
    request_id = await dead_lettered_request(stack)
    await create_wallet(k8s, "main")
    async with running_operator(stack):
        found = await eventually(lambda: dead_letter_resources(k8s, request_id), 60, "the DeadLetter resource")
        assert len(found) == 1
        item = found[0]
        assert item["metadata"]["labels"] == {"ops.certify.dev/wallet": "main"}
        assert item["spec"]["jobKind"] == "certify"
        assert item["spec"]["attempts"] == 1
        assert "503" in item["spec"]["reason"] or "nag" in item["spec"]["reason"]

        async def phase(wanted: str) -> dict[str, Any] | None:
            current = await get(k8s, f"{DEAD_LETTERS_PATH}/{item['metadata']['name']}")
            return current if (current.get("status") or {}).get("phase") == wanted else None

        await eventually(lambda: phase("Dead"), 30, "phase Dead")
        async with api(k8s) as http:
            answer = await http.patch(
                f"{DEAD_LETTERS_PATH}/{item['metadata']['name']}",
                json={"spec": {"action": "retry"}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            assert answer.status_code == 200, answer.text
        completed = await eventually(lambda: phase("Completed"), 90, "phase Completed")
        assert completed["status"]["requestStatus"] == "completed"
        assert await request_status(stack, request_id, "completed")


async def test_a_restarted_operator_creates_no_duplicates_and_removes_resources_whose_dead_letter_is_gone(
    stack: dict[str, Any], k8s: kmock.KubernetesEmulator
) -> None:
    first, second = await dead_lettered_request(stack), await dead_lettered_request(stack)
    await create_wallet(k8s, "main")
    async with running_operator(stack):
        await eventually(lambda: dead_letter_resources(k8s, first), 60, "the first DeadLetter")
        await eventually(lambda: dead_letter_resources(k8s, second), 60, "the second DeadLetter")
    names = sorted(item["metadata"]["name"] for item in await dead_letter_resources(k8s))
    creations = len(k8s[kmock.action.CREATE, kmock.resource(GROUP, VERSION, DEAD_LETTERS)])
    gone = (await dead_letter_resources(k8s, second))[0]
    await delete_dead_letter_row(stack, int(gone["spec"]["deadLetterId"]))
    async with running_operator(stack):

        async def removed() -> bool:
            return not await dead_letter_resources(k8s, second)

        await eventually(removed, 60, "the resource of the deleted dead letter to go")
        assert sorted(item["metadata"]["name"] for item in await dead_letter_resources(k8s)) == [
            name for name in names if name != gone["metadata"]["name"]
        ]
    # The second run asked to create nothing that existed: every creation of it was refused or skipped.
    assert len(k8s[kmock.action.CREATE, kmock.resource(GROUP, VERSION, DEAD_LETTERS)]) == creations


async def delete_dead_letter_row(stack: dict[str, Any], dead_letter_id: int) -> None:
    import asyncpg

    connection = await asyncpg.connect(stack["database_url"].replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("DELETE FROM dead_letters WHERE id = $1", dead_letter_id)
    finally:
        await connection.close()
