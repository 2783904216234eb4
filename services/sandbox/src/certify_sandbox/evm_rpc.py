"""Sandbox EVM JSON-RPC at ``POST /rpc/{network}``: the subset the x402 server and its tests use.

``eth_chainId``, ``eth_blockNumber``, ``eth_getCode``, ``eth_call`` to the USDC contract (``balanceOf``,
``authorizationState``, at the head or at an earlier block) and to sandbox smart wallets (EIP-1271
``isValidSignature``), ``eth_getBlockByNumber`` (number and timestamp; reading the head by its tag mines an
empty block when the clock moved on; ``finalized`` and ``safe`` are the head: the sandbox finalizes
instantly), ``eth_getTransactionReceipt`` and ``eth_getLogs`` (Transfer, AuthorizationUsed and
AuthorizationCanceled), over the same ledgers as the sandbox facilitator. Single and batch requests.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from certify_sandbox.faults import Faults
from certify_sandbox.usdc_ledger import EIP1271_MAGIC, UsdcLedger, ledgers_for

BALANCE_OF = "0x70a08231"
AUTHORIZATION_STATE = "0xe94a0102"


class RpcError(Exception):
    """A JSON-RPC error object."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _word(value: int) -> str:
    return "0x" + format(value, "064x")


def _is_valid_signature(ledger: UsdcLedger, wallet: str, args: str) -> str:
    """EIP-1271 ``isValidSignature(bytes32 hash, bytes signature)`` of a sandbox smart wallet."""
    digest = bytes.fromhex(args[:64])
    offset = int(args[64:128], 16) * 2
    length = int(args[offset : offset + 64], 16) * 2
    signature = bytes.fromhex(args[offset + 64 : offset + 64 + length])
    valid = ledger.is_valid_signature(wallet, digest, signature)
    return (EIP1271_MAGIC if valid else "0xffffffff") + "0" * 56


def _eth_call(ledger: UsdcLedger, params: list[Any]) -> str:
    call = params[0] if params and isinstance(params[0], dict) else {}
    block = _block(ledger, params[1] if len(params) > 1 else "latest", ledger.block_number)
    if block > ledger.block_number:
        raise RpcError(-32000, "header not found")
    to = str(call.get("to", "")).lower()
    data = str(call.get("data") or call.get("input") or "").lower()
    selector, args = data[:10], data[10:]
    if to in ledger.contract_wallets and selector == EIP1271_MAGIC:
        return _is_valid_signature(ledger, to, args)
    if to != ledger.network.usdc_address.lower():
        return "0x"  # no code at that address: an empty return, as a node gives
    if selector == BALANCE_OF and len(args) == 64:
        return _word(ledger.balance_of("0x" + args[24:64]))
    if selector == AUTHORIZATION_STATE and len(args) == 128:
        return _word(int(ledger.authorization_state("0x" + args[24:64], "0x" + args[64:128], block)))
    raise RpcError(3, "execution reverted: unsupported call in the sandbox")


def _receipt(ledger: UsdcLedger, params: list[Any]) -> dict[str, Any] | None:
    tx = ledger.transactions.get(str(params[0]).lower()) if params else None
    if tx is None:
        return None
    return {
        "transactionHash": tx.tx_hash,
        "blockNumber": hex(tx.block_number),
        "status": "0x1",
        "to": ledger.network.usdc_address,
        "logs": ledger.logs_of(tx),
    }


def _block(ledger: UsdcLedger, tag: Any, default: int) -> int:
    if tag in (None, "latest", "safe", "finalized", "pending"):
        return ledger.block_number if tag is not None else default
    if tag == "earliest":
        return 0
    return int(str(tag), 16)


def _block_by_number(ledger: UsdcLedger, params: list[Any]) -> dict[str, Any] | None:
    tag = params[0] if params else "latest"
    # Reading the head by its tag first mines an empty block if the clock moved on (the blocks a live chain
    # would have produced meanwhile); other calls leave the height alone.
    number = ledger.head() if tag in ("latest", "safe", "finalized", "pending") else _block(ledger, tag, 0)
    timestamp = ledger.block_times.get(number)
    if timestamp is None:
        return None
    hashes = [tx.tx_hash for tx in ledger.transactions.values() if tx.block_number == number]
    return {"number": hex(number), "timestamp": hex(timestamp), "transactions": hashes}


def _topic_matches(wanted: Any, actual: str) -> bool:
    if wanted is None:
        return True
    options = wanted if isinstance(wanted, list) else [wanted]
    return any(str(option).lower() == actual.lower() for option in options)


def _logs(ledger: UsdcLedger, params: list[Any]) -> list[dict[str, Any]]:
    spec = params[0] if params and isinstance(params[0], dict) else {}
    addresses = spec.get("address")
    if addresses is not None:
        wanted = addresses if isinstance(addresses, list) else [addresses]
        if ledger.network.usdc_address.lower() not in {str(a).lower() for a in wanted}:
            return []
    first = _block(ledger, spec.get("fromBlock"), ledger.block_number)
    last = _block(ledger, spec.get("toBlock"), ledger.block_number)
    topics = spec.get("topics") or []
    found = []
    for tx in sorted(ledger.transactions.values(), key=lambda item: item.block_number):
        if not first <= tx.block_number <= last:
            continue
        for log in ledger.logs_of(tx):
            if all(_topic_matches(w, a) for w, a in zip(topics, log["topics"], strict=False)) and len(topics) <= len(
                log["topics"]
            ):
                found.append(log)
    return found


def _dispatch(ledger: UsdcLedger, method: str, params: list[Any]) -> Any:
    if method == "eth_chainId":
        return hex(ledger.network.chain_id)
    if method == "eth_blockNumber":
        return hex(ledger.block_number)
    if method == "eth_call":
        return _eth_call(ledger, params)
    if method == "eth_getBlockByNumber":
        return _block_by_number(ledger, params)
    if method == "eth_getTransactionReceipt":
        return _receipt(ledger, params)
    if method == "eth_getLogs":
        return _logs(ledger, params)
    if method == "eth_getCode":
        return "0x6080" if params and ledger.has_code(str(params[0])) else "0x"
    raise RpcError(-32601, f"method {method} is not served by the sandbox")


def _answer(ledger: UsdcLedger, request: Any) -> dict[str, Any]:
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
    params = request.get("params") or []
    try:
        result = _dispatch(ledger, request["method"], params if isinstance(params, list) else [])
    except RpcError as exc:
        return {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": exc.code, "message": exc.message}}
    except (ValueError, TypeError, IndexError):
        return {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": -32602, "message": "invalid params"}}
    return {"jsonrpc": "2.0", "id": request.get("id"), "result": result}


def build_router(faults: Faults) -> APIRouter:
    """``POST /rpc/{network}`` (network by certify name, v1 name or CAIP-2 id)."""
    router = APIRouter(tags=["evm-rpc"])
    ledgers = ledgers_for(faults)

    @router.post("/rpc/{network}")
    async def rpc(network: str, request: Request) -> Any:
        ledger = ledgers.find(network)
        if ledger is None:
            raise HTTPException(404, f"unknown network {network}")
        status = await faults.apply("evm_rpc", network)
        if status is not None:
            return JSONResponse({"error": "injected fault"}, status_code=status)
        try:
            body = await request.json()
        except ValueError:
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
        if isinstance(body, list):
            return [_answer(ledger, item) for item in body]
        return _answer(ledger, body)

    return router
