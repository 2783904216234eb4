"""EIP-681 ERC-20 transfer URIs for x402 payment requirements — the one encoder every service uses.

``ethereum:<token>@<chainId>/transfer?address=<payTo>&uint256=<atomic amount>``. Such a URI makes
the payer broadcast a plain ``transfer``: it is *not* an x402 payment and no facilitator can settle
it (specs/x402.md, "Wallet links").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from certify_common.errors import Failure, failure
from certify_common.evm import UsdcNetwork, is_address, lookup
from certify_common.x402_wire import is_uint256

MAX_CALLBACK_URL_CHARS = 2048


@dataclass(frozen=True)
class TransferRequest:
    """The facts of one ERC-20 transfer, taken from v1 or v2 payment requirements."""

    network: UsdcNetwork
    token: str
    pay_to: str
    amount_atomic: int


def transfer_from_requirements(requirements: Mapping[str, Any]) -> TransferRequest | Failure:
    """Read network, asset, payTo and amount from x402 v1 (``maxAmountRequired``) or v2 (``amount``)."""
    network_id = str(requirements.get("network", ""))
    network = lookup(network_id)
    if network is None:
        return failure("unknown_network", f"network {network_id!r} is not supported", network=network_id)
    token = str(requirements.get("asset", ""))
    pay_to = str(requirements.get("payTo", ""))
    for name, value in (("asset", token), ("payTo", pay_to)):
        if not is_address(value):
            return failure("invalid_address", f"{name} is not a 0x-prefixed 20-byte address", field=name)
    raw_amount = requirements.get("amount", requirements.get("maxAmountRequired"))
    # A decimal string of ASCII digits (or a JSON integer): "²" and "١٢٣" are digits to str.isdigit, not here.
    amount = str(raw_amount) if type(raw_amount) is int else raw_amount
    if not is_uint256(amount) or int(amount) <= 0:
        return failure("invalid_amount", "the amount must be a positive integer of atomic units")
    return TransferRequest(network, token, pay_to, int(amount))


def eip681_uri(transfer: TransferRequest) -> str:
    """The EIP-681 URI of an ERC-20 ``transfer`` (amount in atomic units, plain decimal)."""
    return (
        f"ethereum:{transfer.token}@{transfer.network.chain_id}/transfer"
        f"?address={transfer.pay_to}&uint256={transfer.amount_atomic}"
    )


def eip681_from_requirements(requirements: Mapping[str, Any]) -> str | Failure:
    """Shorthand: requirements (v1 or v2) → EIP-681 URI, or the failure explaining why not."""
    transfer = transfer_from_requirements(requirements)
    return transfer if isinstance(transfer, Failure) else eip681_uri(transfer)


def with_callback(uri: str, callback_url: str) -> str:
    """The EIP-681 URI with ``&callback=<callback_url, percent-encoded>`` appended (wallets ignore unknown keys)."""
    return f"{uri}&callback={quote(callback_url, safe='')}"


def check_callback_url(url: str) -> str | Failure:
    """Accept an absolute http(s) URL with a host, no credentials and no whitespace; return it unchanged."""
    invalid = failure(
        "invalid_callback_url",
        f"callback_url must be an absolute http or https URL of at most {MAX_CALLBACK_URL_CHARS} characters",
    )
    if len(url) > MAX_CALLBACK_URL_CHARS or any(char.isspace() for char in url):
        return invalid
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return invalid
    if parts.scheme not in ("http", "https") or not hostname:
        return invalid
    if parts.username is not None or parts.password is not None:
        # A QR code is shown to anyone nearby: credentials have no place in it.
        return failure("invalid_callback_url", "callback_url must not carry a user name or password")
    return url


@dataclass(frozen=True)
class PaymentTransfer:
    """What a payment QR carries: the EIP-681 URI, the callback, and the exact QR text."""

    transfer: TransferRequest
    uri: str
    callback_url: str
    qr_data: str


def payment_transfer(
    requirements: Mapping[str, Any], callback_url: str, *, embed_callback: bool
) -> PaymentTransfer | Failure:
    """Requirements (v1 or v2) and a callback → the payment QR's content (identical for every service)."""
    callback = check_callback_url(callback_url)
    if isinstance(callback, Failure):
        return callback
    transfer = transfer_from_requirements(requirements)
    if isinstance(transfer, Failure):
        return transfer
    uri = eip681_uri(transfer)
    return PaymentTransfer(transfer, uri, callback, with_callback(uri, callback) if embed_callback else uri)
