"""The paid path: paid submissions per second with the sandbox facilitator (each settled once), and the share
of a paid submission's wall time that the proxy and the MCP servers add when the sandbox chain takes 2 s.

Offers (402) and signatures are made before the clock starts (they are the payer's work); then the paid
retries are sent concurrently through :mod:`certify_client` (the `certify` command's code). The sandbox's
``/_control/usdc/stats`` counts the transfers that moved money: one per accepted authorization, none more,
also when every authorization is submitted twice at once.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bench.http_phases import DOCUMENT, counted_round_trips
from bench.procs import CpuMeter
from bench.stack import API_KEY, BenchStack
from certify_client.api import CertifyApiError, CertifyClient
from certify_client.payment import SignedPayment, payer_address, sign_payment

CONCURRENCY = 32
CHAIN_S = 2.0
#: Sequential paid submissions timed with the 2 s chain.
SLOW_SUBMISSIONS = 5
DUPLICATED = 10
OFFER_ATTEMPTS = 10
#: Paid submissions before the counted ones: more than twice the proxy's pooled connections.
WARM_PAID = 12


async def _stats(sandbox: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        return dict((await http.get(f"{sandbox}/_control/usdc/stats")).json())


async def _payer(sandbox: str) -> str:
    key = "0x" + secrets.token_hex(32)
    async with httpx.AsyncClient(timeout=30) as http:
        body = {"network": "base-sepolia", "address": payer_address(key), "amount_atomic": 1_000_000_000}
        (await http.post(f"{sandbox}/faucet/usdc", json=body)).raise_for_status()
    return key


async def _offers(client: CertifyClient, key: str, count: int) -> list[tuple[str, SignedPayment]]:
    """``count`` new requests, each with its 402 offer signed by ``key``."""
    gate = asyncio.Semaphore(8)
    data = DOCUMENT.encode()

    async def one(number: int) -> tuple[str, SignedPayment]:
        request_id = f"paid-{secrets.token_hex(6)}-{number}"
        for attempt in range(OFFER_ATTEMPTS):
            try:
                async with gate:
                    offer = await client.request_certification(request_id, data, network="base-sepolia")
                break
            except CertifyApiError as exc:  # a busy pool answers 503 "retry shortly": the client does
                if not exc.retryable or attempt == OFFER_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.5)
        assert offer.payment_required is not None, offer.status_code
        return request_id, sign_payment(offer.payment_required, key)

    return list(await asyncio.gather(*(one(number) for number in range(count))))


async def _pay_all(client: CertifyClient, signed: list[tuple[str, SignedPayment]]) -> tuple[float, list[str]]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(request_id: str, payment: SignedPayment) -> str:
        async with gate:
            try:
                return str((await client.pay(request_id, payment)).status)
            except Exception as exc:  # a benchmark counts failures, whatever they are
                return type(exc).__name__

    start = time.perf_counter()
    outcomes = await asyncio.gather(*(one(request_id, payment) for request_id, payment in signed))
    return time.perf_counter() - start, list(outcomes)


@dataclass(frozen=True)
class Drain:
    """The queue's side of the paid phase: wait until the certifications are finished, count requests by state."""

    wait: Callable[[], None]
    by_status: Callable[[], dict[str, int]]


async def _run(proxy: str, sandbox: str, requests: int, meter: CpuMeter | None, drain: Drain | None) -> dict[str, Any]:
    key = await _payer(sandbox)
    async with CertifyClient(proxy, API_KEY, timeout_s=120) as client:
        signed = await _offers(client, key, requests)
        before = await _stats(sandbox)
        states_before = await asyncio.to_thread(drain.by_status) if drain is not None else {}
        if meter is not None:
            await asyncio.to_thread(meter.start)  # the meter's PostgreSQL lookup runs a loop of its own
        client_cpu = time.process_time()
        paying_from = time.perf_counter()
        seconds, outcomes = await _pay_all(client, signed)
        client_cpu = time.process_time() - client_cpu
        spent = await asyncio.to_thread(meter.stop) if meter is not None else {}
        # The certifications the payments queued, confirmed on the sandbox chain: how fast the queue drains.
        certified_s, finished = None, {}
        if drain is not None:
            await asyncio.to_thread(drain.wait)
            certified_s = time.perf_counter() - paying_from
            states = await asyncio.to_thread(drain.by_status)
            finished = {state: states.get(state, 0) - states_before.get(state, 0) for state in ("completed", "failed")}
        after = await _stats(sandbox)
        twice = await _offers(client, key, DUPLICATED)
        _, duplicate_outcomes = await _pay_all(client, twice + twice)
        after_duplicates = await _stats(sandbox)
        async with httpx.AsyncClient(timeout=30) as http:
            plan = {"latency_s": CHAIN_S, "only_endpoint": "settle"}
            (await http.put(f"{sandbox}/_control/faults/facilitator", json=plan)).raise_for_status()
        try:
            slow = await _offers(client, key, SLOW_SUBMISSIONS)
            settles = (await _stats(sandbox))["settle_calls"]
            walls = []
            for request_id, payment in slow:
                start = time.perf_counter()
                await client.pay(request_id, payment)
                walls.append(time.perf_counter() - start)
            settles = (await _stats(sandbox))["settle_calls"] - settles
        finally:
            async with httpx.AsyncClient(timeout=30) as http:
                await http.delete(f"{sandbox}/_control/faults/facilitator")
    accepted = sum(outcome in {"payment_verified", "certifying", "completed"} for outcome in outcomes)
    chain_s = CHAIN_S * settles / SLOW_SUBMISSIONS
    wall_s = sum(walls) / len(walls)
    cpu_ms = {name: round(1000 * seconds_spent / requests, 2) for name, seconds_spent in spent.items()}
    return {
        "cpu_ms_per_submission": cpu_ms | {"load generator": round(1000 * client_cpu / requests, 2)},
        "submissions": requests,
        "seconds": round(seconds, 3),
        "per_s": round(requests / seconds, 1),
        "outcomes": {outcome: outcomes.count(outcome) for outcome in set(outcomes)},
        "accepted": accepted,
        "transfers": after["authorization_transfers"] - before["authorization_transfers"],
        "duplicate_outcomes": {outcome: duplicate_outcomes.count(outcome) for outcome in set(duplicate_outcomes)},
        "duplicate_transfers": after_duplicates["authorization_transfers"] - after["authorization_transfers"],
        "duplicated_authorizations": DUPLICATED,
        "slow_chain_s_per_submission": round(chain_s, 3),
        "slow_wall_s_per_submission": round(wall_s, 3),
        "overhead_share": round((wall_s - chain_s) / wall_s, 4) if wall_s else None,
        "certified_s": None if certified_s is None else round(certified_s, 2),
        "completed": finished.get("completed"),
        "failed": finished.get("failed"),
        "completed_per_s": None if certified_s is None else round(finished["completed"] / certified_s, 1),
    }


async def _signed(proxy: str, sandbox: str, count: int) -> list[tuple[str, SignedPayment]]:
    """``count`` offers signed by a new funded payer."""
    key = await _payer(sandbox)
    async with CertifyClient(proxy, API_KEY, timeout_s=120) as client:
        return await _offers(client, key, count)


async def _pay_each(proxy: str, signed: list[tuple[str, SignedPayment]]) -> list[str]:
    """Pay each offer, one after another: the statuses the client returns."""
    async with CertifyClient(proxy, API_KEY, timeout_s=120) as client:
        return [str((await client.pay(request_id, payment)).status) for request_id, payment in signed]


def count_paid_round_trips(stack: BenchStack, relay: Any, requests: int) -> dict[str, Any]:
    """PostgreSQL round trips of one paid submission (sent one after another through the counting relay; the
    background subtracted, ``counted_round_trips``). Run it on a proxy without job workers: the certification that
    follows is a job's work, not the submission's."""
    proxy = stack.url("proxy")
    signed = asyncio.run(_signed(proxy, stack.url("sandbox"), requests + WARM_PAID))
    # Warm: every pooled connection opened and each statement prepared on it (the pool hands connections out in
    # turn, and a statement's first use on a connection costs a prepare round trip).
    asyncio.run(_pay_each(proxy, signed[:WARM_PAID]))
    return counted_round_trips(relay, lambda: asyncio.run(_pay_each(proxy, signed[WARM_PAID:])), requests)


def paid(stack: BenchStack, requests: int, meter: CpuMeter | None = None) -> dict[str, Any]:
    """Run the paid phase against a started stack; ``meter`` gives CPU per submission by process group. The time
    until the certifications the payments queued have all finished (completed or failed, counted) is measured too."""
    drain = Drain(stack.wait_certifications, stack.requests_by_status)
    return asyncio.run(_run(stack.url("proxy"), stack.url("sandbox"), requests, meter, drain))
