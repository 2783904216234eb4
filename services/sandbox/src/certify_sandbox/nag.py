"""Sandbox Circular NAG: the real URL form, envelopes and result codes, on a local ledger.

The NAG base is ``http://HOST:PORT/nag/NAG.php?cep=`` (``NAG_Mainnet.php`` also answers), so the
official library's ``NAG_URL + "Circular_<Name>_"`` concatenation reaches ``POST /nag/NAG.php`` with
``cep=Circular_<Name>_``. Every answer is ``{"Result", "Response", "Node"}`` with HTTP 200, as the
network does. ``GET /network/getNAG?network=`` mimics the discovery endpoint.

Control (tests, `make run`): ``PUT/GET /_control/nag/plan`` (timing, stuck Pending, dropped answers,
fees), ``POST /_control/nag/fund``, ``PUT /_control/nag/balance`` (drain a wallet),
``GET /_control/nag/transactions``, ``POST /_control/nag/reset``;
latency, 5xx and hangs come from the shared fault plan ``nag`` and call counts from ``/_control/calls``
(``nag.Circular_AddTransaction_`` …).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from certify_sandbox import nag_checks as checks
from certify_sandbox.faults import Faults
from certify_sandbox.nag_ledger import BLOCKCHAINS, NODE_ID, NagLedger, NagPlan, Outcome, WalletState

_HEX64 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
Handler = Callable[[NagLedger, dict[str, Any]], Outcome]
# The ASGI shapes (as starlette.types spells them), kept local: the sandbox declares fastapi, not starlette.
Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def dumps(value: Any) -> str:
    """JSON with Decimals written as exact numbers (balances and fees are never floats here)."""
    marks: dict[str, str] = {}

    def encode(item: Any) -> Any:
        if isinstance(item, Decimal):
            mark = f"@@decimal{len(marks)}@@"
            marks[f'"{mark}"'] = format(item.normalize(), "f") if item != 0 else "0"
            return mark
        if isinstance(item, dict):
            return {key: encode(val) for key, val in item.items()}
        if isinstance(item, list):
            return [encode(val) for val in item]
        return item

    text = json.dumps(encode(value))
    for mark, number in marks.items():
        text = text.replace(mark, number)
    return text


def envelope(result: int, response: Any) -> Response:
    return Response(dumps({"Result": result, "Response": response, "Node": NODE_ID}), media_type="application/json")


def _wallet_call(body: dict[str, Any], ledger: NagLedger, answer: Callable[[WalletState], Outcome]) -> Outcome:
    """Validate Blockchain and Address (118), find the wallet (108), then answer."""
    chain, address = body.get("Blockchain"), body.get("Address")
    if not isinstance(address, str) or not address:
        return checks.WRONG_FORMAT, "Missing Address"
    if not isinstance(chain, str) or not _HEX64.match(chain) or not _HEX64.match(address):
        return checks.WRONG_FORMAT, "Wrong Format"
    wallet = ledger.wallet(chain.lower(), address.lower())
    if wallet is None:
        return checks.WALLET_NOT_FOUND, "Wallet Not found"
    return answer(wallet)


def get_wallet_nonce(ledger: NagLedger, body: dict[str, Any]) -> Outcome:
    return _wallet_call(body, ledger, lambda wallet: (200, {"Nonce": wallet.nonce}))


def check_wallet(ledger: NagLedger, body: dict[str, Any]) -> Outcome:
    return _wallet_call(body, ledger, lambda wallet: (200, "Success"))


def get_wallet(ledger: NagLedger, body: dict[str, Any]) -> Outcome:
    def answer(wallet: WalletState) -> Outcome:
        assets = [{"Name": name, "Amount": amount} for name, amount in sorted(wallet.balances.items())]
        return 200, {
            "Address": wallet.address,
            "PublicKey": wallet.public_key,
            "Nonce": wallet.nonce,
            "Assets": assets,
            "DateCreation": wallet.created,
            "Version": "1.0.13",
        }

    return _wallet_call(body, ledger, answer)


def get_wallet_balance(ledger: NagLedger, body: dict[str, Any]) -> Outcome:
    asset = body.get("Asset")
    if not isinstance(asset, str) or not asset:
        return checks.WRONG_FORMAT, "Missing Asset"

    def answer(wallet: WalletState) -> Outcome:
        if asset not in wallet.balances:
            return checks.WRONG_FORMAT, "Asset Not Found"
        return 200, {"Balance": wallet.balances[asset], "Description": f"{asset} balance"}

    return _wallet_call(body, ledger, answer)


def get_transaction_by_id(ledger: NagLedger, body: dict[str, Any]) -> Outcome:
    chain, tx_id = body.get("Blockchain"), body.get("ID")
    if not isinstance(chain, str) or not isinstance(tx_id, str) or not _HEX64.match(chain) or not _HEX64.match(tx_id):
        return checks.WRONG_FORMAT, "Wrong Format"
    return ledger.transaction(chain.lower(), tx_id.lower())


def get_blockchains(ledger: NagLedger, body: dict[str, Any]) -> Outcome:
    return 200, {"Blockchains": [{"Address": address, "Name": name} for address, name in BLOCKCHAINS.items()]}


def add_transaction(ledger: NagLedger, body: dict[str, Any]) -> Outcome:
    return ledger.add_transaction(body)


HANDLERS: dict[str, Handler] = {
    "Circular_GetWalletNonce_": get_wallet_nonce,
    "Circular_AddTransaction_": add_transaction,
    "Circular_GetTransactionbyID_": get_transaction_by_id,
    "Circular_CheckWallet_": check_wallet,
    "Circular_GetWallet_": get_wallet,
    "Circular_GetWalletBalance_": get_wallet_balance,
    "Circular_GetBlockchains_": get_blockchains,
}


class DroppedAnswer(Response):
    """Starts the answer, then closes the connection: the client never learns the outcome."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"512")]})
        raise ConnectionAbortedError("sandbox NAG fault: answer dropped after the transaction was accepted")


class BalanceSetting(BaseModel):
    """A balance set outright on a registered wallet (draining it, for tests)."""

    address: str = Field(pattern=r"^(0x)?[0-9a-f]{64}$")
    balance: Decimal = Field(ge=0)
    asset: str = "CIRX"
    blockchain: str = Field(
        "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2", pattern=r"^[0-9a-f]{64}$"
    )


class Funding(BaseModel):
    """CIRX (or another asset) credited to a registered wallet."""

    address: str = Field(pattern=r"^(0x)?[0-9a-f]{64}$")
    amount: Decimal = Field(gt=0)
    asset: str = "CIRX"
    blockchain: str = Field(
        "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2", pattern=r"^[0-9a-f]{64}$"
    )


def build_router(faults: Faults) -> APIRouter:
    """The NAG endpoints and their control routes, on a fresh ledger."""
    ledger = NagLedger()
    router = APIRouter(tags=["circular nag"])

    @router.post("/nag/{script}")
    async def nag(script: str, request: Request, cep: str = "") -> Response:
        handler = HANDLERS.get(cep)
        if handler is None or script not in ("NAG.php", "NAG_Mainnet.php"):
            raise HTTPException(404, "unknown NAG endpoint")
        raw = await request.body()  # read first: a slow NAG still processes what a timed-out client sent
        injected = await faults.apply("nag", cep)
        if injected is not None:
            return Response("NAG unavailable (sandbox fault)", status_code=injected, media_type="text/plain")
        try:
            body = json.loads(raw)
        except ValueError:
            return envelope(checks.WRONG_FORMAT, "Wrong Format")
        if not isinstance(body, dict):
            return envelope(checks.WRONG_FORMAT, "Wrong Format")
        result, response = handler(ledger, body)
        if cep == "Circular_AddTransaction_" and result == 200 and ledger.take_drop():
            return DroppedAnswer()
        return envelope(result, response)

    @router.get("/network/getNAG")
    async def get_nag(request: Request, network: str = "") -> dict[str, str]:
        scripts = {"testnet": "NAG.php", "devnet": "NAG.php", "mainnet": "NAG_Mainnet.php"}
        if network not in scripts:
            return {"status": "error", "message": "Network not found"}
        return {"status": "success", "url": f"{str(request.base_url).rstrip('/')}/nag/{scripts[network]}?cep="}

    @router.get("/_control/nag/plan")
    async def get_plan() -> NagPlan:
        return ledger.plan

    @router.put("/_control/nag/plan")
    async def set_plan(plan: NagPlan) -> NagPlan:
        ledger.set_plan(plan)
        return ledger.plan

    @router.post("/_control/nag/fund")
    async def fund(funding: Funding) -> dict[str, str]:
        balance = ledger.fund(funding.blockchain, funding.address, funding.asset, funding.amount)
        if balance is None:
            raise HTTPException(404, "wallet not registered on this blockchain")
        return {"address": checks.unprefixed(funding.address), "asset": funding.asset, "balance": str(balance)}

    @router.put("/_control/nag/balance")
    async def set_balance(setting: BalanceSetting) -> dict[str, str]:
        """Set a wallet's balance outright (tests drain the service wallet with it)."""
        wallet = ledger.wallet(setting.blockchain, setting.address)
        if wallet is None:
            raise HTTPException(404, "wallet not registered on this blockchain")
        wallet.balances[setting.asset] = setting.balance
        return {"address": checks.unprefixed(setting.address), "asset": setting.asset, "balance": str(setting.balance)}

    @router.get("/_control/nag/transactions")
    async def transactions(address: str | None = None) -> list[dict[str, str]]:
        rows = []
        for (chain, tx_id), state in ledger.transactions.items():
            if address is None or state.body["From"] == checks.unprefixed(address):
                status = ledger.status_of(state)
                rows.append({"blockchain": chain, "id": tx_id, "nonce": state.body["Nonce"], "status": status})
        return rows

    @router.post("/_control/nag/reset")
    async def reset() -> dict[str, str]:
        fresh = NagLedger(ledger.clock)
        ledger.__dict__.update(fresh.__dict__)
        faults.reset("nag")
        return {"status": "reset"}

    return router
