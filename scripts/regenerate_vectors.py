"""Re-make the official libraries' outputs in vectors/*.json with the libraries installed in .venv.

For every vector, the payment the official x402 SDK signs (v1 and v2 clients, nonce source and clock
fixed to the vector's inputs) and the certificate transaction the official Circular library submits
(``CEP_Account`` driven offline: ``requests.post`` recorded, timestamp fixed) are made again and compared
with the stored fields. ``--write`` stores the new outputs instead (after upgrading a library: review the
diff, then run the tests, which check our code against these files).

The other fields of the files (EIP-681 links, payee detection, the spec's known answer, the cross-check with
the Node, Java and PHP libraries) came from the specifications and libraries that are not Python packages;
they are kept as they are. Exit status 1 when a stored output differs from what the libraries make now.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from circular_enterprise_apis import CEP_Account, helper
from eth_account import Account
from x402 import x402ClientSync
from x402.http.utils import encode_payment_signature_header
from x402.mechanisms.evm.exact import client as v2_client
from x402.mechanisms.evm.exact.register import register_exact_evm_client
from x402.mechanisms.evm.exact.v1 import client as v1_client
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.schemas import PaymentRequired
from x402.schemas.v1 import PaymentRequiredV1

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
# The package re-exports the class under the module's name, so fetch the module itself.
CEP_MODULE = importlib.import_module("circular_enterprise_apis.CEP_Account")


@contextmanager
def _fixed(nonce: str, now: int) -> Iterator[None]:
    with (
        mock.patch.object(v2_client, "create_nonce", return_value=nonce),
        mock.patch.object(v1_client, "create_nonce", return_value=nonce),
        mock.patch.object(v2_client.time, "time", return_value=float(now)),
    ):
        yield


def x402_outputs(vector: dict[str, Any]) -> dict[str, Any]:
    """The payment the official SDK signs for this vector's offer, key, nonce and clock."""
    inputs = vector["inputs"]
    client = x402ClientSync().set_spend_controls(False)
    register_exact_evm_client(client, EthAccountSigner(Account.from_key(inputs["payer_private_key"])))
    with _fixed(inputs["nonce"], int(inputs["sdk_clock_now"])):
        if "http_402_body_object" in vector:
            payload = client.create_payment_payload(PaymentRequiredV1.model_validate(vector["http_402_body_object"]))
            header_key = "x_payment_header_base64 (X-PAYMENT)"
        else:
            payload = client.create_payment_payload(PaymentRequired.model_validate(vector["payment_required_object"]))
            header_key = "payment_signature_header_base64 (PAYMENT-SIGNATURE)"
    header = str(encode_payment_signature_header(payload))
    decoded = json.loads(base64.b64decode(header))
    return {
        "payment_payload_object": decoded,
        header_key: header,
        "signature": decoded["payload"]["signature"],
        "authorization": decoded["payload"]["authorization"],
    }


class _Recorded:
    def __init__(self, body: dict[str, Any], answer: dict[str, Any]) -> None:
        self.body = body
        self.answer = answer

    def raise_for_status(self) -> None:
        return None

    def json(self) -> dict[str, Any]:
        return self.answer


def circular_outputs(vector: dict[str, Any]) -> dict[str, Any]:
    """The certificate transaction the official library submits for this vector's inputs."""
    inputs = vector["inputs"]
    sent: list[dict[str, Any]] = []

    def post(url: str, json: dict[str, Any], **_: Any) -> _Recorded:
        sent.append(json)
        if url.endswith("Circular_GetWalletNonce_"):
            answer = {"Result": 200, "Response": {"Nonce": inputs["wallet_nonce_returned_by_api"]}, "Node": "0" * 64}
        else:
            answer = {"Result": 200, "Response": {"TxID": json.get("ID")}, "Node": "0" * 64}
        return _Recorded(json, answer)

    with (
        mock.patch.object(CEP_MODULE.requests, "post", post),
        mock.patch.object(helper, "get_formatted_timestamp", return_value=inputs["timestamp"]),
    ):
        account = CEP_Account()
        account.open(inputs["from_and_to_address_as_passed"])
        account.set_blockchain(inputs["blockchain"])
        if not account.update_account():
            raise RuntimeError(f"{vector['name']}: the official library refused the recorded nonce answer")
        account.submit_certificate(inputs["data_string"], inputs["private_key_hex"])
    body = sent[-1]
    return {"tx_id": body["ID"], "add_transaction_body": body}


def _compare(name: str, stored: Any, made: Any, differences: list[str]) -> None:
    if stored != made:
        differences.append(f"{name}: stored {json.dumps(stored)[:200]} != made {json.dumps(made)[:200]}")


def run(write: bool) -> list[str]:
    """Re-make every output; store them when ``write``; return the differences found."""
    differences: list[str] = []
    x402_path = VECTORS / "x402_vectors.json"
    x402 = json.loads(x402_path.read_text())
    for name, vector in x402["vectors"].items():
        for field, value in x402_outputs(vector).items():
            _compare(f"x402 {name} {field}", vector[field], value, differences)
            vector[field] = value
    circular_path = VECTORS / "circular_vectors.json"
    circular = json.loads(circular_path.read_text())
    for vector in circular["vectors"]:
        made = circular_outputs(vector)
        _compare(f"circular {vector['name']} tx_id", vector["transaction"]["tx_id"], made["tx_id"], differences)
        stored_body = vector["add_transaction_request"]["json_body"]
        made_body = made["add_transaction_body"]
        _compare(f"circular {vector['name']} AddTransaction body", stored_body, made_body, differences)
        vector["transaction"]["tx_id"] = made["tx_id"]
        vector["add_transaction_request"]["json_body"] = made["add_transaction_body"]
    if write:
        x402_path.write_text(json.dumps(x402, indent=2, ensure_ascii=False) + "\n")
        circular_path.write_text(json.dumps(circular, indent=2, ensure_ascii=False) + "\n")
    return differences


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store what the libraries make now")
    args = parser.parse_args()
    differences = run(args.write)
    for line in differences:
        print(line)
    if differences and not args.write:
        return 1
    print(f"{'rewrote' if args.write else 'checked'} vectors/: {len(differences)} output(s) differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
