"""The payment page in a real browser (Debian's chromium) with an injected wallet, against the stack as processes.

Fixtures (``browser``, ``wallet``, ``chain``, ``new_offer``) are in this folder's conftest.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from certify_client.proof import load_proof
from certify_client.verify import offline_checks
from certify_common.evm import NETWORKS

pytestmark = pytest.mark.integration

NETWORK = NETWORKS["base-sepolia"]


def _status(page_proxy: Any, api: Any, request_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{page_proxy.url}/v1/status/{request_id}", headers=api(), timeout=10)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _check_signed(typed: dict[str, Any], offer: dict[str, Any], payer: str) -> None:
    """The wallet was asked for exactly the EIP-3009 authorization of the offer (specs/x402.md)."""
    payment = offer["payment"]
    assert typed["primaryType"] == "TransferWithAuthorization"
    assert typed["domain"] == {
        "name": NETWORK.eip712_name,
        "version": NETWORK.eip712_version,
        "chainId": NETWORK.chain_id,
        "verifyingContract": NETWORK.usdc_address,
    }
    message = typed["message"]
    assert message["from"].lower() == payer.lower()
    assert message["to"] == payment["pay_to"]
    assert message["value"] == str(payment["amount_atomic"])
    now = time.time()
    assert int(message["validAfter"]) <= now
    assert now + 6 < int(message["validBefore"]) <= now + payment["requirements"]["maxTimeoutSeconds"]
    assert len(bytes.fromhex(message["nonce"].removeprefix("0x"))) == 32


def test_a_wallet_pays_through_the_page_and_downloads_the_proof(
    browser, wallet, chain, new_offer, page_proxy, api, records
) -> None:
    offer = new_offer()
    request_id = offer["request_id"]
    balance_before = chain.balance(wallet.address)
    page = browser.page

    response = page.goto(offer["payment_link"])
    assert response is not None
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    message = page.locator("#message")
    expect(message).to_have_attribute("data-state", "ready")
    expect(page.locator("#file-name")).to_have_text("lease <agreement>.pdf")
    expect(page.locator("#data-hash")).to_have_text(offer["document_sha256"])
    expect(page.locator("#price")).to_have_text(f"{offer['payment']['amount_usdc']} USDC")
    expect(page.locator("#network")).to_have_text("Base Sepolia")

    page.locator("#pay-button").click()
    expect(message).to_have_attribute("data-state", re.compile("^(processing|completed)$"))
    expect(page.locator('#progress li[data-step="payment_verified"]')).to_have_class(re.compile(r"\bdone\b"))

    # The wallet was connected, switched (adding the unknown chain first) and asked for one signature.
    assert wallet.calls == [
        "eth_requestAccounts",
        "eth_chainId",
        "wallet_switchEthereumChain",
        "wallet_addEthereumChain",
        "wallet_switchEthereumChain",
        "eth_chainId",
        "eth_signTypedData_v4",
    ]
    assert len(wallet.signed) == 1
    _check_signed(wallet.signed[0], offer, wallet.address)
    amount = int(offer["payment"]["amount_atomic"])
    assert records.payments(request_id) == [
        {"status": "settled", "payer": wallet.address.lower(), "amount_atomic": amount}
    ]
    assert chain.balance(wallet.address) == balance_before - amount

    # The worker certifies on Circular; the page follows it to the proof.
    expect(message).to_have_attribute("data-state", "completed", timeout=45_000)
    expect(message).to_contain_text("certified")
    browser.screenshot("paid")
    status = _status(page_proxy, api, request_id)
    assert status["status"] == "completed"

    with page.expect_download() as download_info:
        page.locator("#download").click()
    download = download_info.value
    assert download.suggested_filename == f"certify-proof-{request_id}.json"
    proof = load_proof(download.path().read_text(encoding="utf-8"))
    assert proof.request_id == request_id
    assert proof.document.sha256 == offer["document_sha256"].removeprefix("0x")
    assert proof.document.name == "lease <agreement>.pdf"
    assert proof.certification.tx_id == status["certification"]["tx_id"]
    failed = [check for check in offline_checks(proof, offer["document_sha256"]) if not check.ok]
    assert failed == []
    expect(page.locator("#proof-tx")).to_have_text(status["certification"]["tx_id"])

    # Opening the link again shows the finished request; nothing can be paid twice.
    page.reload()
    expect(message).to_have_attribute("data-state", "completed")
    expect(page.locator("#pay-button")).to_be_hidden()
    assert len(wallet.signed) == 1


def test_a_refused_switch_and_a_rejected_signature_pay_nothing(
    browser, wallet, chain, new_offer, page_proxy, api, records
) -> None:
    offer = new_offer()
    balance_before = chain.balance(wallet.address)
    page = browser.page
    page.goto(offer["payment_link"])
    message = page.locator("#message")
    expect(message).to_have_attribute("data-state", "ready")

    wallet.refuse_switch = True
    page.locator("#pay-button").click()
    expect(message).to_have_attribute("data-state", "wrong_chain")
    expect(message).to_contain_text("Base Sepolia")

    wallet.refuse_switch = False
    wallet.reject_signature = True
    expect(page.locator("#pay-button")).to_have_text("Try again")
    page.locator("#pay-button").click()
    expect(message).to_have_attribute("data-state", "rejected")
    expect(message).to_contain_text("Nothing was paid")
    browser.screenshot("rejected")

    assert wallet.calls.count("eth_signTypedData_v4") == 1
    assert wallet.signed == []
    assert records.payments(offer["request_id"]) == []
    assert chain.balance(wallet.address) == balance_before
    assert _status(page_proxy, api, offer["request_id"])["status"] == "payment_pending"


def test_a_quote_that_expires_while_signing_is_refused_and_shown_expired(
    browser, wallet, chain, new_offer, page_proxy, api, records
) -> None:
    offer = new_offer()
    request_id = offer["request_id"]
    balance_before = chain.balance(wallet.address)
    page = browser.page
    page.goto(offer["payment_link"])
    message = page.locator("#message")
    expect(message).to_have_attribute("data-state", "ready")

    # The quote runs out while the person looks at the wallet's prompt: the proxy refuses the signed payment.
    wallet.before_signing = lambda: records.expire_quote(request_id)
    page.locator("#pay-button").click()
    expect(message).to_have_attribute("data-state", "expired")
    expect(message).to_contain_text("expired")
    assert len(wallet.signed) == 1
    assert records.payments(request_id) == []
    assert chain.balance(wallet.address) == balance_before

    # Opened again, the page says so at once and offers no payment.
    page.reload()
    expect(message).to_have_attribute("data-state", "expired")
    expect(page.locator("#pay-button")).to_have_text("Check for a new quote")
    browser.screenshot("expired")
    assert len(wallet.signed) == 1
    assert _status(page_proxy, api, request_id)["status"] == "payment_pending"


def test_the_page_needs_its_token_and_the_guard_sees_outside_hosts(browser, new_offer, page_proxy) -> None:
    offer = new_offer()
    without_token = httpx.get(f"{page_proxy.url}/pay/{offer['request_id']}", timeout=10)
    assert without_token.status_code == 404
    wrong = httpx.get(f"{page_proxy.url}/pay/{offer['request_id']}/status?token=nope", timeout=10)
    assert wrong.status_code == 404
    token = offer["payment_link"].split("token=", 1)[1]
    early = httpx.get(f"{page_proxy.url}/pay/{offer['request_id']}/proof?token={token}", timeout=10)
    assert (early.status_code, early.json()["code"]) == (409, "proof_not_ready")
    assert httpx.get(f"{page_proxy.url}/pay-assets/..%2Fsettings.py", timeout=10).status_code == 404

    page = browser.page
    page.goto(offer["payment_link"])
    expect(page.locator("#message")).to_have_attribute("data-state", "ready")
    # The loopback guard is live: a request elsewhere is blocked and recorded (then cleared for the fixture).
    # From a blank page: the payment page's own CSP would refuse the request before it reached the network.
    page.goto("about:blank")
    blocked = page.evaluate("fetch('https://example.com/x').then(() => 'reached', () => 'blocked')")
    assert blocked == "blocked"
    assert browser.outside == ["https://example.com/x"]
    browser.outside.clear()


def test_a_request_paid_elsewhere_is_not_paid_again(browser, wallet, new_offer, page_proxy, api, kit, records) -> None:
    offer = new_offer()
    page = browser.page
    page.goto(offer["payment_link"])
    message = page.locator("#message")
    expect(message).to_have_attribute("data-state", "ready")

    # The agent pays by API while the page is open; the page's button must not ask the wallet again.
    paid = httpx.post(
        page_proxy.url + "/v1/certify",
        json={"request_id": offer["request_id"]},
        headers=api(**{"X-PAYMENT": kit.sign(offer, key=wallet.key)}),
        timeout=30,
    )
    assert paid.status_code in (200, 202), paid.text
    page.locator("#pay-button").click()
    expect(message).to_have_attribute("data-state", re.compile("^(already_paid|completed)$"))
    expect(page.locator("#pay-button")).to_be_hidden()
    assert wallet.calls == []
    assert len(records.payments(offer["request_id"])) == 1


def test_without_a_wallet_the_page_says_how_to_open_it(browser, new_offer) -> None:
    page = browser.page
    page.add_init_script("delete window.ethereum;")
    page.goto(new_offer()["payment_link"])
    expect(page.locator("#message")).to_have_attribute("data-state", "no_wallet")
    expect(page.locator("#message")).to_contain_text("wallet app")
    expect(page.locator("#pay-button")).to_be_hidden()
