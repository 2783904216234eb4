"""Crypto against the official libraries, per core: verify_payment vs the x402 SDK, Circular build+sign."""

from __future__ import annotations

import base64
import importlib
import json
import time
from typing import Any

from circular_enterprise_apis import CEP_Account, helper
from x402.mechanisms.evm.exact.facilitator import ExactEvmScheme
from x402.schemas.helpers import parse_payment_payload, parse_payment_requirements

from bench.targets import verdict
from bench.timing import head_to_head, record
from certify_circular.keys import Wallet
from certify_circular.transaction import build_certificate
from certify_testkit.sdk_payments import OfflineChain, signed_payment
from certify_x402.verification import check_payment
from certify_x402.wire import decode_header, parse_requirements

PAYER_KEY = "0x" + "42" * 32
CIRCULAR_KEY = "5f" * 32
CHAIN = "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2"
STAMP = "2026:11:29-12:00:00"


def verify_payment() -> dict[str, Any]:
    header, requirements = signed_payment(PAYER_KEY, "https://certify.example/v1/certify/bench")
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
