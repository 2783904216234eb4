"""PNG drawing from the module matrix equals segno's own PNG pixel for pixel; images are cached by content."""

from __future__ import annotations

import io

import pytest
import segno
from PIL import Image

from certify_common.errors import Failure
from certify_qr import drawing, render
from certify_qr.symbol import FIXED_MASK, QUIET_ZONE_MODULES, make_symbol


def _pixels(png: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(png)) as image:
        grey = image.convert("L")
        return grey.size, grey.tobytes()


def _segno_png(symbol: segno.QRCode, layout: render.Layout) -> bytes:
    """segno's own writer, the symbol and its quiet zone placed on a white square of the layout's size."""
    drawn = io.BytesIO()
    symbol.save(drawn, kind="png", scale=layout.module_px, border=QUIET_ZONE_MODULES, dark="black", light="white")
    with Image.open(io.BytesIO(drawn.getvalue())) as qr_image:
        canvas = Image.new("L", (layout.size_px, layout.size_px), 255)
        canvas.paste(qr_image.convert("L"), (layout.offset_px, layout.offset_px))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "size"), [("certify", 64), ("https://pay.example/r/42?amount=0.025", 333), ("証明 ✓", 2048)]
)
def test_the_png_has_the_pixels_of_segnos_own_png(text: str, size: int) -> None:
    symbol = make_symbol(text)
    assert isinstance(symbol, segno.QRCode)
    layout = render.png_layout(symbol, size)
    assert isinstance(layout, render.Layout)
    assert _pixels(render.png_bytes(symbol, layout)) == _pixels(_segno_png(symbol, layout))


def test_every_symbol_uses_the_fixed_mask() -> None:
    for text in ("a", "https://pay.example/r/42", "x" * 500):
        symbol = make_symbol(text)
        assert isinstance(symbol, segno.QRCode)
        assert symbol.mask == FIXED_MASK


def test_the_same_image_is_drawn_once_and_each_caller_gets_its_own_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []
    original = render.png_bytes

    def counting(symbol: segno.QRCode, layout: render.Layout) -> bytes:
        drawn.append(layout.size_px)
        return original(symbol, layout)

    monkeypatch.setattr(render, "png_bytes", counting)
    text = "cache me " + str(id(drawn))
    first = drawing.draw_image(text, "png", 256, "M")
    second = drawing.draw_image(text, "png", 256, "M")
    other = drawing.draw_image(text, "png", 257, "M")
    assert not isinstance(first, Failure)
    assert not isinstance(other, Failure)
    assert first == second
    assert first is not second
    assert drawn == [256, 257]


def test_a_refused_image_is_refused_again_from_the_cache() -> None:
    assert isinstance(drawing.draw_image("x", "gif", 256, None), Failure)
    failure = drawing.draw_image("x", "gif", 256, None)
    assert isinstance(failure, Failure)
    assert failure.code == "unsupported_format"
