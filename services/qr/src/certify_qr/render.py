"""Drawing a QR symbol: terminal text with block characters, an exact-size PNG, or an SVG.

All functions are synchronous and CPU-bound; tools run them in a worker thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from PIL import Image

from certify_common.errors import Failure, failure
from certify_qr.symbol import QUIET_ZONE_MODULES

MIN_SIZE_PX = 64
MAX_SIZE_PX = 2048
MAX_BORDER_MODULES = 16

#: (top module dark, bottom module dark) → the character drawing both halves of one text cell.
_HALF_BLOCKS = {
    (True, True): "█",
    (True, False): "▀",
    (False, True): "▄",
    (False, False): " ",
}


def ascii_art(symbol: segno.QRCode, border: int, invert: bool) -> str:
    """The symbol as lines of █ ▀ ▄ and spaces, two module rows per text line.

    A drawn glyph is ink: dark modules are drawn for light terminals, light modules (including the
    quiet zone) when ``invert`` is set for dark terminals. An odd last module row is paired with an
    undrawn half, i.e. the terminal's own background.
    """
    rows = [[bool(module) != invert for module in row] for row in symbol.matrix_iter(scale=1, border=border)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        lines.append("".join(_HALF_BLOCKS[pair] for pair in zip(top, bottom, strict=True)))
    return "\n".join(lines)


def check_size(size: int) -> Failure | None:
    """Refuse image sizes outside 64–2048 px."""
    if not MIN_SIZE_PX <= size <= MAX_SIZE_PX:
        return failure(
            "size_out_of_range",
            f"size must be between {MIN_SIZE_PX} and {MAX_SIZE_PX} pixels",
            size=size,
            min_size=MIN_SIZE_PX,
            max_size=MAX_SIZE_PX,
        )
    return None


@dataclass(frozen=True)
class Layout:
    """Where the symbol sits in a ``size``-pixel square: whole pixels per module, centred."""

    size_px: int
    module_px: int
    offset_px: int


def png_layout(symbol: segno.QRCode, size: int) -> Layout | Failure:
    """The largest whole-pixel module fitting the symbol and its 4-module quiet zone in ``size`` px.

    The pixels left over widen the quiet zone, so the image is exactly ``size`` wide and every
    module is a crisp square of ``module_px`` pixels.
    """
    side = int(symbol.symbol_size(scale=1, border=QUIET_ZONE_MODULES)[0])
    module_px = size // side
    if module_px < 1:
        return failure(
            "size_too_small",
            f"this QR code needs at least {side} pixels (one per module, quiet zone included)",
            size=size,
            min_size=side,
        )
    return Layout(size, module_px, (size - side * module_px) // 2)


#: segno's matrix holds 1 for a dark module and 0 for a light one; as 8-bit grey: black and white.
_MODULE_GREY = bytes((255, 0)) + bytes(254)


def png_bytes(symbol: segno.QRCode, layout: Layout) -> bytes:
    """A 1-bit PNG exactly ``layout.size_px`` pixels square, black modules on white.

    Drawn by Pillow straight from the module matrix (one grey pixel per module, scaled up by
    nearest neighbour): about four times cheaper than segno's own PNG writer plus a re-read.
    """
    side = len(symbol.matrix)
    grey = b"".join(bytes(row) for row in symbol.matrix).translate(_MODULE_GREY)
    scaled = side * layout.module_px
    modules = Image.frombytes("L", (side, side), grey).resize((scaled, scaled), Image.Resampling.NEAREST)
    canvas = Image.new("1", (layout.size_px, layout.size_px), 1)
    origin = layout.offset_px + QUIET_ZONE_MODULES * layout.module_px
    canvas.paste(modules.convert("1", dither=Image.Dither.NONE), (origin, origin))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def svg_bytes(symbol: segno.QRCode, size: int) -> bytes:
    """An SVG ``size`` px square: the symbol and its quiet zone scaled to fit through its viewBox."""
    drawn = io.BytesIO()
    symbol.save(
        drawn,
        kind="svg",
        scale=1,
        border=QUIET_ZONE_MODULES,
        dark="#000",
        light="#fff",
        xmldecl=False,
        omitsize=True,
        svgclass=None,
        lineclass=None,
    )
    svg = drawn.getvalue().decode()
    opening = '<svg xmlns="http://www.w3.org/2000/svg" '
    if not svg.startswith(opening):
        raise RuntimeError("unexpected SVG from segno")  # a segno upgrade changed its output: a bug to fix here
    sized = f'{opening}width="{size}" height="{size}" shape-rendering="crispEdges" '
    return (sized + svg[len(opening) :]).encode()
