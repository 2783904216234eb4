"""The QR server's MCP tools. Each validates, calls one drawing function in a worker thread, maps the result."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from certify_common.contracts.qr import AsciiQr, PaymentQr, QrImage
from certify_common.mcp_runtime import Runtime, tool
from certify_common.mcp_service import new_mcp_server, result_of
from certify_qr.drawing import FORMATS, draw_ascii, draw_image
from certify_qr.payment import payment_qr
from certify_qr.render import MAX_BORDER_MODULES, MAX_SIZE_PX, MIN_SIZE_PX
from certify_qr.settings import QrSettings
from certify_qr.symbol import ERROR_LEVELS, QUIET_ZONE_MODULES

INSTRUCTIONS = (
    "Draws QR codes. generate_qr_ascii prints one in a terminal, generate_qr_image returns a PNG or SVG "
    "(base64 and data URI), encode_x402_to_qr turns an x402 payment offer into an EIP-681 USDC transfer "
    "URI and its QR code. Failures come back as {code, message, retryable, details}."
)
_PURE = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

Data = Annotated[str, Field(description="The text to encode, e.g. a URL. At most a few kilobytes fit in a QR code.")]


def build_server(settings: QrSettings, runtime: Runtime[None]) -> MCPServer:
    """The QR MCP server with its three tools (pure functions of their input: the runtime provides nothing)."""
    mcp = new_mcp_server("certify-qr", INSTRUCTIONS)

    @tool(mcp, _PURE)
    async def generate_qr_ascii(
        data: Data,
        border: Annotated[
            int,
            Field(
                description=f"Quiet zone around the code in modules, 0–{MAX_BORDER_MODULES} "
                f"(the QR standard asks for {QUIET_ZONE_MODULES}).",
                json_schema_extra={"minimum": 0, "maximum": MAX_BORDER_MODULES},
            ),
        ] = QUIET_ZONE_MODULES,
        invert: Annotated[
            bool,
            Field(description="Draw the light modules instead of the dark ones: set it for light-on-dark terminals."),
        ] = False,
    ) -> Annotated[CallToolResult, AsciiQr]:
        """Draw a QR code as terminal text with the block characters █ ▀ ▄ (two module rows per line).

        Show `text` verbatim in a monospace font with no line spacing; a phone scans it off the screen
        or a screenshot. Use invert=true when the terminal shows light text on a dark background.
        Failures: empty_data, data_too_long, border_out_of_range.
        """
        return result_of(await asyncio.to_thread(draw_ascii, data, border, invert))

    @tool(mcp, _PURE)
    async def generate_qr_image(
        data: Data,
        format: Annotated[
            str, Field(description="Image format: png or svg.", json_schema_extra={"enum": list(FORMATS)})
        ],
        size: Annotated[
            int,
            Field(
                description=f"Width and height of the image in pixels, {MIN_SIZE_PX}–{MAX_SIZE_PX}.",
                json_schema_extra={"minimum": MIN_SIZE_PX, "maximum": MAX_SIZE_PX},
            ),
        ],
        error_correction: Annotated[
            str | None,
            Field(
                description="L, M, Q or H: how much of the code may be damaged and still read (7, 15, 25, 30 %); "
                "default M. Higher levels need more modules.",
                json_schema_extra={"enum": [*ERROR_LEVELS, None]},
            ),
        ] = None,
    ) -> Annotated[CallToolResult, QrImage]:
        """Draw a QR code as a PNG or SVG image exactly `size` pixels square, as base64 and a data URI.

        PNG modules are whole pixels and the spare pixels widen the quiet zone; the SVG is scaled
        through its viewBox. Failures: empty_data, data_too_long, unsupported_format, size_out_of_range,
        size_too_small (the code needs more pixels than `size`), invalid_error_correction.
        """
        return result_of(await asyncio.to_thread(draw_image, data, format, size, error_correction))

    @tool(mcp, _PURE)
    async def encode_x402_to_qr(
        payment_requirements: Annotated[
            dict[str, Any],
            Field(
                description="An x402 payment requirements object, v1 (`maxAmountRequired`) or v2 (`amount`), "
                "with network, asset and payTo; or a whole 402 body, whose first supported `accepts` entry is used."
            ),
        ],
        callback_url: Annotated[str, Field(description="Absolute http(s) URL the payer's app may call after paying.")],
        embed_callback: Annotated[
            bool,
            Field(
                description="Append &callback=<percent-encoded callback_url> to the URI inside the QR code; "
                "false leaves the QR code a bare EIP-681 URI for strict wallets."
            ),
        ] = True,
    ) -> Annotated[CallToolResult, PaymentQr]:
        """Turn an x402 USDC offer into an EIP-681 transfer URI and a PNG QR code a phone wallet scans.

        The URI is ethereum:<token>@<chainId>/transfer?address=<payTo>&uint256=<atomic amount>. Paying
        it is a plain ERC-20 transfer, not an x402 payment (see `note`). Failures: invalid_callback_url,
        no_supported_requirement, unknown_network, invalid_address, invalid_amount, data_too_long.
        """
        return result_of(
            await asyncio.to_thread(
                payment_qr,
                payment_requirements,
                callback_url,
                embed_callback=embed_callback,
                size_px=settings.payment_qr_size_px,
                error_correction=settings.payment_qr_error_correction,
            )
        )

    return mcp
