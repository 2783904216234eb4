"""Paid but never recorded: the x402 server dies after the facilitator moved the money and before it stored
the answer. The request is reconciled without limit while the chain cannot be read, shown to operators
(gauge and admin listing), then resolved from the chain: certified, one transfer, the header forgotten."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import uuid
from typing import Any

import httpx
import pytest

from certify_testkit.processes import ServiceProcess, free_port, wait_until

pytestmark = pytest.mark.integration

#: More attempts than the old bound (SETTLE_MAX_ATTEMPTS=8) after which the request was abandoned.
PAST_THE_OLD_BOUND = 10


def _gauge(proxy: ServiceProcess, name: str) -> float:
    for line in httpx.get(f"{proxy.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not exported")


def _admin_key(database_url: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "certify_proxy.cli", "keys", "create", "operator", "--admin"]
    answer = subprocess.run(command, env=env, check=True, capture_output=True, timeout=120, text=True)
    return str(json.loads(answer.stdout.strip().splitlines()[-1])["api_key"])


@pytest.mark.timeout(600)  # two process starts, a kill, and more than ten reconciliation attempts
def test_a_payment_settled_while_x402_died_is_reconciled_past_any_bound_surfaced_and_certified_once(
    wf_env, funded_wallet, kit, flow, stack, databases, redis_env
) -> None:
    sandbox = stack["sandbox"]
    stats_url = f"{sandbox.url}/_control/usdc/stats"
    database = databases()
    x402_env = kit.x402_env(sandbox, {**redis_env, "REDIS_PREFIX": f"unresolved-{uuid.uuid4().hex[:8]}"})
    x402_port = free_port()
    x402 = ServiceProcess("certify_x402", env=x402_env, port=x402_port).start(ready_path="/readyz", timeout_s=90)
    env, port = wf_env(
        database.url,
        MCP_X402_URL=x402.mcp_url,
        PAYMENT_LOCK_S="5",
        MCP_CALL_TIMEOUT_S="10",
        SETTLEMENT_MONITOR_INTERVAL_S="0.2",
    )
    proxy = kit.start_proxy(env, port)
    admin = {"X-API-Key": _admin_key(database.url)}
    try:
        before = httpx.get(stats_url, timeout=10).json()
        request_id = f"wf-{uuid.uuid4().hex[:16]}"
        body = {"request_id": request_id, "data": base64.b64encode(flow.document()).decode(), "network": "base-sepolia"}
        headers = {"X-API-Key": kit.dev_key}
        offer = httpx.post(f"{proxy.url}/v1/certify", json=body, headers=headers, timeout=30)
        assert offer.status_code == 402, offer.text
        paid_headers = {**headers, "X-PAYMENT": kit.sign(offer.json())}
        answers: list[Any] = []

        def pay() -> None:
            try:
                answers.append(
                    httpx.post(
                        f"{proxy.url}/v1/certify", json={"request_id": request_id}, headers=paid_headers, timeout=60
                    ).status_code
                )
            except httpx.HTTPError as exc:
                answers.append(exc)

        # The facilitator moves the money at once but holds its answer: x402 dies waiting for it.
        flow.faults("facilitator", answer_delay_s=60, only_endpoint="settle")
        client = threading.Thread(target=pay)
        client.start()
        try:
            wait_until(
                lambda: (
                    httpx.get(stats_url, timeout=10).json()["authorization_transfers"]
                    == before["authorization_transfers"] + 1
                ),
                120,
                0.05,
                "the transfer at the facilitator",
            )
            flow.faults("evm_rpc", fail_next=1_000_000, fail_status=503)  # and the chain cannot be read for now
            x402.kill()
        finally:
            flow.faults("facilitator")
        client.join(60)
        assert answers[:1] in ([202], [503]), answers
        x402 = ServiceProcess("certify_x402", env=x402_env, port=x402_port).start(ready_path="/readyz", timeout_s=90)

        [owned] = database.fetch("SELECT request_key FROM certification_requests WHERE request_id = $1", request_id)

        def job() -> dict[str, Any]:
            rows = database.fetch(
                "SELECT status, attempts, max_attempts, payload, last_error FROM jobs WHERE dedupe_key = $1",
                f"settle_reconcile:{owned['request_key']}",
            )
            return rows[0]

        try:
            # x402 is back: it keeps answering that the outcome is unknown (the chain cannot be read).
            wait_until(lambda: "rpc_unavailable" in str(job()["last_error"]), 90, 0.2, "x402 reconciling again")
            wait_until(lambda: job()["attempts"] >= PAST_THE_OLD_BOUND, 90, 0.2, "attempts past the old bound")
            assert job()["status"] in ("queued", "running")
            assert database.fetch("SELECT count(*) AS n FROM dead_letters")[0]["n"] == 0
            assert flow.status(proxy, request_id)["status"] == "payment_pending"
            wait_until(lambda: _gauge(proxy, "certify_settlements_unresolved") == 1, 30, 0.1, "the unresolved gauge")
            assert _gauge(proxy, "certify_settlements_unresolved_oldest_age_seconds") > 0
            listed = httpx.get(f"{proxy.url}/v1/admin/settlements/unresolved", headers=admin, timeout=10)
            assert listed.status_code == 200, listed.text
            [row] = listed.json()["settlements"]
            assert (row["request_id"], row["network"]) == (request_id, "base-sepolia")
            assert row["age_s"] > 0
            assert row["attempts"] >= PAST_THE_OLD_BOUND
            assert "payment_header" not in row
        finally:
            flow.faults("evm_rpc")

        flow.wait_status(proxy, request_id, "completed", timeout_s=90)
        after = httpx.get(stats_url, timeout=10).json()
        assert after["authorization_transfers"] == before["authorization_transfers"] + 1
        assert "payment_header" not in job()["payload"]
        wait_until(lambda: _gauge(proxy, "certify_settlements_unresolved") == 0, 30, 0.1, "the gauge back at 0")
        assert (
            httpx.get(f"{proxy.url}/v1/admin/settlements/unresolved", headers=admin, timeout=10).json()["settlements"]
            == []
        )
    finally:
        flow.faults("evm_rpc")
        proxy.stop()
        x402.stop()
