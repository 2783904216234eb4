"""Real processes for the circular server's integration tests: a sandbox NAG and circular servers.

Each test gets a fresh service key, registered on the sandbox with a real C_TYPE_REGISTERWALLET
transaction and funded through the sandbox control API (what `make run` does for a dev key).
Helpers reach tests as fixtures: conftest.py is not importable under ``--import-mode=importlib``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from certify_circular.devwallet import register_and_fund
from certify_circular.settings import CircularSettings
from certify_testkit.plugin import forbid_in_logs
from certify_testkit.processes import ServiceProcess


class NagControl:
    """The sandbox NAG, driven over its control API."""

    def __init__(self, sandbox: ServiceProcess) -> None:
        self.url = sandbox.url
        self.base = f"{sandbox.url}/nag/NAG.php?cep="

    def reset(self) -> None:
        httpx.post(f"{self.url}/_control/nag/reset", timeout=5).raise_for_status()

    def plan(self, **values: Any) -> None:
        current = httpx.get(f"{self.url}/_control/nag/plan", timeout=5).json()
        httpx.put(f"{self.url}/_control/nag/plan", json={**current, **values}, timeout=5).raise_for_status()

    def faults(self, **plan: Any) -> None:
        httpx.put(f"{self.url}/_control/faults/nag", json=plan, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.url}/_control/faults/nag", timeout=5).raise_for_status()

    def calls(self, endpoint: str) -> int:
        return int(httpx.get(f"{self.url}/_control/calls", timeout=5).json().get(f"nag.{endpoint}", 0))

    def transactions(self, address: str) -> list[dict[str, str]]:
        rows = httpx.get(f"{self.url}/_control/nag/transactions", params={"address": address}, timeout=5).json()
        return [row for row in rows if row["nonce"] != "0"]  # leave the registration out


@pytest.fixture
def nag(sandbox_process: ServiceProcess) -> NagControl:
    """A fresh NAG ledger with quick finality (Pending 0.2 s, Verified 0.2 s) and zero call counts."""
    control = NagControl(sandbox_process)
    control.reset()
    control.plan(pending_s=0.2, verified_s=0.2)
    return control


@pytest.fixture
def service_key(nag: NagControl) -> tuple[str, str]:
    """(private key hex, address) of a fresh wallet registered and funded on the sandbox; never logged."""
    key, address = fresh_key(nag)
    httpx.post(f"{nag.url}/_control/reset", params={"target": "nag"}, timeout=5).raise_for_status()
    return key, address


def fresh_key(nag: NagControl) -> tuple[str, str]:
    key = secrets.token_hex(32)
    forbid_in_logs("service private key", key)
    settings = CircularSettings(
        circular_nag_url=nag.base,
        circular_cep_testnet_private_key=key,  # type: ignore[arg-type]
        certify_env="test",
    )
    address = asyncio.run(register_and_fund(settings, Decimal(1000), nag.url))
    return key, address


def circular_env(nag: NagControl, key: str, **env: str) -> dict[str, str]:
    return {
        "CIRCULAR_NAG_URL": nag.base,
        "CIRCULAR_CEP_TESTNET_PRIVATE_KEY": key,
        "CIRCULAR_POLL_INTERVAL_S": "0.1",
        "CIRCULAR_NAG_TIMEOUT_S": "3",
        "REDIS_URL": "",
        **env,
    }


@dataclass
class SharedStand:
    """One registered key and one circular server for a whole module (tests count calls as deltas)."""

    nag: NagControl
    key: str
    address: str
    server: ServiceProcess

    def calm(self) -> None:
        self.nag.clear_faults()
        self.nag.plan(pending_s=0.2, verified_s=0.2, stuck_pending=False, drop_after_accept_next=0)


@pytest.fixture(scope="module")
def shared_stand(sandbox_process: ServiceProcess) -> Iterator[SharedStand]:
    control = NagControl(sandbox_process)
    control.reset()
    key, address = fresh_key(control)
    with ServiceProcess("certify_circular", env=circular_env(control, key, CIRCULAR_NAG_TIMEOUT_S="2")) as server:
        yield SharedStand(control, key, address, server)


@pytest.fixture
def stand(shared_stand: SharedStand) -> SharedStand:
    """The module's stand with no faults and quick finality."""
    shared_stand.calm()
    return shared_stand


CircularFactory = Callable[..., ServiceProcess]


@pytest.fixture
def circular(nag: NagControl, service_key: tuple[str, str]) -> Iterator[CircularFactory]:
    """Start circular servers on the sandbox with the test's key; stopped at the end of the test."""
    started: list[ServiceProcess] = []

    def start(port: int | None = None, **env: str) -> ServiceProcess:
        process = ServiceProcess("certify_circular", env=circular_env(nag, service_key[0], **env), port=port).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
