"""Results of the QR tools."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: QR error-correction levels, lowest to highest.
ErrorLevel = Literal["L", "M", "Q", "H"]


class AsciiQr(BaseModel):
    """A QR code drawn as text for a terminal."""

    text: str = Field(
        description="The QR code as lines of █ ▀ ▄ and spaces (two module rows per line); print it in a monospace font."
    )
    width_chars: int = Field(description="Characters per line.")
    height_lines: int = Field(description="Number of lines.")
    inverted: bool = Field(description="True when light modules are drawn (for light-on-dark terminals).")
    border_modules: int = Field(description="Quiet zone drawn around the symbol, in modules.")
    version: int = Field(description="QR version (1–40); the symbol has 17 + 4 × version modules per side.")
    error_correction: ErrorLevel = Field(description="Error-correction level used.")


class QrImage(BaseModel):
    """A QR code image, ready to embed."""

    format: Literal["png", "svg"] = Field(description="Image format.")
    mime_type: Literal["image/png", "image/svg+xml"] = Field(description="Media type of the image.")
    width_px: int = Field(description="Image width in pixels (equal to the requested size).")
    height_px: int = Field(description="Image height in pixels (equal to the requested size).")
    base64: str = Field(description="The image file, base64-encoded.")
    data_uri: str = Field(description="data:<mime type>;base64,<image>, usable as an <img> src.")
    version: int = Field(description="QR version (1–40).")
    error_correction: ErrorLevel = Field(description="Error-correction level used.")
    modules: int = Field(description="Modules per side of the symbol, quiet zone not included.")


class PaymentQr(BaseModel):
    """An EIP-681 USDC transfer for an x402 offer, and its QR code."""

    eip681_uri: str = Field(
        description="ethereum:<token>@<chainId>/transfer?address=<payTo>&uint256=<amount_atomic> (EIP-681)."
    )
    qr_data: str = Field(
        description="Exactly the text inside the QR code: eip681_uri, plus &callback=<percent-encoded callback_url> "
        "when the callback is embedded."
    )
    callback_embedded: bool = Field(description="Whether qr_data carries the callback parameter.")
    callback_url: str = Field(description="The callback URL given, unchanged.")
    network: str = Field(description="certify's network name (base, base-sepolia, arbitrum, arbitrum-sepolia).")
    chain_id: int = Field(description="EVM chain id of the network.")
    token: str = Field(description="Address of the USDC contract (the x402 `asset`).")
    pay_to: str = Field(description="Recipient address (the x402 `payTo`).")
    amount_atomic: str = Field(description="Amount in USDC atomic units (6 decimals), as a decimal integer string.")
    image: QrImage = Field(description="PNG QR code of qr_data.")
    note: str = Field(description="What paying through this URI means: a plain transfer, not an x402 payment.")
