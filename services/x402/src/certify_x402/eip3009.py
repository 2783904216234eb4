"""EIP-712 typed data of EIP-3009 ``TransferWithAuthorization`` and local signer recovery (coincurve).

A wrong domain name (``USDC`` vs ``USD Coin``) recovers a different address, so the domain always
comes from the network table / the requirements' ``extra``, never from the payer. The digest is
:func:`certify_common.eip3009.digest` (hand-encoded, cached domain separator); recovery is
libsecp256k1's through coincurve, with eth-account's acceptance rules for ``v`` and ``r``/``s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coincurve import PublicKey
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address

from certify_common import eip3009
from certify_x402.wire import Authorization

#: The order of secp256k1: r and s must lie in [0, N) (eth-keys' rule; coincurve then refuses 0).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_N_BYTES = SECP256K1_N.to_bytes(32, "big")


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain of one USDC contract."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str


def _fields(authorization: Authorization, domain: Domain) -> dict[str, Any]:
    # The keyword arguments of certify_common.eip3009's digest, from our two wire objects.
    return {
        "name": domain.name,
        "version": domain.version,
        "chain_id": domain.chain_id,
        "verifying_contract": domain.verifying_contract,
        "from_address": authorization.from_address,
        "to": authorization.to,
        "value": authorization.value,
        "valid_after": authorization.valid_after,
        "valid_before": authorization.valid_before,
        "nonce": authorization.nonce,
    }


def digest_bytes(authorization: Authorization, domain: Domain) -> bytes:
    """The 32-byte EIP-712 digest of the authorization under the domain."""
    return eip3009.digest(**_fields(authorization, domain))


def digest(authorization: Authorization, domain: Domain) -> str:
    """The 32-byte EIP-712 digest as 0x-hex."""
    return "0x" + digest_bytes(authorization, domain).hex()


def _recovery_id(v: int) -> int | None:
    """eth-account's reading of ``v``: 0/1, 27/28, or EIP-155 style 35+ (parity); anything else is refused."""
    if v in (0, 1):
        return v
    if v in (27, 28):
        return v - 27
    if v >= 35:
        return (v - 35) % 2
    return None


def recover_address(message_hash: bytes, signature: bytes) -> str | None:
    """The lower-case 0x address that signed a 32-byte hash with a 65-byte ``r‖s‖v`` signature, or None."""
    if len(signature) != 65:
        return None
    recovery_id = _recovery_id(signature[64])
    if recovery_id is None or signature[:32] >= _N_BYTES or signature[32:64] >= _N_BYTES:
        return None
    try:
        public_key = PublicKey.from_signature_and_message(
            signature[:64] + bytes((recovery_id,)), message_hash, hasher=None
        )
    except ValueError:  # r or s is zero, or no point has this r
        return None
    return "0x" + keccak(public_key.format(compressed=False)[1:])[12:].hex()


def recovered_address(authorization: Authorization, domain: Domain, signature: str) -> str | None:
    """:func:`recover_address` of a 0x-hex signature over the authorization's digest (lower-case)."""
    return recover_address(digest_bytes(authorization, domain), bytes.fromhex(signature[2:]))


def recover_signer(authorization: Authorization, domain: Domain, signature: str) -> str | None:
    """The checksummed address that produced a 65-byte ``r‖s‖v`` signature, or None when it cannot be recovered."""
    address = recovered_address(authorization, domain, signature)
    return None if address is None else to_checksum_address(address)
