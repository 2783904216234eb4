"""EIP-712 typed data of EIP-3009 ``TransferWithAuthorization`` and local signer recovery (eth-account).

A wrong domain name (``USDC`` vs ``USD Coin``) recovers a different address, so the domain always
comes from the network table / the requirements' ``extra``, never from the payer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data

from certify_common import eip3009
from certify_x402.payment import Authorization


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain of one USDC contract."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str


def typed_data(authorization: Authorization, domain: Domain) -> dict[str, Any]:
    """The full ``eth_signTypedData_v4`` document a wallet signs."""
    return eip3009.typed_data(
        name=domain.name,
        version=domain.version,
        chain_id=domain.chain_id,
        verifying_contract=domain.verifying_contract,
        from_address=authorization.from_address,
        to=authorization.to,
        value=authorization.value,
        valid_after=authorization.valid_after,
        valid_before=authorization.valid_before,
        nonce=authorization.nonce,
    )


def digest(authorization: Authorization, domain: Domain) -> str:
    """The 32-byte EIP-712 digest as 0x-hex."""
    return "0x" + _hash_eip191_message(encode_typed_data(full_message=typed_data(authorization, domain))).hex()


def recover_signer(authorization: Authorization, domain: Domain, signature: str) -> str | None:
    """The address that produced a 65-byte ``r‖s‖v`` signature, or None when it cannot be recovered."""
    raw = bytes.fromhex(signature[2:])
    if len(raw) != 65:
        return None
    signable = encode_typed_data(full_message=typed_data(authorization, domain))
    try:
        return str(Account.recover_message(signable, signature=raw))
    except Exception:  # noqa: BLE001 - eth-keys' BadSignature (not re-exported by eth-account) or ValueError
        return None
