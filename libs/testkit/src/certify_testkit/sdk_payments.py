"""Signed x402 payments and their verdicts from the official SDK (installed with its ``evm`` extra), for
tests and benchmarks: the one place that builds an offer, pays it as the SDK's client and verifies it as
the SDK's facilitator, offline."""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

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

from certify_common.errors import Failure
from certify_common.evm import NETWORKS
from certify_x402.requirements import Offer, build_offer

#: The recipient of the sample offers.
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"


class OfflineChain:
    """What the SDK's facilitator asks the chain, answered offline: payers are plain accounts (no code),
    the USDC contracts exist, and the transfer simulation succeeds. Balance and nonce are not judged."""

    tokens: ClassVar[set[str]] = {network.usdc_address.lower() for network in NETWORKS.values()}

    def get_addresses(self) -> list[str]:
        return ["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"]

    def get_code(self, address: str) -> bytes:
        return b"\x60\x80" if address.lower() in self.tokens else b""

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


def sample_offer(resource: str, *, network: str = "base-sepolia", amount_atomic: int = 25_000) -> Offer:
    """The x402 server's offer (``build_offer``) of ``amount_atomic`` USDC for ``resource``, paid to :data:`PAY_TO`."""
    offer = build_offer(
        network_name=network,
        enabled=list(NETWORKS),
        amount_atomic=amount_atomic,
        pay_to=PAY_TO,
        resource=resource,
        description="certification",
        mime_type="application/json",
        max_timeout_seconds=300,
    )
    assert not isinstance(offer, Failure), offer
    return offer


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


def signed_payment(key: str, resource: str) -> tuple[str, dict[str, Any]]:
    """(payment header, v2 requirements): the SDK client's payment of :func:`sample_offer` signed with ``key``."""
    offer = sample_offer(resource)
    return sdk_pay(offer.payment_required_v2, key), offer.requirements_v2


def sdk_verify(header: str, requirements: dict[str, Any]) -> VerifyResponse:
    """The SDK facilitator's own verification, run offline (signature, window, fields; no balances)."""
    obj = json.loads(base64.b64decode(header))
    payload = parse_payment_payload(obj)
    parsed = parse_payment_requirements(obj["x402Version"], requirements)
    chain: Any = OfflineChain()  # answers only what verification asks of the SDK's FacilitatorEvmSigner
    scheme: Any = SdkFacilitatorV1(chain) if obj["x402Version"] == 1 else SdkFacilitatorV2(chain)
    return scheme.verify(payload, parsed)  # type: ignore[no-any-return]
