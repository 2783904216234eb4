"""Crypto against the official libraries, per core: verify_payment vs the x402 SDK, Circular build+sign."""

from __future__ import annotations

import base64
import importlib
import json
import time
from typing import Any, ClassVar

from circular_enterprise_apis import CEP_Account, helper
from eth_account import Account
from x402 import x402ClientSync
from x402.http.utils import encode_payment_signature_header
from x402.mechanisms.evm.exact.facilitator import ExactEvmScheme
from x402.mechanisms.evm.exact.register import register_exact_evm_client
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.schemas import PaymentRequired
from x402.schemas.helpers import parse_payment_payload, parse_payment_requirements

from bench.targets import verdict
from bench.timing import head_to_head, record
from certify_circular.keys import Wallet
from certify_circular.transaction import build_certificate
from certify_common.evm import NETWORKS
from certify_x402.requirements import build_offer
from certify_x402.verification import check_payment
from certify_x402.wire import decode_header, parse_requirements

PAYER_KEY = "0x" + "42" * 32
CIRCULAR_KEY = "5f" * 32
CHAIN = "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2"
STAMP = "2026:11:29-12:00:00"


class OfflineChain:
    """What the SDK facilitator asks the chain, answered offline (plain payers, USDC contracts exist)."""

    tokens: ClassVar[set[str]] = {network.usdc_address.lower() for network in NETWORKS.values()}

    def get_addresses(self) -> list[str]:
        return ["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"]

    def get_code(self, address: str) -> bytes:
        return b"\x60\x80" if address.lower() in self.tokens else b""

    def read_contract(self, address: str, abi: Any, function_name: str, *args: Any) -> Any:
        return None

    def get_chain_id(self) -> int:
        return 0


def _signed_payment() -> tuple[str, dict[str, Any]]:
    offer = build_offer(
        network_name="base-sepolia",
        enabled=list(NETWORKS),
        amount_atomic=25_000,
        pay_to="0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
        resource="https://certify.example/v1/certify/bench",
        description="certification",
        mime_type="application/json",
        max_timeout_seconds=300,
    )
    client = x402ClientSync().set_spend_controls(False)
    register_exact_evm_client(client, EthAccountSigner(Account.from_key(PAYER_KEY)))
    payload = client.create_payment_payload(PaymentRequired.model_validate(offer.payment_required_v2))  # type: ignore[union-attr]
    return str(encode_payment_signature_header(payload)), offer.requirements_v2  # type: ignore[union-attr]


def verify_payment() -> dict[str, Any]:
    header, requirements = _signed_payment()
    facilitator = ExactEvmScheme(OfflineChain())  # type: ignore[arg-type]

    def ours() -> None:
        verdict = check_payment(decode_header(header), parse_requirements(requirements), int(time.time()))  # type: ignore[arg-type]
        assert verdict.is_valid

    def theirs() -> None:
        obj = json.loads(base64.b64decode(header))
        payload = parse_payment_payload(obj)
        answer = facilitator.verify(payload, parse_payment_requirements(2, requirements))  # type: ignore[arg-type]
        assert answer.is_valid

    return head_to_head("verify_payment vs x402 SDK verify (target 3x)", ours, theirs)


def circular_build_and_sign() -> dict[str, Any]:
    wallet = Wallet.from_hex(CIRCULAR_KEY)
    account_module = importlib.import_module("circular_enterprise_apis.CEP_Account")
    sent: list[dict[str, Any]] = []

    class Recorded:
        def raise_for_status(self) -> None:
            return None

        def json(self) -> dict[str, Any]:
            return {"Result": 200}

    def post(url: str, json: dict[str, Any]) -> Recorded:
        sent.append(json)
        return Recorded()

    account_module.requests.post = post
    helper.get_formatted_timestamp = lambda: STAMP
    account = CEP_Account()
    account.open(wallet.address)
    account.set_blockchain(CHAIN)
    counter = iter(range(10**9))

    def ours() -> None:
        build_certificate(wallet, CHAIN, f"document {next(counter)}", 7, STAMP).to_body()

    def theirs() -> None:
        account.submit_certificate(f"document {next(counter)}", CIRCULAR_KEY)
        sent.clear()

    mine = build_certificate(wallet, CHAIN, "same", account.Nonce, STAMP).to_body()
    account.submit_certificate("same", CIRCULAR_KEY)
    assert sent[-1] == mine, "the benchmark compares byte-identical transactions"
    return head_to_head("Circular build+sign vs official (target 20x)", ours, theirs)


def main() -> None:
    figures = {"verify_payment": verify_payment(), "circular_build_sign": circular_build_and_sign()}
    verify, circular = figures["verify_payment"]["ratio"], figures["circular_build_sign"]["ratio"]
    verdict("verify_payment / x402 SDK verify, per core", verify, ">= 3x", verify >= 3, "x")
    verdict("Circular build+sign / official, per core (byte-identical)", circular, ">= 20x", circular >= 20, "x")
    record("crypto", figures)
