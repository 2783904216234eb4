"""The offer, link and QR tools, and the advertised schemas of all five tools."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from certify_common.eip681 import eip681_from_requirements
from certify_testkit.mcp_calls import (
    assert_matches_output_schema,
    call,
    failure_of,
    list_tools,
    schema_requires_documented_fields,
)

PAGE = "https://pay.certify.test/x402/req-42?lang=en"
TOOLS = {
    "create_payment_requirement",
    "verify_payment",
    "settle_payment",
    "generate_browser_link",
    "encode_payment_for_qr",
}


async def _offer(stack: Any, **arguments: Any) -> Any:
    base = {"network": "base", "amount_usdc": "1.5", "resource": "https://certify.test/v1/certify/r1"}
    return await call(stack.server, "create_payment_requirement", {**base, **arguments})


async def test_the_five_tools_advertise_output_schemas_whose_fields_are_all_required(stack: Any) -> None:
    tools = await list_tools(stack.server)
    assert set(tools) == TOOLS
    for tool in tools.values():
        schema_requires_documented_fields(tool)
        assert tool.description
        assert len(tool.description) > 80


async def test_an_offer_on_base_has_both_versions_and_the_configured_payee(stack: Any) -> None:
    tools = await list_tools(stack.server)
    made = assert_matches_output_schema(tools["create_payment_requirement"], await _offer(stack))
    assert made["amount_atomic"] == "1500000"
    assert made["amount_usdc"] == "1.500000"
    assert made["requirements_v2"] == {
        "scheme": "exact",
        "network": "eip155:8453",
        "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "amount": "1500000",
        "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
        "maxTimeoutSeconds": 300,
        "extra": {"name": "USD Coin", "version": "2"},
    }
    assert json.loads(base64.b64decode(made["payment_required_header"])) == made["payment_required_v2"]
    assert made["payment_required_v1"]["accepts"] == [made["requirements_v1"]]
    assert made["requirements_v1"]["maxAmountRequired"] == "1500000"
    assert made["requirements_v1"]["network"] == "base"


async def test_an_arbitrum_offer_has_no_v1_form_and_an_explicit_payee_wins(stack: Any) -> None:
    payee = "0x" + "42" * 20
    made = (
        await _offer(stack, network="eip155:421614", pay_to=payee, amount_usdc=None, amount_atomic="7")
    ).structured_content
    assert made["network"] == "arbitrum-sepolia"
    assert made["requirements_v2"]["payTo"] == payee
    assert made["requirements_v2"]["extra"] == {"name": "USD Coin", "version": "2"}
    assert (made["requirements_v1"], made["payment_required_v1"]) == (None, None)


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"network": "ethereum"}, "unknown_network"),
        ({"pay_to": "0x1234"}, "invalid_address"),
        ({"amount_usdc": "0"}, "invalid_amount"),
        ({"amount_usdc": "-1"}, "invalid_amount"),
        ({"amount_usdc": "abc"}, "invalid_amount"),
        ({"amount_usdc": "0.0000001"}, "amount_too_precise"),
        ({"amount_usdc": None, "amount_atomic": "0"}, "invalid_amount"),
        ({"amount_atomic": "5"}, "invalid_amount"),
    ],
)
async def test_bad_offers_are_failures(stack: Any, arguments: dict[str, Any], code: str) -> None:
    failure = failure_of(await _offer(stack, **arguments))
    assert (failure["code"], failure["retryable"]) == (code, False)


@pytest.mark.x402_settings(x402_networks="base-sepolia")
async def test_a_network_outside_the_enabled_set_is_refused(stack: Any) -> None:
    assert failure_of(await _offer(stack))["code"] == "unknown_network"


def _parse_eip681(uri: str) -> dict[str, Any]:
    scheme, rest = uri.split(":", 1)
    target, query = rest.split("?", 1)
    token, tail = target.split("@", 1)
    chain_id, function = tail.split("/", 1)
    params = parse_qs(query)
    return {
        "scheme": scheme,
        "token": token,
        "chain_id": int(chain_id),
        "function": function,
        "pay_to": params["address"][0],
        "amount": int(params["uint256"][0]),
    }


def _page_of(wallet: str, link: str) -> str:
    parts = urlsplit(link)
    if wallet == "metamask":
        assert parts.netloc == "link.metamask.io"
        assert parts.path.startswith("/dapp/")
        return "https://" + link.split("/dapp/", 1)[1]
    key = "cb_url" if wallet == "coinbase" else "url"
    assert parts.netloc == ("go.cb-w.com" if wallet == "coinbase" else "rnbwapp.com")
    return unquote(parse_qs(parts.query)[key][0])


@pytest.mark.parametrize("wallet", ["metamask", "coinbase", "rainbow"])
@pytest.mark.parametrize("version", ["requirements_v1", "requirements_v2"])
async def test_browser_links_open_the_page_and_carry_the_exact_transfer(stack: Any, wallet: str, version: str) -> None:
    tools = await list_tools(stack.server)
    requirements = (await _offer(stack, network="base-sepolia", amount_usdc="0.03")).structured_content[version]
    result = await call(
        stack.server,
        "generate_browser_link",
        {"payment_requirements": requirements, "page_url": PAGE, "wallet": wallet},
    )
    links = assert_matches_output_schema(tools["generate_browser_link"], result)
    assert _page_of(wallet, links["deep_link"]) == PAGE
    assert links["links"][0] == {
        "kind": "wallet_browser",
        "url": links["deep_link"],
        "label": links["links"][0]["label"],
    }
    transfer = _parse_eip681(links["eip681_uri"])
    assert transfer == {
        "scheme": "ethereum",
        "token": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "chain_id": 84532,
        "function": "transfer",
        "pay_to": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
        "amount": 30000,
    }
    assert (links["chain_id"], links["token"], links["pay_to"], links["amount_atomic"]) == (
        84532,
        transfer["token"],
        transfer["pay_to"],
        "30000",
    )
    kinds = [link["kind"] for link in links["links"]]
    assert kinds == ["wallet_browser", "eip681_transfer"] + (["metamask_send"] if wallet == "metamask" else [])
    assert all(link["label"] for link in links["links"])
    if wallet == "metamask":
        vector_link = "https://link.metamask.io/send/" + links["eip681_uri"].removeprefix("ethereum:")
        assert links["links"][2]["url"] == vector_link


async def test_a_page_url_that_is_not_https_is_refused(stack: Any) -> None:
    requirements = (await _offer(stack)).structured_content["requirements_v2"]
    result = await call(
        stack.server,
        "generate_browser_link",
        {"payment_requirements": requirements, "page_url": "http://evil.test/pay", "wallet": "metamask"},
    )
    assert failure_of(result)["code"] == "invalid_page_url"


@pytest.mark.parametrize("version", ["requirements_v1", "requirements_v2"])
async def test_the_qr_payload_is_the_shared_eip681_encoding_byte_for_byte(stack: Any, version: str) -> None:
    tools = await list_tools(stack.server)
    requirements = (await _offer(stack)).structured_content[version]
    result = await call(
        stack.server,
        "encode_payment_for_qr",
        {"payment_requirements": requirements, "callback_url": "https://certify.test/v1/pay/r1"},
    )
    encoded = assert_matches_output_schema(tools["encode_payment_for_qr"], result)
    assert encoded["eip681_uri"] == eip681_from_requirements(requirements)
    assert encoded["qr_data"] == encoded["eip681_uri"] + "&callback=https%3A%2F%2Fcertify.test%2Fv1%2Fpay%2Fr1"
    assert encoded["callback_embedded"] is True
    assert encoded["eip681_uri"] == (
        "ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer"
        "?address=0x209693Bc6afc0C5328bA36FaF03C514EF312287C&uint256=1500000"
    )
    assert encoded["callback_url"] == "https://certify.test/v1/pay/r1"


async def test_the_qr_tool_refuses_an_unknown_network_and_a_bad_callback(stack: Any) -> None:
    requirements = {**(await _offer(stack)).structured_content["requirements_v2"], "network": "eip155:1"}
    arguments = {"payment_requirements": requirements, "callback_url": "https://c.test/cb"}
    result = await call(stack.server, "encode_payment_for_qr", arguments)
    assert failure_of(result)["code"] == "unknown_network"
    bad_callback = await call(stack.server, "encode_payment_for_qr", {**arguments, "callback_url": "ftp://x/y"})
    assert failure_of(bad_callback)["code"] == "invalid_callback_url"
