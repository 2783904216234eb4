"""From text to a finished QR result (terminal text or image), or the failure explaining why not.

Synchronous and CPU-bound: the tools call these through ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Literal

from certify_common.contracts.qr import AsciiQr, QrImage
from certify_common.errors import Failure, failure
from certify_qr import render
from certify_qr.symbol import make_symbol, symbol_facts

ImageFormat = Literal["png", "svg"]
MimeType = Literal["image/png", "image/svg+xml"]
_FORMATS: dict[str, tuple[ImageFormat, MimeType]] = {"png": ("png", "image/png"), "svg": ("svg", "image/svg+xml")}
FORMATS = tuple(_FORMATS)
#: Rendered images kept by content: the same payment link is drawn again by every client that asks.
IMAGE_CACHE_SIZE = 256


def draw_ascii(data: str, border: int, invert: bool) -> AsciiQr | Failure:
    """A terminal QR code of ``data`` with a ``border``-module quiet zone."""
    if not 0 <= border <= render.MAX_BORDER_MODULES:
        return failure(
            "border_out_of_range",
            f"border must be between 0 and {render.MAX_BORDER_MODULES} modules",
            border=border,
        )
    symbol = make_symbol(data)
    if isinstance(symbol, Failure):
        return symbol
    version, level, _ = symbol_facts(symbol)
    text = render.ascii_art(symbol, border, invert)
    lines = text.split("\n")
    return AsciiQr(
        text=text,
        width_chars=len(lines[0]),
        height_lines=len(lines),
        inverted=invert,
        border_modules=border,
        version=version,
        error_correction=level,
    )


def draw_image(data: str, image_format: str, size: int, error_correction: str | None) -> QrImage | Failure:
    """A PNG or SVG QR code of ``data``, exactly ``size`` pixels square (a copy of a cached rendering)."""
    drawn = _draw_image_cached(data, image_format, size, error_correction)
    return drawn if isinstance(drawn, Failure) else drawn.model_copy()


@lru_cache(maxsize=IMAGE_CACHE_SIZE)
def _draw_image_cached(data: str, image_format: str, size: int, error_correction: str | None) -> QrImage | Failure:
    known = _FORMATS.get(image_format.strip().lower())
    if known is None:
        return failure("unsupported_format", "format must be png or svg", format=image_format, allowed=list(FORMATS))
    kind, mime_type = known
    bad_size = render.check_size(size)
    if bad_size is not None:
        return bad_size
    symbol = make_symbol(data, error_correction)
    if isinstance(symbol, Failure):
        return symbol
    # The SVG scales freely, but below one pixel per module neither format can be read.
    layout = render.png_layout(symbol, size)
    if isinstance(layout, Failure):
        return layout
    body = render.png_bytes(symbol, layout) if kind == "png" else render.svg_bytes(symbol, size)
    version, level, modules = symbol_facts(symbol)
    encoded = base64.b64encode(body).decode("ascii")
    return QrImage(
        format=kind,
        mime_type=mime_type,
        width_px=size,
        height_px=size,
        base64=encoded,
        data_uri=f"data:{mime_type};base64,{encoded}",
        version=version,
        error_correction=level,
        modules=modules,
    )
