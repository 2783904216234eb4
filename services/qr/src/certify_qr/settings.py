"""QR server settings (environment variables, see README.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from certify_common.settings import ServiceSettings


class QrSettings(ServiceSettings):
    """Settings of the QR server; it keeps no state, so it needs no Redis or database."""

    service_name = "qr"
    port: int = Field(8405, ge=1, le=65535, description="TCP port to listen on.")
    payment_qr_size_px: int = Field(
        512, ge=64, le=2048, description="Width and height in pixels of the PNG drawn by encode_x402_to_qr."
    )
    payment_qr_error_correction: Literal["L", "M", "Q", "H"] = Field(
        "M", description="QR error-correction level of the payment QR drawn by encode_x402_to_qr (L, M, Q or H)."
    )
