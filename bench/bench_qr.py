"""QR rendering per core: best-mask selection + segno's PNG writer (before) vs the fixed mask + Pillow path."""

from __future__ import annotations

import io

import segno
from PIL import Image

from bench.timing import head_to_head, record
from certify_qr import render
from certify_qr.drawing import draw_image
from certify_qr.symbol import QUIET_ZONE_MODULES, make_symbol

PAYMENT_LINK = (
    "ethereum:0x036CbD53842c5426634e7929541eC2318f3dCF7e@84532/transfer"
    "?address=0x209693Bc6afc0C5328bA36FaF03C514EF312287C&uint256=25000&callback=https%3A%2F%2Fcertify.example"
)
SIZE_PX = 512
BEFORE_AFTER = ("now", "before")


def _before() -> bytes:
    """What every 402 paid before: segno picks the best of eight masks, writes a PNG, Pillow re-reads it."""
    symbol = segno.make_qr(PAYMENT_LINK, error="M", boost_error=False)
    layout = render.png_layout(symbol, SIZE_PX)
    assert isinstance(layout, render.Layout)
    drawn = io.BytesIO()
    symbol.save(drawn, kind="png", scale=layout.module_px, border=QUIET_ZONE_MODULES, dark="black", light="white")
    with Image.open(io.BytesIO(drawn.getvalue())) as qr_image:
        canvas = Image.new("1", (SIZE_PX, SIZE_PX), 1)
        canvas.paste(qr_image.convert("1"), (layout.offset_px, layout.offset_px))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _after() -> bytes:
    symbol = make_symbol(PAYMENT_LINK)
    assert isinstance(symbol, segno.QRCode)
    layout = render.png_layout(symbol, SIZE_PX)
    assert isinstance(layout, render.Layout)
    return render.png_bytes(symbol, layout)


def main() -> None:
    figures = {
        "symbol_only": head_to_head(
            "QR symbol: fixed mask vs best mask",
            lambda: make_symbol(PAYMENT_LINK),
            lambda: segno.make_qr(PAYMENT_LINK, error="M", boost_error=False),
            labels=BEFORE_AFTER,
        ),
        "png_512": head_to_head("QR 512 px PNG: now vs before (no cache)", _after, _before, labels=BEFORE_AFTER),
        "png_512_cached": head_to_head(
            "QR 512 px PNG via draw_image (cached) vs before",
            lambda: draw_image(PAYMENT_LINK, "png", SIZE_PX, None),
            _before,
        ),
    }
    record("qr", figures)
