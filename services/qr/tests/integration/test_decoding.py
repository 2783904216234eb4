"""An independent decoder (zbarimg) reads every rendering back to exactly its input."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer

from certify_common.mcp_runtime import Runtime
from certify_qr.settings import QrSettings
from certify_qr.tools import build_server
from certify_testkit.paths import vectors
from certify_testkit.qrdecode import decode_png, png_size, svg_to_png, text_to_png

X402 = vectors("x402_vectors")
PAYMENT_URI = X402["eip681_and_metamask"]["base-sepolia"]["eip681_uri"]
CALLBACK = "https://pay.example.com/v1/callback?request_id=req-42&client=mobile"
# How a callback travels in the QR: appended as one percent-encoded parameter (services/qr/README.md).
URI_WITH_CALLBACK = (
    PAYMENT_URI + "&callback=https%3A%2F%2Fpay.example.com%2Fv1%2Fcallback%3Frequest_id%3Dreq-42%26client%3Dmobile"
)
TEXTS = [URI_WITH_CALLBACK, "Zürich café", "certify ✓ 証明 — proof", "two\nlines and  spaces "]


@pytest.fixture
def server() -> MCPServer:
    return build_server(QrSettings(), Runtime("qr", None))


async def structured(server: MCPServer, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with Client(server) as client:
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.structured_content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("error_correction", ["L", "H"])
async def test_png_decodes_to_exactly_its_input(server: MCPServer, text: str, error_correction: str) -> None:
    arguments = {"data": text, "format": "png", "size": 400, "error_correction": error_correction}
    image = await structured(server, "generate_qr_image", arguments)
    assert decode_png(base64.b64decode(image["base64"])) == text


@pytest.mark.parametrize(("text", "size"), [("certify", 64), (URI_WITH_CALLBACK, 300), (URI_WITH_CALLBACK, 2048)])
async def test_png_of_every_size_decodes_and_is_size_wide(server: MCPServer, text: str, size: int) -> None:
    image = await structured(server, "generate_qr_image", {"data": text, "format": "png", "size": size})
    png = base64.b64decode(image["base64"])
    assert png_size(png) == (size, size)
    assert decode_png(png) == text


@pytest.mark.parametrize(("text", "size"), [(URI_WITH_CALLBACK, 300), (URI_WITH_CALLBACK, 1024), (TEXTS[2], 200)])
async def test_rasterised_svg_decodes_to_exactly_its_input(server: MCPServer, text: str, size: int) -> None:
    image = await structured(server, "generate_qr_image", {"data": text, "format": "svg", "size": size})
    png = svg_to_png(base64.b64decode(image["base64"]))
    assert png_size(png) == (size, size)
    assert decode_png(png) == text


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("border", [1, 4])
async def test_ascii_text_on_a_light_terminal_decodes(server: MCPServer, text: str, border: int) -> None:
    art = await structured(server, "generate_qr_ascii", {"data": text, "border": border})
    assert decode_png(text_to_png(art["text"], dark_terminal=False)) == text


@pytest.mark.parametrize("text", TEXTS)
async def test_inverted_ascii_text_on_a_dark_terminal_decodes(server: MCPServer, text: str) -> None:
    art = await structured(server, "generate_qr_ascii", {"data": text, "invert": True, "border": 2})
    # On a dark terminal only drawn cells are light: the drawn quiet zone is what makes it readable.
    assert decode_png(text_to_png(art["text"], dark_terminal=True, margin_cells=0)) == text


async def test_the_payment_qr_decodes_to_the_uri_with_its_callback(server: MCPServer) -> None:
    requirements = X402["vectors"]["v2_base-sepolia"]["payment_required_object"]["accepts"][0]
    payment = await structured(
        server, "encode_x402_to_qr", {"payment_requirements": requirements, "callback_url": CALLBACK}
    )
    assert payment["qr_data"] == URI_WITH_CALLBACK
    assert payment["image"]["data_uri"].startswith("data:image/png;base64,")
    assert decode_png(base64.b64decode(payment["image"]["base64"])) == URI_WITH_CALLBACK
