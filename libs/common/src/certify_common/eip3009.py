"""The EIP-712 typed data of an EIP-3009 ``TransferWithAuthorization`` — one definition for every party.

The x402 server recovers signers from it, the sandbox's USDC ledger verifies with it, the proxy hands it
to people who sign by hand, and the payment page asks wallets to sign it (``eth_signTypedData_v4``).
The domain (name, version, chain id, contract) always comes from the network table, never from the payer.
"""

from __future__ import annotations

from typing import Any

TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "TransferWithAuthorization": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "validAfter", "type": "uint256"},
        {"name": "validBefore", "type": "uint256"},
        {"name": "nonce", "type": "bytes32"},
    ],
}
PRIMARY_TYPE = "TransferWithAuthorization"


def typed_data(
    *,
    name: str,
    version: str,
    chain_id: int,
    verifying_contract: str,
    from_address: str,
    to: str,
    value: int | str,
    valid_after: int | str,
    valid_before: int | str,
    nonce: str,
) -> dict[str, Any]:
    """The full ``eth_signTypedData_v4`` document; integers are kept as given (ints or decimal strings)."""
    return {
        "types": TYPES,
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": name, "version": version, "chainId": chain_id, "verifyingContract": verifying_contract},
        "message": {
            "from": from_address,
            "to": to,
            "value": value,
            "validAfter": valid_after,
            "validBefore": valid_before,
            "nonce": nonce,
        },
    }
