"""Helpers for the NAG tests: transactions built with python-ecdsa, the way the official library does.

No tests here; kept apart so the NAG test modules share one independent transaction builder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ecdsa import SECP256k1, SigningKey
from ecdsa.util import sigencode_der

CHAIN = "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2"
STAMP = "2025:01:01-00:00:00"


@dataclass
class EcdsaWallet:
    key: SigningKey

    @classmethod
    def of(cls, secret: int) -> EcdsaWallet:
        return cls(SigningKey.from_secret_exponent(secret, curve=SECP256k1))

    @property
    def public_key(self) -> str:
        return "04" + self.key.get_verifying_key().to_string().hex()

    @property
    def address(self) -> str:
        return hashlib.sha256(self.public_key.encode()).hexdigest()

    def tx(
        self, action: dict[str, Any], nonce: str, tx_type: str, sign: bool = True, chain: str = CHAIN
    ) -> dict[str, str]:
        payload = json.dumps(action).encode().hex()
        tx_id = hashlib.sha256((chain + self.address + self.address + payload + nonce + STAMP).encode()).hexdigest()
        digest = hashlib.sha256(tx_id.encode()).digest()
        signature = self.key.sign_digest_deterministic(digest, hashfunc=hashlib.sha256, sigencode=sigencode_der).hex()
        return {
            "ID": tx_id,
            "From": self.address,
            "To": self.address,
            "Timestamp": STAMP,
            "Payload": payload,
            "Nonce": nonce,
            "Signature": signature if sign else "",
            "Blockchain": chain,
            "Type": tx_type,
            "Version": "1.0.13",
        }

    def registration(self) -> dict[str, str]:
        return self.tx(
            {"Action": "CP_REGISTERWALLET", "PublicKey": self.public_key}, "0", "C_TYPE_REGISTERWALLET", sign=False
        )

    def certificate(self, data: str, nonce: int) -> dict[str, str]:
        return self.tx({"Action": "CP_CERTIFICATE", "Data": data.encode().hex()}, str(nonce), "C_TYPE_CERTIFICATE")


def retyped(tx: dict[str, str], field: str, index: int = 10) -> dict[str, str]:
    """The transaction with one byte (hex digit or character) of ``field`` changed."""
    value = tx[field]
    replacement = "0" if value[index] != "0" else "1"
    return {**tx, field: value[:index] + replacement + value[index + 1 :]}
