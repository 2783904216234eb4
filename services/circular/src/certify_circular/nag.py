"""The NAG client: ``POST <base>Circular_<Name>_`` with flat JSON, ``{Result, Response, Node}`` answers.

One long-lived httpx client, a timeout on every call, no retries here (the callers decide: only
idempotent reads may be retried). Every outcome other than ``Result == 200`` becomes a
:class:`~certify_common.errors.Failure` whose ``details`` carry the seed's fields ``type``,
``http_status``, ``nag_result_code`` and ``retry_suggestion``, plus ``sent``: ``no`` when the request
surely never reached the NAG, ``maybe`` when it may have been processed (timeout, dropped answer, 5xx).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from certify_circular.metrics import TRANSACTION_POLLS
from certify_circular.transaction import LIB_VERSION, SignedTransaction
from certify_common.errors import Failure, failure
from certify_common.metrics import upstream_call

logger = logging.getLogger("certify.circular.nag")

#: NAG result code → (our code, seed type, retryable, suggestion).
RESULT_CODES: dict[int, tuple[str, str, bool, str]] = {
    108: ("wallet_not_found", "WALLET_NOT_FOUND", False, "Register the wallet (C_TYPE_REGISTERWALLET) and fund it."),
    117: ("invalid_payload", "INVALID_PAYLOAD", False, "Rebuild the transaction; the payload or ID is not accepted."),
    118: ("invalid_format", "INVALID_FORMAT", False, "Check the addresses, ids and field formats."),
    119: ("invalid_signature", "INVALID_SIGNATURE", False, "Sign sha256(ID) with the wallet's registered key."),
    121: ("invalid_nonce", "INVALID_NONCE", True, "Fetch the wallet nonce again and use nonce + 1."),
}
NOT_FOUND = "Transaction Not Found"


@dataclass(frozen=True)
class Reply:
    """A successful NAG answer."""

    response: Any
    node: str | None


def nag_failure(
    code: str,
    message: str,
    *,
    type_: str,
    retryable: bool,
    suggestion: str,
    http_status: int | None = None,
    result_code: int | None = None,
    sent: str = "yes",
) -> Failure:
    """A failure in the common model with the seed's Circular fields in ``details``."""
    return failure(
        code,
        message,
        retryable=retryable,
        type=type_,
        http_status=http_status,
        nag_result_code=result_code,
        retry_suggestion=suggestion,
        sent=sent,
    )


def _unavailable(message: str, *, http_status: int | None, sent: str) -> Failure:
    return nag_failure(
        "nag_unavailable",
        message,
        type_="API_UNAVAILABLE",
        retryable=True,
        suggestion="Retry later with the same idempotency_key; nothing is submitted twice.",
        http_status=http_status,
        sent=sent,
    )


class NagClient:
    """Calls one NAG for one blockchain."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, blockchain: str, timeout_s: float) -> None:
        self.http = http
        self.base_url = base_url
        self.blockchain = blockchain
        self.timeout_s = timeout_s

    async def call(self, name: str, body: dict[str, Any]) -> Reply | Failure:
        """One POST; a :class:`Reply` for ``Result`` 200, else a failure."""
        with upstream_call("circular", "nag") as outcome:
            try:
                response = await self.http.post(self.base_url + name, json=body, timeout=self.timeout_s)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                outcome["outcome"] = "unavailable"
                logger.warning("NAG unreachable", extra={"endpoint": name, "error": type(exc).__name__})
                return _unavailable(f"the NAG is unreachable ({type(exc).__name__})", http_status=None, sent="no")
            except httpx.HTTPError as exc:
                outcome["outcome"] = "unavailable"
                logger.warning("NAG answer lost", extra={"endpoint": name, "error": type(exc).__name__})
                return _unavailable(f"the NAG answer was lost ({type(exc).__name__})", http_status=None, sent="maybe")
            if response.status_code != 200:
                outcome["outcome"] = "http_error"
                sent = "maybe" if response.status_code >= 500 else "yes"
                return _unavailable(
                    f"the NAG answered HTTP {response.status_code}", http_status=response.status_code, sent=sent
                )
            try:
                data = json.loads(response.content, parse_float=Decimal)
                result = int(data["Result"])
                payload = data["Response"]
            except (ValueError, KeyError, TypeError):
                outcome["outcome"] = "invalid"
                return nag_failure(
                    "nag_invalid_response",
                    "the NAG answer is not a {Result, Response} envelope",
                    type_="INVALID_RESPONSE",
                    retryable=True,
                    suggestion="Retry later; check CIRCULAR_NAG_URL points at a NAG.",
                    http_status=200,
                    sent="maybe",
                )
            if result != 200:
                outcome["outcome"] = "rejected"
                code, type_, retryable, suggestion = RESULT_CODES.get(
                    result, ("nag_error", "NAG_ERROR", False, "See nag_result_code and the message.")
                )
                text = payload if isinstance(payload, str) else json.dumps(payload, default=str)[:200]
                return nag_failure(
                    code,
                    f"the NAG refused: {text}",
                    type_=type_,
                    retryable=retryable,
                    suggestion=suggestion,
                    http_status=200,
                    result_code=result,
                )
            outcome["outcome"] = "ok"
            node = data.get("Node")
            return Reply(payload, node if isinstance(node, str) else None)

    async def wallet_nonce(self, address: str) -> int | Failure:
        """The wallet's current nonce (the next transaction uses it + 1)."""
        reply = await self.call(
            "Circular_GetWalletNonce_", {"Blockchain": self.blockchain, "Address": address, "Version": LIB_VERSION}
        )
        if isinstance(reply, Failure):
            return reply
        nonce = reply.response.get("Nonce") if isinstance(reply.response, dict) else None
        if not isinstance(nonce, int) or isinstance(nonce, bool) or nonce < 0:
            return _invalid_answer("Circular_GetWalletNonce_ answered no Nonce")
        return nonce

    async def add_transaction(self, tx: SignedTransaction) -> Reply | Failure:
        """Submit a signed transaction."""
        return await self.call("Circular_AddTransaction_", tx.to_body())

    async def transaction(self, tx_id: str, purpose: str) -> dict[str, Any] | Failure | None:
        """The transaction record, None for "Transaction Not Found"; counted in the polls metric."""
        TRANSACTION_POLLS.labels(purpose).inc()
        body = {"Blockchain": self.blockchain, "ID": tx_id, "Start": "0", "End": "10", "Version": LIB_VERSION}
        reply = await self.call("Circular_GetTransactionbyID_", body)
        if isinstance(reply, Failure):
            return reply
        if reply.response == NOT_FOUND:
            return None
        if not isinstance(reply.response, dict) or not isinstance(reply.response.get("Status"), str):
            return _invalid_answer("Circular_GetTransactionbyID_ answered no record")
        return reply.response

    async def wallet(self, address: str) -> dict[str, Any] | Failure:
        """``Circular_GetWallet_``: address, public key, nonce, assets."""
        reply = await self.call(
            "Circular_GetWallet_", {"Blockchain": self.blockchain, "Address": address, "Version": LIB_VERSION}
        )
        if isinstance(reply, Failure):
            return reply
        if not isinstance(reply.response, dict) or not isinstance(reply.response.get("PublicKey"), str):
            return _invalid_answer("Circular_GetWallet_ answered no PublicKey")
        return reply.response

    async def balance(self, address: str, asset: str) -> Decimal | Failure:
        """``Circular_GetWalletBalance_`` as an exact Decimal."""
        body = {"Blockchain": self.blockchain, "Address": address, "Asset": asset, "Version": LIB_VERSION}
        reply = await self.call("Circular_GetWalletBalance_", body)
        if isinstance(reply, Failure):
            return reply
        value = reply.response.get("Balance") if isinstance(reply.response, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            return _invalid_answer("Circular_GetWalletBalance_ answered no Balance")
        try:
            return Decimal(value)
        except ArithmeticError:
            return _invalid_answer("Circular_GetWalletBalance_ answered a non-numeric Balance")


def _invalid_answer(message: str) -> Failure:
    return nag_failure(
        "nag_invalid_response",
        message,
        type_="INVALID_RESPONSE",
        retryable=True,
        suggestion="Retry later; check CIRCULAR_NAG_URL points at a NAG.",
        http_status=200,
    )
