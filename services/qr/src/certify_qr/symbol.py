"""Turning text into a QR symbol with segno, or a :class:`Failure` saying why it cannot be one."""

from __future__ import annotations

import segno

from certify_common.contracts.qr import ErrorLevel
from certify_common.errors import Failure, failure

#: Error-correction levels, from most capacity (L, ~7 % recoverable) to most robustness (H, ~30 %).
_LEVELS: dict[str, ErrorLevel] = {"L": "L", "M": "M", "Q": "Q", "H": "H"}
ERROR_LEVELS = tuple(_LEVELS)
DEFAULT_ERROR_LEVEL: ErrorLevel = "M"
#: The most characters any QR symbol holds (version 40-L, digits only); longer text never fits.
MAX_DATA_CHARS = 7089
#: The quiet zone the QR standard asks for around the symbol, in modules.
QUIET_ZONE_MODULES = 4
#: The data mask every symbol uses. Choosing the best of the eight by the standard's penalty score is
#: segno's pure-Python hot spot (about 80 % of making a symbol); any mask is valid and decodes (the
#: zbarimg tests read them), the choice only nudges robustness on worn prints.
FIXED_MASK = 2


def error_level(value: str | None) -> ErrorLevel | Failure:
    """Normalise an error-correction level (case-insensitive, None → the default)."""
    level = _LEVELS.get(DEFAULT_ERROR_LEVEL if value is None else value.strip().upper())
    if level is None:
        return failure(
            "invalid_error_correction",
            f"error_correction must be one of {', '.join(ERROR_LEVELS)}",
            allowed=list(ERROR_LEVELS),
        )
    return level


def make_symbol(data: str, error_correction: str | None = None) -> segno.QRCode | Failure:
    """A full-size QR code (never a Micro QR, which phone cameras rarely read) holding ``data``.

    Text outside Latin-1 is stored as UTF-8 bytes, which every phone reader and zbar decode.
    The data mask is :data:`FIXED_MASK` rather than the best-scoring one (five times cheaper).
    """
    if data == "":
        return failure("empty_data", "data must not be empty")
    level = error_level(error_correction)
    if isinstance(level, Failure):
        return level
    too_long = failure(
        "data_too_long",
        f"the data does not fit in a QR code at error correction {level}; shorten it or use level L",
        length=len(data),
        error_correction=level,
    )
    if len(data) > MAX_DATA_CHARS:
        return too_long
    try:
        return segno.make_qr(data, error=level, boost_error=False, mask=FIXED_MASK)
    except segno.DataOverflowError:
        return too_long


def symbol_facts(symbol: segno.QRCode) -> tuple[int, ErrorLevel, int]:
    """(version, error-correction level, modules per side without the quiet zone)."""
    side, _ = symbol.symbol_size(scale=1, border=0)
    return int(symbol.version), _LEVELS[str(symbol.error)], int(side)
