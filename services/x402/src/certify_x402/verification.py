"""The offline checks of an ``exact`` EIP-3009 payment against its requirements, in the SDK's order.

Every check of specs/x402.md that needs no network: scheme, network, asset, EIP-712 domain,
recipient, exact amount, validity window (6 s of margin, bounded by ``maxTimeoutSeconds``) and the
signature recovered locally. Reasons are snake_case codes; :data:`SDK_REASONS` maps the official
SDK's ``invalidReason`` codes to ours (facilitator answers go through it too).
"""

from __future__ import annotations

from dataclasses import dataclass

from certify_common.x402_wire import accepted_matches
from certify_x402.eip3009 import Domain, recovered_address
from certify_x402.wire import Payment, Requirement

#: validBefore must leave this much time for settlement (the SDK's margin).
VALID_BEFORE_MARGIN_S = 6
#: Clock skew tolerated beyond maxTimeoutSeconds when bounding the window.
WINDOW_SLACK_S = 60

#: The official SDK's reasons → certify's codes.
SDK_REASONS = {
    "unsupported_scheme": "unsupported_scheme",
    "network_mismatch": "network_mismatch",
    "missing_eip712_domain": "missing_eip712_domain",
    "invalid_exact_evm_payload_recipient_mismatch": "recipient_mismatch",
    "invalid_exact_evm_payload_authorization_value_mismatch": "amount_mismatch",
    "invalid_exact_evm_payload_authorization_valid_before": "expired",
    "invalid_exact_evm_payload_authorization_valid_after": "not_yet_valid",
    "invalid_exact_evm_payload_signature": "invalid_signature",
    "invalid_exact_evm_failed_to_verify_signature": "invalid_signature",
    "invalid_exact_evm_nonce_already_used": "nonce_already_used",
    "invalid_exact_evm_insufficient_balance": "insufficient_funds",
    "invalid_exact_evm_failed_to_get_network_config": "unknown_network",
    # bandit B105: reason codes, not secrets ("token" in the key reads as a password to bandit).
    "invalid_exact_evm_token_name_mismatch": "eip712_domain_mismatch",  # nosec B105
    "invalid_exact_evm_token_version_mismatch": "eip712_domain_mismatch",  # nosec B105
    "asset_not_deployed_contract": "asset_mismatch",
}


def our_reason(sdk_reason: str | None) -> str:
    """Map an SDK / facilitator reason to certify's code (unknown ones stay recognisable)."""
    if not sdk_reason:
        return "facilitator_rejected"
    return SDK_REASONS.get(sdk_reason, "facilitator_rejected")


@dataclass(frozen=True)
class Verdict:
    """Outcome of verification: valid, or the first failed check's reason."""

    is_valid: bool
    reason: str | None
    message: str | None
    payer: str | None


def _invalid(reason: str, message: str, payer: str | None) -> Verdict:
    return Verdict(False, reason, message, payer)


def domain_of(requirement: Requirement) -> Domain | None:
    """The EIP-712 domain the payer signed under, as the requirements state it."""
    name, version = requirement.extra.get("name"), requirement.extra.get("version")
    if requirement.network is None or not isinstance(name, str) or not isinstance(version, str):
        return None
    return Domain(name, version, requirement.network.chain_id, requirement.asset)


def check_payment(payment: Payment, requirement: Requirement, now: int, *, signer_verified: bool = False) -> Verdict:
    """Run every offline check; ``now`` is the Unix time the window is judged at.

    ``signer_verified`` skips the ECDSA recovery when the signature was accepted on chain instead
    (EIP-1271 smart wallets, whose signatures do not recover to their address).
    """
    auth = payment.authorization
    payer = auth.from_address
    network = requirement.network
    if payment.scheme != "exact" or requirement.scheme != "exact":
        return _invalid("unsupported_scheme", "only the exact scheme is accepted", payer)
    if payment.version != requirement.version:
        return _invalid(
            "version_mismatch", f"a v{payment.version} payment for v{requirement.version} requirements", payer
        )
    if network is None or payment.network_id not in (network.caip2, network.v1_name, network.name):
        return _invalid("network_mismatch", "the payment is for another network", payer)
    accepted_asset = payment.accepted.asset if payment.accepted is not None else requirement.asset
    if requirement.asset.lower() != network.usdc_address.lower() or str(accepted_asset).lower() != (
        requirement.asset.lower()
    ):
        return _invalid("asset_mismatch", f"the asset must be USDC on {network.name}", payer)
    name, version = requirement.extra.get("name"), requirement.extra.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        return _invalid("missing_eip712_domain", "extra.name and extra.version are required", payer)
    if auth.to.lower() != requirement.pay_to.lower():
        return _invalid("recipient_mismatch", "authorization.to is not the payee", payer)
    if auth.value != requirement.amount_atomic:
        return _invalid("amount_mismatch", "authorization.value differs from the required amount", payer)
    if auth.valid_before < now + VALID_BEFORE_MARGIN_S:
        return _invalid("expired", "the authorization expires too soon or has expired", payer)
    if auth.valid_after > now:
        return _invalid("not_yet_valid", "the authorization is not valid yet", payer)
    if requirement.max_timeout_seconds > 0 and auth.valid_before > now + requirement.max_timeout_seconds + (
        WINDOW_SLACK_S
    ):
        return _invalid("validity_too_long", "validBefore is beyond maxTimeoutSeconds", payer)
    domain = Domain(name, version, network.chain_id, requirement.asset)
    signer = payer if signer_verified else recovered_address(auth, domain, payment.signature)
    if signer is None or signer.lower() != payer.lower():
        return _invalid("invalid_signature", "the signature does not recover to authorization.from", payer)
    if (name, version) != (network.eip712_name, network.eip712_version):
        return _invalid("eip712_domain_mismatch", f"USDC on {network.name} signs as {network.eip712_name!r}", payer)
    # Last, so every check the SDK's facilitator makes answers first with the SDK's reason.
    if not accepted_matches(payment, requirement.raw):
        return _invalid("accepted_mismatch", "the accepted block differs from the offered requirements", payer)
    return Verdict(True, None, None, payer)
