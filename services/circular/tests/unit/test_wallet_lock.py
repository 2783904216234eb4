"""The wallet lock is renewed while a submission runs; a holder that lost it never uses its nonce."""

from __future__ import annotations

import hashlib

import httpx

from certify_circular.keys import Wallet
from certify_circular.service import CircularService
from certify_circular.tools import build_server
from certify_common.kv import MemoryKeyValue
from certify_common.mcp_runtime import Runtime
from certify_sandbox.app import create_app as create_sandbox
from certify_testkit.mcp_calls import failure_of

from .conftest import SERVICE_KEY, Stand, register_and_fund, settings_for

HASH = "0x" + hashlib.sha256(b"a document under a lost lock").hexdigest()


class TakenOverKeyValue(MemoryKeyValue):
    """Every lock renewal finds the lock owned by another holder (as after a pause longer than the TTL)."""

    async def extend(self, key: str, token: str, ttl_s: float) -> bool:
        return False


async def test_a_submission_whose_wallet_lock_was_taken_over_sends_nothing_and_is_retryable() -> None:
    transport = httpx.ASGITransport(app=create_sandbox())
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as http:
        await register_and_fund(http, Wallet.from_hex(SERVICE_KEY))
        await http.post("/_control/reset", params={"target": "nag"})
        # The nonce lookup takes longer than the lock's TTL, so renewals run while the section holds the lock.
        slow = {"latency_s": 0.6, "only_endpoint": "Circular_GetWalletNonce_"}
        (await http.put("/_control/faults/nag", json=slow)).raise_for_status()
        service = CircularService(
            settings_for(circular_wallet_lock_ttl_s=0.3), http=http, kv=TakenOverKeyValue("unit-lock")
        )
        await service.start()
        try:
            stand = Stand(service, http, build_server(service.settings, Runtime("circular", service)))
            failed = failure_of(await stand.call("certify_data", {"data_hash": HASH, "idempotency_key": "lost"}))
            calls = await stand.calls()
        finally:
            await service.close()
    assert (failed["code"], failed["retryable"]) == ("wallet_lock_lost", True)
    assert calls.get("nag.Circular_AddTransaction_", 0) == 0
