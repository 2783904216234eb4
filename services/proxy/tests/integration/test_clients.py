"""Clients we did not write: the official x402 SDK pays; zbarimg reads our QR; each client_type's 402."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from certify_testkit.mcp_calls import call

pytestmark = pytest.mark.integration

SDK_PAYER_KEY = "0x" + "0dbbe8e4ae425a6d2687f1a7e3ba17bc98c673636790f1b8ad91193c05875ef1"


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "request_id": f"cli-{uuid.uuid4().hex[:12]}",
        "data": base64.b64encode(secrets.token_bytes(48)).decode(),
        **extra,
    }


@pytest.mark.parametrize("network", ["base-sepolia", "arbitrum-sepolia"])
async def test_the_official_x402_httpx_client_pays_with_only_an_api_key(
    proxy: Any, stack: Any, kit: Any, network: str
) -> None:
    from eth_account import Account
    from x402 import x402Client
    from x402.http.clients.httpx import x402HttpxClient
    from x402.mechanisms.evm.exact.register import register_exact_evm_client
    from x402.mechanisms.evm.signers import EthAccountSigner

    account = Account.from_key(SDK_PAYER_KEY)
    kit.fund(stack["sandbox"], network, account.address)
    payer = register_exact_evm_client(x402Client(), EthAccountSigner(account))
    async with x402HttpxClient(payer, base_url=proxy.url, timeout=60, headers={"X-API-Key": kit.dev_key}) as client:
        answer = await client.post("/v1/certify", json=_body(network=network))
    assert answer.status_code in (200, 202), answer.text
    assert answer.json()["status"] == "payment_verified"
    assert answer.json()["payment"]["payer"] == account.address.lower()
    assert answer.headers["PAYMENT-RESPONSE"]


def test_the_qr_code_decodes_with_zbarimg_to_the_payment_page_link(proxy: Any, api: Any, tmp_path: Path) -> None:
    offer = httpx.post(proxy.url + "/v1/certify", json=_body(), headers=api(), timeout=30).json()
    image = httpx.get(offer["qr_code_url"], timeout=30)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    path = tmp_path / "qr.png"
    path.write_bytes(image.content)
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(path)], capture_output=True, text=True, timeout=30, check=True
    )
    assert decoded.stdout.strip() == offer["payment_link"]


@pytest.mark.parametrize(("fmt", "media"), [("svg", "image/svg+xml"), ("ascii", "text/plain; charset=utf-8")])
def test_the_qr_code_comes_as_svg_and_ascii_too(proxy: Any, api: Any, fmt: str, media: str) -> None:
    offer = httpx.post(proxy.url + "/v1/certify", json=_body(), headers=api(), timeout=30).json()
    image = httpx.get(offer["qr_code_url"].replace("format=png", f"format={fmt}"), timeout=30)
    assert (image.status_code, image.headers["content-type"]) == (200, media)
    assert ("<svg" in image.text) if fmt == "svg" else ("█" in image.text)


def test_an_agent_gets_the_offer_without_wallet_links_or_any_qr_code(proxy: Any, api: Any) -> None:
    offer = httpx.post(proxy.url + "/v1/certify", json=_body(client_type="agent"), headers=api(), timeout=30).json()
    assert "wallet_links" not in offer
    assert "mobile" not in offer
    assert "qr_code_base64" not in offer
    manual = offer["instructions"]["manual"]["typed_data"]
    assert manual["primaryType"] == "TransferWithAuthorization"
    assert manual["domain"] == {
        "name": "USDC",
        "version": "2",
        "chainId": 84532,
        "verifyingContract": offer["payment"]["asset"],
    }
    assert manual["message"]["to"] == offer["payment"]["pay_to"]
    assert manual["message"]["value"] == offer["payment"]["amount_atomic"]


def test_a_browser_gets_wallet_deep_links_to_the_payment_page(proxy: Any, api: Any) -> None:
    offer = httpx.post(proxy.url + "/v1/certify", json=_body(client_type="browser"), headers=api(), timeout=30).json()
    wallets = {link["wallet"]: link["deep_link"] for link in offer["wallet_links"]}
    page = offer["payment_link"]
    assert wallets == {
        "metamask": "https://link.metamask.io/dapp/" + page.removeprefix("http://"),
        "coinbase": f"https://go.cb-w.com/dapp?cb_url={quote(page, safe='')}",
        "rainbow": f"https://rnbwapp.com/dapp?url={quote(page, safe='')}",
    }


def test_a_phone_gets_an_ascii_and_png_qr_opening_the_payment_page(proxy: Any, api: Any, tmp_path: Path) -> None:
    offer = httpx.post(proxy.url + "/v1/certify", json=_body(client_type="mobile"), headers=api(), timeout=30).json()
    mobile = offer["mobile"]
    assert mobile["opens"] == offer["payment_link"]
    assert "█" in mobile["qr_ascii"] or "▀" in mobile["qr_ascii"]
    assert offer["qr_code_base64"] == mobile["qr_png_base64"]
    path = tmp_path / "mobile.png"
    path.write_bytes(base64.b64decode(mobile["qr_png_base64"]))
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(path)], capture_output=True, text=True, timeout=30, check=True
    )
    assert decoded.stdout.strip() == offer["payment_link"]


def test_the_payment_page_shows_what_is_certified_for_how_much(proxy: Any, api: Any) -> None:
    body = _body(file_name="<contract>.pdf", network="base-sepolia")
    offer = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30).json()
    page = httpx.get(offer["payment_link"], timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for text in (
        body["request_id"],
        "&lt;contract&gt;.pdf",
        offer["quote"]["usdc_amount"],
        "base-sepolia",
        offer["payment"]["pay_to"],
    ):
        assert text in page.text
    assert "<contract>" not in page.text


def test_the_pay_callback_settles_like_the_paid_post(proxy: Any, stack: Any, api: Any, kit: Any) -> None:
    offer = httpx.post(proxy.url + "/v1/certify", json=_body(network="base-sepolia"), headers=api(), timeout=30).json()
    kit.fund(stack["sandbox"], "base-sepolia", kit.payer)
    callback = offer["payment_link"].replace("/pay/", "/v1/pay/")
    paid = httpx.post(callback, json={"payment": kit.sign(offer, version=2)}, timeout=30)
    assert paid.status_code == 202, paid.text
    assert paid.json()["status"] == "payment_verified"


def test_arbitrum_is_offered_through_the_v2_header_only(proxy: Any, api: Any) -> None:
    offered = httpx.post(proxy.url + "/v1/certify", json=_body(network="arbitrum-sepolia"), headers=api(), timeout=30)
    assert offered.status_code == 402
    assert offered.json()["accepts"] == []
    header = json.loads(base64.b64decode(offered.headers["PAYMENT-REQUIRED"]))
    assert [offer["network"] for offer in header["accepts"]] == ["eip155:421614"]
    assert offered.json()["instructions"]["manual"]["payment_v1"] is None


async def test_the_cached_offer_is_the_one_the_x402_server_makes_for_the_request(
    proxy: Any, stack: Any, api: Any
) -> None:
    """Only the request id is filled in: the header is byte for byte the x402 server's for that description."""
    first = httpx.post(proxy.url + "/v1/certify", json=_body(network="base"), headers=api(), timeout=30)
    answer = httpx.post(proxy.url + "/v1/certify", json=_body(network="base"), headers=api(), timeout=30)
    assert (first.status_code, answer.status_code) == (402, 402)
    offer = answer.json()
    made = await call(
        stack["x402"].url + "/mcp",
        "create_payment_requirement",
        {
            "network": "base",
            "resource": proxy.url + "/v1/certify",
            "amount_atomic": offer["payment"]["amount_atomic"],
            "description": f"certify request {offer['request_id']}: one document certified on Circular",
            "mime_type": "application/json",
        },
    )
    assert not made.is_error
    assert made.structured_content is not None
    assert answer.headers["PAYMENT-REQUIRED"] == made.structured_content["payment_required_header"]
    assert offer["accepts"] == [made.structured_content["requirements_v1"]]
    assert offer["payment"]["requirements"] == made.structured_content["requirements_v2"]
    assert offer["quote"]["amount_atomic"] == int(offer["payment"]["amount_atomic"])
