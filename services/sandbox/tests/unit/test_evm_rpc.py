"""The sandbox EVM JSON-RPC subset over the USDC ledgers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from certify_sandbox.app import create_app
from certify_sandbox.settings import SandboxSettings
from certify_sandbox.usdc_ledger import TransferAuthorization, ledgers_for

USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
AUTHORIZATION_USED_TOPIC = "0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5"
NONCE = "0x" + "11" * 32


def word(address: str) -> str:
    return address.lower().removeprefix("0x").rjust(64, "0")


class Rpc:
    def __init__(self, http: httpx.AsyncClient, app: Any) -> None:
        self.http = http
        self.app = app

    async def __call__(self, method: str, *params: Any, network: str = "base-sepolia") -> Any:
        answer = (
            await self.http.post(
                f"/rpc/{network}", json={"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}
            )
        ).json()
        assert answer["id"] == 7
        return answer.get("result", answer.get("error"))


@pytest.fixture
async def rpc() -> AsyncIterator[Rpc]:
    app = create_app(SandboxSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as http:
        yield Rpc(http, app)


def signed_transfer(account: Any, value: int) -> tuple[TransferAuthorization, str]:
    auth = TransferAuthorization(account.address, PAY_TO, value, 0, 2**40, NONCE)
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "TransferWithAuthorization": [
                {"name": n, "type": t}
                for n, t in [
                    ("from", "address"),
                    ("to", "address"),
                    ("value", "uint256"),
                    ("validAfter", "uint256"),
                    ("validBefore", "uint256"),
                    ("nonce", "bytes32"),
                ]
            ],
        },
        "primaryType": "TransferWithAuthorization",
        "domain": {"name": "USDC", "version": "2", "chainId": 84532, "verifyingContract": USDC},
        "message": {
            "from": auth.from_address,
            "to": PAY_TO,
            "value": value,
            "validAfter": 0,
            "validBefore": 2**40,
            "nonce": NONCE,
        },
    }
    return auth, "0x" + account.sign_message(encode_typed_data(full_message=typed)).signature.hex()


@pytest.mark.parametrize(
    ("network", "chain_id"),
    [("base", 8453), ("base-sepolia", 84532), ("eip155:42161", 42161), ("arbitrum-sepolia", 421614)],
)
async def test_the_chain_id_is_the_networks(rpc: Rpc, network: str, chain_id: int) -> None:
    assert await rpc("eth_chainId", network=network) == hex(chain_id)


async def test_a_transfer_moves_balances_uses_the_nonce_grows_blocks_and_logs_events(rpc: Rpc) -> None:
    account = Account.create()
    ledger = ledgers_for(rpc.app.state.faults).find("base-sepolia")
    assert ledger is not None
    start = int(await rpc("eth_blockNumber"), 16)
    ledger.mint(account.address, 50_000)
    state_call = {"to": USDC, "data": "0xe94a0102" + word(account.address) + NONCE[2:]}
    assert int(await rpc("eth_call", state_call, "latest"), 16) == 0

    auth, signature = signed_transfer(account, 30_000)
    tx = ledger.transfer_with_authorization(auth, signature, now=1_750_000_000)

    assert int(await rpc("eth_blockNumber"), 16) == start + 2
    assert (
        int(await rpc("eth_call", {"to": USDC, "data": "0x70a08231" + word(account.address)}, "latest"), 16) == 20_000
    )
    assert int(await rpc("eth_call", {"to": USDC, "data": "0x70a08231" + word(PAY_TO)}, "latest"), 16) == 30_000
    assert int(await rpc("eth_call", state_call, "latest"), 16) == 1
    receipt = await rpc("eth_getTransactionReceipt", tx.tx_hash)
    assert (receipt["status"], receipt["blockNumber"]) == ("0x1", hex(start + 2))
    assert [log["topics"][0] for log in receipt["logs"]] == [TRANSFER_TOPIC, AUTHORIZATION_USED_TOPIC]
    assert receipt["logs"][0]["data"] == "0x" + format(30_000, "064x")
    assert await rpc("eth_getTransactionReceipt", "0x" + "00" * 32) is None

    incoming = await rpc(
        "eth_getLogs",
        {
            "address": USDC,
            "topics": [TRANSFER_TOPIC, None, "0x" + word(PAY_TO)],
            "fromBlock": hex(start),
            "toBlock": "latest",
        },
    )
    assert [(log["transactionHash"], log["data"]) for log in incoming] == [(tx.tx_hash, "0x" + format(30_000, "064x"))]
    by_nonce = await rpc(
        "eth_getLogs", {"address": USDC, "topics": [AUTHORIZATION_USED_TOPIC, "0x" + word(account.address), NONCE]}
    )
    assert [log["transactionHash"] for log in by_nonce] == [tx.tx_hash]


async def test_a_replayed_authorization_reverts(rpc: Rpc) -> None:
    from certify_sandbox.usdc_ledger import LedgerError

    account = Account.create()
    ledger = ledgers_for(rpc.app.state.faults).find("eip155:84532")
    assert ledger is not None
    ledger.mint(account.address, 100_000)
    auth, signature = signed_transfer(account, 30_000)
    ledger.transfer_with_authorization(auth, signature, now=1_750_000_000)
    with pytest.raises(LedgerError, match="nonce_already_used"):
        ledger.transfer_with_authorization(auth, signature, now=1_750_000_000)
    assert ledger.authorization_transfers() == 1


async def test_unknown_methods_and_calls_are_json_rpc_errors_and_batches_work(rpc: Rpc) -> None:
    assert (await rpc("eth_sendRawTransaction", "0x00"))["code"] == -32601
    assert (await rpc("eth_call", {"to": USDC, "data": "0x12345678"}, "latest"))["code"] == 3
    answer = await rpc.http.post(
        "/rpc/base",
        json=[
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber"},
        ],
    )
    assert [item["id"] for item in answer.json()] == [1, 2]
    assert (await rpc.http.post("/rpc/solana", json={})).status_code == 404


async def test_a_sandbox_smart_wallet_answers_eip1271_for_its_owners_signatures_only(rpc: Rpc) -> None:
    owner, stranger = Account.create(), Account.create()
    ledger = ledgers_for(rpc.app.state.faults).find("base-sepolia")
    assert ledger is not None
    wallet = ledger.add_contract_wallet(owner.address)
    digest = bytes(range(32))

    def is_valid_signature(signature: bytes) -> str:
        padded = signature.hex() + "0" * (-len(signature.hex()) % 64)
        return "0x1626ba7e" + digest.hex() + format(64, "064x") + format(len(signature), "064x") + padded

    by_owner = owner.unsafe_sign_hash(digest).signature
    by_stranger = stranger.unsafe_sign_hash(digest).signature
    assert await rpc("eth_getCode", wallet, "latest") != "0x"
    assert await rpc("eth_getCode", owner.address, "latest") == "0x"
    accepted = await rpc("eth_call", {"to": wallet, "data": is_valid_signature(by_owner)}, "latest")
    refused = await rpc("eth_call", {"to": wallet, "data": is_valid_signature(by_stranger)}, "latest")
    assert accepted == "0x1626ba7e" + "0" * 56
    assert refused != accepted
