"""Fixtures shared by the x402 tests: the official SDK (installed with its `evm` extra) as payer and verifier."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from x402 import x402ClientSync
from x402.http.utils import encode_payment_signature_header
from x402.mechanisms.evm.exact.facilitator import ExactEvmScheme as SdkFacilitatorV2
from x402.mechanisms.evm.exact.register import register_exact_evm_client
from x402.mechanisms.evm.exact.v1.facilitator import ExactEvmSchemeV1 as SdkFacilitatorV1
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.schemas import PaymentRequired, VerifyResponse
from x402.schemas.helpers import parse_payment_payload, parse_payment_requirements
from x402.schemas.v1 import PaymentRequiredV1

from certify_common.evm import NETWORKS

_TOKENS = {network.usdc_address.lower() for network in NETWORKS.values()}


class OfflineChain:
    """What the SDK's facilitator asks the chain, answered offline: payers are plain accounts (no code),
    the USDC contracts exist, and the transfer simulation succeeds. Balance and nonce are not judged."""

    def get_addresses(self) -> list[str]:
        return ["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"]

    def get_code(self, address: str) -> bytes:
        return b"\x60\x80" if address.lower() in _TOKENS else b""

    def read_contract(self, address: str, abi: Any, function_name: str, *args: Any) -> Any:
        return None

    def get_chain_id(self) -> int:
        return 0


class SmartWalletSigner:
    """A ClientEvmSigner for an EIP-1271 smart wallet: the wallet's address, its owner's signatures."""

    def __init__(self, wallet: str, owner: Any) -> None:
        self.wallet = wallet
        self.owner = EthAccountSigner(owner)

    @property
    def address(self) -> str:
        return self.wallet

    def sign_typed_data(self, domain: Any, types: Any, primary_type: str, message: dict[str, Any]) -> bytes:
        return self.owner.sign_typed_data(domain, types, primary_type, message)  # type: ignore[no-any-return]


def sdk_pay(payment_required: dict[str, Any], key: str | None = None, smart_wallet: str | None = None) -> str:
    """A payment header made by the official SDK client for a v2 or v1 PaymentRequired object (optionally
    from an EIP-1271 smart wallet owned by the key's account)."""
    account = Account.from_key(key) if key else Account.create()
    client = x402ClientSync().set_spend_controls(False)  # amounts here exceed the SDK's $1 default cap
    signer: Any = SmartWalletSigner(smart_wallet, account) if smart_wallet else EthAccountSigner(account)
    register_exact_evm_client(client, signer)
    if payment_required["x402Version"] == 1:
        payload = client.create_payment_payload(PaymentRequiredV1.model_validate(payment_required))
    else:
        payload = client.create_payment_payload(PaymentRequired.model_validate(payment_required))
    return str(encode_payment_signature_header(payload))


def sdk_verify(header: str, requirements: dict[str, Any]) -> VerifyResponse:
    """The SDK facilitator's own verification, run offline (signature, window, fields; no balances)."""
    obj = json.loads(base64.b64decode(header))
    payload = parse_payment_payload(obj)
    parsed = parse_payment_requirements(obj["x402Version"], requirements)
    scheme: Any = SdkFacilitatorV1(OfflineChain()) if obj["x402Version"] == 1 else SdkFacilitatorV2(OfflineChain())
    return scheme.verify(payload, parsed)  # type: ignore[no-any-return]


@pytest.fixture
def pay() -> Callable[..., str]:
    return sdk_pay


@pytest.fixture
def offline_sdk_verify() -> Callable[[str, dict[str, Any]], VerifyResponse]:
    return sdk_verify
