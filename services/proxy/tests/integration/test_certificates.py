"""Portable proofs through the proxy: GET /v1/certificates/{id}/proof and POST /v1/verify, driven by certify_client.

On ``worker_proxy`` (conftest): a proxy with certification workers on, on a SQLite file of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import httpx
import jsonschema
import pytest
from eth_account import Account

from certify_client.api import CertifyApiError, CertifyClient
from certify_client.payment import sign_payment
from certify_client.proof import Proof, published_schema
from certify_client.verify import Verdict, verify_proof

pytestmark = pytest.mark.integration

DOCUMENT = b"Lease agreement, flat 3B, certified through the proxy.\n"
SHA = hashlib.sha256(DOCUMENT).hexdigest()


async def _certify(url: str, key: str, payer: str, request_id: str) -> tuple[Proof, dict[str, Verdict]]:
    async with CertifyClient(url, key) as client:
        offer = await client.request_certification(request_id, DOCUMENT, network="base-sepolia", file_name="lease.txt")
        assert offer.needs_payment
        assert offer.payment_required is not None
        with pytest.raises(CertifyApiError) as not_ready:
            await client.proof(request_id)
        assert not_ready.value.code == "proof_not_ready"
        await client.pay(request_id, sign_payment(offer.payment_required, payer))
        final = await client.wait(request_id, timeout_s=120, interval_s=0.5)
        assert final.status == "completed", final
        proof = await client.proof(request_id)
        verdicts = {
            "valid": await client.verify(proof, SHA),
            "altered_file": await client.verify(proof, hashlib.sha256(DOCUMENT + b"!").hexdigest()),
        }
        return proof, verdicts


def test_a_completed_request_serves_a_proof_that_verifies_everywhere(worker_proxy, stack, kit) -> None:
    payer = "0x" + "5d" * 32
    kit.fund(stack["sandbox"], "base-sepolia", Account.from_key(payer).address)
    request_id = f"proof-{uuid.uuid4().hex[:12]}"
    proof, verdicts = asyncio.run(_certify(worker_proxy.url, kit.dev_key, payer, request_id))

    document = json.loads(proof.to_json())
    jsonschema.validate(document, published_schema(), cls=jsonschema.Draft202012Validator)
    assert proof.request_id == request_id
    assert (proof.document.sha256, proof.document.size_bytes, proof.document.name) == (SHA, len(DOCUMENT), "lease.txt")
    assert proof.certification.status == "Executed"

    independent = asyncio.run(
        verify_proof(proof, SHA, size_bytes=len(DOCUMENT), nag_url=f"{stack['sandbox'].url}/nag/NAG.php?cep=")
    )
    assert independent.valid, independent.reasons
    assert verdicts["valid"].valid is True
    assert [check.name for check in verdicts["valid"].checks][-1] == "chain"
    assert verdicts["altered_file"].valid is False
    assert [reason.split(":")[0] for reason in verdicts["altered_file"].reasons] == ["document"]


def test_an_unknown_id_is_404_and_a_wrong_key_is_401(worker_proxy, kit) -> None:
    url = f"{worker_proxy.url}/v1/certificates/no-such-request/proof"
    unknown = httpx.get(url, headers={"X-API-Key": kit.dev_key}, timeout=10)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "request_not_found")
    wrong = httpx.get(url, headers={"X-API-Key": "ck_wrong"}, timeout=10)
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_api_key")


def test_verify_refuses_a_malformed_proof_with_422(worker_proxy, kit) -> None:
    answer = httpx.post(
        f"{worker_proxy.url}/v1/verify",
        json={"proof": {"format": "certify-proof", "version": 1}, "sha256": SHA},
        headers={"X-API-Key": kit.dev_key},
        timeout=10,
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request"
