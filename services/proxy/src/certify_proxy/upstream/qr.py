"""The qr server, typed: QR codes as text or images."""

from __future__ import annotations

from typing import Literal

from certify_common.contracts.qr import AsciiQr, QrImage
from certify_common.errors import Failure
from certify_proxy.upstream.pool import UpstreamClient


class Qr(UpstreamClient):
    """Calls to the qr server's tools; each answers its contract model or a :class:`Failure`."""

    server = "qr"

    async def ascii(self, data: str) -> AsciiQr | Failure:
        """``data`` as a QR code drawn with block characters."""
        return await self._call("generate_qr_ascii", {"data": data}, AsciiQr)

    async def image(self, data: str, image_format: Literal["png", "svg"] = "png", size: int = 320) -> QrImage | Failure:
        """``data`` as a PNG or SVG QR code ``size`` pixels wide."""
        arguments = {"data": data, "format": image_format, "size": size}
        return await self._call("generate_qr_image", arguments, QrImage)
