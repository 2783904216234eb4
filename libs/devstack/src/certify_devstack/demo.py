"""The main job, run by `make run` and `make demo` against the local stack: one certification, as an agent does it.

With :mod:`certify_client` (the same code as the `certify` command) through the proxy's REST API: quote
the sample document, ask for its certification (402), have a payer key funded by the sandbox faucet sign
the EIP-3009 authorization, retry with the payment, follow the status until completed, fetch the
portable proof, and verify it offline and against the sandbox NAG. Returns 0 only when every step passed.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from certify_client.api import CertifyApiError, CertifyClient
from certify_client.models import PaymentRequiredBody, StatusDocument
from certify_client.payment import PaymentError, payer_address, sign_payment
from certify_client.proof import Proof
from certify_client.verify import Verdict, verify_proof

if TYPE_CHECKING:
    from certify_devstack.stack import Stack

SAMPLE_DOCUMENT = b"certify sample document\nThe quick brown fox jumps over the lazy dog.\n"
SAMPLE_NAME = "sample.txt"
NETWORK = "base-sepolia"
#: 10 USDC (6 decimals) from the sandbox faucet: far more than one certification costs.
FAUCET_AMOUNT_ATOMIC = 10_000_000
COMPLETION_TIMEOUT_S = 180.0
HTTP_TIMEOUT_S = 30.0


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


@dataclass(frozen=True)
class DemoTarget:
    """Where the demo runs: the proxy, its API key, the sandbox, and a folder for the proof."""

    proxy_url: str
    api_key: str
    sandbox_url: str
    output_dir: Path

    @property
    def nag_url(self) -> str:
        """The sandbox's Circular NAG base (what `certify verify --nag-url` takes)."""
        return f"{self.sandbox_url}/nag/NAG.php?cep="


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


async def fund_payer(target: DemoTarget) -> str:
    """A fresh payer key, funded with test USDC by the sandbox faucet; returns the key (hex)."""
    key = "0x" + secrets.token_hex(32)
    address = payer_address(key)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as http:
        response = await http.post(
            f"{target.sandbox_url}/faucet/usdc",
            json={"network": NETWORK, "address": address, "amount_atomic": FAUCET_AMOUNT_ATOMIC},
        )
    if response.status_code != 200:
        raise DemoError(f"the sandbox faucet answered {response.status_code}: {response.text[:200]}")
    print(f"  payer {address} holds {response.json()['balance_atomic']} atomic USDC on {NETWORK}")
    return key


def _progress(status: StatusDocument) -> None:
    job = status.certification_job
    attempts = f" (attempt {job.attempts})" if job is not None and job.attempts else ""
    print(f"  status: {status.status}{attempts}", flush=True)


async def certify_sample(client: CertifyClient, payer_key: str, request_id: str) -> StatusDocument:
    """Quote, 402, pay, follow: the final status of the sample's certification."""
    step("quote")
    quoted = await client.quote(SAMPLE_DOCUMENT)
    price = quoted.quote
    print(f"  sha256 {quoted.data_hash}, {quoted.data_size_bytes} bytes")
    print(f"  {price.usdc_amount} USDC for {price.cirx_fee} CIRX at {price.cirx_price_usd} USD")
    step("request the certification (expect 402 Payment Required)")
    offer = await client.request_certification(request_id, SAMPLE_DOCUMENT, network=NETWORK, file_name=SAMPLE_NAME)
    if not isinstance(offer.body, PaymentRequiredBody) or offer.payment_required is None:
        raise DemoError(f"expected a 402 with PAYMENT-REQUIRED, got {offer.status_code}")
    payment = offer.body.payment
    print(f"  402: pay {payment.amount_usdc} USDC to {payment.pay_to} on {payment.network}")
    print(f"  payment page: {offer.body.payment_link}")
    step("sign the EIP-3009 authorization and retry with PAYMENT-SIGNATURE")
    signed = sign_payment(offer.payment_required, payer_key)
    accepted = await client.pay(request_id, signed)
    print(f"  {accepted.status}: {accepted.status_url}")
    step("follow the status until completed")
    final = await client.wait(request_id, timeout_s=COMPLETION_TIMEOUT_S, interval_s=1.0, on_change=_progress)
    if final.status != "completed" or final.certification is None:
        error = final.error
        raise DemoError(
            f"the request is {final.status} after {COMPLETION_TIMEOUT_S:.0f} s"
            + (f": {error.code}: {error.message}" if error is not None else "")
            + " (is the proxy's certification worker running? see its log)"
        )
    certification = final.certification
    print(f"  certified in transaction {certification.tx_id}, block {certification.block_id}")
    return final


def _show(verdict: Verdict, where: str) -> None:
    for check in verdict.checks:
        print(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    if not verdict.valid:
        raise DemoError(f"the proof does not verify {where}: {'; '.join(verdict.reasons)}")
    print(f"  VALID ({where})")


async def prove(client: CertifyClient, target: DemoTarget, request_id: str) -> Proof:
    """Fetch the portable proof, save it, and verify it offline, on the sandbox chain and by the service."""
    step("the portable proof")
    proof = await client.proof(request_id)
    print(proof.to_json())
    target.output_dir.mkdir(parents=True, exist_ok=True)
    (target.output_dir / SAMPLE_NAME).write_bytes(SAMPLE_DOCUMENT)
    (target.output_dir / "proof.json").write_text(proof.to_json() + "\n", encoding="utf-8")
    sha = hashlib.sha256(SAMPLE_DOCUMENT).hexdigest()
    step("verify it independently, offline")
    _show(await verify_proof(proof, sha, size_bytes=len(SAMPLE_DOCUMENT)), "offline")
    step("verify it against the chain (the sandbox NAG)")
    _show(await verify_proof(proof, sha, size_bytes=len(SAMPLE_DOCUMENT), nag_url=target.nag_url), target.nag_url)
    step("ask the service for its verdict (POST /v1/verify)")
    answer = await client.verify(proof, sha)
    if not answer.valid:
        raise DemoError(f"POST /v1/verify rejects the proof: {answer.reasons}")
    print("  the service agrees: valid")
    print(
        f"\n  again by hand: certify verify {target.output_dir / SAMPLE_NAME} {target.output_dir / 'proof.json'} "
        f"--nag-url '{target.nag_url}'"
    )
    return proof


async def demo(target: DemoTarget) -> Proof:
    """The whole job; raises :class:`DemoError` (or an API/HTTP error) at the first failed step."""
    step("fund a payer with the sandbox USDC faucet")
    payer_key = await fund_payer(target)
    request_id = f"demo-{secrets.token_hex(8)}"
    async with CertifyClient(target.proxy_url, target.api_key, timeout_s=HTTP_TIMEOUT_S) as client:
        await certify_sample(client, payer_key, request_id)
        return await prove(client, target, request_id)


def run_demo(stack: Stack) -> int:
    """Run the demo against a started stack; 0 on success, 1 with a message on failure."""
    print("\ncertifying a sample document end to end, as an agent would", flush=True)
    target = DemoTarget(stack.url("proxy"), stack.api_key, stack.url("sandbox"), stack.state_dir / "demo")
    try:
        asyncio.run(demo(target))
    except CertifyApiError as exc:
        print(f"demo failed: the API answered {exc.status_code} {exc.code}: {exc.message}", flush=True)
        return 1
    except (DemoError, PaymentError, httpx.HTTPError, OSError) as exc:
        print(f"demo failed: {type(exc).__name__}: {exc}", flush=True)
        return 1
    print("\ndemo: all steps succeeded", flush=True)
    return 0
