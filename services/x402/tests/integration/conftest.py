"""Real processes: one sandbox (facilitator, USDC ledgers, RPC) and x402 servers sharing Redis.

Processes are shared by the whole session where their configuration is the default (tests read the
sandbox's counters as differences); a test needing other settings starts its own x402 server.
Helpers reach tests as fixtures: conftest.py is not importable under ``--import-mode=importlib``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from certify_testkit.processes import ServiceProcess

PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"


class SandboxControl:
    """The sandbox's faucet, faults and counters over HTTP."""

    def __init__(self, process: ServiceProcess) -> None:
        self.url = process.url

    def fund(self, network: str, address: str, amount_atomic: int) -> None:
        body = {"network": network, "address": address, "amount_atomic": amount_atomic}
        httpx.post(f"{self.url}/faucet/usdc", json=body, timeout=5).raise_for_status()

    def faults(self, **plan: Any) -> None:
        httpx.put(f"{self.url}/_control/faults/facilitator", json=plan, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.url}/_control/faults/facilitator", timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_control/usdc/stats", timeout=5).json()  # type: ignore[no-any-return]


@pytest.fixture
def sandbox(sandbox_process: ServiceProcess) -> SandboxControl:
    return SandboxControl(sandbox_process)


def _x402(sandbox: ServiceProcess, redis_url: str, prefix: str, **overrides: str) -> ServiceProcess:
    env = {
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "X402_PAY_TO": PAY_TO,
        "X402_FACILITATOR_URL": f"{sandbox.url}/facilitator",
        "X402_RPC_URLS": f"base-sepolia={sandbox.url}/rpc/base-sepolia",
        **overrides,
    }
    return ServiceProcess("certify_x402", env).start(ready_path="/readyz")


@pytest.fixture(scope="session")
def x402_pair(sandbox_process: ServiceProcess, redis_env: dict[str, str]) -> Iterator[list[ServiceProcess]]:
    """Two x402 processes with the default settings sharing one Redis prefix of their own."""
    prefix, redis_url = f"test-{uuid.uuid4().hex[:12]}", redis_env["REDIS_URL"]
    with ThreadPoolExecutor(max_workers=2) as pool:  # the two start (and import) side by side
        starting = [pool.submit(_x402, sandbox_process, redis_url, prefix) for _ in range(2)]
    servers = [future.result() for future in starting]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def x402_server(
    sandbox_process: ServiceProcess, redis_url: str, redis_prefix: str
) -> Iterator[Callable[..., ServiceProcess]]:
    """Start one x402 process with settings overrides (environment variable names), stopped after the test."""
    started: list[ServiceProcess] = []

    def start(**overrides: str) -> ServiceProcess:
        started.append(_x402(sandbox_process, redis_url, redis_prefix, **overrides))
        return started[-1]

    yield start
    for process in started:
        process.stop()
