"""50 concurrent certifications over two circular processes sharing Redis, with one process killed midway."""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
import pytest
from mcp import Client

from certify_testkit.mcp_calls import failure_of
from certify_testkit.processes import ServiceProcess, eventually, wait_until

pytestmark = pytest.mark.e2e

COUNT = 50
RESTART_AFTER = 15


async def serving(process: ServiceProcess) -> bool:
    """Whether the process answers its health check now (the other one may be restarting)."""
    try:
        async with httpx.AsyncClient(timeout=1.0) as http:
            return (await http.get(process.url + "/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def certify_with_retries(processes: list[ServiceProcess], index: int, first: int) -> dict[str, Any]:
    """certify_data with an idempotency key, retried (bounded) on the other process when a call fails.

    A retry waits until its process serves (it may be the one being restarted); a retryable refusal needs no
    pause of ours, since the server itself waits for the wallet lock before it answers.
    """
    arguments = {
        "data_hash": "0x" + hashlib.sha256(f"document {index}".encode()).hexdigest(),
        "idempotency_key": f"request-{index}",
    }
    last: object = None
    for attempt in range(12):
        process = processes[(first + attempt) % len(processes)]
        if attempt:
            await eventually(partial(serving, process), 30, f"{process.url} to serve")
        try:
            async with Client(process.mcp_url) as client:
                result = await client.call_tool("certify_data", arguments)
        except Exception as exc:  # the process was killed under us: retry elsewhere
            last = exc
            continue
        if not result.is_error:
            return dict(result.structured_content or {})
        last = failure_of(result)
        assert last["retryable"], last
    raise AssertionError(f"request {index} never succeeded: {last!r}")


async def run_all(a: ServiceProcess, b: ServiceProcess, restart_b: Any) -> list[dict[str, Any]]:
    done = 0
    restarted: asyncio.Task[None] | None = None

    async def one(index: int) -> dict[str, Any]:
        nonlocal done, restarted
        outcome = await certify_with_retries([a, b], index, index % 2)
        done += 1
        if done == RESTART_AFTER:
            restarted = asyncio.create_task(asyncio.to_thread(restart_b))
        return outcome

    results = await asyncio.gather(*(one(index) for index in range(COUNT)))
    if restarted is not None:
        await restarted
    return list(results)


async def wait_all_executed(url: str, tx_ids: list[str]) -> dict[str, str]:
    statuses = {}
    async with Client(url) as client:
        for tx_id in tx_ids:
            for _ in range(10):
                result = await client.call_tool("get_transaction_status", {"tx_id": tx_id, "wait_seconds": 5})
                assert not result.is_error, result.structured_content
                if result.structured_content["final"]:
                    break
            statuses[tx_id] = result.structured_content["status"]
    return statuses


def test_fifty_concurrent_certifications_over_two_processes_get_consecutive_nonces_and_execute(
    nag: Any, circular: Any, service_key: Any, redis_url: str, redis_prefix: str
) -> None:
    shared = {
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": redis_prefix,
        "CIRCULAR_WALLET_LOCK_TTL_S": "3",
        "CIRCULAR_WALLET_LOCK_WAIT_S": "25",
    }
    a = circular(**shared)
    b = circular(**shared)

    def restart_b() -> None:
        b.kill()
        b.start()

    results = asyncio.run(run_all(a, b, restart_b))

    tx_ids = [result["tx_id"] for result in results]
    assert len(set(tx_ids)) == COUNT
    ledger = nag.transactions(service_key[1])
    assert sorted(int(row["nonce"]) for row in ledger) == list(range(1, COUNT + 1))
    assert {row["id"] for row in ledger} == set(tx_ids)
    assert sorted(result["nonce"] for result in results) == list(range(1, COUNT + 1))

    statuses = asyncio.run(wait_all_executed(a.mcp_url, tx_ids))
    assert set(statuses.values()) == {"Executed"}


def test_a_server_killed_mid_submission_is_retried_elsewhere_without_loss_or_duplicate(
    nag: Any, circular: Any, service_key: Any, redis_url: str, redis_prefix: str
) -> None:
    env = {"REDIS_URL": redis_url, "REDIS_PREFIX": redis_prefix, "CIRCULAR_WALLET_LOCK_TTL_S": "3"}
    doomed = circular(**env)
    nag.faults(latency_s=1.5, only_endpoint="Circular_AddTransaction_")  # the NAG is still working when we kill
    arguments = {"data_hash": "0x" + hashlib.sha256(b"killed").hexdigest(), "idempotency_key": "killed-midway"}

    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(asyncio.run, call_once(doomed.mcp_url, arguments))
        wait_until(lambda: nag.calls("Circular_AddTransaction_") == 1, 15, what="the submission to reach the NAG")
        doomed.kill()
        lost: BaseException | None = None
        try:
            in_flight.result(timeout=30)
        except Exception as exc:
            lost = exc
    assert lost is not None, "the client should have lost its answer"

    nag.clear_faults()
    survivor = circular(**env)
    result = asyncio.run(call_once(survivor.mcp_url, arguments))

    assert not result.is_error, result.content
    assert nag.calls("Circular_AddTransaction_") == 1
    assert [row["id"] for row in nag.transactions(service_key[1])] == [result.structured_content["tx_id"]]


async def call_once(url: str, arguments: dict[str, Any]) -> Any:
    async with Client(url) as client:
        return await client.call_tool("certify_data", arguments)
