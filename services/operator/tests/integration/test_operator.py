"""The whole operator (kopf, a fresh registry) against an emulated Kubernetes API and a real proxy on the sandbox."""

from __future__ import annotations

from typing import Any

import kmock
import pytest

from certify_operator.resources import DEAD_LETTERS, GROUP, VERSION

# The stack starts inside the first test of the session (several minutes on a loaded machine).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

NAMESPACE = "certify"


async def test_a_wallet_resource_gets_its_status_from_the_sandbox_wallet_and_a_drained_wallet_is_low_with_an_event(
    stack: dict[str, Any], k8s: kmock.KubernetesEmulator, flow: Any
) -> None:
    await flow.set_wallet_balance(stack, "100000")
    await flow.create_wallet(k8s, "main")
    async with flow.running_operator(stack):

        async def read(wanted: str) -> dict[str, Any] | None:
            status = (await flow.get(k8s, f"{flow.WALLETS_PATH}/main")).get("status") or {}
            return status if status.get("balance") == wanted else None

        status = await flow.eventually(lambda: read("100000"), 180, "the wallet's balance in its status")
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["Ready"]["status"] == "True"
        assert conditions["Low"]["status"] == "False"
        assert status["address"] == stack["wallet_address"].lower().removeprefix("0x")
        assert status["level"] == "ok"
        assert (
            flow.gauge("certify_cirx_wallet_balance", namespace=NAMESPACE, wallet="main", network="testnet") == 100000
        )

        await flow.set_wallet_balance(stack, "12.5")
        status = await flow.eventually(lambda: read("12.5"), 60, "the drained balance")
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["Low"]["status"] == "True"
        assert status["level"] == "warning"
        assert flow.gauge("certify_cirx_wallet_balance", namespace=NAMESPACE, wallet="main", network="testnet") == 12.5

        async def low_event() -> list[dict[str, Any]]:
            items = (await flow.get(k8s, f"/api/v1/namespaces/{NAMESPACE}/events")).get("items") or []
            return [item for item in items if item.get("reason") == "BalanceLow"]

        events = await flow.eventually(low_event, 30, "a BalanceLow event")
        assert events[0]["type"] == "Warning"
        assert events[0]["involvedObject"]["name"] == "main"
    await flow.set_wallet_balance(stack, "100000")


async def test_a_dead_letter_appears_as_a_resource_and_action_retry_completes_its_request(
    stack: dict[str, Any], k8s: kmock.KubernetesEmulator, flow: Any
) -> None:
    request_id = await flow.dead_lettered_request(stack)
    await flow.create_wallet(k8s, "main")
    async with flow.running_operator(stack):
        found = await flow.eventually(
            lambda: flow.dead_letter_resources(k8s, request_id), 60, "the DeadLetter resource"
        )
        assert len(found) == 1
        item = found[0]
        assert item["metadata"]["labels"] == {"ops.certify.dev/wallet": "main"}
        assert item["spec"]["jobKind"] == "certify"
        assert item["spec"]["attempts"] == 1
        assert "503" in item["spec"]["reason"] or "nag" in item["spec"]["reason"]

        async def phase(wanted: str) -> dict[str, Any] | None:
            current = await flow.get(k8s, f"{flow.DEAD_LETTERS_PATH}/{item['metadata']['name']}")
            return current if (current.get("status") or {}).get("phase") == wanted else None

        await flow.eventually(lambda: phase("Dead"), 30, "phase Dead")
        async with flow.api(k8s) as http:
            answer = await http.patch(
                f"{flow.DEAD_LETTERS_PATH}/{item['metadata']['name']}",
                json={"spec": {"action": "retry"}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            assert answer.status_code == 200, answer.text
        completed = await flow.eventually(lambda: phase("Completed"), 90, "phase Completed")
        assert completed["status"]["requestStatus"] == "completed"
        assert await flow.request_status(stack, request_id, "completed")


async def test_a_restarted_operator_creates_no_duplicates_and_removes_resources_whose_dead_letter_is_gone(
    stack: dict[str, Any], k8s: kmock.KubernetesEmulator, flow: Any
) -> None:
    first, second = await flow.dead_lettered_request(stack), await flow.dead_lettered_request(stack)
    await flow.create_wallet(k8s, "main")
    async with flow.running_operator(stack):
        await flow.eventually(lambda: flow.dead_letter_resources(k8s, first), 60, "the first DeadLetter")
        await flow.eventually(lambda: flow.dead_letter_resources(k8s, second), 60, "the second DeadLetter")
    names = sorted(item["metadata"]["name"] for item in await flow.dead_letter_resources(k8s))
    creations = len(k8s[kmock.action.CREATE, kmock.resource(GROUP, VERSION, DEAD_LETTERS)])
    gone = (await flow.dead_letter_resources(k8s, second))[0]
    await flow.delete_dead_letter_row(stack, int(gone["spec"]["deadLetterId"]))
    async with flow.running_operator(stack):

        async def removed() -> bool:
            return not await flow.dead_letter_resources(k8s, second)

        await flow.eventually(removed, 60, "the resource of the deleted dead letter to go")
        assert sorted(item["metadata"]["name"] for item in await flow.dead_letter_resources(k8s)) == [
            name for name in names if name != gone["metadata"]["name"]
        ]
    # The second run asked to create nothing that existed: every creation of it was refused or skipped.
    assert len(k8s[kmock.action.CREATE, kmock.resource(GROUP, VERSION, DEAD_LETTERS)]) == creations
