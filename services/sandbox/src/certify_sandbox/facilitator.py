"""Sandbox x402 facilitator: ``/facilitator/verify``, ``/settle``, ``/supported`` over the USDC ledgers.

Answers exactly as the spec and the official SDK's facilitator do (HTTP 200, ``isValid`` /
``success`` with the SDK's reason codes), checking signatures itself with eth-account. A
``settlement_pending`` mode broadcasts (the transfer happens) but answers
``errorReason: settlement_pending`` with the transaction hash; re-posting the same payload then
reconciles against that transaction, as the SDK's pending-settlement store does, never paying twice.
Also: ``POST /faucet/usdc`` and ``/_control/usdc`` (pending mode, EIP-1271 smart wallets, counters).
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from certify_common.evm import ADDRESS_PATTERN, NETWORKS, is_address
from certify_sandbox.faults import Faults
from certify_sandbox.usdc_ledger import LedgerError, Ledgers, TransferAuthorization, UsdcLedger, ledgers_for

FACILITATOR_ADDRESS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
_NONCE = re.compile(r"^0x[0-9a-fA-F]{64}$")


class Rejected(Exception):
    """A verification failure with the SDK's reason code."""

    def __init__(self, reason: str, payer: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.payer = payer


class FaucetRequest(BaseModel):
    network: str
    address: str = Field(pattern=f"^{ADDRESS_PATTERN}$")
    amount_atomic: int = Field(gt=0)


class PendingMode(BaseModel):
    enabled: bool


class ContractWalletRequest(BaseModel):
    network: str
    owner: str = Field(pattern=f"^{ADDRESS_PATTERN}$")


def _authorization(payload: Any) -> tuple[TransferAuthorization, str]:
    inner = payload.get("payload") if isinstance(payload, dict) else None
    auth = inner.get("authorization") if isinstance(inner, dict) else None
    signature = inner.get("signature") if isinstance(inner, dict) else None
    if not isinstance(auth, dict) or not isinstance(signature, str):
        raise Rejected("invalid_payload", None)
    payer = auth.get("from") if isinstance(auth.get("from"), str) else None
    try:
        if not (is_address(auth["from"]) and is_address(auth["to"]) and _NONCE.match(auth["nonce"])):
            raise ValueError("bad address or nonce")
        parsed = TransferAuthorization(
            auth["from"],
            auth["to"],
            int(auth["value"]),
            int(auth["validAfter"]),
            int(auth["validBefore"]),
            auth["nonce"],
        )
        bytes.fromhex(signature.removeprefix("0x"))
    except (KeyError, TypeError, ValueError) as exc:
        raise Rejected("invalid_payload", payer) from exc
    return parsed, signature


def _verify(ledgers: Ledgers, body: dict[str, Any], now: int) -> tuple[UsdcLedger, TransferAuthorization, str]:
    """The SDK facilitator's checks in its order, then the on-chain ones; raise :class:`Rejected`."""
    payload, requirements = body.get("paymentPayload"), body.get("paymentRequirements")
    if not isinstance(payload, dict) or not isinstance(requirements, dict):
        raise Rejected("invalid_payload", None)
    auth, signature = _authorization(payload)
    payer = auth.from_address
    chosen = payload.get("accepted") if payload.get("x402Version") == 2 else payload
    chosen = chosen if isinstance(chosen, dict) else {}
    if chosen.get("scheme") != "exact" or requirements.get("scheme") != "exact":
        raise Rejected("unsupported_scheme", payer)
    if chosen.get("network") != requirements.get("network"):
        raise Rejected("network_mismatch", payer)
    ledger = ledgers.find(str(requirements.get("network")))
    if ledger is None:
        raise Rejected("invalid_exact_evm_failed_to_get_network_config", payer)
    extra = requirements.get("extra") or {}
    if not isinstance(extra, dict) or "name" not in extra or "version" not in extra:
        raise Rejected("missing_eip712_domain", payer)
    if auth.to.lower() != str(requirements.get("payTo", "")).lower():
        raise Rejected("invalid_exact_evm_payload_recipient_mismatch", payer)
    amount = requirements.get("amount", requirements.get("maxAmountRequired"))
    if str(auth.value) != str(amount):
        raise Rejected("invalid_exact_evm_payload_authorization_value_mismatch", payer)
    if auth.valid_before < now + 6:
        raise Rejected("invalid_exact_evm_payload_authorization_valid_before", payer)
    if auth.valid_after > now:
        raise Rejected("invalid_exact_evm_payload_authorization_valid_after", payer)
    if str(requirements.get("asset", "")).lower() != ledger.network.usdc_address.lower():
        raise Rejected("asset_not_deployed_contract", payer)
    try:
        # The contract's own rules (its real domain, nonce state, balance); validAfter == now is fine a block later.
        ledger.check(auth, signature, max(now, auth.valid_after + 1))
    except LedgerError as exc:
        raise Rejected(exc.reason, payer) from exc
    return ledger, auth, signature


def _settle(ledgers: Ledgers, body: dict[str, Any], now: int) -> dict[str, Any]:
    payload = body.get("paymentPayload")
    requirements = body.get("paymentRequirements") or {}
    network = str(requirements.get("network", "")) if isinstance(requirements, dict) else ""
    signature = str(((payload or {}).get("payload") or {}).get("signature", "")) if isinstance(payload, dict) else ""
    if signature and signature in ledgers.pending:
        # A retried payload whose broadcast was answered settlement_pending: reconcile, never re-broadcast.
        tx_hash = ledgers.pending.pop(signature)
        ledgers.reconciled += 1
        payer = ((payload or {}).get("payload") or {}).get("authorization", {}).get("from")
        return {"success": True, "payer": payer, "transaction": tx_hash, "network": network}
    try:
        ledger, auth, signature = _verify(ledgers, body, now)
        tx = ledger.transfer_with_authorization(auth, signature, max(now, auth.valid_after + 1))
    except Rejected as exc:
        return {"success": False, "errorReason": exc.reason, "payer": exc.payer, "transaction": "", "network": network}
    except LedgerError as exc:
        return {
            "success": False,
            "errorReason": exc.reason,
            "payer": auth.from_address,
            "transaction": "",
            "network": network,
        }
    if ledgers.settlement_pending:
        ledgers.pending[signature] = tx.tx_hash
        return {
            "success": False,
            "errorReason": "settlement_pending",
            "errorMessage": "transaction broadcast; receipt not available yet",
            "payer": auth.from_address,
            "transaction": tx.tx_hash,
            "network": network,
        }
    return {"success": True, "payer": auth.from_address, "transaction": tx.tx_hash, "network": network}


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise HTTPException(400, "the body is not JSON") from exc
    if not isinstance(body, dict):
        raise HTTPException(400, "the body is not a JSON object")
    return body


def build_router(faults: Faults) -> APIRouter:
    """The facilitator, the USDC faucet and their control endpoints."""
    router = APIRouter(tags=["facilitator"])
    ledgers = ledgers_for(faults)

    async def fault(endpoint: str) -> JSONResponse | None:
        status = await faults.apply("facilitator", endpoint)
        return None if status is None else JSONResponse({"error": "injected fault"}, status_code=status)

    @router.post("/facilitator/verify")
    async def verify(request: Request) -> Any:
        if (injected := await fault("verify")) is not None:
            return injected
        body = await _body(request)
        try:
            _, auth, _ = _verify(ledgers, body, int(time.time()))
        except Rejected as exc:
            return {"isValid": False, "invalidReason": exc.reason, "payer": exc.payer}
        return {"isValid": True, "payer": auth.from_address}

    @router.post("/facilitator/settle")
    async def settle(request: Request) -> Any:
        if (injected := await fault("settle")) is not None:
            return injected
        answer = _settle(ledgers, await _body(request), int(time.time()))
        await faults.hold_answer("facilitator", "settle")
        return answer

    @router.get("/facilitator/supported")
    async def supported() -> dict[str, Any]:
        kinds: list[dict[str, Any]] = [
            {"x402Version": 2, "scheme": "exact", "network": network.caip2} for network in NETWORKS.values()
        ]
        kinds += [
            {"x402Version": 1, "scheme": "exact", "network": network.v1_name}
            for network in NETWORKS.values()
            if network.v1_name is not None
        ]
        return {"kinds": kinds, "extensions": [], "signers": {"eip155:*": [FACILITATOR_ADDRESS]}}

    @router.post("/faucet/usdc")
    async def faucet(request: FaucetRequest) -> dict[str, Any]:
        ledger = ledgers.find(request.network)
        if ledger is None:
            raise HTTPException(404, f"unknown network {request.network}")
        tx = ledger.mint(request.address, request.amount_atomic)
        return {
            "network": ledger.network.name,
            "address": request.address,
            "balance_atomic": str(ledger.balance_of(request.address)),
            "transaction": tx.tx_hash,
        }

    @router.put("/_control/usdc/settlement-pending")
    async def set_pending(mode: PendingMode) -> PendingMode:
        ledgers.settlement_pending = mode.enabled
        return mode

    @router.post("/_control/usdc/contract-wallet")
    async def contract_wallet(request: ContractWalletRequest) -> dict[str, str]:
        ledger = ledgers.find(request.network)
        if ledger is None:
            raise HTTPException(404, f"unknown network {request.network}")
        return {"network": ledger.network.name, "address": ledger.add_contract_wallet(request.owner)}

    @router.get("/_control/usdc/stats")
    async def stats() -> dict[str, Any]:
        return {
            "authorization_transfers": ledgers.authorization_transfers(),
            "settle_calls": faults.calls["facilitator.settle"],
            "verify_calls": faults.calls["facilitator.verify"],
            "reconciled": ledgers.reconciled,
            "pending": len(ledgers.pending),
            "block_numbers": {name: ledger.block_number for name, ledger in ledgers.by_network.items()},
        }

    return router
