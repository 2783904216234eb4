"""Online verification against a real NAG stand-in: the circular server certifies, the client re-checks on chain.

The sandbox NAG recomputes IDs and checks signatures itself; the proof comes from the circular MCP
server's get_certification_proof, converted to the portable format, then verified by certify_client
reading the transaction and the wallet back from the sandbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest
from coincurve import PrivateKey
from mcp import Client

from certify_client.proof import CircularProof, Proof, proof_from_circular
from certify_client.transaction import address_of, transaction_id
from certify_client.verify import verify_proof
from certify_testkit.processes import ServiceProcess

pytestmark = pytest.mark.e2e

DOCUMENT = b"minutes of the board meeting, 2026-11-22\n"
SHA = hashlib.sha256(DOCUMENT).hexdigest()


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    sandbox = ServiceProcess("certify_sandbox").start(ready_path="/readyz", timeout_s=90)
    env = {
        "CIRCULAR_NAG_URL": f"{sandbox.url}/nag/NAG.php?cep=",
        "CIRCULAR_CEP_TESTNET_PRIVATE_KEY": secrets.token_hex(32),
        "CERTIFY_ENV": "development",
    }
    circular = ServiceProcess("certify_circular", env=env)
    try:
        registered = subprocess.run(
            [sys.executable, "-m", "certify_circular.devwallet", "--fund", "100", "--sandbox-url", sandbox.url],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert registered.returncode == 0, registered.stderr
        circular.start(ready_path="/readyz", timeout_s=90)
        yield sandbox, circular
    finally:
        circular.stop()
        sandbox.stop()


async def _certified(circular_mcp: str) -> CircularProof:
    async with Client(circular_mcp) as client:
        submitted = await client.call_tool("certify_data", {"data_hash": "0x" + SHA})
        assert not submitted.is_error, submitted.content
        tx_id = submitted.structured_content["tx_id"]
        status = await client.call_tool("get_transaction_status", {"tx_id": tx_id, "wait_seconds": 15})
        assert status.structured_content["final"], status.structured_content
        proof = await client.call_tool("get_certification_proof", {"tx_id": tx_id})
        assert not proof.is_error, proof.content
        return CircularProof.model_validate(proof.structured_content)


@pytest.fixture(scope="module")
def proof(servers: tuple[ServiceProcess, ServiceProcess]) -> Proof:
    record = asyncio.run(_certified(servers[1].mcp_url))
    return proof_from_circular(record, request_id=None, size_bytes=len(DOCUMENT), name="minutes.txt")


def _nag(servers: tuple[ServiceProcess, ServiceProcess]) -> str:
    return f"{servers[0].url}/nag/NAG.php?cep="


def test_a_proof_of_the_circular_server_verifies_on_the_sandbox_chain(servers, proof: Proof) -> None:
    verdict = asyncio.run(verify_proof(proof, SHA, size_bytes=len(DOCUMENT), nag_url=_nag(servers)))
    assert verdict.valid, verdict.reasons
    assert [check.name for check in verdict.checks][-3:] == ["chain", "executed", "wallet"]


def test_a_consistent_forgery_by_another_key_fails_only_on_chain(servers, proof: Proof) -> None:
    # Re-signed by a stranger: every offline check passes for the stranger's own key and address,
    # but the chain knows neither that transaction nor that wallet.
    stranger = PrivateKey(bytes.fromhex(secrets.token_hex(32)))
    public_key = stranger.public_key.format(compressed=False).hex()
    address = address_of(public_key)
    tx = proof.transaction
    new_id = transaction_id(tx.blockchain, address, address, tx.payload, tx.nonce, tx.timestamp)
    signature = stranger.sign(new_id.encode(), hasher=lambda data: hashlib.sha256(data).digest()).hex()
    data = proof.model_dump(by_alias=True)
    data["transaction"].update(ID=new_id, From=address, To=address, PublicKey=public_key, Signature=signature)
    data["certification"]["tx_id"] = new_id
    forged = Proof.model_validate(data)

    offline = asyncio.run(verify_proof(forged, SHA))
    assert offline.valid, offline.reasons
    online = asyncio.run(verify_proof(forged, SHA, nag_url=_nag(servers)))
    assert not online.valid
    assert {check.name for check in online.checks if not check.ok} >= {"chain"}
