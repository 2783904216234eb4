"""Circular transactions, byte for byte as the official Python library (``circular-enterprise-apis``) builds them.

Pure functions only (no I/O): the payload text, the timestamp format, the transaction ID and the
signed request body. ``specs/circular.md`` describes each step; the vectors made by the
official library pin every byte.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

from certify_circular.keys import Wallet, address_of, strip_0x, verify_signature

#: The ``Version`` every request body carries (the official library's ``LIB_VERSION``).
LIB_VERSION = "1.0.13"
CERTIFICATE_TYPE = "C_TYPE_CERTIFICATE"
REGISTER_WALLET_TYPE = "C_TYPE_REGISTERWALLET"
CERTIFICATE_ACTION = "CP_CERTIFICATE"
TIMESTAMP_FORMAT = "%Y:%m:%d-%H:%M:%S"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^\d{4}:\d{2}:\d{2}-\d{2}:\d{2}:\d{2}$")


def format_timestamp(moment: datetime) -> str:
    """``YYYY:MM:DD-hh:mm:ss`` in UTC, as the official library's ``get_formatted_timestamp``."""
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime | None:
    """The UTC moment of a Circular timestamp, or None when it is not in the Circular format."""
    if not _TIMESTAMP.match(text):
        return None
    try:
        return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def iso_timestamp(text: str) -> str:
    """A Circular timestamp as ISO-8601 UTC (``2025-01-01T00:00:00Z``); unparseable text is returned as is."""
    moment = parse_timestamp(text)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else text


def text_to_hex(text: str) -> str:
    """Lower-case hex of the UTF-8 bytes (the official ``string_to_hex``)."""
    return text.encode("utf-8").hex()


def certificate_payload_json(data_string: str) -> str:
    """The payload JSON with the Python library's separators (``", "`` and ``": "``).

    Written as a template: both values are plain ASCII (the action and hex digits), which ``json.dumps``
    would emit unchanged; the vectors and the official-library property test hold it equal.
    """
    return f'{{"Action": "{CERTIFICATE_ACTION}", "Data": "{text_to_hex(data_string)}"}}'


def certified_data_of(payload_hex: str) -> str | None:
    """The certified data string inside a certificate payload, or None when it is not one."""
    try:
        payload = json.loads(bytes.fromhex(payload_hex).decode("utf-8"))
        if not isinstance(payload, dict) or payload.get("Action") != CERTIFICATE_ACTION:
            return None
        data = payload.get("Data")
        return bytes.fromhex(data).decode("utf-8") if isinstance(data, str) else None
    except (ValueError, UnicodeDecodeError):
        return None


def transaction_id(blockchain: str, sender: str, recipient: str, payload_hex: str, nonce: str, timestamp: str) -> str:
    """SHA-256 hex of Blockchain + From + To + Payload + Nonce + Timestamp (hex fields without 0x)."""
    preimage = strip_0x(blockchain) + strip_0x(sender) + strip_0x(recipient) + payload_hex + nonce + timestamp
    return hashlib.sha256(preimage.encode("utf-8")).hexdigest()


class SignedTransaction(NamedTuple):
    """A transaction ready for ``Circular_AddTransaction_`` (all wire values are strings; immutable, built in C)."""

    id: str
    sender: str
    recipient: str
    timestamp: str
    payload: str
    nonce: str
    signature: str
    blockchain: str
    type: str

    def to_body(self) -> dict[str, str]:
        """The request body, keys in the official library's order."""
        return {
            "ID": self.id,
            "From": self.sender,
            "To": self.recipient,
            "Timestamp": self.timestamp,
            "Payload": self.payload,
            "Nonce": self.nonce,
            "Signature": self.signature,
            "Blockchain": self.blockchain,
            "Type": self.type,
            "Version": LIB_VERSION,
        }

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> SignedTransaction:
        """Back from a stored body (``KeyError`` when a field is missing)."""
        return cls(
            id=str(body["ID"]),
            sender=str(body["From"]),
            recipient=str(body["To"]),
            timestamp=str(body["Timestamp"]),
            payload=str(body["Payload"]),
            nonce=str(body["Nonce"]),
            signature=str(body["Signature"]),
            blockchain=str(body["Blockchain"]),
            type=str(body["Type"]),
        )


def build_certificate(
    wallet: Wallet, blockchain: str, data_string: str, nonce: int, timestamp: str
) -> SignedTransaction:
    """A signed C_TYPE_CERTIFICATE from the wallet to itself certifying ``data_string``."""
    chain = strip_0x(blockchain)
    payload = text_to_hex(certificate_payload_json(data_string))
    nonce_text = str(nonce)
    # transaction_id's preimage, the fields already without 0x (a wallet's address never has one).
    preimage = chain + wallet.address + wallet.address + payload + nonce_text + timestamp
    tx_id = hashlib.sha256(preimage.encode("utf-8")).hexdigest()
    # Positional, in the field order (id, sender, recipient, timestamp, payload, nonce, signature, blockchain, type).
    address = wallet.address
    signature = wallet.sign_text(tx_id)
    return SignedTransaction(
        tx_id, address, address, timestamp, payload, nonce_text, signature, chain, CERTIFICATE_TYPE
    )


def build_wallet_registration(wallet: Wallet, blockchain: str, timestamp: str) -> SignedTransaction:
    """The C_TYPE_REGISTERWALLET transaction announcing the wallet's public key (nonce 0, no signature)."""
    chain = strip_0x(blockchain)
    payload_json = json.dumps(
        {"Action": "CP_REGISTERWALLET", "PublicKey": wallet.public_key_hex}, separators=(",", ":")
    )
    payload = text_to_hex(payload_json)
    tx_id = transaction_id(chain, wallet.address, wallet.address, payload, "0", timestamp)
    return SignedTransaction(
        tx_id, wallet.address, wallet.address, timestamp, payload, "0", "", chain, REGISTER_WALLET_TYPE
    )


def transaction_problem(tx: SignedTransaction, public_key_hex: str) -> str | None:
    """Why a signed transaction is not genuine for this public key, or None when it is.

    Pure: recomputes the ID from the fields, checks the sender is the key's address and the
    signature covers the ID.
    """
    if not HEX64.match(tx.id):
        return "ID is not 64 lower-case hex"
    if address_of(strip_0x(public_key_hex).lower()) != strip_0x(tx.sender):
        return "From is not the address of the public key"
    expected = transaction_id(tx.blockchain, tx.sender, tx.recipient, tx.payload, tx.nonce, tx.timestamp)
    if expected != tx.id:
        return "ID does not match the transaction fields"
    if not verify_signature(public_key_hex, tx.id, tx.signature):
        return "signature does not sign the ID with this key"
    return None
