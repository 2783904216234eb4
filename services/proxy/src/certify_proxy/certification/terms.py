"""What a certification request asks for: every body field that changes its outcome.

A replay of a ``request_id`` is the same request only when these terms are equal; any difference
(the document, its size, the network, the callback, the client type or the file name shown on the
payment page) is a conflict. Terms are compared field by field against the stored row, so the
comparison names the fields that differ and does not depend on how an older row's digest was made.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

from certify_proxy.store.models import CertificationRequest

DEFAULT_CLIENT_TYPE = "agent"


@dataclass(frozen=True)
class Terms:
    """The outcome-changing fields of a request, normalised (defaults filled in, hash lower-case)."""

    data_hash: str
    data_size_bytes: int
    network: str
    client_type: str
    callback_url: str | None
    file_name: str | None

    @classmethod
    def of_request(cls, request: CertificationRequest) -> Terms:
        """The terms a stored request was created with."""
        return cls(
            data_hash=request.data_hash,
            data_size_bytes=request.data_size_bytes,
            network=request.network,
            client_type=request.client_type,
            callback_url=request.callback_url,
            file_name=request.file_name,
        )

    @property
    def fingerprint(self) -> str:
        """A SHA-256 digest of the terms (stored with the request)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def differences(self, other: Terms) -> list[str]:
        """Names of the fields whose values differ, in declaration order."""
        return [item.name for item in fields(self) if getattr(self, item.name) != getattr(other, item.name)]


def owner_for(api_key_id: int | None, terms: Terms) -> str:
    """The namespace of a request's ``request_id``: its API key, or for keyless requests what they ask for.

    A keyless client has no identity but its body, so two keyless clients reusing an id never meet
    unless they ask for exactly the same thing (then they share that request's offer, as retries do).
    """
    return key_owner(api_key_id) if api_key_id is not None else f"open:{terms.fingerprint}"


def key_owner(api_key_id: int) -> str:
    """The namespace of the requests made with one API key."""
    return f"key:{api_key_id}"
