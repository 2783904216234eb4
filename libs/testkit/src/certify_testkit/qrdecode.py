"""Read QR codes the way a phone would, with an independent decoder (``zbarimg`` from zbar-tools).

Besides PNG bytes, two rasterisers turn other renderings into pixels first: an SVG through cairosvg,
and terminal text drawn with █ ▀ ▄ into the screenshot a terminal would show.
"""

from __future__ import annotations

import io
import shutil
import subprocess  # nosec B404  # runs zbarimg on files this module writes
import tempfile
from pathlib import Path

#: Each character of a half-block QR as (top half drawn, bottom half drawn).
_HALVES = {"█": (True, True), "▀": (True, False), "▄": (False, True), " ": (False, False)}


class QrNotFoundError(AssertionError):
    """zbarimg found no QR code in the image."""


def zbarimg_bin() -> str:
    """Path of ``zbarimg`` (installed by scripts/install-system.sh)."""
    path = shutil.which("zbarimg")
    if path is None:
        raise FileNotFoundError("zbarimg not installed: run `make install` (scripts/install-system.sh)")
    return path


def decode_png(png: bytes, timeout_s: float = 30.0) -> str:
    """The text of the one QR code in a PNG, exactly as zbarimg reads it (UTF-8, raw)."""
    with tempfile.TemporaryDirectory() as directory:
        image = Path(directory) / "qr.png"
        image.write_bytes(png)
        completed = subprocess.run(  # noqa: S603  # nosec B603  # fixed binary, our own temp file
            [zbarimg_bin(), "--quiet", "--raw", str(image)], capture_output=True, timeout=timeout_s, check=False
        )
    if completed.returncode == 4:
        raise QrNotFoundError("zbarimg found no QR code")
    if completed.returncode != 0:
        raise RuntimeError(f"zbarimg failed ({completed.returncode}): {completed.stderr[-500:]!r}")
    text = completed.stdout.decode("utf-8")
    # --raw ends each symbol with one newline; only that one is not part of the data.
    return text[:-1] if text.endswith("\n") else text


def svg_to_png(svg: bytes) -> bytes:
    """Rasterise an SVG at its own width and height."""
    import cairosvg

    png = cairosvg.svg2png(bytestring=svg)
    assert isinstance(png, bytes)
    return png


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, read by Pillow."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.size


def text_to_png(text: str, *, dark_terminal: bool = False, module_px: int = 6, margin_cells: int = 2) -> bytes:
    """The screenshot of ``text`` (lines of █ ▀ ▄ and spaces) in a terminal with square half-cells.

    Each character is one module wide and two modules tall. A light terminal draws black glyphs on
    white; a dark one (``dark_terminal``) white glyphs on black. ``margin_cells`` of terminal
    background surround the text. Any other character is an error: it would not scan either.
    """
    from PIL import Image

    lines = text.split("\n")
    width = max(len(line) for line in lines)
    ink, paper = (255, 0) if dark_terminal else (0, 255)
    columns = width + 2 * margin_cells
    rows = 2 * (len(lines) + 2 * margin_cells)
    image = Image.new("L", (columns * module_px, rows * module_px), paper)
    for y, line in enumerate(lines):
        for x, char in enumerate(line.ljust(width)):
            if char not in _HALVES:
                raise ValueError(f"unexpected character {char!r} in QR text")
            for half, drawn in enumerate(_HALVES[char]):
                if drawn:
                    left = (x + margin_cells) * module_px
                    top = (2 * (y + margin_cells) + half) * module_px
                    image.paste(ink, (left, top, left + module_px, top + module_px))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
